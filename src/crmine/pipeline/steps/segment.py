"""Pipeline step: RFM segments, clusters, value tiers and golden customers."""

from __future__ import annotations

from typing import Any

from crmine.pipeline import step
from crmine.warehouse import Workspace


@step(
    "segment",
    order=20,
    title="Customer segmentation",
    requires=("core.fct_order_lines.customer_id",),
)
def run(ws: Workspace) -> dict[str, Any]:
    from crmine.segment import segment_workspace

    # Features are rebuilt: the pipeline runs after a load, when the old mart may be stale.
    return segment_workspace(ws, rebuild_features=True).summary
