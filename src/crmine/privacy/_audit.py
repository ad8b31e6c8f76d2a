"""The audit trail: an append-only, hash-chained log of loads, runs, exports, erasures,
subject-access requests and scans (``<workspace>/audit/privacy.jsonl``).

Each line is a JSON object with its sequence number, time, action, details (counts and ids
of loads, runs and receipts - never a person's data), the previous line's hash and its own:
``sha256(previous hash + the line without its hash)``. Editing, removing or reordering a line
breaks the chain from there on, which ``crmine privacy audit --verify`` reports. Loads and
runs are written into the chain from ``meta.loads`` and ``meta.runs`` whenever a privacy
action is logged (they are recorded there by the ingest and the pipeline).

Reads and exports of personal data through the REST API (``audit/api.jsonl``, or the
``meta.api_audit`` table of older servers, written by ``crmine serve``) are chained the same
way - when a privacy action is logged and by ``crmine privacy audit`` - as ``api_read`` /
``api_export`` lines: who (user, role, whether the role sees personal data unmasked), which
route, the status, how many rows, and the person read as a keyed pseudonym, never the id: an
append-only log cannot be rewritten when that person is erased, and must not keep their
identity after it.
``crmine privacy audit --customer ID`` (and the subject-access document) find a person's
lines by computing the pseudonym with the workspace's audit secret (``meta.audit_secret``).

In an encrypted workspace the API's own log holds no customer value either
(:func:`seal_api_entry`): each line names its route template
(``/api/v1/customers/{customer_id}``), not the path, and every value that may name a person
(the customer in the path, filter values, search text) as a keyed pseudonym under a key
derived from the workspace key (:func:`api_key`). With the key an admin tests "was customer X
read?" by computing X's pseudonym (``crmine privacy audit --api --customer X``). The API's lines
are hash-chained too (``prev``/``hash``), and ``--verify`` checks both logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmine.warehouse import Workspace

__all__ = ["AUDIT_FILE", "AuditCheck", "api_entries", "api_key", "api_subject", "audit_entries",
           "catch_up", "chain_rows", "entries_about", "record", "seal_api_entry",
           "subject_pseudonym", "verify", "verify_api"]

AUDIT_FILE = Path("audit") / "privacy.jsonl"
GENESIS = "0" * 64
API_AUDIT = "meta.api_audit"
API_FILE = Path("audit") / "api.jsonl"  # where `crmine serve` logs requests (crmine.api)
API_COLUMNS = ("logged_at", "user_id", "user_name", "role", "method", "path", "operation",
               "status", "detail")
SECRET_TABLE = "meta.audit_secret"
# API routes that return personal data (a person's record, customer lists, exports, scores)
PERSONAL_READS = frozenset({
    "customers_search", "customer_get", "cube_list", "cube_export", "segment_customers",
    "analysis_mart", "analysis_mart_export", "scores_customer", "scores_batch",
})  # fmt: skip


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
    """Chain the loads, runs and API reads the warehouse recorded since the last line."""
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
    _catch_up_api(ws, entries)


def _secret(ws: Workspace, *, create: bool = True) -> bytes | None:
    """The workspace's audit secret (made on first use; None when it is not there)."""
    if ws.has_table(SECRET_TABLE):
        row = ws.duck.execute(f"SELECT secret FROM {SECRET_TABLE} LIMIT 1").fetchone()
        if row:
            return str(row[0]).encode("ascii")
    if ws.read_only or not create:
        return None
    value = secrets.token_hex(32)
    with ws.transaction():
        ws.duck.execute(f"CREATE TABLE IF NOT EXISTS {SECRET_TABLE} (secret VARCHAR NOT NULL)")
        ws.duck.execute(f"INSERT INTO {SECRET_TABLE} VALUES (?)", [value])
    return value.encode("ascii")


def subject_pseudonym(ws: Workspace, customer_id: object) -> str | None:
    """How the audit trail names ``customer_id`` (None before any API read was chained)."""
    key = _secret(ws, create=False)
    return None if key is None else _keyed(key, f"customer\x00{customer_id}")


def _keyed(key: bytes, text: str) -> str:
    return "s" + hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:20]


# Values that never name a customer, kept as they are in a sealed API line: route parameters
# naming analyses, models, marts, segments and jobs; detail keys naming what was exported and
# the staff users an admin added or revoked.
_PLAIN_PARAMS = frozenset({"model", "name", "mart", "job_id", "segment", "analysis"})
_PLAIN_DETAIL = frozenset({"export", "model", "job", "kind", "added", "revoked", "role"})
_PLAIN_QUERY = frozenset({"page", "page_size", "limit", "by", "measure", "column", "min_lift",
                          "user"})  # fmt: skip
_FILTER = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(!=|>=|<=|=|>|<)(.*)", re.S)


