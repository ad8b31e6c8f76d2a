"""What the server holds while it runs: warehouse connections, verified tokens, the audit log,
the export rate limit and the feature cache of real-time scoring."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crmine.api._users import ApiUser, TokenCache
from crmine.warehouse import Workspace

__all__ = ["AUDIT_TABLE", "AuditLog", "RateLimiter", "ServerState", "WorkspacePool"]

AUDIT_TABLE = "meta.api_audit"


class WorkspacePool:
    """A few open connections to the one warehouse, lent one per request.

    In one process they share one DuckDB database, each with its own transactions: a job
    writing a run inside its transaction leaves readers on the last complete run.
    """

    def __init__(self, root: Path, size: int = 4) -> None:
        self.root = root
        self._free: queue.Queue[Workspace] = queue.Queue()
        self._all: list[Workspace] = []
        first = Workspace.open(root)
        self._all.append(first)
        self._free.put(first)
        for _ in range(size - 1):
            ws = Workspace(first.root, first.config)
            self._all.append(ws)
            self._free.put(ws)
        # Rebuilding the stored cube from two connections at once would conflict.
        self.cube_lock = threading.Lock()

    @contextlib.contextmanager
    def borrow(self) -> Iterator[Workspace]:
        ws = self._free.get()
        try:
            yield ws
        finally:
            self._free.put(ws)

    def close(self) -> None:
        for ws in self._all:
            with contextlib.suppress(Exception):
                ws.close()


class RateLimiter:
    """At most ``limit`` calls per ``window`` seconds per key (a sliding window)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """0 when the call may go ahead (and counts it), else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and now - calls[0] >= self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                return max(self.window - (now - calls[0]), 0.001)
            calls.append(now)
            return 0.0


class ServerState:
    def __init__(self, root: Path, *, pool_size: int = 4, export_limit: int = 10,
                 export_window: float = 60.0) -> None:
        self.root = root
        self.pool = WorkspacePool(root, pool_size)
        self.tokens = TokenCache()
        self.exports = RateLimiter(export_limit, export_window)
        from crmine.api._scoring import RealtimeScorer

        self.scorer = RealtimeScorer()
        from crmine.api._jobs import JobManager

        self.jobs = JobManager(root, on_done=self.scorer.clear)
        with self.pool.borrow() as ws:
            ensure_audit(ws)
        self.audit = AuditLog(self.pool)

    def close(self) -> None:
        self.jobs.shutdown()
        self.audit.close()
        self.pool.close()


def ensure_audit(ws: Workspace) -> None:
    ws.duck.execute(f"CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (logged_at TIMESTAMP NOT NULL, "
                    "user_id VARCHAR, user_name VARCHAR, role VARCHAR, method VARCHAR, "
                    "path VARCHAR, operation VARCHAR, status INTEGER, detail VARCHAR)")


class AuditLog:
    """Appends to ``meta.api_audit`` (nothing in crmine updates or deletes its rows).

    Rows are queued by the request and written together by one thread every ``interval``
    seconds (one transaction per batch instead of one per request: a commit per request would
    cap the API near 50 requests/s); :meth:`flush` writes what is queued now (before the log is
    read, and at shutdown).
    """

    def __init__(self, pool: WorkspacePool, interval: float = 0.2) -> None:
        self._pool = pool
        self._rows: list[list[Any]] = []
        self._lock = threading.Lock()
        self._write = threading.Lock()
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._loop, daemon=True, name="crmine-audit")
        self._thread.start()

    def append(self, user: ApiUser | None, method: str, path: str, operation: str | None,
               status: int, detail: dict[str, Any] | None) -> None:
        row = [dt.datetime.now(dt.UTC).replace(tzinfo=None), user.user_id if user else None,
               user.name if user else None, user.role if user else None, method, path[:500],
               operation, status, json.dumps(detail, default=str)[:4000] if detail else None]
        with self._lock:
            self._rows.append(row)

    def flush(self) -> None:
        with self._write:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return
            with self._pool.borrow() as ws:
                ws.duck.executemany(
                    f"INSERT INTO {AUDIT_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            with contextlib.suppress(Exception):  # retried with the next batch
                self.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.flush()
