"""Runs are all-or-nothing: a pipeline run's marts and model pointers are published together.

Inside :func:`published_run` every warehouse write joins one DuckDB transaction (the analyses
read each other's marts inside it, as they would outside), and every ``latest`` pointer a
saved model would move is held back. At the end the run is recorded in ``meta.runs``, the
pointers it moves are written to a journal, the transaction commits, the pointers are written
and the journal is removed. Killed at any moment, the warehouse keeps the previous complete
run's marts (DuckDB discards an uncommitted transaction on recovery), and
:func:`recover_pointers`, called when a workspace opens, finishes or undoes the pointer moves
from the journal according to whether the run's commit happened.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmine.exceptions import WorkspaceError
from crmine.warehouse._models import LATEST, _point_latest, deferred_latest, read_latest

if TYPE_CHECKING:
    from crmine.warehouse._workspace import Workspace

__all__ = ["RUNS_TABLE", "Run", "last_run", "published_run", "recover_pointers"]

RUNS_TABLE = "meta.runs"
JOURNAL = ".run-journal.json"


@dataclass(slots=True)
class Run:
    """The run being published: its id, start, what the pipeline reports of its steps, and
    the ``latest`` pointers held until it is published (model folder -> version)."""

    run_id: str
    started_at: dt.datetime
    steps: list[dict[str, Any]] = field(default_factory=list)
    held: dict[Path, str] = field(default_factory=dict)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _ensure_table(ws: Workspace) -> None:
    ws.duck.execute(
        f"CREATE TABLE IF NOT EXISTS {RUNS_TABLE} (run_id VARCHAR PRIMARY KEY, "
        "started_at TIMESTAMP, finished_at TIMESTAMP, steps VARCHAR, pointers VARCHAR)"
    )


@contextmanager
def published_run(ws: Workspace) -> Iterator[Run]:
    """Everything written inside is published at the end, together, or not at all.

    An exception (a failing analysis under ``strict``, Ctrl-C) rolls the warehouse back and
    leaves every model pointer as it was; the saved model versions stay on disk, unused.
    """
    if ws._transactions:
        # Its pointers would be published before the caller's commit, which may roll back.
        raise WorkspaceError("a pipeline run cannot start inside an open warehouse transaction")
    started = _now()
    run = Run(f"run-{started:%Y%m%dT%H%M%S%f}", started)
    _ensure_table(ws)
    journal = ws.models_dir / JOURNAL
    with ws.transaction():
        with deferred_latest() as held:
            run.held = held
            yield run
        pointers = {str(base): version for base, version in held.items()}
        previous = {str(base): read_latest(base) for base in held}
        ws.duck.execute(
            f"INSERT INTO {RUNS_TABLE} VALUES (?, ?, ?, ?, ?)",
            [run.run_id, run.started_at, _now(), json.dumps(run.steps, default=str),
             json.dumps(pointers)],
        )  # fmt: skip
        journal.parent.mkdir(parents=True, exist_ok=True)
        tmp = journal.with_suffix(".tmp")
        tmp.write_text(json.dumps({"run_id": run.run_id, "new": pointers,
                                   "previous": previous}))  # fmt: skip
        tmp.replace(journal)
    # committed: now the pointers (a kill from here on is finished by recover_pointers)
    _apply(pointers)
    journal.unlink()


def _apply(pointers: Mapping[str, str | None]) -> None:
    for base, version in pointers.items():
        folder = Path(base)
        if version is None:
            (folder / LATEST).unlink(missing_ok=True)
        elif (folder / version).exists():
            _point_latest(folder, version)


def recover_pointers(ws: Workspace) -> str | None:
    """Finish or undo the pointer moves of a run killed while publishing (from its journal).

    Returns what was done ("finished run …" / "undid run …"), or None when nothing was to do.
    """
    journal = ws.models_dir / JOURNAL
    if not journal.exists():
        return None
    try:
        entry = json.loads(journal.read_text())
    except (OSError, ValueError):  # cut short before it was complete: the run never committed
        journal.unlink(missing_ok=True)
        return "removed an incomplete run journal"
    committed = False
    if ws.has_table(RUNS_TABLE):
        committed = ws.duck.execute(
            f"SELECT count(*) FROM {RUNS_TABLE} WHERE run_id = ?", [entry["run_id"]]
        ).fetchone() == (1,)
    _apply(entry["new"] if committed else entry["previous"])
    journal.unlink()
    return f"{'finished' if committed else 'undid'} run {entry['run_id']}"


def last_run(ws: Workspace) -> dict[str, Any] | None:
    """The last complete run: ``run_id``, ``started_at``, ``finished_at``, ``steps``."""
    if not ws.has_table(RUNS_TABLE):
        return None
    row = ws.duck.execute(
        f"SELECT run_id, started_at, finished_at, steps FROM {RUNS_TABLE} "
        "ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return {"run_id": row[0], "started_at": row[1], "finished_at": row[2],
            "steps": json.loads(row[3] or "[]")}  # fmt: skip
