"""Running the analyses on a workspace in dependency order (``crmine demo``, ``crmine run``).

The pipeline keeps no list of its own: it reads every package's ``ANALYSIS`` declaration
(:mod:`crmine.contract`) and orders them from their ``requires`` and ``uses``; analyses that
fit nothing and must come first (features, drift) run before those that fit models. A run
that finds nothing to do raises :class:`SkipStep` and is reported as skipped.
"""

from __future__ import annotations

from crmine.pipeline._runner import SkipStep, StepResult, missing_inputs, plan, run_pipeline

__all__ = ["SkipStep", "StepResult", "missing_inputs", "plan", "run_pipeline"]
