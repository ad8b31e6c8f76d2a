"""Pipeline step: cross-sell rules, missing-product offers, next-best products, sequences."""

from __future__ import annotations

from typing import Any

from crmine.pipeline import step
from crmine.warehouse import Workspace


@step(
    "basket",
    order=50,
    title="Cross-sell: association rules and next-best products",
    requires=("core.fct_order_lines.product_id",),
)
def run(ws: Workspace) -> dict[str, Any]:
    from crmine.basket import evaluate_workspace, score_workspace

    summary = score_workspace(ws).summary
    evaluation = evaluate_workspace(ws).summary.set_index("method")
    summary["hit_rate_at_10"] = {
        m: round(float(evaluation.loc[m, "hit_rate"]), 4) for m in evaluation.index
    }
    return summary
