from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from crmine.contract import (
    Analysis,
    AnalysisRun,
    SkipAnalysis,
    Verdict,
    all_analyses,
    record_verdict,
    recorded_warnings,
)
from crmine.exceptions import ConfigError, WorkspaceError
from crmine.warehouse import ENTITIES, Run, Workspace, published_run


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


_ENTITY_OF = {e.core_table: name for name, e in ENTITIES.items()}


def missing_inputs(a: Analysis, ws: Workspace) -> str | None:
    """Why ``a`` cannot run on ``ws`` (a table or column it needs is absent), or None."""
    for need in a.tables_required():
        options: tuple[str, ...] = (need,) if isinstance(need, str) else need
        if not any(_present(ws, t) for t in options):
            how = " or ".join(_how_to_load(t) for t in options)
            return f"needs {' or '.join(options)}: load it with {how}"
    return None


SkipStep = SkipAnalysis  # the name steps used before the contract

@dataclass(frozen=True, slots=True)
class StepResult:
    """What one analysis did in a pipeline run."""

    name: str
    title: str
    ok: bool
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None  # why the analysis did not run
    verdict: Verdict | None = None
    warnings: tuple[str, ...] = ()
    run: AnalysisRun | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.name,
            "title": self.title,
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "summary": self.summary,
            "verdict": self.verdict.to_dict() if self.verdict is not None else None,
            "warnings": list(self.warnings),
            "error": self.error,
            "skipped": self.skipped,
        }


def _edges(analyses: dict[str, Analysis]) -> dict[str, set[str]]:
    """name -> the analyses that must run before it."""
    before: dict[str, set[str]] = {n: set() for n in analyses}
    for a in analyses.values():
        for dep in (*a.analyses_required(), *a.uses):
            if dep not in analyses:
                raise ConfigError(f"analysis {a.name!r} depends on unknown analysis {dep!r}")
            before[a.name].add(dep)
    first = [a.name for a in analyses.values() if a.before_models]
    for a in analyses.values():
        if a.model is not None:
            before[a.name].update(n for n in first if n != a.name)
    return before


def plan(names: list[str] | None = None) -> list[Analysis]:
    """The analyses to run, dependencies first (``names`` and what they need, or all).

    Ties are broken by name so the order is stable. A cycle is a :class:`ConfigError`.
    """
    analyses = all_analyses()
    before = _edges(analyses)
    if names:
        unknown = [n for n in names if n not in analyses]
        if unknown:
            import difflib

            near = difflib.get_close_matches(unknown[0], list(analyses), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"no analysis named {unknown[0]!r}{hint}; known: "
                              f"{', '.join(sorted(analyses))}")  # fmt: skip
        wanted: set[str] = set()
        stack = list(names)
        while stack:
            n = stack.pop()
            if n in wanted:
                continue
            wanted.add(n)
            a = analyses[n]
            stack.extend((*a.analyses_required(), *a.uses))
    else:
        wanted = set(analyses)
    order: list[Analysis] = []
    done: set[str] = set()
    pending = sorted(wanted)
    while pending:
        ready = [n for n in pending if before[n] & wanted <= done]
        if not ready:
            raise ConfigError(f"analyses depend on each other in a cycle: {', '.join(pending)}")
        # Steps that fit nothing (features, drift) first among those ready.
        ready.sort(key=lambda n: (not analyses[n].before_models, analyses[n].fits, n))
        n = ready[0]
        order.append(analyses[n])
        done.add(n)
        pending.remove(n)
    return order


def _withhold(ws: Workspace, a: Analysis, exc: Exception, published: Run,
              pointers: dict[Path, str]) -> None:  # fmt: skip
    """An analysis failed part-way (DuckDB has no savepoints to undo what it wrote): nothing
    of it may be acted on. Its lists to act on are emptied, the models it saved are not made
    the latest, and its verdict says it failed."""
    published.held.clear()
    published.held.update(pointers)
    for mart in a.marts:
        if mart.actionable and ws.has_table(mart.table):
            ws.duck.execute(f"DELETE FROM {mart.table}")
    if a.fits:
        record_verdict(ws, a.name, Verdict(
            "not_informative", "run failed", None, None,
            why=f"{a.title} failed in this run ({type(exc).__name__}: {str(exc)[:200]}); "
                "its results are withheld: what remains of them may mix two runs.",
            what_to_try="fix the cause shown in the run's output and run it again "
                        f"(crmine run --only {a.name})",
        ))  # fmt: skip


