"""Customer lifetime value: buy-till-you-die models, spend model, CLV, evaluation.

Models (scikit-learn-style estimators, exact maximum likelihood on distinct histories):
:class:`BetaGeoModel` (BG/NBD), :class:`ParetoNBDModel`, :class:`ModifiedBetaGeoModel`
(MBG/NBD), :class:`BetaGeoBetaBinomModel` (BG/BB, discrete time) and :class:`GammaGammaModel`
(spend). :func:`rfm_summary` builds their input from a transaction log; :func:`run_clv` chooses
and judges a model on a holdout against the naive rate and writes the workspace marts.
"""

from crmine.clv._analysis import ANALYSIS
from crmine.clv._base import BaseModel, TransactionModel, aggregate_histories, check_summary
from crmine.clv._bgbb import BetaGeoBetaBinomModel
from crmine.clv._bgnbd import BetaGeoModel, ModifiedBetaGeoModel
from crmine.clv._evaluate import (
    HoldoutEvaluation,
    cumulative_tracking,
    frequency_histogram,
    holdout_evaluation,
    naive_holdout_forecast,
)
from crmine.clv._gammagamma import GammaGammaModel
from crmine.clv._judge import ClvJudgement, choose_and_judge, fit_diagnostics, naive_rate_forecast
from crmine.clv._paretonbd import ParetoNBDModel
from crmine.clv._summary import (
    calibration_holdout_split,
    distinct_histories,
    rfm_from_mart,
    rfm_summary,
)
from crmine.clv._value import (
    BreakEvenResult,
    ClvResult,
    break_even,
    clv_sensitivity,
    clv_tiers,
    customer_lifetime_value,
)
from crmine.clv._workspace import (
    MODELS,
    ClvFit,
    ClvRun,
    fit_by_group,
    fit_clv_models,
    load_purchases,
    run_clv,
)

__all__ = [
    "ANALYSIS",
    "MODELS",
    "BaseModel",
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "BreakEvenResult",
    "ClvFit",
    "ClvJudgement",
    "ClvResult",
    "ClvRun",
    "GammaGammaModel",
    "HoldoutEvaluation",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "TransactionModel",
    "aggregate_histories",
    "break_even",
    "calibration_holdout_split",
    "check_summary",
    "choose_and_judge",
    "clv_sensitivity",
    "clv_tiers",
    "cumulative_tracking",
    "customer_lifetime_value",
    "distinct_histories",
    "fit_by_group",
    "fit_clv_models",
    "fit_diagnostics",
    "frequency_histogram",
    "holdout_evaluation",
    "load_purchases",
    "naive_holdout_forecast",
    "naive_rate_forecast",
    "rfm_from_mart",
    "rfm_summary",
    "run_clv",
]
