from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crmine._plugins import import_plugins
from crmine.warehouse import Workspace

StepFn = Callable[[Workspace], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    order: int
    title: str
    fn: StepFn


@dataclass(frozen=True, slots=True)
class StepResult:
    name: str
    title: str
    ok: bool
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


_STEPS: dict[str, Step] = {}


def step(name: str, *, order: int, title: str) -> Callable[[StepFn], StepFn]:
    """Register ``fn`` as the pipeline step ``name``."""

    def register(fn: StepFn) -> StepFn:
        _STEPS[name] = Step(name, order, title, fn)
        return fn

    return register


def all_steps() -> list[Step]:
    """All registered steps in run order."""
    import_plugins("crmine.pipeline.steps")
    return sorted(_STEPS.values(), key=lambda s: (s.order, s.name))


def run_pipeline(
    ws: Workspace,
    *,
    only: list[str] | None = None,
    on_step: Callable[[Step], None] | None = None,
    strict: bool = False,
) -> list[StepResult]:
    """Run every step (or ``only`` those named) and return what each did.

    A failing step is reported with its error and the rest still run, unless ``strict``.
    """
    results = []
    for s in all_steps():
        if only and s.name not in only:
            continue
        if on_step:
            on_step(s)
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=FutureWarning)
                summary = s.fn(ws)
        except Exception as exc:
            if strict:
                raise
            results.append(
                StepResult(
                    s.name,
                    s.title,
                    False,
                    time.perf_counter() - start,
                    error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}",
                )
            )
            continue
        results.append(StepResult(s.name, s.title, True, time.perf_counter() - start, summary))
    return results
