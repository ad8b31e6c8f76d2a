"""The cube table: one row per current customer, built from the warehouse and materialised.

``core.dim_customer`` (with derived age and income bands) joined with
``marts.customer_segments``, ``marts.customer_rfm``, ``marts.customer_scores`` and each
customer's main order channel, whichever exist. It is materialised once as
``meta.customer_cube`` (a temporary table on a read-only workspace) and rebuilt only when a
source table changes (fingerprint in ``meta.cube_state``), so interactive queries over a million
customers scan one compressed table.

A query from the shell opens the warehouse file with DuckDB alone when the stored cube is
current (:func:`stored_cube`): no Ibis, no pandas, which is most of a short command's time.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from crmine._format import fmt_number
from crmine.cube._filters import literal, quote
from crmine.exceptions import ConfigError, MissingColumnError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from crmine.cube._index import CubeIndex
    from crmine.warehouse import Workspace

__all__ = ["CUBE_TABLE", "DEFAULT_BANDS", "Cube", "cube_columns", "forget", "prepare",
           "stored_cube"]

# Band edges: a value v is in band "lo-hi" when lo <= v < hi; outside the edges "<first" and
# "last+". Overridable per call or in crmine.toml ([settings] cube_bands = {age = [...]}).
DEFAULT_BANDS: dict[str, tuple[float, ...]] = {
    "age": (18, 25, 35, 45, 55, 65),
    "income": (50_000, 100_000, 200_000, 500_000),
}
_HIDDEN = {"name", "email", "phone", "address", "valid_from", "valid_to", "is_current",
           "model_version", "scored_at", "birth_date"}
# A cache of the sources, not a result: kept with the warehouse's bookkeeping, not the marts.
CUBE_TABLE = "meta.customer_cube"
_STATE_TABLE = "meta.cube_state"
_SOURCES = ("core.dim_customer", "marts.customer_segments", "marts.customer_rfm",
            "marts.customer_scores", "core.fct_order_lines")
Bands = Mapping[str, Sequence[float]]


@dataclass(slots=True)
class Cube:
    """A materialised cube: where it lives, its column kinds, distinct values seen so far."""

    con: duckdb.DuckDBPyConnection
    table: str
    kinds: dict[str, str]
    distinct_values: dict[str, list[Any]] = field(default_factory=dict)
    quick_signature: tuple[Any, ...] = ()
    # In-memory bitmaps answering counts without a scan (crmine.cube._index), when the
    # owner of a read-only copy built them (the API server).
    index: CubeIndex | None = None

    def distinct(self, column: str, limit: int = 1000) -> list[Any]:
        """Up to ``limit`` distinct non-null values of ``column``, sorted (cached)."""
        if column not in self.distinct_values:
            rows = self.con.execute(
                f"SELECT DISTINCT {quote(column)} AS v FROM {self.table} WHERE {quote(column)} "
                f"IS NOT NULL ORDER BY 1 LIMIT {int(limit)}").fetchall()
            self.distinct_values[column] = [r[0] for r in rows]
        return self.distinct_values[column]


# -- the expression ----------------------------------------------------------------------------
def _band(col: ir.NumericValue, edges: Sequence[float]) -> ir.StringValue:
    import ibis

    edges = sorted(float(e) for e in edges)

    def label(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else fmt_number(x, digits=6)

    branches = [(col < edges[0], f"<{label(edges[0])}")]
    for lo, hi in itertools.pairwise(edges):
        branches.append((col < hi, f"{label(lo)}-{label(hi)}"))
    banded = ibis.cases(*branches, else_=f"{label(edges[-1])}+")
    return col.isnull().ifelse(ibis.null("string"), banded)


def cube_expr(ws: Workspace, bands: Bands) -> ir.Table:
    """The cube as an Ibis expression over the workspace's tables."""
    import ibis

    if ws.has_table("core.dim_customer") or not ws.has_table("core.fct_order_lines"):
        cust = ws.table(ws.resolved("core.dim_customer"))  # names what to load when neither exists
    else:
        ol = ws.table(ws.resolved("core.fct_order_lines"))
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
        # `segment` is the RFM segment unless the customers' own data has a segment (e.g.
        # Consumer/Corporate on a denormalised export), which must not be overwritten.
        if "rfm_segment" in t.columns and "segment" not in t.columns:
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
        ol = ws.table(ws.resolved("core.fct_order_lines"))
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


