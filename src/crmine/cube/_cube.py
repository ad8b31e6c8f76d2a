"""The customer cube: filter customers on any combination of dimensions, count them, list them,
group them with measures, pivot.

The cube is one row per current customer: ``core.dim_customer`` (with derived age and income
bands) joined with ``marts.customer_segments``, ``marts.customer_rfm``, ``marts.customer_scores``
and each customer's main order channel, whichever exist. It is materialised once as
``marts.customer_cube`` (a temporary table on a read-only workspace) and rebuilt only when a
source table changes (fingerprint in ``meta.cube_state``), so interactive queries over a million
customers scan one compressed table.

Filters are validated against the cube's columns and values and sent to DuckDB as bound
parameters; only whitelisted, quoted column names are ever part of the SQL text.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from crmine.exceptions import ConfigError, DataError, MissingColumnError

__all__ = [
    "DEFAULT_BANDS",
    "CubeResult",
    "Filter",
    "cube_columns",
    "parse_where",
    "pivot",
    "query",
]

# Band edges: a value v is in band "lo-hi" when lo <= v < hi; outside the edges "<first" and
# "last+". Overridable per call or in crmine.toml ([settings] cube_bands = {age = [...]}).
DEFAULT_BANDS: dict[str, tuple[float, ...]] = {
    "age": (18, 25, 35, 45, 55, 65),
    "income": (50_000, 100_000, 200_000, 500_000),
}
_HIDDEN = {"name", "email", "phone", "address", "valid_from", "valid_to", "is_current",
           "model_version", "scored_at", "birth_date"}
_OPS = ("!=", ">=", "<=", "=", ">", "<")
MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Filter:
    """One condition: ``column op value(s)``; several values with "=" mean "any of them"."""

    column: str
    op: str
    values: tuple[Any, ...]

    def __str__(self) -> str:
        return f"{self.column}{self.op}{','.join(map(str, self.values))}"


@dataclass(frozen=True, slots=True)
class CubeResult:
    """What a cube query returns.

    Attributes
    ----------
    count : int
        Customers matching every filter.
    filters : tuple of Filter
    groups : DataFrame or None
        One row per combination of ``by`` with the measures (when ``by`` was given).
    customers : DataFrame or None
        The requested page of matching customers (when ``list_customers``).
    page, page_size, pages : int
    exported : Path or None
    """

    count: int
    filters: tuple[Filter, ...] = ()
    groups: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    page: int = 1
    page_size: int = 0
    pages: int = 0
    exported: Path | None = None
    by: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        if self.groups is not None:
            return self.groups.copy()
        if self.customers is not None:
            return self.customers.copy()
        return pd.DataFrame({"count": [self.count]})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count, "where": [str(f) for f in self.filters]}
        if self.groups is not None:
            out["by"] = list(self.by)
            out["groups"] = self.groups
        if self.customers is not None:
            out.update(page=self.page, page_size=self.page_size, pages=self.pages,
                       customers=self.customers)
        if self.exported is not None:
            out["exported"] = str(self.exported)
        return out


# -- building the cube --------------------------------------------------------------------------
def _band(col: ir.NumericValue, edges: Sequence[float]) -> ir.StringValue:
    edges = sorted(float(e) for e in edges)

    def label(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:g}"

    branches = [(col < edges[0], f"<{label(edges[0])}")]
    for lo, hi in itertools.pairwise(edges):
        branches.append((col < hi, f"{label(lo)}-{label(hi)}"))
    banded = ibis.cases(*branches, else_=f"{label(edges[-1])}+")
    return col.isnull().ifelse(ibis.null("string"), banded)


def _cube_expr(ws: Any, bands: Mapping[str, Sequence[float]]) -> ir.Table:
    if ws.has_table("core.dim_customer") or not ws.has_table("core.fct_order_lines"):
        cust = ws.table("core.dim_customer")  # names what to load when neither exists
    else:
        ol = ws.table("core.fct_order_lines")
        cust = ol.filter(ol.customer_id.notnull()).select("customer_id").distinct()
    if "is_current" in cust.columns:
        cust = cust.filter(cust.is_current)
    keep = [c for c in cust.columns if c not in _HIDDEN]
    t = cust.select(*keep).distinct(on="customer_id")
    t = t.mutate(customer_id=t.customer_id.cast("string"))
    if "age" not in t.columns and "birth_date" in cust.columns:
        born = cust.select(_cid=cust.customer_id.cast("string"), _born=cust.birth_date)
        born = born.distinct(on="_cid")
        t = t.left_join(born, t.customer_id == born._cid).drop("_cid")
        t = t.mutate(age=(ibis.today().delta(t._born.cast("date"), unit="day") / 365.25)
                     .floor().cast("int64")).drop("_born")
    for name, edges in bands.items():
        if name in t.columns and t[name].type().is_numeric() and edges:
            t = t.mutate(**{f"{name}_band": _band(t[name], edges)})

    def attach(frame: ir.Table, right: ir.Table, cols: list[str]) -> ir.Table:
        cols = [c for c in cols if c in right.columns and c not in frame.columns]
        if not cols:
            return frame
        right = right.select(*cols, _cid=right.customer_id.cast("string")).distinct(on="_cid")
        return frame.left_join(right, frame.customer_id == right._cid).drop("_cid")

    if ws.has_table("marts.customer_segments"):
        seg = ws.table("marts.customer_segments")
        t = attach(t, seg, ["rfm_segment", "rfm_score", "cluster", "value_tier", "is_golden"])
        if "rfm_segment" in t.columns:
            t = t.mutate(segment=t.rfm_segment)
    if ws.has_table("marts.customer_rfm"):
        rfm = ws.table("marts.customer_rfm")
        rfm_cols = ["orders", "total_spend", "frequency", "recency", "T"]
        t = attach(t, rfm, [c for c in rfm_cols if c in rfm.columns])
        if "total_spend" in t.columns:
            t = t.mutate(revenue=t.total_spend.fill_null(0), orders=t.orders.fill_null(0)
                         if "orders" in t.columns else ibis.literal(0))
    if ws.has_table("marts.customer_scores"):
        sc = ws.table("marts.customer_scores")
        numeric = [c for c, d in sc.schema().items()
                   if d.is_numeric() and not c.endswith(("_model_version", "_scored_at"))]
        t = attach(t, sc, numeric)
    if ws.has_table("core.fct_order_lines"):
        ol = ws.table("core.fct_order_lines")
        if "channel" in ol.columns:
            ol = ol.filter(ol.customer_id.notnull(), ol.channel.notnull())
            per = ol.group_by([ol.customer_id, ol.channel]).aggregate(_n=ol.order_id.nunique())
            w = ibis.window(group_by=per.customer_id, order_by=[ibis.desc(per._n), per.channel])
            per = per.mutate(_rk=ibis.row_number().over(w))
            per = per.filter(per._rk == 0).select("customer_id", main_channel=per.channel)
            t = attach(t, per, ["main_channel"])
            if "channel" not in t.columns:
                t = t.mutate(channel=t.main_channel).drop("main_channel")
    if "channel" not in t.columns and "acquisition_channel" in t.columns:
        # No orders with a channel: the channel a customer came through is the best proxy.
        t = t.mutate(channel=t.acquisition_channel)
    return t


@dataclass(slots=True)
class _Cube:
    """A materialised cube: where it lives, its column kinds, distinct values seen so far."""

    con: Any
    table: str
    kinds: dict[str, str]
    distinct: dict[str, list[Any]] = field(default_factory=dict)
    quick_signature: tuple[Any, ...] = ()


# One cube per open connection, reused while its sources are unchanged.
_CACHE: dict[int, _Cube] = {}
_SOURCES = ("core.dim_customer", "marts.customer_segments", "marts.customer_rfm",
            "marts.customer_scores", "core.fct_order_lines")
CUBE_TABLE = "marts.customer_cube"
_STATE_TABLE = "meta.cube_state"


def _quick_signature(ws: Any, bands: Mapping[str, Sequence[float]]) -> tuple[Any, ...]:
    """Cheap in-process check (one catalog query): a rewritten table gets a new oid, appended
    rows change its size."""
    rows = ws.duck.execute(
        "SELECT schema_name || '.' || table_name, table_oid, estimated_size FROM duckdb_tables() "
        "WHERE database_name = current_database() ORDER BY 1").fetchall()
    return (repr(sorted((k, tuple(v)) for k, v in bands.items())),
            *(r for r in rows if r[0] in _SOURCES or r[0] == "meta.loads"))


def _signature(ws: Any, bands: Mapping[str, Sequence[float]]) -> str:
    """Fingerprint of the cube's sources that survives reopening the warehouse.

    Loads are logged in ``meta.loads`` and every mart carries ``scored_at``, so the last load,
    the last scoring time and the row counts change whenever a source does.
    """
    parts: list[str] = [repr(sorted((k, tuple(v)) for k, v in bands.items()))]
    sizes = dict(ws.duck.execute(
        "SELECT schema_name || '.' || table_name, estimated_size FROM duckdb_tables() "
        "WHERE database_name = current_database()").fetchall())
    for name in _SOURCES:
        parts.append(f"{name}:{sizes.get(name)}")
        if name in sizes and name.startswith("marts."):
            schema, table = name.split(".")
            cols = {r[0] for r in ws.duck.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND "
                "table_name = ? AND database_name = current_database()",
                [schema, table]).fetchall()}
            stamps = [c for c in cols if c == "scored_at" or c.endswith("_scored_at")]
            if stamps:
                sel = ", ".join(f"max({_q(c)})" for c in sorted(stamps))
                parts.append(str(ws.duck.execute(
                    f'SELECT {sel} FROM {schema}."{table}"').fetchall()))
    if "meta.loads" in sizes:
        parts.append(str(ws.duck.execute(
            "SELECT count(*), max(load_id) FROM meta.loads").fetchall()))
    return "|".join(parts)


def _bands(ws: Any, bands: Mapping[str, Sequence[float]] | None) -> dict[str, tuple[float, ...]]:
    merged = dict(DEFAULT_BANDS)
    configured = ws.setting("cube_bands", None) if hasattr(ws, "setting") else None
    for source in (configured, bands):
        for k, v in (source or {}).items():
            try:
                edges = tuple(sorted(float(x) for x in v))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"band edges for {k!r} must be numbers, got {v!r}") from exc
            merged[k] = edges
    return merged


def _prepare(source: Any, bands: Mapping[str, Sequence[float]] | None) -> _Cube:
    """The materialised cube of ``source``, built or rebuilt when needed."""
    if isinstance(source, (pd.DataFrame, ir.Table)):
        con = duckdb.connect()
        data = source if isinstance(source, pd.DataFrame) else source.to_pyarrow()
        con.register("_src", data)
        con.execute("CREATE TEMP TABLE crmine_cube AS SELECT * FROM _src")
        con.unregister("_src")
        kinds = _kinds(con, "crmine_cube")
        if "customer_id" not in kinds:
            raise MissingColumnError("the customer table needs a customer_id column; columns "
                                     f"found: {list(kinds)}")
        return _Cube(con, "crmine_cube", kinds)
    ws = source
    key = id(ws.duck)
    b = _bands(ws, bands)
    quick = _quick_signature(ws, b)
    cube = _CACHE.get(key)
    if cube is not None and cube.quick_signature == quick:
        return cube
    sig = _signature(ws, b)
    if ws.read_only:
        # Nothing can be written: a temporary table, private to this connection.
        sql = ws.con.compile(_cube_expr(ws, b))
        ws.duck.execute(f"CREATE OR REPLACE TEMP TABLE crmine_cube AS {sql}")
        cube = _Cube(ws.duck, "crmine_cube", _kinds(ws.duck, "crmine_cube"),
                     quick_signature=quick)
    else:
        # A stored table: compressed (dictionary-encoded dimensions scan about twice as fast
        # as a temporary table) and reused by the next process while its sources are unchanged.
        stored = ws.has_table(_STATE_TABLE) and ws.has_table(CUBE_TABLE) and \
            ws.duck.execute(f"SELECT count(*) FROM {_STATE_TABLE} WHERE signature = ?",
                            [sig]).fetchall()[0][0] > 0
        if not stored:
            sql = ws.con.compile(_cube_expr(ws, b))
            ws.duck.execute(f"CREATE OR REPLACE TABLE {CUBE_TABLE} AS {sql}")
            ws.duck.execute(f"CREATE OR REPLACE TABLE {_STATE_TABLE} AS "
                            "SELECT ?::VARCHAR AS signature, now() AS built_at", [sig])
            with contextlib.suppress(duckdb.Error):  # e.g. inside a caller's transaction
                ws.duck.execute("CHECKPOINT")
        cube = _Cube(ws.duck, CUBE_TABLE, _kinds(ws.duck, CUBE_TABLE), quick_signature=quick)
    _CACHE[key] = cube
    return cube


def _kinds(con: Any, table: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE {table}").fetchall()
    out = {}
    for name, dtype, *_ in rows:
        d = str(dtype).upper()
        if d == "BOOLEAN":
            out[name] = "bool"
        elif any(x in d for x in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "HUGEINT")):
            out[name] = "number"
        elif "DATE" in d or "TIME" in d:
            out[name] = "date"
        else:
            out[name] = "text"
    return out


def cube_columns(source: Any, *, bands: Mapping[str, Sequence[float]] | None = None
                 ) -> dict[str, str]:
    """The cube's dimensions and measures: column name -> kind (text, number, bool, date)."""
    return dict(_prepare(source, bands).kinds)


