"""Pipeline step: customer lifetime value (BG/NBD + Gamma-Gamma), scores and report marts."""

from __future__ import annotations

from typing import Any

from crmine.pipeline import step
from crmine.warehouse import Workspace


@step(
    "clv", order=30, title="Customer lifetime value", requires=("core.fct_order_lines.customer_id",)
)
def run(ws: Workspace) -> dict[str, Any]:
    from crmine.clv import score_workspace

    return score_workspace(ws).summary
