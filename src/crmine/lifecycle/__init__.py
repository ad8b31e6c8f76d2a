"""Customer lifecycle: cohorts, lifecycle stages, a health score proven on later churn, sBG.

:func:`cohort_matrix` builds retention and revenue matrices by acquisition month, channel and
first category; :func:`customer_stages` puts every customer in a stage (prospect, new, active,
growing, at_risk, lapsed, reactivated) by transparent rules against its own purchase cycle,
:func:`stage_transitions` gives the matrix between two dates; :func:`health_scores` combines
recency, frequency and spend trends, service, satisfaction and breadth, and
:func:`evaluate_health` tests it on churn after a past cut-off (the analysis's verdict).
:func:`loyalty_measures` gives persistence, firmness, stability and a loyalty index per
customer (:func:`evaluate_loyalty` tests what they add to recency); :func:`run_nps` gives NPS
and CSAT with intervals and Holm-corrected differences, their drivers and the link from
satisfaction to later churn.
:class:`ShiftedBetaGeometric` is Fader & Hardie's contractual retention model.
:func:`run_lifecycle` does it all on a workspace and writes the ``lifecycle_*`` marts.
"""

from crmine.lifecycle._analysis import ANALYSIS
from crmine.lifecycle._cohorts import COHORT_COLUMNS, cohort_matrix, retention_triangle
from crmine.lifecycle._flat import lifecycle_of_file
from crmine.lifecycle._health import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    HealthEvaluation,
    evaluate_health,
    health_scores,
)
from crmine.lifecycle._loyalty import (
    DEFAULT_LOYALTY_WEIGHTS,
    LOYALTY_PILLARS,
    LoyaltyEvaluation,
    evaluate_loyalty,
    loyalty_by_segment,
    loyalty_measures,
)
from crmine.lifecycle._nps import (
    NpsResult,
    csat_table,
    holm,
    nps_drivers,
    nps_interval,
    nps_table,
    run_nps,
    satisfaction_churn,
)
from crmine.lifecycle._sbg import ShiftedBetaGeometric, sbg_churn_probabilities, sbg_survival
from crmine.lifecycle._stages import (
    ACTIONS,
    STAGES,
    StageRules,
    customer_stages,
    stage_transitions,
)
from crmine.lifecycle._workspace import (
    LifecycleRun,
    data_end,
    run_lifecycle,
    transition_history,
    transitions_between,
)

__all__ = [
    "ACTIONS",
    "ANALYSIS",
    "COHORT_COLUMNS",
    "COMPONENTS",
    "DEFAULT_LOYALTY_WEIGHTS",
    "DEFAULT_WEIGHTS",
    "LOYALTY_PILLARS",
    "STAGES",
    "HealthEvaluation",
    "LifecycleRun",
    "LoyaltyEvaluation",
    "NpsResult",
    "ShiftedBetaGeometric",
    "StageRules",
    "cohort_matrix",
    "csat_table",
    "customer_stages",
    "data_end",
    "evaluate_health",
    "evaluate_loyalty",
    "health_scores",
    "holm",
    "lifecycle_of_file",
    "loyalty_by_segment",
    "loyalty_measures",
    "nps_drivers",
    "nps_interval",
    "nps_table",
    "retention_triangle",
    "run_lifecycle",
    "run_nps",
    "satisfaction_churn",
    "sbg_churn_probabilities",
    "sbg_survival",
    "stage_transitions",
    "transition_history",
    "transitions_between",
]
