"""The cross-sell analysis's declaration (read by the pipeline, checks, report and CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from crmine.basket._workspace import evaluate_workspace, score_workspace
from crmine.contract import Analysis, Verdict
from crmine.warehouse import Workspace

__all__ = ["ANALYSIS", "BasketRun", "run_basket"]


@dataclass(frozen=True, slots=True)
class BasketRun:
    """What :func:`run_basket` did."""

    figures: dict[str, Any]
    recommendations: pd.DataFrame
    marts: tuple[str, ...] = ()
    verdict: Verdict | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return dict(self.figures)

    def to_frame(self) -> pd.DataFrame:
        return self.recommendations.copy()


def run_basket(ws: Workspace) -> BasketRun:
    """Rules, offers, next-best products and sequences, evaluated against popularity."""
    result = score_workspace(ws)
    summary = dict(result.summary)
    evaluation = evaluate_workspace(ws).summary.set_index("method")
    summary["hit_rate_at_10"] = {
        m: round(float(evaluation.loc[m, "hit_rate"]), 4) for m in evaluation.index
    }
    return BasketRun(summary, result.recommendations)


ANALYSIS = Analysis(
    name="basket",
    title="Cross-sell: association rules and next-best products",
    run=run_basket,
    requires=("core.fct_order_lines.product_id",),
)