# -- freshness ---------------------------------------------------------------------------------
def _bands_key(bands: Bands) -> str:
    return repr(sorted((k, tuple(v)) for k, v in bands.items()))


def _quick_signature(con: duckdb.DuckDBPyConnection, bands: Bands) -> tuple[Any, ...]:
    """Cheap in-process check (one catalog query): a rewritten table gets a new oid, appended
    rows change its size."""
    rows = con.execute(
        "SELECT schema_name || '.' || table_name, table_oid, estimated_size FROM duckdb_tables() "
        "WHERE database_name = current_database() ORDER BY 1").fetchall()
    return (_bands_key(bands), *(r for r in rows if r[0] in _SOURCES or r[0] == "meta.loads"))


def _signature(con: duckdb.DuckDBPyConnection, bands: Bands) -> str:
    """Fingerprint of the cube's sources that survives reopening the warehouse.

    Loads are logged in ``meta.loads`` and every mart carries ``scored_at``, so the last load,
    the last scoring time and the row counts change whenever a source does.
    """
    parts: list[str] = [_bands_key(bands)]
    sizes = dict(con.execute(
        "SELECT schema_name || '.' || table_name, estimated_size FROM duckdb_tables() "
        "WHERE database_name = current_database()").fetchall())
    for name in _SOURCES:
        parts.append(f"{name}:{sizes.get(name)}")
        if name in sizes and name.startswith("marts."):
            schema, table = name.split(".")
            cols = {r[0] for r in con.execute(
                f"SELECT column_name FROM duckdb_columns() WHERE schema_name = {literal(schema)} "
                f"AND table_name = {literal(table)} AND database_name = current_database()"
            ).fetchall()}
            stamps = [c for c in cols if c == "scored_at" or c.endswith("_scored_at")]
            if stamps:
                sel = ", ".join(f"max({quote(c)})" for c in sorted(stamps))
                parts.append(str(con.execute(
                    f'SELECT {sel} FROM {schema}."{table}"').fetchall()))
    if "meta.loads" in sizes:
        parts.append(str(con.execute(
            "SELECT count(*), max(load_id) FROM meta.loads").fetchall()))
    return "|".join(parts)


def _is_stored(con: duckdb.DuckDBPyConnection, signature: str) -> bool:
    names = {r[0] for r in con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
        "WHERE database_name = current_database()").fetchall()}
    if _STATE_TABLE not in names or CUBE_TABLE not in names:
        return False
    return con.execute(f"SELECT count(*) FROM {_STATE_TABLE} WHERE signature = "
                       f"{literal(signature)}").fetchall()[0][0] > 0


def merged_bands(settings: Mapping[str, Any] | None, bands: Bands | None
                 ) -> dict[str, tuple[float, ...]]:
    """:data:`DEFAULT_BANDS`, then the ``cube_bands`` setting, then ``bands``."""
    merged = dict(DEFAULT_BANDS)
    configured = (settings or {}).get("cube_bands")
    for source in (configured, bands):
        for k, v in (source or {}).items():
            try:
                edges = tuple(sorted(float(x) for x in v))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"band edges for {k!r} must be numbers, got {v!r}") from exc
            merged[k] = edges
    return merged


# -- materialising -----------------------------------------------------------------------------
# One cube per open connection, reused while its sources are unchanged.
_CACHE: dict[int, Cube] = {}


def _from_frame(source: pd.DataFrame | ir.Table) -> Cube:
    import pandas as pd

    con = duckdb.connect()
    data = source if isinstance(source, pd.DataFrame) else source.to_pyarrow()
    con.register("_src", data)
    con.execute("CREATE TEMP TABLE crmine_cube AS SELECT * FROM _src")
    con.unregister("_src")
    kinds = _kinds(con, "crmine_cube")
    if "customer_id" not in kinds:
        raise MissingColumnError("the customer table needs a customer_id column; columns "
                                 f"found: {list(kinds)}")
    return Cube(con, "crmine_cube", kinds)


