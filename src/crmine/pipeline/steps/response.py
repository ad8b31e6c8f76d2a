"""Pipeline step: campaign response and uplift models, scores for every customer."""

from __future__ import annotations

from typing import Any

from crmine.pipeline import step
from crmine.warehouse import Workspace


@step(
    "response",
    order=65,
    title="Campaign response and uplift",
    requires=("core.campaign_assignments",),
)
def run(ws: Workspace) -> dict[str, Any]:
    from crmine.response._workspace import run_response

    return run_response(ws).summary()
