"""The marketing-effectiveness analysis's declaration (read by the pipeline, checks, report
and CLI)."""

from __future__ import annotations

from crmine.contract import Analysis
from crmine.marketing._workspace import run_marketing

__all__ = ["ANALYSIS"]

ANALYSIS = Analysis(
    name="marketing",
    title="Marketing effectiveness",
    run=run_marketing,
    requires=(("core.fct_events", "core.campaign_assignments"),),
    uses=("segment",),  # effects by segment when segments exist
)
