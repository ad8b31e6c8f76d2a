"""Ingest: source → raw → staging → core, in one transaction, every row accounted for.

``rows read = rows staged + rows quarantined + rows unchanged`` holds for every load and is
checked before the transaction commits ("unchanged": order lines, events or survey answers
already in core with the same values, as in a re-export or an incremental file overlapping the
last one). Re-loading an identical source changes nothing; a load that fails part-way, is
interrupted (Ctrl-C) or killed leaves the warehouse as it was (a killed load's landing file
is removed when the workspace is next opened).

Incremental order exports: a line is identified by the source's own line key (row id, line
number) or, without one, by its values; a new line of an existing order is added, and a line
exported again with other values (a corrected quantity, a cancellation) is a correction: the
core row takes the new values (so analyses read current lines only) and the old ones go to
``core.fct_order_line_history`` with both loads and the columns that changed.

A denormalised fact file (each order line repeating its customer's segment and city and its
product's category) fills ``core.dim_customer`` (SCD2) and ``core.dim_product`` with those
attributes rather than repeating them on the fact table; values that disagree within the file
are reported (the latest line wins).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from crmine.exceptions import CrmineError
from crmine.warehouse._core import (
    core_columns,
    ensure_core_table,
    ensure_history_table,
    ensure_meta_tables,
    quote,
)
from crmine.warehouse._mapping import dimension_attributes, extra_column_names, resolve_columns
from crmine.warehouse._merge import (
    APPEND_ONLY,
    FACT_TIME,
    MergeResult,
    merge_dimension_attributes,
    merge_into_core,
)
from crmine.warehouse._schema import ENTITIES, MARKETING_DIMENSIONS, Entity
from crmine.warehouse._schema import entity as get_entity
from crmine.warehouse._sources import locate_source, read_source
from crmine.warehouse._staging import StagingPlan, plan_staging
from crmine.warehouse._workspace import Workspace

__all__ = ["LANDING_DIR", "LoadReport", "ingest", "remove_orphan_landings"]

LANDING_DIR = "raw"  # the workspace folder where every load keeps its source as received
_PARSED = "_crmine_parsed"  # the temporary all-text table a load is staged from


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What one load did. ``rows_read == rows_staged + rows_quarantined + rows_unchanged``."""

    load_id: str
    entity: str
    source: str
    kind: str
    rows_read: int
    rows_staged: int
    rows_quarantined: int
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    skipped: bool = False
    # Rows already in core with the same values (a re-export, an overlapping incremental file):
    # rows_read == rows_staged + rows_quarantined + rows_unchanged.
    rows_unchanged: int = 0
    # Staged rows that replaced a line already in core (same key, other values): the old
    # values are kept in core.fct_order_line_history.
    rows_corrected: int = 0
    anonymous_rows: int = 0
    return_rows: int = 0
    inserted: int = 0
    updated: int = 0
    new_customers: int = 0
    customer_versions: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    extras: tuple[str, ...] = ()
    formats: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    delimiter: str | None = None
    seconds: float = 0.0
    # Columns of a fact file that went to core.dim_customer / core.dim_product (denormalised
    # exports): dimension column -> source column.
    customer_attributes: dict[str, str] = field(default_factory=dict)
    product_attributes: dict[str, str] = field(default_factory=dict)
    # "customer.segment" -> number of keys given more than one value within this load.
    conflicts: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # Lines decoded with each encoding when a text file was decoded line by line ("ascii":
    # lines the same in every encoding); more than one other means the file mixes them.
    line_encodings: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.skipped:
            return (
                f"{self.source}: identical to load {self.load_id}, already in the warehouse; "
                "nothing changed"
            )
        reasons = ", ".join(f"{k}: {v:,}" for k, v in self.rejects_by_reason.items()) or "none"
        text = (
            f"{self.entity} from {self.source} ({self.load_id}): {self.rows_read:,} rows read = "
            f"{self.rows_staged:,} staged + {self.rows_quarantined:,} quarantined "
            f"({reasons})"
            + (f" + {self.rows_unchanged:,} already loaded" if self.rows_unchanged else "")
            + (
                f"; {self.rows_corrected:,} corrected (old values in core.fct_order_line_history)"
                if self.rows_corrected
                else ""
            )
            + f" in {self.seconds:.2f}s"
        )
        return "\n".join([text, *(f"note: {n}" for n in self.notes)])


_LANDING_NAME = re.compile(r"^[a-z_]+__(l\d+)\.")


