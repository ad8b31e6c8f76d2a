"""The CLV analysis's declaration (read by the pipeline, registry, checks, report and CLI)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crmine.clv._workspace import MODELS, _summary_from_ws, customer_scores, run_clv
from crmine.contract import (
    Analysis,
    Mart,
    ModelSpec,
    Setting,
    accepted,
    not_null,
    saved_status,
    unique,
)
from crmine.exceptions import SchemaError
from crmine.warehouse import Workspace

__all__ = ["ANALYSIS", "score_clv"]


def score_clv(bundle: dict[str, Any], meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """``p_alive``, ``expected_purchases_90d`` and ``predicted_clv_12m`` of an RFM summary.

    A model saved by a ``not_informative`` run (no better than the naive rate on its holdout)
    scores NULL, as the run itself wrote.
    """
    missing = [c for c in ("frequency", "recency", "T") if c not in frame.columns]
    if missing:
        raise SchemaError(f"CLV scoring needs the RFM summary columns {missing}; columns "
                          f"found: {list(frame.columns)}")  # fmt: skip
    summary = frame[[c for c in ("frequency", "recency", "T", "monetary_value")
                     if c in frame.columns]].astype(float)  # fmt: skip
    if "monetary_value" not in summary:
        summary["monetary_value"] = 0.0
    scores, _value = customer_scores(
        bundle["transactions"], bundle["spend"], summary,
        time_unit=str(meta.get("time_unit", "D")), margin=float(meta.get("margin", 1.0)),
        monthly_rate=float(meta.get("monthly_discount_rate", 0.01)),
    )  # fmt: skip
    if saved_status(meta) == "not_informative":  # its scores must not rank anyone
        scores = scores.assign(**{c: float("nan") for c in scores.columns})
    return scores


def current_summary(ws: Workspace) -> pd.DataFrame:
    """Today's RFM summary, as the CLV model scores it."""
    return _summary_from_ws(ws)[0]


def _share(value: float) -> str | None:
    return None if 0 <= float(value) <= 1 else "a share between 0 and 1 (0.4 = 40%)"


def _non_negative(value: float) -> str | None:
    return None if float(value) >= 0 else "a number >= 0"


def _days(value: int) -> str | None:
    return None if int(value) >= 1 else "a whole number of days >= 1"


_FORECASTERS = ("bgnbd", "mbgnbd", "paretonbd", "naive")

_MARTS: tuple[Mart, ...] = (
    Mart("clv_params", "one row per model and parameter",
         ("model", "parameter", "estimate", "standard_error", "lower", "upper",
          "log_likelihood", "time_unit", "model_version", "scored_at"),
         (unique("model", "parameter"), not_null("model", "parameter", "estimate"))),
    Mart("clv_model_selection", "one row per candidate forecaster on the holdout",
         ("forecaster", "rmse", "mae", "correlation", "skill_vs_naive", "total_predicted",
          "total_actual", "total_error_pct", "chosen", "diagnostics", "calibration_end",
          "observation_end", "holdout_days", "model_version", "scored_at"),
         (unique("forecaster"), not_null("forecaster", "chosen"),
          accepted("forecaster", _FORECASTERS))),
    Mart("clv_holdout_metrics", "one row per forecaster (chosen model, naive rate)",
         ("forecaster", "mae", "rmse", "correlation", "total_predicted", "total_actual",
          "total_error_pct", "calibration_end", "observation_end", "holdout_days",
          "model_version", "scored_at"),
         (unique("forecaster"), accepted("forecaster", ("model", "naive")))),
    Mart("clv_conditional_expectations", "one row per calibration frequency (last pooled)",
         ("frequency_cal", "n_customers", "actual", "predicted", "naive", "model_version",
          "scored_at"),
         (unique("frequency_cal"), not_null("frequency_cal", "n_customers"))),
    Mart("clv_frequency_histogram", "one row per repeat-purchase count (last pooled)",
         ("frequency", "actual", "expected", "model_version", "scored_at"),
         (unique("frequency"),)),
    Mart("clv_holdout_tracking", "one row per period of the calibration and holdout",
         ("period", "t", "actual", "predicted", "in_holdout", "model_version", "scored_at"),
         (unique("period"), not_null("period", "actual", "predicted"))),
    Mart("clv_sensitivity", "one row per margin and discount rate",
         ("margin", "discount_rate", "total_clv", "mean_clv", "model_version", "scored_at"),
         (unique("margin", "discount_rate"),)),
    Mart("clv_break_even", "one row per purchase rate",
         ("purchase_rate", "break_even_spend", "acquisition_cost", "retention", "margin",
          "current_rate", "current_spend", "model_version", "scored_at"),
         (unique("purchase_rate"), not_null("purchase_rate"))),
    Mart("clv_segment_params", "one row per customer segment (when segments exist)",
         ("segment", "n_customers", "log_likelihood", "mean_p_alive",
          "mean_expected_purchases_90d", "mean_clv_12m", "model", "model_version",
          "scored_at"),
         (unique("segment"), not_null("segment"))),
)  # fmt: skip

_SETTINGS: tuple[Setting, ...] = (
    Setting("clv.model", str, "auto", "transaction model: auto (best on the holdout) or "
            "one of bgnbd, mbgnbd, paretonbd", choices=("auto", *MODELS)),
    Setting("clv.margin", float, None, "gross margin share of revenue (default: from a "
            "profit or cost column of the orders, else 1)", check=_share),
    Setting("clv.discount_rate", float, 0.10, "yearly discount rate of CLV",
            check=_non_negative),
    Setting("clv.acquisition_cost", float, None, "cost of acquiring a customer, for the "
            "break-even view (default: half the margin on an average purchase)",
            check=_non_negative),
    Setting("clv.cost_to_serve", float, 0.0, "cost of serving one purchase, for the "
            "break-even view", check=_non_negative),
    Setting("clv.holdout_days", int, None, "days kept back to judge the model (default: a "
            "quarter of the history, at most 180)", check=_days),
)  # fmt: skip

ANALYSIS = Analysis(
    name="clv",
    title="Customer lifetime value",
    run=run_clv,
    requires=("features", "core.fct_order_lines.customer_id"),
    uses=("segment",),  # one model per segment when the segmentation step has run
    marts=_MARTS,
    model=ModelSpec("clv", features=current_summary, score=score_clv),
    settings=_SETTINGS,
)
