"""What the server holds while it runs: the copy of the warehouse it reads, verified tokens,
the audit log, the export rate limit and the feature cache of real-time scoring."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crmine.api._serving import ServingPool
from crmine.api._users import ApiUser, TokenCache

__all__ = ["AUDIT_FILE", "AuditLog", "RateLimiter", "ServerState", "ServingPool"]

# Beside the privacy log (audit/privacy.jsonl): a file, not a table, so logging a read never
# writes the warehouse (which a run in another process may be writing).
AUDIT_FILE = Path("audit") / "api.jsonl"
AUDIT_COLUMNS = ("logged_at", "user_id", "user_name", "role", "method", "path", "operation",
                 "status", "detail")


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

    def admit(self, key: str, what: str = "exports") -> None:
        """Count the call, or refuse it with 429 and when to retry."""
        from crmine.api._errors import ApiError

        wait = self.retry_after(key)
        if wait:
            raise ApiError(429, f"too many {what}: at most {self.limit} per {self.window:g} s; "
                           f"retry in {wait:.0f} s",
                           headers={"Retry-After": str(max(1, round(wait)))})


class ServerState:
    def __init__(self, root: Path, *, pool_size: int = 4, export_limit: int = 10,
                 export_window: float = 60.0, watch: float | None = 1.0) -> None:
        self.root = root
        self.tokens = TokenCache()
        self.exports = RateLimiter(export_limit, export_window)
        from crmine.api._jobs import JobManager
        from crmine.api._scoring import RealtimeScorer

        self.jobs = JobManager(root, on_done=self._after_job)
        self.scorer = RealtimeScorer()  # before the pool: publishing a copy clears it
        self.pool = ServingPool(root, pool_size, writer_lock=self.jobs.writer_lock,
                                on_publish=self._published)
        self.scorer.borrow = self.pool.borrow  # to score every customer in the background
        if watch:
            self.pool.watch(watch)
        self.audit = AuditLog(root / AUDIT_FILE)

    def _after_job(self) -> None:
        self.pool.refresh(force=True)  # what the job committed is served from now on

    def _published(self) -> None:
        # A revocation from `crmine users revoke` arrives with the new copy; features and
        # models are computed again from it.
        self.tokens.clear()
        self.scorer.clear()

    @contextlib.contextmanager
    def writing(self) -> Iterator[Any]:
        """The workspace's own warehouse, for the server's few writes (users)."""
        from crmine.api._errors import ApiError
        from crmine.api._serving import WarehouseBusy

        try:
            with self.pool.writing() as ws:
                yield ws
        except WarehouseBusy as exc:
            raise ApiError(503, str(exc), headers={"Retry-After": "10"}) from exc

    def close(self) -> None:
        self.jobs.shutdown()
        self.audit.close()
        self.pool.close()


class AuditLog:
    """Appends to ``<workspace>/audit/api.jsonl``, one JSON object a line (nothing in crmine
    rewrites or deletes its lines), each chained to the one before (``prev``/``hash``:
    ``crmine privacy audit --verify`` finds an edited, removed or moved line).

    In an encrypted workspace no line holds a customer value: the route template instead of
    the path, the customer read and every filter value as keyed pseudonyms under a key
    derived from the workspace key (:func:`crmine.privacy._audit.seal_api_entry`).

    Rows are queued by the request and written together by one thread every ``interval``
    seconds (one write per batch, not per request); :meth:`flush` writes what is queued now
    (before the log is read, and at shutdown).
    """

    def __init__(self, path: Path, interval: float = 0.2) -> None:
        from crmine.privacy._audit import GENESIS, api_key
        from crmine.warehouse._sealed import key_for

        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        workspace_key = key_for(path)  # None: not an encrypted workspace, lines as they are
        self._key = None if workspace_key is None else api_key(workspace_key)
        self._previous = GENESIS  # the chain goes on from the last line written
        for line in _lines_backwards(path):
            with contextlib.suppress(ValueError, AttributeError):
                self._previous = str(json.loads(line).get("hash") or GENESIS)
            break
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._write = threading.Lock()
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._loop, daemon=True, name="crmine-audit")
        self._thread.start()

    def append(self, user: ApiUser | None, method: str, path: str, operation: str | None,
               status: int, detail: dict[str, Any] | None, *, route: str | None = None,
               params: dict[str, Any] | None = None) -> None:
        """Queue one request; ``route`` is its template and ``params`` the values the path
        gave it (used in an encrypted workspace, where the path itself is not written)."""
        values = [dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(),
                  user.user_id if user else None, user.name if user else None,
                  user.role if user else None, method, path[:500], operation, status,
                  json.dumps(detail, default=str)[:4000] if detail else None]
        row = dict(zip(AUDIT_COLUMNS, values, strict=True))
        if self._key is not None:
            from crmine.privacy._audit import seal_api_entry

            row = seal_api_entry(self._key, row, route=route, params=params, detail=detail)
        with self._lock:
            self._rows.append(row)

    def flush(self) -> None:
        from crmine.privacy._audit import chain_rows

        with self._write:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return
            last = chain_rows(self._previous, rows)
            text = "".join(json.dumps(r, default=str) + "\n" for r in rows)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            self._previous = last

    def newest(self, limit: int, user: str | None = None) -> list[dict[str, Any]]:
        """The ``limit`` newest entries (of ``user`` when given), newest first."""
        self.flush()
        out: list[dict[str, Any]] = []
        for line in _lines_backwards(self.path):
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if user is None or row.get("user_name") == user:
                    out.append({k: row.get(k) for k in AUDIT_COLUMNS})
                    if len(out) >= limit:
                        break
        return out

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            with contextlib.suppress(OSError):  # retried with the next batch
                self.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.flush()


def _lines_backwards(path: Path, block: int = 1 << 16) -> Iterator[str]:
    """The file's lines from the last, reading blocks from its end (the log only grows)."""
    if not path.exists():
        return
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        pos, rest = f.tell(), b""
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step) + rest
            lines = chunk.split(b"\n")
            rest = lines[0]
            for line in reversed(lines[1:]):
                if line.strip():
                    yield line.decode("utf-8", "replace")
        if rest.strip():
            yield rest.decode("utf-8", "replace")
