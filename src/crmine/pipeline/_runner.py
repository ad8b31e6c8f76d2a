from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crmine._plugins import import_plugins
from crmine.warehouse import ENTITIES, Workspace

StepFn = Callable[[Workspace], dict[str, Any]]


# A required input: a table ("core.fct_order_lines"), a column that must hold values
# ("core.fct_order_lines.product_id"), or a tuple of those any one of which will do.
Requirement = str | tuple[str, ...]


def _present(ws: Workspace, need: str) -> bool:
    schema, table, *column = need.split(".")
    if not ws.has_table(f"{schema}.{table}"):
        return False
    if not column:
        return True
    if column[0] not in ws.columns(f"{schema}.{table}"):
        return False
    row = ws.duck.execute(
        f'SELECT 1 FROM {schema}.{table} WHERE "{column[0]}" IS NOT NULL LIMIT 1'
    ).fetchone()
    return row is not None


def _how_to_load(need: str) -> str:
    schema, table, *column = need.split(".")
    entity = _ENTITY_OF.get(f"{schema}.{table}", table)
    if column:
        return f"`crmine ingest {entity} FILE` with a column mapped to {column[0]}"
    return f"`crmine ingest {entity} FILE`"


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    order: int
    title: str
    fn: StepFn
    requires: tuple[Requirement, ...] = ()

    def missing(self, ws: Workspace) -> str | None:
        """Why the step cannot run on ``ws`` (its inputs are absent), or None."""
        for need in self.requires:
            options = (need,) if isinstance(need, str) else need
            if not any(_present(ws, t) for t in options):
                how = " or ".join(_how_to_load(t) for t in options)
                return f"needs {' or '.join(options)}: load it with {how}"
        return None


class SkipStep(Exception):
    """Raised by a step that finds nothing to do; its message says why (shown as skipped)."""


@dataclass(frozen=True, slots=True)
class StepResult:
    name: str
    title: str
    ok: bool
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None  # why the step did not run (its inputs are absent)


_STEPS: dict[str, Step] = {}
_ENTITY_OF = {e.core_table: name for name, e in ENTITIES.items()}


def step(
    name: str, *, order: int, title: str, requires: tuple[Requirement, ...] = ()
) -> Callable[[StepFn], StepFn]:
    """Register ``fn`` as the pipeline step ``name``.

    ``requires`` lists the tables (or ``schema.table.column`` columns that must hold values)
    the step reads; when one is absent the step is skipped with a message saying what to load,
    instead of failing.
    """

    def register(fn: StepFn) -> StepFn:
        _STEPS[name] = Step(name, order, title, fn, requires)
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
        reason = s.missing(ws)
        if reason:
            results.append(StepResult(s.name, s.title, True, 0.0, skipped=reason))
            continue
        if on_step:
            on_step(s)
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=FutureWarning)
                summary = s.fn(ws)
        except SkipStep as skip:
            results.append(StepResult(s.name, s.title, True, 0.0, skipped=str(skip)))
            continue
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
