"""Campaign response and uplift modelling: who responds, and who responds *because of* the
campaign."""

from __future__ import annotations

from crmine.response._analysis import ANALYSIS
from crmine.response._model import (
    ProfitCurve,
    ResponseModel,
    expected_profit,
    gains_table,
    target_list,
)
from crmine.response._uplift import (
    ClassTransformationUplift,
    QiniResult,
    TwoModelUplift,
    incremental_profit,
    persuadables,
    qini_curve,
    uplift_at_k,
    uplift_classes,
    uplift_curve,
)

__all__ = [
    "ANALYSIS",
    "ClassTransformationUplift",
    "ProfitCurve",
    "QiniResult",
    "ResponseModel",
    "TwoModelUplift",
    "expected_profit",
    "gains_table",
    "incremental_profit",
    "persuadables",
    "qini_curve",
    "target_list",
    "uplift_at_k",
    "uplift_classes",
    "uplift_curve",
]