def api_key(workspace_key: str) -> bytes:
    """The key of the API log's pseudonyms in an encrypted workspace, derived from the
    workspace key (which itself signs nothing that is written)."""
    return hashlib.sha256(b"crmine-api-audit\x00" + workspace_key.encode("utf-8")).digest()


def api_subject(key: bytes, customer_id: object) -> str:
    """How a sealed API line names ``customer_id``."""
    return _keyed(key, f"customer\x00{customer_id}")


def _seal_value(key: bytes, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value  # counts and flags
    if isinstance(value, list | tuple):
        return [_seal_value(key, v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _seal_value(key, v) for k, v in value.items()}
    return _keyed(key, f"value\x00{value}")


def _seal_filter(key: bytes, text: object) -> str:
    """``city=Shanghai,Beijing`` -> ``city=s…,s…``: what was filtered on stays readable, the
    values do not (a customer id filtered on is named as the customer)."""
    found = _FILTER.match(str(text))
    if not found:
        return str(_seal_value(key, text))
    column, op, values = found.groups()
    named = [api_subject(key, v.strip()) if column == "customer_id" else
             _seal_value(key, v.strip()) for v in values.split(",")]  # fmt: skip
    return f"{column}{op}{','.join(named)}"


def _seal_query(key: bytes, query: str) -> str:
    from urllib.parse import parse_qsl, urlencode

    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, v if k in _PLAIN_QUERY else _seal_filter(key, v) if k == "where"
                       else _seal_value(key, v)) for k, v in pairs])  # fmt: skip