def prepare(source: Workspace | pd.DataFrame | ir.Table, bands: Bands | None = None) -> Cube:
    """The materialised cube of ``source``, built or rebuilt when needed."""
    from crmine.warehouse import Workspace

    if not isinstance(source, Workspace):
        return _from_frame(source)
    ws = source
    key = id(ws.duck)
    b = merged_bands(ws.config.settings, bands)
    cube = _CACHE.get(key)
    if cube is not None and ws.read_only and cube.quick_signature[:1] == (_bands_key(b),):
        # Nobody writes a file open read-only (DuckDB locks writers out), so its cube stays
        # current; skipping the catalog query matters to a server answering in a millisecond.
        return cube
    quick = _quick_signature(ws.duck, b)
    if cube is not None and cube.quick_signature == quick:
        return cube
    sig = _signature(ws.duck, b)
    if ws.read_only and not _is_stored(ws.duck, sig):
        # Nothing can be written: a temporary table, private to this connection (a stored
        # cube that is current is read as it is, e.g. by the API server's read-only copy).
        sql = ws.con.compile(cube_expr(ws, b))
        ws.duck.execute(f"CREATE OR REPLACE TEMP TABLE crmine_cube AS {sql}")
        cube = Cube(ws.duck, "crmine_cube", _kinds(ws.duck, "crmine_cube"),
                    quick_signature=quick)
    else:
        # A stored table: compressed (dictionary-encoded dimensions scan about twice as fast
        # as a temporary table) and reused by the next process while its sources are unchanged.
        if not _is_stored(ws.duck, sig):
            sql = ws.con.compile(cube_expr(ws, b))
            ws.duck.execute(f"CREATE OR REPLACE TABLE {CUBE_TABLE} AS {sql}")
            ws.duck.execute(f"CREATE OR REPLACE TABLE {_STATE_TABLE} AS "
                            f"SELECT {literal(sig)}::VARCHAR AS signature, now() AS built_at")
            if not ws._transactions:  # CHECKPOINT inside a transaction would abort it
                with contextlib.suppress(duckdb.Error):  # another process reading the file
                    ws.duck.execute("CHECKPOINT")
        cube = Cube(ws.duck, CUBE_TABLE, _kinds(ws.duck, CUBE_TABLE), quick_signature=quick)
    _CACHE[key] = cube
    return cube


def forget(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the cube cached for ``con`` (the connection is being closed)."""
    _CACHE.pop(id(con), None)


def stored_cube(folder: str | Path, bands: Bands | None = None) -> Cube | None:
    """The stored cube of the workspace in ``folder`` on a read-only DuckDB connection of its
    own (close ``cube.con`` when done), or None when it must be (re)built - or when anything
    is unusual (no workspace, another engine, a locked file): the caller then opens the
    workspace, which builds the cube or says what is wrong."""
    from crmine.config import CONFIG_FILE, load_config

    root = Path(folder).expanduser()
    if not (root / CONFIG_FILE).exists():
        return None
    try:
        config = load_config(root)
    except ConfigError:  # the workspace will report it properly
        return None
    path = root / config.warehouse_path
    if config.engine != "duckdb" or not path.exists():
        return None
    try:
        b = merged_bands(config.settings, bands)
        con = duckdb.connect(str(path), read_only=True)
    except (duckdb.Error, ConfigError):
        return None
    try:
        con.execute("SET enable_progress_bar = false")
        if not _is_stored(con, _signature(con, b)):
            con.close()
            return None
        return Cube(con, CUBE_TABLE, _kinds(con, CUBE_TABLE))
    except duckdb.Error:
        con.close()
        return None


def _kinds(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
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


def cube_columns(source: Workspace | pd.DataFrame | ir.Table | str | Path, *,
                 bands: Bands | None = None) -> dict[str, str]:
    """The cube's dimensions and measures: column name -> kind (text, number, bool, date)."""
    from crmine.cube._query import opened

    with opened(source, bands) as cube:
        return dict(cube.kinds)
