"""Ingest: source → raw → staging → core, in one transaction, every row accounted for.

``rows read = rows staged + rows quarantined + rows unchanged`` holds for every load and is
checked before the transaction commits ("unchanged": order lines already in core with the same
values, as in a re-export or an incremental file overlapping the last one). Re-loading an
identical source changes nothing; a load that fails part-way leaves the warehouse as it was.

A denormalised fact file (each order line repeating its customer's segment and city and its
product's category) fills ``core.dim_customer`` (SCD2) and ``core.dim_product`` with those
attributes rather than repeating them on the fact table; values that disagree within the file
are reported (the latest line wins).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from crmine.exceptions import CrmineError
from crmine.warehouse._core import core_columns, ensure_core_table, ensure_meta_tables, quote
from crmine.warehouse._mapping import dimension_attributes, extra_column_names, resolve_columns
from crmine.warehouse._merge import (
    APPEND_ONLY,
    FACT_TIME,
    MergeResult,
    merge_dimension_attributes,
    merge_into_core,
)
from crmine.warehouse._schema import ENTITIES, Entity
from crmine.warehouse._schema import entity as get_entity
from crmine.warehouse._sources import locate_source, read_source
from crmine.warehouse._staging import StagingPlan, plan_staging
from crmine.warehouse._workspace import Workspace

__all__ = ["LANDING_DIR", "LoadReport", "ingest"]

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
            + f" in {self.seconds:.2f}s"
        )
        return "\n".join([text, *(f"note: {n}" for n in self.notes)])


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
    elif entity.name == "subscriptions":
        if "subscription_id" not in mapped:
            d["subscription_id"] = "customer_id || ':' || CAST(start_date AS VARCHAR)"
        if "churned" not in mapped:
            d["churned"] = "end_date IS NOT NULL"
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
    try:
        raw = read_source(
            con, src, _PARSED, ws.root, landing, sheet=sheet, delimiter=delimiter, encoding=encoding
        )
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
            nullable_keys=("customer_id",) if ent.name == "orders" else (),
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
                "rows_quarantined, rows_unchanged) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ],
            )
            _refresh_dim_date(ws)
    except BaseException:  # nothing half-written: the landing file goes with the rollback
        for leftover in ws.root.glob(landing + ".*"):
            leftover.unlink()
        raise
    finally:
        for scratch in (_PARSED, "_crmine_staged", "_crmine_rejects", "_crmine_reject_scans",
                        "_crmine_side", "_crmine_side_known"):  # fmt: skip
            con.execute(f"DROP TABLE IF EXISTS {scratch}")

    return LoadReport(
        load_id=load_id,
        entity=ent.name,
        source=label,
        kind=raw.kind,
        rows_read=rows_read,
        rows_staged=counts["staged"],
        rows_quarantined=counts["quarantined"],
        rows_unchanged=counts["unchanged"],
        rejects_by_reason=counts["reasons"],
        anonymous_rows=counts.get("anonymous", 0),
        return_rows=counts.get("returns", 0),
        inserted=merged.inserted,
        updated=merged.updated,
        new_customers=merged.new_customers + dims.new_customers,
        customer_versions=merged.customer_versions + dims.customer_versions,
        columns={k: v for k, v in cmap.canonical.items()},
        customer_attributes=dict(side.customer) if side else {},
        product_attributes=dict(side.product) if side else {},
        conflicts={f"{c.dimension}.{c.column}": c.keys for c in conflicts},
        notes=tuple(c.note() for c in conflicts),
        extras=tuple(n for n in extra_names.values() if n not in moved),
        formats=dict(plan.formats),
        encoding=raw.encoding,
        delimiter=raw.delimiter,
        seconds=time.perf_counter() - started,
    )


# Dates that cannot come before another in the same row: (later, earlier, reason).
_DATE_ORDER: dict[str, tuple[tuple[str, str, str], ...]] = {
    "tickets": (("closed_ts", "opened_ts", "closed before opened"),),
    "subscriptions": (("end_date", "start_date", "end before start"),),
    "campaigns": (("end_date", "start_date", "end before start"),),
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
    unchanged, renumber = "", ""
    if key and ent.name == "orders" and ws.has_table(ent.core_table):
        in_core = {r[0]: r[1] for r in con.execute(f"DESCRIBE {ent.core_table}").fetchall()}
        content = [
            c for c in ent.column_names
            if c not in ("line_number", "line_id") and c in in_core
            and (c in plan.select or c in derived)
        ]  # fmt: skip
        core_h = "hash(" + ", ".join(quote(c) for c in content) + ")"
        # compared as stored: a derived quantity of 1.0 is a DECIMAL until it is written
        new_h = "hash(" + ", ".join(f"CAST(d.{quote(c)} AS {in_core[c]})" for c in content) + ")"
        if not numbered:  # the source's own line key: same key, same values = unchanged
            cond = " AND ".join(f"c.{quote(k)} = d.{quote(k)}" for k in key)
            joins += (
                f" LEFT JOIN (SELECT {part}, {core_h} AS _core_h FROM {ent.core_table}) c ON {cond}"
            )
            unchanged = f"c._core_h = {new_h}"
            late.append(("c._core_h IS NOT NULL", "corrected line", "+".join(key), key_value))
        else:
            # Lines without a key of their own are identified by their values: the k-th
            # identical line of an order matches the k-th in core; the others are new lines,
            # numbered after the order's last line in core.
            rank += (
                f", {new_h.replace('d.', '')} AS _h, row_number() OVER (PARTITION BY order_id, "
                f"{new_h.replace('d.', '')} ORDER BY _row) AS _k"
            )
            joins += (
                f" LEFT JOIN (SELECT order_id AS _co, {core_h} AS _ch, row_number() OVER "
                f"(PARTITION BY order_id, {core_h} ORDER BY line_number) AS _ck "
                f"FROM {ent.core_table}) cm ON cm._co = d.order_id AND cm._ch = d._h "
                "AND cm._ck = d._k"
                f" LEFT JOIN (SELECT order_id AS _mo, max(line_number) AS _max "
                f"FROM {ent.core_table} GROUP BY 1) mx ON mx._mo = d.order_id"
            )
            unchanged = "cm._co IS NOT NULL"
            renumber = (
                ", CASE WHEN mx._max IS NULL THEN d.line_number ELSE mx._max + row_number() "
                "OVER (PARTITION BY d.order_id, cm._co IS NULL ORDER BY d._row) END "
                "AS line_number"
            )
    if ent.customer_ref and ws.has_table("core.dim_customer"):
        known = con.execute("SELECT count(*) FROM core.dim_customer").fetchone()
        if known and known[0]:
            joins += (
                " LEFT JOIN (SELECT DISTINCT customer_id AS _known FROM core.dim_customer) k"
                " ON k._known = d.customer_id"
            )
            late.append(
                (
                    "d.customer_id IS NOT NULL AND k._known IS NULL",
                    "unknown customer",
                    "customer_id",
                    "d.customer_id",
                )
            )
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
        SELECT d.* REPLACE ({late_check} AS _check{renumber}), {late_value} AS _late_value
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
    }


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
