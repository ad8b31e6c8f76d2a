"""The churn analysis's declaration (read by the pipeline, registry, checks, report and CLI)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crmine.churn._workspace import current_features, run_churn
from crmine.contract import Analysis, ModelSpec

__all__ = ["ANALYSIS", "score_churn"]


def score_churn(model: Any, meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """``churn_risk`` and ``churn_reasons`` of each row of churn features."""
    return model.explain(frame)


ANALYSIS = Analysis(
    name="churn",
    title="Churn prediction and retention",
    run=run_churn,
    # Contracts with end dates, or failing that purchases (churn = no purchase in the window).
    requires=(("core.fct_subscriptions", "core.fct_order_lines"),),
    uses=("clv",),  # the retention list ranks by 12-month CLV when CLV has run
    model=ModelSpec("churn", features=current_features, score=score_churn),
)
