"""``crmine erase``: forget people everywhere the workspace keeps them.

Delete → purge → vacuum across every layer, as Delta Lake documents erasure: the people's rows
leave every table (core and its SCD2 history, order-line history, identity crosswalk, links
and history, staging, quarantine, marts, truth), their landing files are rewritten without
them, models that hold them are deleted and every model trained with them is flagged for
refit (or refitted), the report is rebuilt, and the warehouse file is cleaned so that no
page keeps their bytes (``crmine.privacy._compact``: in place, the whole file rewritten only
when a trace would stay). A scan of every table and every file then proves nothing is
left. The receipt says what was removed where, with counts only: it names no one.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from crmine.exceptions import ConfigError
from crmine.privacy._compact import Purge, purge_freed_pages
from crmine.privacy._landing import landing_views, plan_landing_rewrites
from crmine.privacy._model_files import erase_from_models
from crmine.privacy._subjects import Subjects, find_subjects
from crmine.privacy._tables import erase_from_tables
from crmine.privacy._traces import Trace, file_traces, live_containers, table_traces
from crmine.warehouse import Workspace
from crmine.warehouse._serving_copies import remove_copies

__all__ = ["RECEIPTS", "ErasureReceipt", "erase", "first_seen", "load_accounting", "model_policy"]

RECEIPTS = "meta.erasure_receipts"
ERASED_ROWS = "meta.erased_rows"
ModelPolicy = Literal["mark", "refit"]


@dataclass(slots=True)
class ErasureReceipt:
    """What one erasure removed where (counts only) and whether the final scan was clean."""

    receipt_id: str
    erased_at: dt.datetime
    requested_by: str  # "ids", "email", "phone" (how the people were named, not who)
    people: int
    records: int  # customer ids erased (a person may have several, across sources)
    tables: dict[str, int] = field(default_factory=dict)
    masked: dict[str, int] = field(default_factory=dict)
    landing_files: dict[str, int] = field(default_factory=dict)
    models_deleted: list[str] = field(default_factory=list)
    models_flagged: list[str] = field(default_factory=list)
    models_refitted: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    serving_copies: list[str] = field(default_factory=list)  # the API server's, deleted
    warehouse_bytes: tuple[int, int] = (0, 0)  # file size before and after
    # how no freed page keeps their bytes: "in place" (scrubbed, free blocks wiped) or
    # "rewritten" (the whole file copied), rounds, blocks wiped, and why a rewrite was needed
    warehouse_purge: dict[str, Any] = field(default_factory=dict)
    verified: bool = False
    remaining: list[str] = field(default_factory=list)  # where a trace was still found
    # files whose content the final check searched as cells rather than as bytes
    searched_as_cells: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        rows = sum(self.tables.values())
        lines = [
            f"erasure {self.receipt_id}: {self.records:,} customer record(s) erased - "
            f"{rows:,} rows from {len(self.tables)} tables, {len(self.landing_files)} landing "
            f"file(s) rewritten, {len(self.models_deleted)} model version(s) deleted, "
            f"{len(self.models_flagged)} flagged for refit, {len(self.reports)} report file(s)"
            f" rebuilt or removed, {len(self.serving_copies)} serving cop(ies) deleted, "
            f"warehouse file {self._purge_words()} "
            f"({self.warehouse_bytes[0]:,} -> {self.warehouse_bytes[1]:,} bytes)",
            self._models_line(),
            "verified: no trace left in any table or file" if self.verified else
            "NOT verified: traces remain in " + ", ".join(self.remaining),
        ]  # fmt: skip
        return "\n".join(lines)

    def _purge_words(self) -> str:
        method = self.warehouse_purge.get("method", "rewritten")
        if method == "in place":
            return (f"cleaned in place ({self.warehouse_purge.get('blocks_wiped', 0):,} free "
                    "block(s) overwritten)")  # fmt: skip
        why = self.warehouse_purge.get("why")
        return "rewritten" + (f" ({why})" if why else "")

    def _models_line(self) -> str:
        if self.models_refitted:
            return (f"{len(self.models_refitted)} model(s) refitted now ("
                    f"{', '.join(self.models_refitted)})")  # fmt: skip
        if self.models_deleted or self.models_flagged:
            return "models trained with them: refit at the next run (crmine run)"
        return "no saved model was trained with them"


def _ensure_tables(ws: Workspace) -> None:
    ws.duck.execute(
        f"CREATE TABLE IF NOT EXISTS {RECEIPTS} (receipt_id VARCHAR PRIMARY KEY, erased_at "
        "TIMESTAMP, requested_by VARCHAR, people INTEGER, records INTEGER, receipt VARCHAR)"
    )
    ws.duck.execute(
        f"CREATE TABLE IF NOT EXISTS {ERASED_ROWS} (receipt_id VARCHAR, load_id VARCHAR, "
        "entity VARCHAR, table_name VARCHAR, rows_erased BIGINT)"
    )


def first_seen(ws: Workspace, subjects: Subjects) -> dt.datetime | None:
    """When the first load holding the people finished (models saved before never saw them)."""
    if not ws.has_table("core.dim_customer") or not ws.has_table("meta.loads"):
        return None
    row = ws.duck.execute(
        "SELECT min(l.started_at) FROM meta.loads l JOIN core.dim_customer d USING (load_id) "
        "WHERE d.customer_id IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(subjects.ids)],
    ).fetchone()
    return row[0] if row and row[0] is not None else None


def _weak_needles(ws: Workspace, subjects: Subjects) -> set[str]:
    """Names and addresses no remaining customer shares (a shared name proves nothing)."""
    values = sorted(subjects.names | subjects.addresses)
    if not values or not ws.has_table("core.dim_customer"):
        return set(values)
    cols = [c for c in ("name", "address") if c in ws.columns("core.dim_customer")]
    held = {str(r[0]) for c in cols for r in ws.duck.execute(
        f"SELECT DISTINCT {c} FROM core.dim_customer WHERE {c} IN "
        "(SELECT unnest(?::VARCHAR[]))", [values]).fetchall()}  # fmt: skip
    return {v for v in values if v not in held and len(v) >= 2}


def _rebuild_reports(ws: Workspace, needles: set[str]) -> list[str]:
    """Rebuild the report only when it names the people (a top-customer table), and remove
    other report files that do (an export, an old copy): a report of aggregates only holds
    nothing of them, and rebuilding it at a million customers costs more than the erasure."""
    touched: list[str] = []
    if not ws.reports_dir.is_dir():
        return touched
    index = ws.reports_dir / "index.html"
    holding = {Path(t.where) for t in file_traces(ws.reports_dir, needles, ws.duck)}
    if index in holding:
        from crmine.report import build_report

        build_report(ws)
        touched.append(str(index.relative_to(ws.root)))
    for target in sorted(holding - {index}):
        if target.exists():
            target.unlink()
            touched.append(str(target.relative_to(ws.root)) + " (removed)")
    return touched


def _refit(ws: Workspace, names: list[str]) -> list[str]:
    from crmine.contract import all_analyses
    from crmine.pipeline import run_pipeline

    known = set(all_analyses())
    wanted = [n for n in names if n in known]
    if not wanted:
        return []
    # the pipeline also runs what they depend on (features): only the models are reported
    return [r.name for r in run_pipeline(ws, only=wanted)
            if r.ok and not r.skipped and r.name in wanted]  # fmt: skip


def model_policy(ws: Workspace) -> ModelPolicy:
    value = (ws.config.extra.get("privacy") or {}).get("erase_models", "mark")
    if value not in ("mark", "refit"):
        raise ConfigError(
            f"{ws.root / 'crmine.toml'}: [privacy] erase_models = {value!r}: "
            'use "mark" (flag models for refit) or "refit" (refit them now)'
        )
    return "refit" if value == "refit" else "mark"


def erase(
    ws: Workspace,
    ids: Iterable[str] = (),
    *,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    models: ModelPolicy | None = None,
) -> ErasureReceipt:
    """Erase the customers named by ids, e-mails or phones from every copy (module docstring).

    ``models``: "mark" flags every model trained with them for refit (the next ``crmine run``
    refits); "refit" refits them now. Default: ``[privacy] erase_models``, else "mark".
    """
    import time

    started = time.perf_counter()
    phases: dict[str, float] = {}
    clock = [started]

    def lap(name: str) -> None:
        now = time.perf_counter()
        phases[name] = round(phases.get(name, 0.0) + now - clock[0], 2)
        clock[0] = now

    ids, emails, phones = list(ids), list(emails), list(phones)
    policy = models or model_policy(ws)
    subjects = find_subjects(ws, ids=ids, emails=emails, phones=phones)
    receipt = ErasureReceipt(
        receipt_id=f"erasure-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
        erased_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        requested_by="+".join(
            k for k, v in (("ids", ids), ("email", emails), ("phone", phones)) if v
        ),
        people=len(ids) + len(emails) + len(phones),
        records=len(subjects.ids),
    )
    seen = first_seen(ws, subjects)
    weak = _weak_needles(ws, subjects)
    needles = set(subjects.strong) | weak
    tag = receipt.receipt_id.rsplit("-", 1)[1]
    lap("subjects")
    rewrites = plan_landing_rewrites(ws, subjects, tag)
    lap("landing files")
    try:
        with ws.transaction():
            _ensure_tables(ws)
            done = erase_from_tables(ws, subjects, needles)
            for rw in rewrites:
                ws.duck.execute(rw.view_sql())
                load = rw.old.name.split("__", 1)[1].split(".", 1)[0].upper()
                entity = rw.old.name.split("__", 1)[0]
                done.by_load[(load, f"raw/{rw.old.name}")] = rw.rows_removed
                receipt.landing_files[f"raw/{rw.old.name}"] = rw.rows_removed
            entities = dict(ws.duck.execute("SELECT load_id, entity FROM meta.loads").fetchall()
                            ) if ws.has_table("meta.loads") else {}  # fmt: skip
            for (load, table), n in sorted(done.by_load.items()):
                entity = entities.get(load, table.split("__", 1)[0].removeprefix("raw/"))
                ws.duck.execute(f"INSERT INTO {ERASED_ROWS} VALUES (?, ?, ?, ?, ?)",
                                [receipt.receipt_id, load, entity, table, n])  # fmt: skip
            receipt.tables, receipt.masked = done.deleted, done.masked
            ws.duck.execute(f"INSERT INTO {RECEIPTS} VALUES (?, ?, ?, ?, ?, NULL)",
                            [receipt.receipt_id, receipt.erased_at, receipt.requested_by,
                             receipt.people, receipt.records])  # fmt: skip
    except BaseException:
        for rw in rewrites:
            rw.new.unlink(missing_ok=True)
        raise
    for rw in rewrites:  # committed: the old files go
        if rw.old != rw.new:
            rw.old.unlink(missing_ok=True)
    lap("tables")
    receipt.serving_copies = remove_copies(ws.root)
    lap("serving copies")
    model_done = erase_from_models(ws, subjects, receipt.receipt_id, seen)
    receipt.models_deleted, receipt.models_flagged = model_done.deleted, model_done.flagged
    if policy == "refit" and model_done.names:
        receipt.models_refitted = _refit(ws, model_done.names)
    lap("models")
    receipt.reports = _rebuild_reports(ws, needles)
    lap("reports")
    containers = live_containers(ws, needles)  # someone else's C0128761 holds C012876
    purge = purge_freed_pages(ws, needles, containers)
    receipt.warehouse_bytes = (purge.before, purge.after)
    receipt.warehouse_purge = _purge_record(purge)
    lap("warehouse file")
    skip = _searched_as_cells(ws)
    if purge.method == "in place":  # its raw bytes were just searched, after the last write
        skip.append(ws.warehouse_path)
    receipt.searched_as_cells = sorted(str(p.relative_to(ws.root)) for p in skip
                                       if p != ws.warehouse_path)  # fmt: skip
    remaining = table_traces(ws, needles)
    lap("check tables")
    remaining += file_traces(ws.root, needles, ws.duck, skip, containers)
    lap("check files")
    receipt.remaining = sorted({_where(t, ws) for t in remaining})
    receipt.verified = not remaining
    receipt.seconds = round(time.perf_counter() - started, 2)
    receipt.phases = phases
    ws.duck.execute(f"UPDATE {RECEIPTS} SET receipt = ? WHERE receipt_id = ?",
                    [json.dumps(receipt.to_dict(), default=str), receipt.receipt_id])  # fmt: skip
    ws.duck.execute("CHECKPOINT")
    from crmine.privacy._audit import record

    record(
        ws,
        "erase",
        {
            "id": receipt.receipt_id,
            "records": receipt.records,
            "rows": sum(receipt.tables.values()),
            "verified": receipt.verified,
        },
    )
    return receipt


def _purge_record(purge: Purge) -> dict[str, Any]:
    return {"method": purge.method, "rounds": purge.rounds, "blocks_wiped": purge.blocks_wiped,
            "segments_rewritten": purge.segments_rewritten,
            "tables_reloaded": purge.tables_reloaded, "why": purge.why,
            "seconds": {k: round(v, 2) for k, v in purge.seconds.items()}}  # fmt: skip


def _searched_as_cells(ws: Workspace) -> list[Path]:
    """Landing files, which the final check reads through their ``raw.*`` view's cells
    (their bytes are compressed Parquet)."""
    return [path for _, path in landing_views(ws) if path.exists()]


def _where(trace: Trace, ws: Workspace) -> str:
    root = str(ws.root) + "/"
    return f"{trace.where.removeprefix(root)} ({trace.how})"


def load_accounting(ws: Workspace) -> list[dict[str, Any]]:
    """Per load: rows read = staged + quarantined + unchanged, and how many were erased since
    (from the landing file and from the tables), with the rows its landing file holds now."""
    if not ws.has_table("meta.loads"):
        return []
    erased = {}
    if ws.has_table(ERASED_ROWS):
        erased = {(str(a), str(b)): int(c) for a, b, c in ws.duck.execute(
            "SELECT load_id, CASE WHEN starts_with(table_name, 'raw/') THEN 'landing' WHEN "
            "starts_with(table_name, 'core.') THEN 'core' ELSE 'other' END, sum(rows_erased) "
            f"FROM {ERASED_ROWS} GROUP BY 1, 2").fetchall()}  # fmt: skip
    out = []
    for load, entity, source, read, staged, quarantined, unchanged in ws.duck.execute(
        "SELECT load_id, entity, source, rows_read, rows_staged, rows_quarantined, "
        "rows_unchanged "
        "FROM meta.loads ORDER BY load_id"
    ).fetchall():
        view = f"raw.{entity}__{str(load).lower()}"
        now = None
        if ws.has_table(view) or ws.duck.execute(
            "SELECT count(*) FROM duckdb_views() WHERE schema_name = 'raw' AND view_name = ?",
            [view.split(".", 1)[1]],
        ).fetchone() == (1,):
            row = ws.duck.execute(f"SELECT count(*) FROM {view}").fetchone()
            now = int(row[0]) if row else None
        out.append({
            "load_id": load, "entity": entity, "source": source,
            "rows_read": read, "rows_staged": staged,
            "rows_quarantined": quarantined, "rows_unchanged": unchanged,
            "landing_rows_erased": erased.get((str(load), "landing"), 0),
            "core_rows_erased": erased.get((str(load), "core"), 0),
            "landing_rows_now": now,
            "adds_up": read == staged + quarantined + unchanged,
        })  # fmt: skip
    return out