def _honour_consent(ws: Workspace, a: Analysis) -> dict[str, int]:
    """Opted-out customers removed from ``a``'s lists to act on (crmine.warehouse._consent):
    mart -> rows left out, for the marts naming customers."""
    from crmine.warehouse._consent import honour_consent

    return honour_consent(ws, a)  # the same filter as commands running one analysis


def run_pipeline(
    ws: Workspace,
    *,
    only: list[str] | None = None,
    on_step: Callable[[Analysis], None] | None = None,
    strict: bool = False,
) -> list[StepResult]:
    """Run every analysis (or ``only`` those named, with what they need) in dependency order.

    Each run's verdict is recorded in ``marts.analysis_verdicts`` with the warnings raised
    while it ran. A failing analysis is reported with its error and the rest still run (those
    requiring it are skipped), unless ``strict``. The run is all-or-nothing
    (:func:`crmine.warehouse.published_run`): its marts and model pointers are published
    together at the end and recorded in ``meta.runs``; interrupted, it leaves the previous
    run's results as they were.
    """
    from crmine.contract import validate_settings

    validate_settings(ws.config.settings, str(ws.root / "crmine.toml"))
    with published_run(ws) as run:
        results = _run_steps(ws, plan(only), run, on_step=on_step, strict=strict)
        run.steps = [{"step": r.name, "ok": r.ok, "skipped": r.skipped,
                      "seconds": round(r.seconds, 2),
                      "verdict": r.verdict.status if r.verdict else None}
                     for r in results]  # fmt: skip
    return results


def _run_steps(
    ws: Workspace,
    analyses: list[Analysis],
    published: Run,
    *,
    on_step: Callable[[Analysis], None] | None,
    strict: bool,
) -> list[StepResult]:
    results: list[StepResult] = []
    not_done: dict[str, str] = {}
    for a in analyses:
        blocked = next((d for d in a.analyses_required() if d in not_done), None)
        reason = (f"needs {blocked}, which {not_done[blocked]}" if blocked
                  else missing_inputs(a, ws))  # fmt: skip
        if reason:
            results.append(StepResult(a.name, a.title, True, 0.0, skipped=reason))
            not_done[a.name] = "was skipped"
            continue
        if on_step:
            on_step(a)
        start = time.perf_counter()
        caught: list[str] = []
        pointers = dict(published.held)
        try:
            with recorded_warnings() as caught:
                run = a.run(ws)
        except SkipStep as skip:
            results.append(StepResult(a.name, a.title, True, 0.0, skipped=str(skip)))
            not_done[a.name] = "was skipped"
            continue
        except duckdb.Error as exc:
            # The warehouse transaction is aborted: nothing more can be written, so the whole
            # run stops and publishes nothing (the previous run's results stay).
            raise WorkspaceError(
                f"the run stopped in {a.name}: the warehouse refused a write ({exc}); nothing "
                "of this run was published, the previous run's results are unchanged"
            ) from exc
        except Exception as exc:
            if strict:
                raise
            _withhold(ws, a, exc, published, pointers)
            results.append(StepResult(
                a.name, a.title, False, time.perf_counter() - start,
                error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}",
                warnings=tuple(caught),
            ))  # fmt: skip
            not_done[a.name] = "failed"
            continue
        verdict = run.verdict
        if verdict is not None and caught:
            verdict = verdict.with_warnings(caught)
        if a.fits:
            record_verdict(ws, a.name, verdict)
        summary = dict(run.summary())
        excluded = _honour_consent(ws, a)
        if excluded:
            summary["consent_excluded"] = excluded
        results.append(StepResult(a.name, a.title, True, time.perf_counter() - start,
                                  summary, verdict=verdict,
                                  warnings=tuple(caught), run=run))  # fmt: skip
    return results
