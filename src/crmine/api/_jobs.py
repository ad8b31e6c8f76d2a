"""Background jobs: a run (or one analysis's training), a scoring, an ingest; their progress,
status and cancellation.

Each job works on its own connection inside one transaction, so the API keeps serving the
last complete state while it runs, and a cancelled or failed job leaves nothing behind.
Cancelling is honoured between analyses and inside a fit: the job's cancel token
(:func:`crmine._progress.cancellable`) is checked at every step of a progress bar (CV folds,
candidate models, bootstrap replicates, each k tried) and as each long stage starts and ends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmine._progress import Cancelled, cancellable
from crmine.exceptions import CrmineError, DataError

__all__ = ["JOB_KINDS", "Job", "JobCancelled", "JobManager"]

JOB_KINDS = ("run", "train", "score", "ingest")


class JobCancelled(Cancelled):
    """Raised inside a job's thread at the next step after a cancel request."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()


@dataclass
class Job:
    job_id: str
    kind: str
    params: dict[str, Any]
    user: str
    status: str = "queued"  # queued, running, done, failed, cancelled
    progress: float = 0.0
    step: str | None = None
    created_at: str = field(default_factory=_now)
    finished_at: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: bool = False
    token: threading.Event = field(default_factory=threading.Event, repr=False)
    _analysis: str | None = field(default=None, repr=False)

    def request_cancel(self) -> None:
        self.cancel_requested = True
        self.token.set()  # seen by the fit at its next step

    def report(self, description: str, done: int, total: int | None) -> None:
        """Where the job is inside a step (from the progress bars of the fit)."""
        where = f"{description} ({done + 1}/{total})" if total else description
        self.step = f"{self._analysis}: {where}" if self._analysis else where

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "job_id", "kind", "params", "user", "status", "progress", "step", "created_at",
            "finished_at", "result", "error", "cancel_requested")}

    def checkpoint(self, step: str | None = None, progress: float | None = None) -> None:
        if self.cancel_requested:
            raise JobCancelled(f"job {self.job_id} cancelled")
        if step is not None:
            self.step = self._analysis = step
        if progress is not None:
            self.progress = round(min(max(progress, 0.0), 1.0), 3)


class JobManager:
    """Jobs of one server process, one at a time in the order started (a warehouse takes
    one writer well)."""

    def __init__(self, root: Path, on_done: Callable[[], None] | None = None) -> None:
        self.root = root
        self._on_done = on_done  # e.g. drop cached features: the data may have changed
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        # Held while a job writes the warehouse (the server copies it only when free).
        self.writer_lock = threading.RLock()
        self._threads: list[threading.Thread] = []

    def start(self, kind: str, params: dict[str, Any], user: str) -> Job:
        if kind not in JOB_KINDS:
            raise DataError(f"unknown job kind {kind!r}; kinds: {', '.join(JOB_KINDS)}")
        _validate(kind, params, self.root)
        job = Job(secrets.token_hex(6), kind, params, user)
        with self._lock:
            self.jobs[job.job_id] = job
        thread = threading.Thread(target=self._work, args=(job,), daemon=True,
                                  name=f"crmine-job-{job.job_id}")
        self._threads.append(thread)
        thread.start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self.jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)

    def cancel(self, job_id: str) -> Job | None:
        job = self.get(job_id)
        if job is not None and job.status in ("queued", "running"):
            job.request_cancel()
        return job

    def shutdown(self, timeout: float = 30.0) -> None:
        """Ask every job to stop at its next step and wait for them (graceful shutdown)."""
        for job in self.all():
            if job.status in ("queued", "running"):
                job.request_cancel()
        for t in self._threads:
            t.join(timeout)

    def _work(self, job: Job) -> None:
        from crmine.warehouse import Workspace

        status = "failed"
        with self.writer_lock:
            try:
                job.checkpoint()
                job.status = "running"
                with Workspace.open(self.root) as ws, cancellable(job.token, job.report):
                    job.result = _RUNNERS[job.kind](ws, job)
                status, job.progress = "done", 1.0
            except Cancelled:  # the job's transaction was rolled back on the way out
                status = "cancelled"
                job.result = {"stopped_in": job.step}
            except CrmineError as exc:
                job.error = str(exc)
            except Exception as exc:  # a job's failure is its status, not the server's
                job.error = f"{type(exc).__name__}: {exc}"
                job.result = {"traceback": traceback.format_exc(limit=3)}
            finally:
                # published to readers before the job says it is done
                if self._on_done is not None:
                    with contextlib.suppress(Exception):
                        self._on_done()
                job.finished_at = _now()
                job.status = status


def _validate(kind: str, params: dict[str, Any], root: Path) -> None:
    from crmine.contract import all_analyses

    if kind in ("run", "train"):
        names = params.get("only") or ([params["analysis"]] if params.get("analysis") else [])
        if kind == "train" and not names:
            raise DataError("a train job names the analysis: {\"analysis\": \"churn\"}")
        known = all_analyses()
        bad = [n for n in names if n not in known]
        if bad:
            raise DataError(f"unknown analysis {bad[0]!r}; known: {', '.join(sorted(known))}")
    elif kind == "score":
        from crmine.models import model_specs

        if params.get("model") not in model_specs():
            raise DataError(f"a score job names a model: one of {', '.join(model_specs())}")
    elif kind == "ingest":
        from crmine.warehouse import ENTITIES

        if params.get("entity") not in ENTITIES:
            raise DataError(f"an ingest job names an entity: one of {', '.join(ENTITIES)}")
        path = (root / str(params.get("path", ""))).resolve()
        # Only files inside the workspace: the API must not read the server's other files.
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            raise DataError("an ingest job's path is a file inside the workspace folder, "
                            "relative to it (e.g. raw/incoming/customers.csv)")


def _run(ws: Any, job: Job) -> dict[str, Any]:
    from crmine.pipeline import plan, run_pipeline

    names = job.params.get("only") or ([job.params["analysis"]] if job.params.get("analysis")
                                       else None)
    steps = plan(names)
    done = [0]

    def on_step(a: Any) -> None:
        job.checkpoint(a.name, done[0] / max(len(steps), 1))
        done[0] += 1

    results = run_pipeline(ws, only=names, on_step=on_step)
    return {"steps": [{"step": r.name, "ok": r.ok, "skipped": r.skipped,
                       "verdict": r.verdict.status if r.verdict else None} for r in results]}


def _score(ws: Any, job: Job) -> dict[str, Any]:
    from crmine.models import model_specs, score_table

    name = job.params["model"]
    job.checkpoint("features", 0.1)
    frame = model_specs()[name].features(ws)
    if "customer_id" not in frame.columns:  # some keep the id as the index (CLV's RFM)
        frame = frame.rename_axis("customer_id").reset_index()
    job.checkpoint("scoring", 0.6)
    scores = score_table(ws.models_dir, name, frame, version=job.params.get("version"))
    version = str(scores.attrs["version"])
    job.checkpoint("writing", 0.9)
    with ws.transaction():
        ws.upsert_customer_scores(scores, model=name, model_version=version)
    return {"model": name, "version": version, "customers": len(scores)}


def _ingest(ws: Any, job: Job) -> dict[str, Any]:
    from crmine.warehouse import ingest

    job.checkpoint("loading", 0.1)
    report = ingest(ws, job.params["entity"], ws.root / job.params["path"])
    return {"entity": report.entity, "rows_read": report.rows_read,
            "rows_staged": report.rows_staged, "rows_quarantined": report.rows_quarantined}


_RUNNERS = {"run": _run, "train": _run, "score": _score, "ingest": _ingest}