# -- filters ---------------------------------------------------------------------------------
def parse_where(where: Any) -> list[Filter]:
    """Filters from ``["gender=F", "age>=30", "city=Shanghai,Beijing"]``, a mapping
    ``{"gender": "F", "city": ["Shanghai", "Beijing"]}`` or ``Filter`` objects."""
    if where is None:
        return []
    if isinstance(where, Filter):
        return [where]
    if isinstance(where, Mapping):
        out = []
        for col, val in where.items():
            vals = tuple(val) if isinstance(val, (list, tuple, set, frozenset)) else (val,)
            out.append(Filter(str(col), "=", vals))
        return out
    if isinstance(where, str):
        where = [where]
    out = []
    for item in where:
        if isinstance(item, Filter):
            out.append(item)
            continue
        text = str(item)
        m = re.match(r"^\s*([^!<>=]+?)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*$", text)
        if not m:
            raise DataError(f"filter {text!r} is not of the form column=value (operators: "
                            f"{', '.join(_OPS)}; several values: city=Shanghai,Beijing)")
        col, op, raw = m.groups()
        vals = tuple(v.strip() for v in raw.split(",")) if op in ("=", "!=") else (raw,)
        out.append(Filter(col, op, vals))
    return out


def _distinct(cube: _Cube, column: str, limit: int = 1000) -> list[Any]:
    if column not in cube.distinct:
        rows = cube.con.execute(
            f"SELECT DISTINCT {_q(column)} AS v FROM {cube.table} WHERE {_q(column)} IS NOT NULL "
            f"ORDER BY 1 LIMIT {int(limit)}").fetchall()
        cube.distinct[column] = [r[0] for r in rows]
    return cube.distinct[column]