def seal_api_entry(key: bytes, entry: dict[str, Any], *, route: str | None,
                   params: Mapping[str, Any] | None,
                   detail: Mapping[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    """``entry`` (one API log line) as an encrypted workspace writes it: the route template
    instead of the path, the customers read as :func:`api_subject` pseudonyms (``subjects``),
    filter values, search text and anything else not known to be harmless as keyed
    pseudonyms. Counts and flags stay."""
    out = dict(entry)
    # a path no route matched may hold anything (a mistyped id): only its pseudonym is kept
    out["path"] = route or str(_seal_value(key, entry.get("path")))
    sealed: dict[str, Any] = {"sealed": True}
    subjects: list[str] = []
    for name, value in (params or {}).items():
        if name == "customer_id":
            subjects.append(api_subject(key, value))
        else:
            sealed.setdefault("params", {})[name] = \
                value if name in _PLAIN_PARAMS else _seal_value(key, value)  # fmt: skip
    for name, value in (detail or {}).items():
        if name == "customer_id":
            subjects.append(api_subject(key, value))
        elif name == "where":
            values = value if isinstance(value, list | tuple) else [value]
            sealed["where"] = [_seal_filter(key, v) for v in values]
        elif name == "query":
            sealed["query"] = _seal_query(key, str(value))
        elif name in _PLAIN_DETAIL:
            sealed[name] = value
        else:
            sealed[name] = _seal_value(key, value)
    if subjects:
        sealed["subjects"] = sorted(set(subjects))
    out["detail"] = json.dumps(sealed, default=str)
    return out


def chain_rows(previous: str, rows: list[dict[str, Any]]) -> str:
    """Give each of ``rows`` (API log lines, in order) its ``prev`` and ``hash``, chained from
    ``previous``; returns the last hash."""
    for row in rows:
        row.pop("hash", None)
        row["prev"] = previous
        row["hash"] = previous = _digest(previous, row)
    return previous


def _api_key_of(ws: Workspace) -> bytes | None:
    from crmine.warehouse._sealed import seal_key

    key = seal_key(ws)
    return None if key is None else api_key(key)


def _api_detail(key: bytes, row: tuple[Any, ...], occurrence: str) -> tuple[str, dict[str, Any]]:
    from crmine.api._policy import PII_ROLES

    at, user_id, user, role, method, _path, operation, status, raw = row
    try:
        said = json.loads(raw) if raw else {}
    except ValueError:
        said = {}
    said = said if isinstance(said, dict) else {}
    detail: dict[str, Any] = {
        "id": "api-" + _keyed(key, occurrence)[1:],
        "logged_at": str(at), "user": user, "user_id": user_id, "role": role,
        "personal_data_visible": role in PII_ROLES, "method": method,
        "operation": operation, "status": status,
    }  # fmt: skip
    if said.get("sealed"):  # an encrypted workspace's line names them by api_subject
        if said.get("subjects"):
            detail["subjects"] = [str(x) for x in said["subjects"]]
    elif said.get("customer_id") is not None:
        detail["subjects"] = [_keyed(key, f"customer\x00{said['customer_id']}")]
    for count in ("rows", "customers"):
        if isinstance(said.get(count), int):
            detail[count] = said[count]
    if said.get("model"):
        detail["model"] = str(said["model"])[:80]
    if said.get("where") or said.get("query"):
        detail["filtered"] = True  # the filter itself may name a person: not copied
    action = "api_export" if str(operation).endswith("_export") else "api_read"
    return action, detail


def _api_rows(ws: Workspace) -> list[tuple[Any, ...]]:
    """The API's logged reads of personal data, oldest first: the ``meta.api_audit`` table
    (servers before the log became a file), then ``audit/api.jsonl``."""
    rows: list[tuple[Any, ...]] = []
    if ws.has_table(API_AUDIT):
        rows += ws.duck.execute(
            f"SELECT {', '.join(API_COLUMNS)} FROM {API_AUDIT} WHERE operation IN "
            "(SELECT unnest(?::VARCHAR[])) ORDER BY logged_at, rowid", [sorted(PERSONAL_READS)]
        ).fetchall()
    path = ws.root / API_FILE
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                found = json.loads(line)
            except ValueError:  # a line cut by a crash: the rest still counts
                continue
            if isinstance(found, dict) and found.get("operation") in PERSONAL_READS:
                rows.append(tuple(found.get(c) for c in API_COLUMNS))
    return rows


def _catch_up_api(ws: Workspace, entries: list[dict[str, Any]]) -> None:
    """Chain the API's reads and exports of personal data not yet in the chain."""
    rows = _api_rows(ws)
    if not rows:
        return
    key = _secret(ws)
    if key is None:
        return
    seen = {e["detail"].get("id") for e in entries if str(e["action"]).startswith("api_")}
    counts: dict[str, int] = {}
    for row in rows:
        body = json.dumps(row, default=str)
        counts[body] = counts.get(body, 0) + 1  # two identical requests are two lines
        action, detail = _api_detail(key, row, f"{body}\x00{counts[body]}")
        if detail["id"] not in seen:
            _append(ws, entries, action, detail)


def catch_up(ws: Workspace) -> int:
    """Chain what the warehouse recorded since the last line (loads, runs, API reads);
    returns the lines added."""
    entries = audit_entries(ws)
    before = len(entries)
    _catch_up(ws, entries)
    return len(entries) - before


def _names_of(ws: Workspace, customer_id: object) -> set[str]:
    """Every pseudonym the trails may name ``customer_id`` by."""
    names = {subject_pseudonym(ws, customer_id)}
    key = _api_key_of(ws)
    if key is not None:
        names.add(api_subject(key, customer_id))
    return {n for n in names if n is not None}


def entries_about(ws: Workspace, customer_id: object) -> list[dict[str, Any]]:
    """The lines naming ``customer_id`` (by its pseudonym): who read the person's record."""
    names = _names_of(ws, customer_id)
    return [e for e in audit_entries(ws) if names & set(e["detail"].get("subjects") or ())]


def api_entries(ws: Workspace, customer_id: object | None = None) -> list[dict[str, Any]]:
    """The API log's lines as written (in an encrypted workspace: sealed), oldest first; with
    ``customer_id``, only those that read that customer (found by computing their pseudonym,
    which needs the workspace key)."""
    path = ws.root / API_FILE
    if not path.exists():
        return []
    rows = []
    names = _names_of(ws, customer_id) if customer_id is not None else set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            said = json.loads(row.get("detail") or "{}")
        except (ValueError, TypeError, AttributeError):
            continue
        if customer_id is not None:
            said = said if isinstance(said, dict) else {}
            named = set(said.get("subjects") or ())
            if said.get("customer_id") is not None:  # a plaintext workspace's line
                named.add(str(said["customer_id"]))
            if not (names | {str(customer_id)}) & named:
                continue
        rows.append(row)
    return rows


def record(ws: Workspace, action: str, detail: dict[str, Any]) -> dict[str, Any]:
    """Append ``action`` (after any loads, runs and API reads not yet in the chain); returns
    the entry."""
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


def verify_api(ws: Workspace) -> AuditCheck:
    """Recompute the API log's chain (lines of servers before it was chained, without a
    hash, are skipped; a server restarted after such a line starts a new chain there)."""
    path = ws.root / API_FILE
    if not path.exists():
        return AuditCheck(True, 0, None, "no API log yet")
    previous: str | None = None
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except ValueError:
            return AuditCheck(False, len(lines), n, f"API log line {n} is not JSON")
        if "hash" not in entry:
            if previous is not None:
                return AuditCheck(False, len(lines), n, f"API log line {n} lost its hash")
            continue
        start = GENESIS if previous is None else previous
        if entry.get("prev") != start:
            return AuditCheck(False, len(lines), n,
                              f"API log line {n} does not follow line {n - 1} (removed or moved)")
        if _digest(start, entry) != entry.get("hash"):
            return AuditCheck(False, len(lines), n,
                              f"API log line {n} was edited after it was written")
        previous = entry["hash"]
    return AuditCheck(True, len(lines), None, f"{len(lines):,} API log lines, chain intact")


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
