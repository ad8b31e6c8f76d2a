"""Running every analysis on a workspace, in dependency order (used by ``crmine demo`` and
``crmine run``).

An analysis joins the pipeline with one module in ``crmine/pipeline/steps/`` that defines::

    @step("clv", order=30, title="Customer lifetime value")
    def run(ws: Workspace) -> dict[str, object]:
        ...   # fit, write marts, return a small summary (JSON-serialisable)

Lower ``order`` runs first (segmentation before churn, CLV before the retention list). A step
that finds nothing to do raises ``SkipStep("why")`` and is reported as skipped.
"""

from __future__ import annotations

from crmine.pipeline._runner import SkipStep, Step, StepResult, all_steps, run_pipeline, step

__all__ = ["SkipStep", "Step", "StepResult", "all_steps", "run_pipeline", "step"]