def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _coerce(cube: _Cube, f: Filter, kind: str) -> list[Any]:
    out: list[Any] = []
    for raw in f.values:
        if kind == "number":
            try:
                out.append(float(raw))
            except (TypeError, ValueError):
                raise DataError(f"filter {f}: {f.column} is numeric, {raw!r} is not a number"
                                ) from None
        elif kind == "bool":
            s = str(raw).strip().lower()
            if s not in ("true", "false", "1", "0", "yes", "no"):
                raise DataError(f"filter {f}: {f.column} is true/false, not {raw!r}")
            out.append(s in ("true", "1", "yes"))
        elif kind == "date":
            ts = pd.Timestamp(raw)
            if pd.isna(ts):
                raise DataError(f"filter {f}: {raw!r} is not a date (use YYYY-MM-DD)")
            out.append(ts.to_pydatetime())
        else:
            out.append(str(raw))
    if kind == "text" and f.op in ("=", "!="):
        valid = _distinct(cube, f.column)
        # A column with more than 1,000 values (names, ids) is not checked value by value.
        valid_set = {str(v) for v in valid}
        bad = [v for v in out if v not in valid_set] if len(valid) < 1000 else []
        if bad:
            shown = ", ".join(map(str, valid[:40])) + (" …" if len(valid) > 40 else "")
            raise DataError(f"filter {f}: no customer has {f.column} = {bad[0]!r}; valid values "
                            f"of {f.column}: {shown}")
    return out