def remove_orphan_landings(ws: Workspace) -> list[Path]:
    """Delete landing files of loads that never committed (an ingest killed with kill -9).

    A load's landing file is written before its transaction and deleted when the load fails;
    only a killed process leaves one behind. Files named like a landing file whose load is
    not in ``meta.loads`` are removed; returns them.
    """
    folder = ws.root / LANDING_DIR
    if not folder.is_dir():
        return []
    known: set[str] = set()
    if ws.has_table("meta.loads"):
        known = {str(r[0]).lower() for r in ws.duck.execute("SELECT load_id FROM meta.loads")
                 .fetchall()}  # fmt: skip
    removed = []
    for path in folder.iterdir():
        m = _LANDING_NAME.match(path.name)
        if m and m[1] not in known and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl-C: DuckDB turns it into an interrupt error mid-query."""
    return isinstance(exc, (KeyboardInterrupt, duckdb.InterruptException)) or (
        isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower()
    )


def _next_load_id(ws: Workspace) -> str:
    row = ws.duck.execute(
        "SELECT coalesce(max(CAST(substr(load_id, 2) AS INTEGER)), 0) FROM meta.loads"
    ).fetchone()
    return f"L{(int(row[0]) if row else 0) + 1:05d}"


def _derived(entity: Entity, plan: StagingPlan, mapped: set[str]) -> dict[str, str]:
    """Entity-specific columns computed from the typed ones (SQL over the typed columns)."""
    d: dict[str, str] = {}
    if entity.name == "orders":
        qty = "quantity" if "quantity" in mapped else "1.0"
        d["quantity"] = qty
        if "amount" in mapped:
            amount = "amount"
        elif "unit_price" in mapped:
            amount = (
                f"{qty} * unit_price - coalesce({'discount' if 'discount' in mapped else '0'}, 0)"
            )
        else:
            amount = "NULL::DOUBLE"
        d["amount"] = amount
        negative = f"({qty} < 0 OR ({amount}) < 0)"
        status = "status" if "status" in mapped else "NULL::VARCHAR"
        d["status"] = (
            f"coalesce({status}, CASE WHEN {negative} THEN 'returned' ELSE 'completed' END)"
        )
        d["is_return"] = f"(coalesce({status}, '') = 'returned' OR {negative})"
        d["is_anonymous"] = "customer_id IS NULL"
        if "profit" in mapped and "unit_cost" not in mapped:  # cost = sales - profit
            d["unit_cost"] = f"(({amount}) - profit) / nullif({qty}, 0)"
        if "line_number" not in mapped and "line_id" in mapped:  # stable across exports
            d["line_number"] = (
                "coalesce(TRY_CAST(line_id AS BIGINT), CAST(hash(line_id) >> 1 AS BIGINT))"
            )
        elif "line_number" not in mapped:
            d["line_number"] = "row_number() OVER (PARTITION BY order_id ORDER BY _row)"
    elif entity.name == "marketing_spend":
        # The grain's dimensions: absent from the source = one "(all)" level, blank = "(none)"
        # (an ad-platform export leaves interest blank for broad targeting).
        for dim in MARKETING_DIMENSIONS[1:]:
            d[dim] = f"coalesce({dim}, '(none)')" if dim in mapped else "'(all)'"
    elif entity.name == "promotion_calendar":
        scope = [c for c in ("category", "product_id", "channel") if c in mapped]
        if "promotion_id" not in mapped:  # start and scope name a promotion
            parts = " || '|' || ".join(["CAST(start_date AS VARCHAR)",
                                        *(f"coalesce({c}, '')" for c in scope)])
            d["promotion_id"] = f"'P:' || {parts}"
        d["end_date"] = "coalesce(end_date, start_date)" if "end_date" in mapped else "start_date"
    elif entity.name == "holidays":
        d["name"] = "coalesce(name, 'holiday')" if "name" in mapped else "'holiday'"
        for col in ("country", "region"):  # blank or absent: kept everywhere
            d[col] = f"coalesce(nullif(trim({col}), ''), '(all)')" if col in mapped else "'(all)'"
    elif entity.name == "subscriptions":
        if "subscription_id" not in mapped:
            d["subscription_id"] = "customer_id || ':' || CAST(start_date AS VARCHAR)"
        if "churned" not in mapped:  # unknown without an end date
            d["churned"] = "end_date IS NOT NULL" if "end_date" in mapped else "NULL::BOOLEAN"
    return d


def ingest(
    ws: Workspace,
    entity_name: str,
    source: str | Path | pd.DataFrame,
    *,
    mapping: Mapping[str, str] | None = None,
    source_name: str | None = None,
    query: str | None = None,
    sheet: str | int | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    as_of: dt.datetime | None = None,
    min_date: dt.date | str | None = None,
    max_date: dt.date | str | None = None,
) -> LoadReport:
    """Load one source into the warehouse as ``entity_name``.

    Parameters
    ----------
    ws
        The open workspace.
    entity_name
        Canonical entity: customers, products, orders, events, campaigns,
        campaign_assignments, tickets, subscriptions or surveys.
    source
        A file (CSV/TSV/text, optionally .gz; Parquet; .xlsx), a database URL
        (``sqlite:///file.db?table=NAME`` or with ``query``) or a pandas DataFrame.
    mapping
        Source column → canonical column, on top of ``[mappings.<entity>]`` in crmine.toml
        and automatic recognition. ``{"@row": "order_id"}`` numbers rows by position.
    source_name
        Name recorded for the source (default: the file name).
    as_of
        Time the customer attributes are valid from (SCD2); default: now.
    min_date, max_date
        Plausible range of the dates (rows outside are quarantined as "implausible date"):
        default 1900-01-01 to one year after the load; birth dates end today at the latest.

    Returns
    -------
    LoadReport
        Counts: rows read, staged, quarantined by reason, inserted, customer versions…
    """
    ent = get_entity(entity_name)
    plausible_dates(ent, dt.datetime.now(), min_date, max_date)  # bad options fail first
    started = time.perf_counter()
    label = source_name or (
        "dataframe"
        if isinstance(source, pd.DataFrame)
        else (str(source) if "://" in str(source) else Path(source).name)
    )
    full_mapping = {**ws.config.mappings.get(ent.name, {}), **(mapping or {})}
    con = ws.duck
    ensure_meta_tables(con)
    src = locate_source(source, query=query, sheet=sheet)
    previous = con.execute(
        "SELECT load_id, rows_read FROM meta.loads WHERE entity = ? AND fingerprint = ? LIMIT 1",
        [ent.name, src.fingerprint],
    ).fetchone()
    if previous:  # the same bytes (or rows) again: nothing to read
        return LoadReport(
            previous[0],
            ent.name,
            label,
            src.kind,
            int(previous[1]),
            0,
            0,
            skipped=True,
            seconds=time.perf_counter() - started,
        )
    load_id = _next_load_id(ws)
    raw_table = f"raw.{ent.name}__{load_id.lower()}"
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    valid_from = as_of or started_at
    landing = f"{LANDING_DIR}/{ent.name}__{load_id.lower()}"
    stack = ExitStack()
    try:
        raw = read_source(
            con, src, _PARSED, ws.root, landing, sheet=sheet, delimiter=delimiter, encoding=encoding
        )
        if len(raw.columns) <= _WIDE:  # a wide file's rows need more than the cap
            stack.enter_context(_memory_cap(con))
        else:
            # DuckDB's common-subexpression pass grows with the square of a query's
            # expressions: with 4,000 columns typing took 8 s with it, 0.6 s without.
            stack.enter_context(_without_optimizer(con, "common_subexpressions"))
        cmap = resolve_columns(ent, raw.columns, full_mapping, source_label=label)
        taken = list(core_columns(ent))
        extra_names = extra_column_names(cmap.extras, taken)
        plan = plan_staging(
            con,
            ent,
            _PARSED,
            cmap.canonical,
            extra_names,
            rows=raw.rows,
            source_label=label,
            nullable_keys=("customer_id",) if ent.name == "orders" else
            MARKETING_DIMENSIONS[1:] if ent.name == "marketing_spend" else
            ("name", "country", "region") if ent.name == "holidays" else (),
        )
        # A denormalised fact file repeats its customer's and product's attributes on every
        # line: they go to the dimensions, not onto the fact table.
        side = (
            dimension_attributes(
                ent, ENTITIES["customers"], ENTITIES["products"], cmap.extras, cmap.canonical
            )
            if ent.name in FACT_TIME
            else None
        )
        staged_name = {src: name for src, name in extra_names.items()}
        for canon, column in cmap.canonical.items():
            staged_name.setdefault(column, canon)
        side_customer = {d: staged_name[c] for d, c in (side.customer if side else {}).items()}
        side_product = {d: staged_name[c] for d, c in (side.product if side else {}).items()}
        side_types = {
            d: plan.extras[c]
            for d, c in [*side_customer.items(), *side_product.items()]
            if c in plan.extras
        }
        moved = {c for c in [*side_customer.values(), *side_product.values()] if c in plan.extras}
        for c in moved:
            del plan.extras[c]
        dates = plausible_dates(ent, started_at, min_date, max_date)
        typed = _type_rows(ws, ent, _PARSED, plan, set(cmap.canonical), raw.unparsed, dates)
        with ws.transaction():
            con.execute(f"CREATE VIEW {raw_table} AS {raw.view}")
            counts = _write_stage(
                ws, ent, _PARSED, plan, typed, load_id, label, raw.unparsed, drop=moved
            )
            present = ensure_core_table(con, ent, plan.extras)
            good = "(SELECT * FROM _crmine_staged WHERE _check IS NULL)"
            dims, conflicts = (
                merge_dimension_attributes(
                    con, ent, good, side_customer, side_product, side_types, load_id,
                    valid_from=valid_from,
                )
                if side_customer or side_product
                else (MergeResult(), [])
            )  # fmt: skip
            merged = merge_into_core(
                con,
                ent,
                f"staging.{ent.name}",
                present,
                load_id,
                valid_from=valid_from,
                staged=good,
                described=(
                    *(("customer",) if side_customer else ()),
                    *(("product",) if side_product else ()),
                ),
            )
            rows_read = raw.rows + len(raw.unparsed)
            accounted = counts["staged"] + counts["quarantined"] + counts["unchanged"]
            if rows_read != accounted:  # a bug, never bad data
                raise CrmineError(
                    f"row accounting failed for {label}: read {rows_read}, staged "
                    f"{counts['staged']}, quarantined {counts['quarantined']}, already loaded "
                    f"{counts['unchanged']}; nothing was loaded"
                )
            column_map = {k: v for k, v in cmap.canonical.items()}
            con.execute(
                "INSERT INTO meta.loads (load_id, entity, source, kind, fingerprint, encoding, "
                "delimiter, column_map, started_at, finished_at, rows_read, rows_staged, "
                "rows_quarantined, rows_unchanged, rows_corrected) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    load_id,
                    ent.name,
                    label,
                    raw.kind,
                    raw.fingerprint,
                    raw.encoding,
                    raw.delimiter,
                    json.dumps(column_map),
                    started_at,
                    dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    rows_read,
                    counts["staged"],
                    counts["quarantined"],
                    counts["unchanged"],
                    counts["corrected"],
                ],
            )
            _refresh_dim_date(ws)
    except BaseException as exc:  # nothing half-written: the landing file goes with the rollback
        try:  # interrupted after its commit, the load stands, and keeps its landing file
            committed = con.execute(
                "SELECT count(*) FROM meta.loads WHERE load_id = ?", [load_id]
            ).fetchone()
        except duckdb.Error:
            committed = None
        if not (committed and committed[0]):
            for leftover in ws.root.glob(landing + ".*"):
                leftover.unlink(missing_ok=True)
        if _interrupted(exc):  # Ctrl-C inside a DuckDB query surfaces as its own error
            raise KeyboardInterrupt(f"load of {label} interrupted; nothing was loaded") from None
        raise
    finally:
        stack.close()
        for scratch in (_PARSED, "_crmine_staged", "_crmine_rejects", "_crmine_reject_scans",
                        "_crmine_side", "_crmine_side_known"):  # fmt: skip
            con.execute(f"DROP TABLE IF EXISTS {scratch}")

    placeholders = merged.new_customers if ent.name != "customers" else 0
    described = (
        con.execute("SELECT count(*) FROM core.dim_customer WHERE origin = 'customers'").fetchone()
        if placeholders
        else None
    )
    unknown_note: tuple[str, ...] = (
        (
            f"{placeholders:,} customer(s) named here are in no customer file: kept, as "
            f"placeholders in core.dim_customer (origin '{ent.name}')",
        )
        if described and described[0]
        else ()
    )
    return LoadReport(
        load_id=load_id,
        entity=ent.name,
        source=label,
        kind=raw.kind,
        rows_read=rows_read,
        rows_staged=counts["staged"],
        rows_quarantined=counts["quarantined"],
        rows_unchanged=counts["unchanged"],
        rows_corrected=counts["corrected"],
        rejects_by_reason=counts["reasons"],
        anonymous_rows=counts.get("anonymous", 0),
        return_rows=counts.get("returns", 0),
        inserted=merged.inserted,
        updated=merged.updated + counts["corrected"],
        new_customers=merged.new_customers + dims.new_customers,
        customer_versions=merged.customer_versions + dims.customer_versions,
        columns={k: v for k, v in cmap.canonical.items()},
        customer_attributes=dict(side.customer) if side else {},
        product_attributes=dict(side.product) if side else {},
        conflicts={f"{c.dimension}.{c.column}": c.keys for c in conflicts},
        notes=tuple(c.note() for c in conflicts)
        + _encoding_notes(raw.line_encodings)
        + raw.notes
        + unknown_note,
        line_encodings=dict(raw.line_encodings),
        extras=tuple(n for n in extra_names.values() if n not in moved),
        formats=dict(plan.formats),
        encoding=raw.encoding,
        delimiter=raw.delimiter,
        seconds=time.perf_counter() - started,
    )


def _encoding_notes(counts: Mapping[str, int]) -> tuple[str, ...]:
    used = {k: v for k, v in counts.items() if k != "ascii"}
    if len(used) < 2:
        return ()
    each = ", ".join(f"{k} {v:,}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]))
    return (f"the file mixes encodings; each line was decoded with its own: {each} lines",)


# Dates that cannot come before another in the same row: (later, earlier, reason).
_DATE_ORDER: dict[str, tuple[tuple[str, str, str], ...]] = {
    "tickets": (("closed_ts", "opened_ts", "closed before opened"),),
    "subscriptions": (("end_date", "start_date", "end before start"),),
    "campaigns": (("end_date", "start_date", "end before start"),),
    "promotion_calendar": (("end_date", "start_date", "end before start"),),
}
# Scores on a fixed scale: NPS 0-10, CSAT 1-5.
_SCORE_RANGE = {"nps": (0, 10), "csat": (1, 5)}
# Dates of facts before this are typing accidents (year 1, 2 BC), never history.
DEFAULT_MIN_DATE = dt.datetime(1900, 1, 1)


def _as_datetime(value: dt.date | str | None, default: dt.datetime, what: str) -> dt.datetime:
    if value is None:
        return default
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise CrmineError(
            f"{what} {value!r} is not a date; write it as YYYY-MM-DD (e.g. 1900-01-01)"
        ) from None


def plausible_dates(
    ent: Entity,
    now: dt.datetime,
    min_date: dt.date | str | None = None,
    max_date: dt.date | str | None = None,
) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """The range each date column of ``ent`` must lie in: ``min_date`` (default 1900-01-01)
    to ``max_date`` (default one year after ``now``); birth dates end today."""
    lo = _as_datetime(min_date, DEFAULT_MIN_DATE, "min_date")
    hi = _as_datetime(max_date, now + dt.timedelta(days=365), "max_date")
    if max_date is not None and hi.time() == dt.time(0):  # a day given: the whole day counts
        hi += dt.timedelta(days=1, microseconds=-1)
    if hi < lo:
        raise CrmineError(f"max_date {hi:%Y-%m-%d} is before min_date {lo:%Y-%m-%d}")
    today = dt.datetime(now.year, now.month, now.day, 23, 59, 59)
    return {
        c.name: (lo, min(hi, today) if c.name == "birth_date" else hi)
        for c in ent.columns
        if c.type in ("date", "timestamp")
    }


@dataclass(frozen=True, slots=True)
class _Typed:
    """What typing left for the write: every check's (reason, column), derived columns."""

    checks: list[tuple[str, str]]
    derived: dict[str, str]


def _type_rows(
    ws: Workspace,
    ent: Entity,
    raw_table: str,
    plan: StagingPlan,
    mapped: set[str],
    unparsed: tuple[tuple[int, str, str], ...],
    dates: Mapping[str, tuple[dt.datetime, dt.datetime]] | None = None,
) -> _Typed:
    """Type the parsed rows into ``_crmine_staged``, marking each with its first failing check.

    Runs before the load's transaction: the table is temporary (private to this session), and
    DuckDB works on temporary tables made inside a transaction markedly slower.
    """
    con = ws.duck
    derived = _derived(ent, plan, mapped)
    # Row ids of a table made inside the open transaction start at a large offset; they are
    # contiguous and in source order, so the source row number is rowid - first + 1.
    first = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {raw_table}").fetchone()
    first_rowid = int(first[0]) if first else 0
    parsed = f"(rowid - {first_rowid} + 1)"  # position among the rows the reader parsed
    # Lines the CSV reader rejected are not in the raw table: the k-th of them (data row e_k)
    # shifts every parsed row from position e_k - (k - 1) on by one more.
    gaps = [row - k for k, (row, _text, _error) in enumerate(sorted(unparsed))]
    source_row = (
        f"{parsed} + list_count(list_filter({gaps}, g -> g <= {parsed}))" if gaps else parsed
    )
    typed_cols = ", ".join(f"{expr} AS {quote(name)}" for name, expr in plan.select.items())
    # One pass finds the first failing check; its reason and column are looked up by index.
    check = (
        (
            "CASE "
            + " ".join(f"WHEN {c.failed} THEN {i}" for i, c in enumerate(plan.checks, 1))
            + " END"
        )
        if plan.checks
        else "NULL::INTEGER"
    )
    replace = [f"{expr} AS {quote(name)}" for name, expr in derived.items() if name in plan.select]
    add = [f"{expr} AS {quote(name)}" for name, expr in derived.items() if name not in plan.select]
    derived_sql = (
        "SELECT * "
        + (f"REPLACE ({', '.join(replace)})" if replace else "")
        + (", " + ", ".join(add) if add else "")
        + " FROM typed"
    )

    # Rules applied after typing, to rows still good: (condition, reason, column, value SQL).
    late: list[tuple[str, str, str, str]] = []
    for name, (lo, hi) in (dates or {}).items():
        if name in plan.select:
            q = f"d.{quote(name)}"
            late.append(
                (
                    f"{q} < TIMESTAMP '{lo:%Y-%m-%d %H:%M:%S}' OR "
                    f"{q} > TIMESTAMP '{hi:%Y-%m-%d %H:%M:%S}'",
                    "implausible date",
                    name,
                    f"CAST({q} AS VARCHAR)",
                )
            )
    for later, earlier, reason in _DATE_ORDER.get(ent.name, ()):
        if later in plan.select and earlier in plan.select:
            late.append(
                (f"d.{quote(later)} < d.{quote(earlier)}", reason, later,
                 f"CAST(d.{quote(later)} AS VARCHAR) || ' < ' || CAST(d.{quote(earlier)} "
                 "AS VARCHAR)")
            )  # fmt: skip
    for name, (low, high) in _SCORE_RANGE.items():
        if name in plan.select and name in ent.column_names:
            q = f"d.{quote(name)}"
            cond = f"{q} < {low} OR {q} > {high}"
            late.append((cond, "out of range", name, f"CAST({q} AS VARCHAR)"))
    if ent.name == "orders":
        late.append(("d.amount IS NULL", "missing amount", "amount", "NULL"))
    key = list(ent.key)
    joins, rank = "", ""
    key_value = " || '|' || ".join(f"coalesce(CAST(d.{quote(k)} AS VARCHAR), '')" for k in key)
    part = ", ".join(quote(k) for k in key)
    # Line numbers counted per file are unique within an order by construction: no rank.
    numbered = ent.name == "orders" and "line_number" in derived and "line_id" not in mapped
    if key and not numbered:
        rank = f", row_number() OVER (PARTITION BY {part}, _check IS NULL ORDER BY _row) AS _dup"
        late.append(("d._dup > 1", "duplicate key", "+".join(key), key_value))
    # A row already in core with the same values is unchanged: neither loaded again nor
    # quarantined (re-exports, incremental files overlapping the last one).
    unchanged, renumber, corrects = "", "", "false"
    if not key and ent.name in APPEND_ONLY and ws.has_table(ent.core_table):
        # Facts without a key (events, survey answers) are identified by their values: the
        # k-th identical row of a file matches the k-th in core and is unchanged (a
        # re-export, re-ordered or gzipped, adds nothing); the others are new.
        in_core = {r[0]: r[1] for r in con.execute(f"DESCRIBE {ent.core_table}").fetchall()}
        content = [c for c in ent.column_names
                   if c in in_core and (c in plan.select or c in derived)]  # fmt: skip
        if content:
            core_h = "hash(" + ", ".join(quote(c) for c in content) + ")"
            new_h = "hash(" + ", ".join(f"CAST({quote(c)} AS {in_core[c]})" for c in content) + ")"
            rank += f", {new_h} AS _h, row_number() OVER (PARTITION BY {new_h} ORDER BY _row) AS _k"
            joins += (
                f" LEFT JOIN (SELECT {core_h} AS _ch, row_number() OVER (PARTITION BY {core_h} "
                f"ORDER BY load_id, source_row) AS _ck FROM {ent.core_table}) cm "
                "ON cm._ch = d._h AND cm._ck = d._k"
            )
            unchanged = "cm._ch IS NOT NULL"
    if key and ent.name == "orders" and ws.has_table(ent.core_table):
        in_core = {r[0]: r[1] for r in con.execute(f"DESCRIBE {ent.core_table}").fetchall()}
        content = [
            c for c in ent.column_names
            if c not in ("line_number", "line_id") and c in in_core
            and (c in plan.select or c in derived)
        ]  # fmt: skip

        def hashes(cols: Sequence[str]) -> tuple[str, str]:
            """(hash of the core row's columns, hash of the new row's, compared as stored:
            a derived quantity of 1.0 is a DECIMAL until it is written)."""
            if not cols:
                return "0", "0"
            core = "hash(" + ", ".join(quote(c) for c in cols) + ")"
            new = "hash(" + ", ".join(f"CAST(d.{quote(c)} AS {in_core[c]})" for c in cols) + ")"
            return core, new

        core_h, new_h = hashes(content)
        if not numbered:  # the source's own line key: same key, same values = unchanged
            cond = " AND ".join(f"c.{quote(k)} = d.{quote(k)}" for k in key)
            joins += (
                f" LEFT JOIN (SELECT {part}, {core_h} AS _core_h FROM {ent.core_table}) c ON {cond}"
            )
            unchanged = f"c._core_h = {new_h}"
            # same key, other values: a correction (the core row takes the new values, the
            # old ones go to core.fct_order_line_history)
            corrects = "c._core_h IS NOT NULL"
        else:
            # Lines without a key of their own are identified by their values (all but the
            # status): the k-th such line of an order matches the k-th in core, and is a
            # correction when its status changed (a cancellation); the others are new
            # lines, numbered after the order's last line in core.
            stat = [c for c in ("status", "is_return") if c in content]
            core_h, new_h = hashes([c for c in content if c not in stat])
            core_s, new_s = hashes(stat)
            rank += (
                f", {new_h.replace('d.', '')} AS _h, {new_s.replace('d.', '')} AS _s, "
                f"row_number() OVER (PARTITION BY order_id, {new_h.replace('d.', '')} "
                "ORDER BY _row) AS _k"
            )
            joins += (
                f" LEFT JOIN (SELECT order_id AS _co, line_number AS _cl, {core_h} AS _ch, "
                f"{core_s} AS _cs, row_number() OVER "
                f"(PARTITION BY order_id, {core_h} ORDER BY line_number) AS _ck "
                f"FROM {ent.core_table}) cm ON cm._co = d.order_id AND cm._ch = d._h "
                "AND cm._ck = d._k"
                f" LEFT JOIN (SELECT order_id AS _mo, max(line_number) AS _max "
                f"FROM {ent.core_table} GROUP BY 1) mx ON mx._mo = d.order_id"
            )
            unchanged = "cm._co IS NOT NULL AND cm._cs = d._s"
            corrects = "cm._co IS NOT NULL"
            renumber = (
                ", CASE WHEN cm._co IS NOT NULL THEN cm._cl WHEN mx._max IS NULL "
                "THEN d.line_number ELSE mx._max + row_number() "
                "OVER (PARTITION BY d.order_id, cm._co IS NULL ORDER BY d._row) END "
                "AS line_number"
            )
    # One unknown-customer policy for every entity: a fact naming a customer no source has
    # described is kept, and the customer made a placeholder (core.dim_customer.origin names
    # the entity), never rejected: the customer file may lag behind the shop or the help
    # desk, and identity resolution may link the id later. The load says how many.
    n_early = len(plan.checks)
    late_check = "d._check"
    for i, (cond, *_rest) in reversed(list(enumerate(late, n_early + 1))):
        late_check = f"CASE WHEN d._check IS NULL AND ({cond}) THEN {i} ELSE {late_check} END"
    if unchanged:  # check 0: already in core, as it is
        late_check = f"CASE WHEN d._check IS NULL AND ({unchanged}) THEN 0 ELSE {late_check} END"
    late_value = (
        (
            "CASE "
            + " ".join(
                f"WHEN {late_check} = {i} THEN CAST({v} AS VARCHAR)"
                for i, (_c, _r, _col, v) in enumerate(late, n_early + 1)
            )
            + " END"
        )
        if late
        else "NULL::VARCHAR"
    )
    # Rows carry their source row number (_row), so the staged table need not keep order.
    with _unordered(con):
        con.execute(
            f"""
        CREATE OR REPLACE TEMP TABLE _crmine_staged AS
        WITH typed AS (SELECT rowid AS _rid, {source_row} AS _row, {check} AS _check, {typed_cols}
                       FROM {raw_table}),
        derived AS ({derived_sql}),
        d AS (SELECT *{rank} FROM derived)
        SELECT d.* REPLACE ({late_check} AS _check{renumber}), {late_value} AS _late_value,
               {corrects} AS _corrects
        FROM d{joins}
        """
        )
    checks = [(c.reason, c.column) for c in plan.checks] + [(r, c) for _x, r, c, _v in late]
    return _Typed(checks, derived)


def _write_stage(
    ws: Workspace,
    ent: Entity,
    raw_table: str,
    plan: StagingPlan,
    typed: _Typed,
    load_id: str,
    label: str,
    unparsed: tuple[tuple[int, str, str], ...],
    *,
    drop: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Quarantine the rows breaking a rule, and stage the rest.

    Append-only entities (orders, events, surveys) go straight to core, and
    ``staging.<entity>`` is a view of the rows this load added (materialising the same rows
    twice doubled the load time); the others are staged as a table and merged.
    """
    con = ws.duck
    all_checks, derived = typed.checks, typed.derived
    reasons_sql = "[" + ", ".join(f"'{r}'" for r, _c in all_checks) + "]"
    columns_sql = "[" + ", ".join(f"'{c}'" for _r, c in all_checks) + "]"
    early_value = (
        (
            "CASE s._check "
            + " ".join(
                f"WHEN {i} THEN CAST({c.value} AS VARCHAR)" for i, c in enumerate(plan.checks, 1)
            )
            + " ELSE s._late_value END"
        )
        if plan.checks
        else "s._late_value"
    )
    if all_checks:
        con.execute(
            f"""
            INSERT INTO quarantine.rejects
            SELECT '{load_id}', '{ent.name}', ?, s._row, {reasons_sql}[s._check],
                   {columns_sql}[s._check], {early_value}, to_json(r._raw)::VARCHAR
            FROM (SELECT _rid, _row, _check, _late_value FROM _crmine_staged
                  WHERE _check > 0) s
            JOIN (SELECT rowid AS _rid, raw_row AS _raw, * FROM {raw_table} raw_row
                  WHERE rowid IN (SELECT _rid FROM _crmine_staged WHERE _check > 0)) r
              USING (_rid)
            """,
            [label],
        )
    for line, text, error in unparsed:
        con.execute(
            "INSERT INTO quarantine.rejects VALUES (?, ?, ?, ?, 'unparseable line', NULL, ?, ?)",
            [load_id, ent.name, label, line, error[:200], json.dumps({"line": text})],
        )
    keep = [c for c in [*plan.select, *derived] if c not in drop]
    keep = list(dict.fromkeys(keep))
    if ent.name in APPEND_ONLY:
        present = ensure_core_table(con, ent, plan.extras)
        keep = [c for c in keep if c in present]
    cols = ", ".join(quote(c) for c in keep)
    good = (
        f"SELECT {cols}, '{load_id}' AS load_id, _row AS source_row FROM _crmine_staged "
        "WHERE _check IS NULL"
    )
    corrected = 0
    if ent.name == "orders":
        corrected = _correct_lines(con, ent, keep, load_id)
    if ent.name in APPEND_ONLY:
        targets = ", ".join(quote(c) for c in [*keep, "load_id", "source_row"])
        # Rows carry their source row number, so the append need not keep their order. (A
        # parallel append leaves partly filled row groups that the next checkpoint merges, in
        # about half the runs: 0.3 s for Online Retail. Appending on one thread costs as much.)
        with _unordered(con):
            con.execute(f"INSERT INTO {ent.core_table} ({targets}) {good}")
        con.execute(
            f"CREATE OR REPLACE VIEW staging.{ent.name} AS SELECT {cols}, load_id, source_row "
            f"FROM {ent.core_table} WHERE load_id = '{load_id}'"
        )
    else:
        con.execute(f"CREATE OR REPLACE TABLE staging.{ent.name} AS {good}")
    reasons = dict(
        con.execute(
            "SELECT reason, count(*) FROM quarantine.rejects WHERE load_id = ? GROUP BY 1 "
            "ORDER BY 2 DESC",
            [load_id],
        ).fetchall()
    )
    row = con.execute(
        "SELECT count(*) FILTER (WHERE _check IS NULL), "
        + (
            "count(*) FILTER (WHERE _check IS NULL AND is_anonymous), "
            "count(*) FILTER (WHERE _check IS NULL AND is_return), "
            if ent.name == "orders"
            else "0, 0, "
        )
        + "count(*) FILTER (WHERE _check = 0) FROM _crmine_staged"
    ).fetchone()
    staged, anonymous, returns, unchanged = (int(v) for v in row) if row else (0, 0, 0, 0)
    return {
        "staged": staged,
        "quarantined": int(sum(reasons.values())),
        "reasons": {str(k): int(v) for k, v in reasons.items()},
        "anonymous": anonymous,
        "returns": returns,
        "unchanged": unchanged,
        "corrected": corrected,
    }


def _correct_lines(
    con: duckdb.DuckDBPyConnection, ent: Entity, keep: list[str], load_id: str
) -> int:
    """Corrections: staged lines replacing a line already in core (same key, other values).

    The old row is written to ``core.fct_order_line_history`` with its new values, the
    columns that changed and both loads, then deleted from core: the append that follows
    inserts the new row, so core holds every line once, as last exported.
    """
    n = con.execute(
        "SELECT count(*) FROM _crmine_staged WHERE _check IS NULL AND _corrects"
    ).fetchone()
    if not n or not n[0]:
        return 0
    ensure_history_table(con)
    core = ent.core_table
    present = {r[0] for r in con.execute(f"DESCRIBE {core}").fetchall()}
    values = [c for c in ent.column_names if c in keep and c in present and c not in ent.key]
    cond = " AND ".join(f"c.{quote(k)} = s.{quote(k)}" for k in ent.key)

    def as_json(alias: str) -> str:
        return (
            "json_object(" + ", ".join(f"'{c}', {alias}.{quote(c)}" for c in values) + ")::VARCHAR"
        )

    changed = (
        "array_to_string(list_filter(["
        + ", ".join(
            f"CASE WHEN c.{quote(c)} IS DISTINCT FROM s.{quote(c)} THEN '{c}' END" for c in values
        )
        + "], v -> v IS NOT NULL), ', ')"
    )
    corrections = "(SELECT * FROM _crmine_staged WHERE _check IS NULL AND _corrects) s"
    con.execute(
        f"""
        INSERT INTO core.fct_order_line_history
        SELECT c.order_id, c.line_number, {changed}, {as_json("c")}, {as_json("s")},
               c.load_id, ?, now()::TIMESTAMP
        FROM {core} c JOIN {corrections} ON {cond}
        """,
        [load_id],
    )
    con.execute(f"DELETE FROM {core} c WHERE EXISTS (SELECT 1 FROM {corrections} WHERE {cond})")
    return int(n[0])


_WIDE = 200  # columns from which a file counts as wide (see _without_optimizer)
# DuckDB's memory limit while a load types and writes its rows, when its own is higher (the
# temporary tables spill to disk beyond it): a 5-million-line file peaked at 2.1 GB without
# it. Not for wide files (more than _WIDE columns): reading 10,000 columns ran out of memory
# under it.
INGEST_MEMORY_LIMIT_MB = 1024


@contextmanager
def _memory_cap(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    row = con.execute("SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'").fetchone()
    before = str(row[0]) if row else ""
    current = con.execute(
        "SELECT coalesce(try_cast(regexp_extract(current_setting('memory_limit'), "
        "'^([0-9.]+)', 1) AS DOUBLE) * CASE regexp_extract(current_setting('memory_limit'), "
        "'([KMGT]i?B)', 1) WHEN 'KiB' THEN 1/1024 WHEN 'KB' THEN 1/1000 WHEN 'MiB' THEN 1 "
        "WHEN 'MB' THEN 1 WHEN 'GiB' THEN 1024 WHEN 'GB' THEN 1000 WHEN 'TiB' THEN 1048576 "
        "WHEN 'TB' THEN 1000000 ELSE 1 END, 0)"
    ).fetchone()
    if not before or not current or current[0] <= INGEST_MEMORY_LIMIT_MB:
        yield
        return
    con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT_MB}MiB'")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{before}'")


@contextmanager
def _without_optimizer(con: duckdb.DuckDBPyConnection, name: str) -> Iterator[None]:
    """Switch one DuckDB optimizer pass off for the duration (restoring the setting)."""
    row = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    before = str(row[0]) if row and row[0] else ""
    off = ",".join(x for x in [*before.split(","), name] if x)
    con.execute(f"SET disabled_optimizers = '{off}'")
    try:
        yield
    finally:
        if before:
            con.execute(f"SET disabled_optimizers = '{before}'")
        else:
            con.execute("RESET disabled_optimizers")


@contextmanager
def _unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let DuckDB write rows in any order for one step (faster in parallel)."""
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {bool(row[0]) if row else True}")


def _refresh_dim_date(ws: Workspace) -> None:
    """core.dim_date: one row per day from the first to the last date anywhere in core."""
    sources = []
    for table, col in (
        ("core.fct_order_lines", "order_ts"),
        ("core.fct_events", "event_ts"),
        ("core.fct_tickets", "opened_ts"),
        ("core.fct_subscriptions", "start_date"),
        ("core.fct_subscriptions", "end_date"),
    ):
        if ws.has_table(table):
            sources.append(f"SELECT min({col})::DATE AS lo, max({col})::DATE AS hi FROM {table}")
    if not sources:
        return
    ws.duck.execute(
        f"""
        CREATE OR REPLACE TABLE core.dim_date AS
        WITH bounds AS (SELECT min(lo) AS lo, max(hi) AS hi FROM ({" UNION ALL ".join(sources)}))
        SELECT CAST(d AS DATE) AS date, year(d) AS year, quarter(d) AS quarter, month(d) AS month,
               monthname(d) AS month_name, weekofyear(d) AS iso_week, isodow(d) AS day_of_week,
               dayname(d) AS day_name, isodow(d) >= 6 AS is_weekend
        FROM bounds, range(bounds.lo, bounds.hi + INTERVAL 1 DAY, INTERVAL 1 DAY) AS t(d)
        WHERE bounds.lo IS NOT NULL
        """
    )
