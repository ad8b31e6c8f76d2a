"""Campaign response and uplift modelling: who responds, and who responds *because of* the
campaign."""

from __future__ import annotations

from crmine.response._analysis import ANALYSIS
from crmine.response._evaluate import (
    TrainResult,
    UpliftEvaluation,
    evaluate_uplift,
    match_value,
    qini_coefficient,
    response_verdict,
    train_response,
    uplift_verdict,
)
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
from crmine.response._workspace import (
    ResponseRun,
    customer_features,
    load_models,
    run_response,
    score_frame,
    workspace_scores,
    workspace_uplift,
)

__all__ = [
    "ANALYSIS",
    "ClassTransformationUplift",
    "ProfitCurve",
    "QiniResult",
    "ResponseModel",
    "ResponseRun",
    "TrainResult",
    "TwoModelUplift",
    "UpliftEvaluation",
    "customer_features",
    "evaluate_uplift",
    "expected_profit",
    "gains_table",
    "incremental_profit",
    "load_models",
    "match_value",
    "persuadables",
    "qini_coefficient",
    "qini_curve",
    "response_verdict",
    "run_response",
    "score_frame",
    "target_list",
    "train_response",
    "uplift_at_k",
    "uplift_classes",
    "uplift_curve",
    "uplift_verdict",
    "workspace_scores",
    "workspace_uplift",
]