def _where_sql(cube: _Cube, filters: Sequence[Filter]) -> tuple[str, list[Any]]:
    kinds = cube.kinds
    clauses, params = [], []
    for f in filters:
        if f.column not in kinds:
            raise MissingColumnError(
                f"unknown cube dimension {f.column!r}; valid: {', '.join(sorted(kinds))}")
        if f.op not in _OPS:
            raise DataError(f"filter {f}: unknown operator {f.op!r}; use one of {_OPS}")
        vals = _coerce(cube, f, kinds[f.column])
        col = _q(f.column)
        if f.op in ("=", "!=") and len(vals) > 1:
            marks = ", ".join("?" * len(vals))
            neg = "NOT " if f.op == "!=" else ""
            clauses.append(f"{col} {neg}IN ({marks})")
        else:
            clauses.append(f"{col} {f.op} ?")
        params.extend(vals)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


# -- measures --------------------------------------------------------------------------------
def _measure_sql(name: str, kinds: Mapping[str, str]) -> str:
    if name == "customers":
        return "count(*)"
    if name == "revenue" and "revenue" in kinds:
        return 'sum("revenue")'
    if name == "orders" and "orders" in kinds:
        return 'sum("orders")'
    if name == "aov" and {"revenue", "orders"} <= set(kinds):
        return 'sum("revenue") / nullif(sum("orders"), 0)'
    m = re.match(r"^(sum|avg|min|max|median):(.+)$", name)
    col = m.group(2) if m else name
    fn = m.group(1) if m else "avg"
    if col in kinds and kinds[col] in ("number", "bool"):
        expr = _q(col) if kinds[col] == "number" else f"CAST({_q(col)} AS INTEGER)"
        return f"{fn}({expr})"
    numeric = sorted(c for c, k in kinds.items() if k == "number")
    raise MissingColumnError(
        f"unknown measure {name!r}; valid: customers, revenue, orders, aov (when the RFM mart "
        f"exists), or avg:/sum:/min:/max:/median: of a numeric column ({', '.join(numeric)})")


