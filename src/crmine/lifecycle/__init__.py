"""Customer lifecycle: cohorts, lifecycle stages, a health score proven on later churn, sBG.

:func:`cohort_matrix` builds retention and revenue matrices by acquisition month, channel and
first category; :func:`customer_stages` puts every customer in a stage (prospect, new, active,
growing, at_risk, lapsed, reactivated) by transparent rules against its own purchase cycle,
:func:`stage_transitions` gives the matrix between two dates; :func:`health_scores` combines
recency, frequency and spend trends, service, satisfaction and breadth, and
:func:`evaluate_health` tests it on churn after a past cut-off (the analysis's verdict).
:class:`ShiftedBetaGeometric` is Fader & Hardie's contractual retention model.
:func:`run_lifecycle` does it all on a workspace and writes the ``lifecycle_*`` marts.
"""

from crmine.lifecycle._analysis import ANALYSIS
from crmine.lifecycle._cohorts import COHORT_COLUMNS, cohort_matrix, retention_triangle
from crmine.lifecycle._health import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    HealthEvaluation,
    evaluate_health,
    health_scores,
)
from crmine.lifecycle._sbg import ShiftedBetaGeometric, sbg_churn_probabilities, sbg_survival
from crmine.lifecycle._stages import (
    ACTIONS,
    STAGES,
    StageRules,
    customer_stages,
    stage_transitions,
)
from crmine.lifecycle._workspace import LifecycleRun, data_end, run_lifecycle, transitions_between

__all__ = [
    "ACTIONS",
    "ANALYSIS",
    "COHORT_COLUMNS",
    "COMPONENTS",
    "DEFAULT_WEIGHTS",
    "STAGES",
    "HealthEvaluation",
    "LifecycleRun",
    "ShiftedBetaGeometric",
    "StageRules",
    "cohort_matrix",
    "customer_stages",
    "data_end",
    "evaluate_health",
    "health_scores",
    "retention_triangle",
    "run_lifecycle",
    "sbg_churn_probabilities",
    "sbg_survival",
    "stage_transitions",
    "transitions_between",
]
