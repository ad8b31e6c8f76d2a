"""The analysis contract: how an analysis declares itself and judges its own result.

Every analysis package exports one :class:`Analysis` as ``ANALYSIS``::

    ANALYSIS = Analysis(
        name="churn", title="Churn prediction and retention",
        requires=(("core.fct_subscriptions", "core.fct_order_lines"),),
        uses=("clv",),                        # CLV's value ranks the retention list
        run=run_churn,                        # (Workspace) -> ChurnRun
        marts=(Mart("retention_list", grain="one row per customer", actionable=True), ...),
        model=ModelSpec("churn", features=current_features, score=score_churn),
        settings=(Setting("churn_offer_cost", float, 20.0, "cost of one retention offer"),),
    )

and its ``run_<name>(ws, ...)`` returns a ``<Name>Run`` with ``summary()``, ``to_frame()``,
``marts`` and ``verdict``: a :class:`Verdict` computed on held-out data against the naive
baseline a sceptical analyst would use. A ``not_informative`` result writes nothing actionable.

The pipeline (:mod:`crmine.pipeline`), the model registry (:mod:`crmine.models`),
``crmine check``, the report and the CLI all read these declarations; none keeps a list.
"""

from crmine.contract._analysis import (
    Analysis,
    AnalysisRun,
    Mart,
    ModelSpec,
    Requirement,
    Setting,
    SkipAnalysis,
    accepted,
    all_analyses,
    analysis,
    check_marts,
    declared_marts,
    not_null,
    unique,
)
from crmine.contract._record import VERDICTS_TABLE, read_verdicts, record_verdict, verdict_of
from crmine.contract._run import PreparedRun
from crmine.contract._settings import WORKSPACE_SETTINGS, all_settings, validate_settings
from crmine.contract._verdict import (
    STATUSES,
    Status,
    Verdict,
    auc_interval,
    bootstrap_interval,
    judge,
    recorded_warnings,
    saved_status,
)

__all__ = [
    "STATUSES",
    "VERDICTS_TABLE",
    "WORKSPACE_SETTINGS",
    "Analysis",
    "AnalysisRun",
    "Mart",
    "ModelSpec",
    "PreparedRun",
    "Requirement",
    "Setting",
    "SkipAnalysis",
    "Status",
    "Verdict",
    "accepted",
    "all_analyses",
    "all_settings",
    "analysis",
    "auc_interval",
    "bootstrap_interval",
    "check_marts",
    "declared_marts",
    "judge",
    "not_null",
    "read_verdicts",
    "record_verdict",
    "recorded_warnings",
    "saved_status",
    "unique",
    "validate_settings",
    "verdict_of",
]
