"""The CLV analysis's declaration (read by the pipeline, registry, checks, report and CLI)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crmine.clv._workspace import _summary_from_ws, customer_scores, score_workspace
from crmine.contract import Analysis, ModelSpec
from crmine.exceptions import SchemaError
from crmine.warehouse import Workspace

__all__ = ["ANALYSIS", "score_clv"]


def score_clv(bundle: Any, meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """``p_alive``, ``expected_purchases_90d`` and ``predicted_clv_12m`` of an RFM summary."""
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
    return scores


def current_summary(ws: Workspace) -> pd.DataFrame:
    """Today's RFM summary, as the CLV model scores it."""
    return _summary_from_ws(ws)[0]


ANALYSIS = Analysis(
    name="clv",
    title="Customer lifetime value",
    run=score_workspace,
    requires=("features", "core.fct_order_lines.customer_id"),
    model=ModelSpec("clv", features=current_summary, score=score_clv),
)
