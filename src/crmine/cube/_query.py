"""Cube queries: count, list, export and group the customers matching every filter, pivot."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmine.cube._filters import Filter, Where, parse_where, quote, where_sql
from crmine.cube._table import Bands, Cube, prepare, stored_cube
from crmine.exceptions import DataError, MissingColumnError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd
    import pyarrow as pa

    from crmine.cube._index import CubeIndex
    from crmine.warehouse import Workspace

__all__ = ["MAX_PAGE_SIZE", "CubeResult", "opened", "pivot", "query"]

MAX_PAGE_SIZE = 10_000


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
        import pandas as pd

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


@contextmanager
def opened(source: Workspace | Cube | pd.DataFrame | ir.Table | str | Path,
           bands: Bands | None = None) -> Iterator[Cube]:
    """The cube of ``source`` for the duration of the block.

    A workspace folder (str or Path) is read with DuckDB alone when its stored cube is
    current; otherwise the workspace is opened (and closed after), building the cube. A
    prepared :class:`Cube` is used as it is.
    """
    if isinstance(source, Cube):
        yield source
        return
    if isinstance(source, str | Path):
        cube = stored_cube(source, bands)
        if cube is not None:
            try:
                yield cube
            finally:
                cube.con.close()
            return
        from crmine.warehouse import Workspace

        with Workspace.open(source) as ws:
            yield prepare(ws, bands)
        return
    yield prepare(source, bands)


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
        expr = quote(col) if kinds[col] == "number" else f"CAST({quote(col)} AS INTEGER)"
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
    source: Workspace | Cube | pd.DataFrame | ir.Table | str | Path,
    *,
    where: Where = None,
    by: str | Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
    list_customers: bool = False,
    columns: Sequence[str] | None = None,
    page: int = 1,
    page_size: int = 50,
    export: str | Path | None = None,
    bands: Bands | None = None,
) -> CubeResult:
    """Count, list, export and group the customers matching every filter.

    Parameters
    ----------
    source : Workspace, workspace folder, DataFrame or ibis.Table
        A workspace or its folder (the cube is built from its core and mart tables; a folder
        whose stored cube is current is read without opening the workspace) or any
        one-row-per-customer table with a ``customer_id`` column.
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
    with opened(source, bands) as cube:
        return _run(cube, parse_where(where), by, measures, list_customers, columns, page,
                    page_size, export)


def _run(cube: Cube, filters: list[Filter], by: str | Sequence[str] | None,
         measures: Sequence[str] | None, list_customers: bool, columns: Sequence[str] | None,
         page: int, page_size: int, export: str | Path | None) -> CubeResult:
    con, kinds, table = cube.con, cube.kinds, cube.table
    where = where_sql(kinds, filters, cube.distinct)
    index = _index_for(cube, filters)

    by_cols = [by] if isinstance(by, str) else list(by or [])
    groups = None
    if by_cols:
        unknown = [b for b in by_cols if b not in kinds]
        if unknown:
            raise MissingColumnError(f"unknown cube dimension(s) {unknown} in by; valid: "
                                     f"{', '.join(sorted(kinds))}")
        ms = list(measures) if measures else _default_measures(kinds)
        sel = ", ".join(f"{_measure_sql(m, kinds)} AS {quote(m)}" for m in ms)
        dims = ", ".join(quote(b) for b in by_cols)
        # One scan answers both: the total is the sum of the group counts.
        groups = con.execute(
            f"SELECT {dims}, {sel}, count(*) AS __n FROM {table}{where} GROUP BY {dims} "
            f"ORDER BY {dims} NULLS LAST").fetch_df()
        count = int(groups.pop("__n").sum())
    elif index is not None:
        count = index.count(filters)
    else:
        count = int(con.execute(f"SELECT count(*) FROM {table}{where}").fetchall()[0][0])

    cols = list(columns) if columns else list(kinds)
    unknown_cols = [c for c in cols if c not in kinds]
    if unknown_cols:
        raise MissingColumnError(f"unknown column(s) {unknown_cols}; valid: "
                                 f"{', '.join(sorted(kinds))}")
    if "customer_id" not in cols:
        cols.insert(0, "customer_id")
    col_sql = ", ".join(quote(c) for c in cols)
    customers = None
    pages = max(1, math.ceil(count / page_size))
    if list_customers and index is not None:
        customers = _rows_of(cube, col_sql, index.ids(filters, (page - 1) * page_size,
                                                       page_size))
    elif list_customers:
        customers = con.execute(
            f"SELECT {col_sql} FROM {table}{where} ORDER BY customer_id "
            f"LIMIT {int(page_size)} OFFSET {int((page - 1) * page_size)}").fetch_df()
    exported = None
    if export is not None:
        exported = Path(export)
        _check_export(exported)
        rows = con.execute(f"SELECT {col_sql} FROM {table}{where} ORDER BY customer_id"
                           ).fetch_arrow_table()
        _write(rows, exported)
    return CubeResult(count=count, filters=tuple(filters), groups=groups, customers=customers,
                      page=page, page_size=page_size if list_customers else 0,
                      pages=pages if list_customers else 0, exported=exported,
                      by=tuple(by_cols))


def _index_for(cube: Cube, filters: Sequence[Filter]) -> CubeIndex | None:
    """The cube's in-memory index when it can answer ``filters`` (numeric columns it needs
    loaded on first use), else None: the SQL path answers."""
    index = cube.index
    if index is None:
        return None
    index.load(cube.con, index.loadable(filters))
    return index if index.answerable(filters) else None


def _rows_of(cube: Cube, col_sql: str, ids: Sequence[str]) -> pd.DataFrame:
    """The cube's rows of ``ids`` in customer_id order."""
    from crmine.cube._filters import literal

    listed = ", ".join(literal(i) for i in ids) or "NULL"
    return cube.con.execute(f"SELECT {col_sql} FROM {cube.table} WHERE customer_id IN "
                            f"({listed}) ORDER BY customer_id").fetch_df()


def _check_export(path: Path) -> None:
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise DataError(f"cannot export to {path.name!r}: use a .csv or .parquet file name")


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    else:
        import pyarrow.csv as pa_csv

        pa_csv.write_csv(table, path)


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
