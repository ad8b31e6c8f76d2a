"""The spend cube: media spend rows (``core.fct_marketing_spend``) filtered and grouped by any
of their dimensions (channel, campaign, ad set, ad, age band, gender, interest, date and
period) with sums of spend, impressions, clicks and conversions and the ratios built from them.

The same filters as the customer cube (``channel=search,social``, ``spend>=100``,
``period>=2024-01-01``), validated against the rows' own values. Ratios are ratios of the
sums (CPA is the group's spend over its conversions, not a mean of per-row CPAs); their
intervals are in ``crmine campaigns spend``.

For example, spend and results of search by age band and gender (``ws`` a workspace holding
spend rows)::

    spend_query(ws, where=["channel=search"], by=["age", "gender"]).groups
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from crmine.cube._filters import Where, parse_where, quote, where_sql
from crmine.cube._query import CubeResult
from crmine.cube._table import Cube, _kinds
from crmine.exceptions import ConfigError, DataError, MissingColumnError

if TYPE_CHECKING:
    from crmine.warehouse import Workspace

__all__ = ["SPEND_MEASURES", "spend_columns", "spend_query"]

SPEND_TABLE = "core.fct_marketing_spend"
_VIEW = "crmine_spend_cube"
_SUMMED = ("spend", "impressions", "clicks", "conversions", "approved_conversions", "revenue")
# Ratios of sums: numerator, denominator, scale.
_RATIOS = {"ctr": ("clicks", "impressions", 1.0), "cpc": ("spend", "clicks", 1.0),
           "cpm": ("spend", "impressions", 1000.0),
           "conversion_rate": ("conversions", "clicks", 1.0),
           "cpa": ("spend", "conversions", 1.0),
           "approved_cpa": ("spend", "approved_conversions", 1.0),
           "roas": ("revenue", "spend", 1.0)}  # fmt: skip
SPEND_MEASURES = ("rows", *_SUMMED, *_RATIOS)
_DEFAULT = ("rows", "spend", "impressions", "clicks", "conversions", "revenue", "cpa", "roas")
_BOOKKEEPING = ("load_id", "source_row", "period")
_UNITS = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}


def _measure_sql(name: str, kinds: dict[str, str]) -> str:
    if name == "rows":
        return "count(*)"
    if name in _SUMMED and name in kinds:
        return f"coalesce(sum({quote(name)}), 0)"
    if name in _RATIOS:
        num, den, scale = _RATIOS[name]
        if {num, den} <= set(kinds):
            return f"{scale!r} * sum({quote(num)}) / nullif(sum({quote(den)}), 0)"
    m = re.match(r"^(sum|avg|min|max|median):(.+)$", name)
    if m and kinds.get(m.group(2)) == "number":
        return f"{m.group(1)}({quote(m.group(2))})"
    numeric = sorted(c for c, k in kinds.items() if k == "number")
    raise MissingColumnError(
        f"unknown spend measure {name!r}; valid: {', '.join(SPEND_MEASURES)} (those the rows "
        f"hold) or sum:/avg:/min:/max:/median: of a numeric column ({', '.join(numeric)})")


def _spend_cube(ws: Workspace, period: str) -> Cube:
    """A view over the spend rows with their ``period`` (date truncated to ``period``)."""
    if period not in _UNITS:
        raise ConfigError(f"period must be D, W, M, Q or Y; got {period!r}")
    if not ws.has_table(SPEND_TABLE):
        raise DataError(f"{ws.root}: no {SPEND_TABLE}; load an ad-platform export with "
                        "`crmine ingest marketing_spend FILE`")  # fmt: skip
    # The load's bookkeeping columns are no dimension to explore.
    keep = [c for c in _kinds(ws.duck, SPEND_TABLE) if c not in _BOOKKEEPING]
    ws.duck.execute(
        f"CREATE OR REPLACE TEMP VIEW {_VIEW} AS SELECT {', '.join(map(quote, keep))}, "
        f"CAST(date_trunc('{_UNITS[period]}', date) AS DATE) AS period FROM {SPEND_TABLE}")
    return Cube(ws.duck, _VIEW, _kinds(ws.duck, _VIEW))


def _opened_workspace(source: Workspace | str | Path) -> tuple[Workspace, bool]:
    from crmine.warehouse import Workspace

    if isinstance(source, Workspace):
        return source, False
    return Workspace.open(source, read_only=True), True


def spend_columns(source: Workspace | str | Path, *, period: str = "W") -> dict[str, str]:
    """The spend cube's dimensions and measures: column name -> kind (text, number, date)."""
    ws, own = _opened_workspace(source)
    try:
        return dict(_spend_cube(ws, period).kinds)
    finally:
        if own:
            ws.close()


def spend_query(source: Workspace | str | Path, *, where: Where = None,
                by: str | Sequence[str] | None = None, measures: Sequence[str] | None = None,
                period: str = "W") -> CubeResult:
    """Spend rows matching every filter: their number (``count``) and, with ``by``, one row
    per combination of the dimensions with the measures.

    Parameters
    ----------
    source : Workspace or workspace folder
    where : filters as for :func:`crmine.cube.query` (``channel=search,social``,
        ``age=25-34``, ``period>=2024-01-01``, ``spend>100``)
    by : dimension(s) to group by: channel, campaign, ad_set, ad, age, gender, interest,
        date, period (any the rows hold)
    measures : rows, spend, impressions, clicks, conversions, approved_conversions, revenue
        (sums), ctr, cpc, cpm, conversion_rate, cpa, approved_cpa, roas (ratios of the sums),
        or ``sum:``/``avg:``/... of a numeric column. Default: rows, the sums of spend,
        impressions, clicks, conversions and revenue, CPA and ROAS.
    period : D, W, M, Q or Y: what the ``period`` dimension is (default weeks)
    """
    ws, own = _opened_workspace(source)
    try:
        cube = _spend_cube(ws, period)
        filters = parse_where(where)
        kinds = cube.kinds
        where_clause = where_sql(kinds, filters, cube.distinct, subject="spend row")
        by_cols = [by] if isinstance(by, str) else list(by or [])
        unknown = [b for b in by_cols if b not in kinds]
        if unknown:
            raise MissingColumnError(f"unknown spend dimension(s) {unknown} in by; valid: "
                                     f"{', '.join(sorted(kinds))}")  # fmt: skip
        if not by_cols:
            count = int(cube.con.execute(
                f"SELECT count(*) FROM {cube.table}{where_clause}").fetchall()[0][0])
            return CubeResult(count=count, filters=tuple(filters))
        wanted = list(measures) if measures else [m for m in _DEFAULT if m == "rows"
                                                   or _RATIOS.get(m, (m, m))[0] in kinds]
        sel = ", ".join(f"{_measure_sql(m, kinds)} AS {quote(m)}" for m in wanted)
        dims = ", ".join(quote(b) for b in by_cols)
        groups = cube.con.execute(
            f"SELECT {dims}, {sel}, count(*) AS __n FROM {cube.table}{where_clause} "
            f"GROUP BY {dims} ORDER BY {dims} NULLS LAST").fetch_df()
        count = int(groups.pop("__n").sum())
        return CubeResult(count=count, filters=tuple(filters), groups=groups,
                          by=tuple(by_cols))
    finally:
        if own:
            ws.close()