def _default_measures(kinds: Mapping[str, str]) -> list[str]:
    out = ["customers"]
    if "revenue" in kinds:
        out += ["revenue", "orders", "aov"]
    clv = next((c for c in kinds if kinds[c] == "number" and ("clv" in c.lower())), None)
    if clv:
        out.append(clv)
    if "churn_risk" in kinds:
        out.append("churn_risk")
    return out


# -- the query ---------------------------------------------------------------------------------
def query(
    source: Any,
    *,
    where: Any = None,
    by: str | Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
    list_customers: bool = False,
    columns: Sequence[str] | None = None,
    page: int = 1,
    page_size: int = 50,
    export: str | Path | None = None,
    bands: Mapping[str, Sequence[float]] | None = None,
) -> CubeResult:
    """Count, list, export and group the customers matching every filter.

    Parameters
    ----------
    source : Workspace, DataFrame or ibis.Table
        A workspace (the cube is built from its core and mart tables) or any one-row-per-
        customer table with a ``customer_id`` column.
    where : list of "column<op>value" strings, mapping or Filter objects
        Every filter must hold. ``city=Shanghai,Beijing`` means either; operators ``= != > >=
        < <=``. Unknown columns or values fail with the list of valid ones.
    by : str or list of str, optional
        Dimensions to group by (drill down by adding one; pivot with :func:`pivot`).
    measures : list of str, optional
        customers, revenue, orders, aov, any numeric column (its mean) or ``sum:col`` /
        ``avg:col`` / ``median:col`` … Default: customers, revenue, orders, aov and CLV /
        churn risk when those scores exist.
    list_customers : bool
        Return page ``page`` (``page_size`` rows, ordered by customer_id) of the customers.
    columns : list of str, optional
        Columns of the listed/exported customers (default all).
    export : path, optional
        Write every matching customer to ``.csv`` or ``.parquet``.
    bands : mapping, optional
        Band edges per numeric column (defaults :data:`DEFAULT_BANDS`).

    Examples
    --------
    >>> query(ws, where=["gender=F", "city=Shanghai"], by="region").groups  # doctest: +SKIP
    """
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise DataError(f"page must be >= 1 and page_size in 1..{MAX_PAGE_SIZE} "
                        f"(got page={page}, page_size={page_size})")
    cube = _prepare(source, bands)
    con, kinds, table = cube.con, cube.kinds, cube.table
    filters = parse_where(where)
    where_sql, params = _where_sql(cube, filters)

    by_cols = [by] if isinstance(by, str) else list(by or [])
    groups = None
    if by_cols:
        unknown = [b for b in by_cols if b not in kinds]
        if unknown:
            raise MissingColumnError(f"unknown cube dimension(s) {unknown} in by; valid: "
                                     f"{', '.join(sorted(kinds))}")
        ms = list(measures) if measures else _default_measures(kinds)
        sel = ", ".join(f"{_measure_sql(m, kinds)} AS {_q(m)}" for m in ms)
        dims = ", ".join(_q(b) for b in by_cols)
        # One scan answers both: the total is the sum of the group counts.
        groups = con.execute(
            f"SELECT {dims}, {sel}, count(*) AS __n FROM {table}{where_sql} GROUP BY {dims} "
            f"ORDER BY {dims} NULLS LAST", params).fetch_df()
        count = int(groups.pop("__n").sum())
    else:
        count = int(con.execute(f"SELECT count(*) FROM {table}{where_sql}",
                                params).fetchall()[0][0])

    cols = list(columns) if columns else list(kinds)
    unknown_cols = [c for c in cols if c not in kinds]
    if unknown_cols:
        raise MissingColumnError(f"unknown column(s) {unknown_cols}; valid: "
                                 f"{', '.join(sorted(kinds))}")
    if "customer_id" not in cols:
        cols.insert(0, "customer_id")
    col_sql = ", ".join(_q(c) for c in cols)
    customers = None
    pages = max(1, math.ceil(count / page_size))
    if list_customers:
        customers = con.execute(
            f"SELECT {col_sql} FROM {table}{where_sql} ORDER BY customer_id LIMIT ? OFFSET ?",
            [*params, page_size, (page - 1) * page_size]).fetch_df()
    exported = None
    if export is not None:
        exported = Path(export)
        table = con.execute(f"SELECT {col_sql} FROM {table}{where_sql} ORDER BY customer_id",
                            params).fetch_arrow_table()
        _write(table, exported)
    return CubeResult(count=count, filters=tuple(filters), groups=groups, customers=customers,
                      page=page, page_size=page_size if list_customers else 0,
                      pages=pages if list_customers else 0, exported=exported,
                      by=tuple(by_cols))


def _write(table: pa.Table, path: Path) -> None:
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        pq.write_table(table, path)
    elif suffix == ".csv":
        pa_csv.write_csv(table, path)
    else:
        raise DataError(f"cannot export to {path.name!r}: use a .csv or .parquet file name")


def pivot(result: CubeResult, *, rows: str, columns: str, measure: str = "customers"
          ) -> pd.DataFrame:
    """Pivot a two-dimension group-by (``query(..., by=[rows, columns])``) into a matrix."""
    if result.groups is None or not {rows, columns} <= set(result.groups.columns):
        raise DataError(f"pivot needs a query grouped by {rows!r} and {columns!r}; "
                        f"this result was grouped by {list(result.by)}")
    if measure not in result.groups.columns:
        raise MissingColumnError(f"measure {measure!r} not in the result; measures: "
                                 f"{[c for c in result.groups.columns if c not in result.by]}")
    return result.groups.pivot_table(index=rows, columns=columns, values=measure, aggfunc="sum",
                                     dropna=False)

