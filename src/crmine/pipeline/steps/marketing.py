"""Pipeline step: campaign KPIs, channel effects, budget split, funnel and attribution."""

from __future__ import annotations

from typing import Any

from crmine.pipeline import step
from crmine.warehouse import Workspace


@step(
    "marketing",
    order=60,
    title="Marketing effectiveness",
    requires=(("core.fct_events", "core.campaign_assignments"),),
)
def run(ws: Workspace) -> dict[str, Any]:
    from crmine.marketing._workspace import run_marketing

    return run_marketing(ws).summary()
