"""The audit trail: an append-only, hash-chained log of loads, runs, exports, erasures,
subject-access requests and scans (``<workspace>/audit/privacy.jsonl``).

Each line is a JSON object with its sequence number, time, action, details (counts and ids
of loads, runs and receipts - never a person's data), the previous line's hash and its own:
``sha256(previous hash + the line without its hash)``. Editing, removing or reordering a line
breaks the chain from there on, which ``crmine privacy audit --verify`` reports. Loads and
runs are written into the chain from ``meta.loads`` and ``meta.runs`` whenever a privacy
action is logged (they are recorded there by the ingest and the pipeline).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmine.warehouse import Workspace

__all__ = ["AUDIT_FILE", "AuditCheck", "audit_entries", "record", "verify"]

AUDIT_FILE = Path("audit") / "privacy.jsonl"
GENESIS = "0" * 64


def _digest(previous: str, entry: dict[str, Any]) -> str:
    body = json.dumps({k: v for k, v in entry.items() if k != "hash"}, sort_keys=True,
                      ensure_ascii=False, default=str)  # fmt: skip
    return hashlib.sha256((previous + body).encode("utf-8")).hexdigest()


def audit_entries(ws: Workspace) -> list[dict[str, Any]]:
    path = ws.root / AUDIT_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _append(ws: Workspace, entries: list[dict[str, Any]], action: str,
            detail: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    previous = entries[-1]["hash"] if entries else GENESIS
    entry = {"seq": len(entries) + 1, "at": dt.datetime.now(dt.UTC).isoformat(),
             "action": action, "detail": detail, "prev": previous}  # fmt: skip
    entry["hash"] = _digest(previous, entry)
    path = ws.root / AUDIT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:  # append only: earlier lines never rewritten
        fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        fh.flush()
    entries.append(entry)
    return entry


def _catch_up(ws: Workspace, entries: list[dict[str, Any]]) -> None:
    """Chain the loads and runs the warehouse recorded since the last privacy action."""
    seen = {(e["action"], e["detail"].get("id")) for e in entries}
    if ws.has_table("meta.loads"):
        for load, entity, read, finished in ws.duck.execute(
            "SELECT load_id, entity, rows_read, finished_at FROM meta.loads ORDER BY load_id"
        ).fetchall():
            if ("load", load) not in seen:
                _append(ws, entries, "load", {"id": load, "entity": entity, "rows_read": read,
                                              "finished_at": str(finished)})  # fmt: skip
    if ws.has_table("meta.runs"):
        for run_id, finished in ws.duck.execute(
            "SELECT run_id, finished_at FROM meta.runs ORDER BY finished_at"
        ).fetchall():
            if ("run", run_id) not in seen:
                _append(ws, entries, "run", {"id": run_id, "finished_at": str(finished)})


def record(ws: Workspace, action: str, detail: dict[str, Any]) -> dict[str, Any]:
    """Append ``action`` (after any loads and runs not yet in the chain); returns the entry."""
    entries = audit_entries(ws)
    _catch_up(ws, entries)
    return _append(ws, entries, action, detail)


@dataclass(frozen=True, slots=True)
class AuditCheck:
    ok: bool
    entries: int
    broken_at: int | None  # line number of the first line that does not chain
    why: str

    def summary(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "broken_at": self.broken_at,
                "why": self.why}  # fmt: skip


def verify(ws: Workspace) -> AuditCheck:
    """Recompute the chain; the first line that was edited, removed or moved is reported."""
    path = ws.root / AUDIT_FILE
    if not path.exists():
        return AuditCheck(True, 0, None, "no audit log yet")
    previous = GENESIS
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except ValueError:
            return AuditCheck(False, len(lines), n, f"line {n} is not JSON")
        if entry.get("prev") != previous or entry.get("seq") != n:
            return AuditCheck(
                False, len(lines), n, f"line {n} does not follow line {n - 1} (removed or moved)"
            )
        if _digest(previous, entry) != entry.get("hash"):
            return AuditCheck(False, len(lines), n, f"line {n} was edited after it was written")
        previous = entry["hash"]
    return AuditCheck(True, len(lines), None, f"{len(lines):,} entries, chain intact")
