"""Forecast regressors from the warehouse's calendars: the promotion plan and the holidays.

``core.dim_promotion_calendar`` (``crmine ingest promotion_calendar FILE``) and
``core.dim_holidays`` (``crmine ingest holidays FILE``) give values for the past *and* the
future, which is what a regressor of a forecast needs. Per forecast series (a node of the
hierarchy: ``total``, ``total/web``…) and period:

- ``promotion``: the share of the period a promotion runs, times the share of the series'
  revenue the promotion covers (its category / product / channel scope, from the order
  lines' mix; 1 for a shop-wide promotion);
- ``after_promotion``: the same for the week after each promotion ends (customers who
  stocked up buy less: the pull-forward);
- ``holiday:<name>``: the share of the period's days that are that holiday, times the share
  of the series' revenue from where it is kept (country / region; everywhere when blank).

A calendar that ends before the forecast horizon does says nothing about the periods after
it: they are taken as having no promotion (or holiday), and the summary says where the
calendar ends.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmine.exceptions import SchemaError
from crmine.sales._summary import sales_by

if TYPE_CHECKING:
    from crmine.warehouse import Workspace

__all__ = ["HOLIDAYS", "PROMOTIONS", "CalendarRegressors", "node_id", "workspace_regressors"]

PROMOTIONS = "core.dim_promotion_calendar"
HOLIDAYS = "core.dim_holidays"
TOTAL = "total"
ALL = "(all)"
AFTER_DAYS = 7  # the pull-forward window after a promotion ends
MAX_HOLIDAYS = 8  # holiday names with a regressor of their own; the rest share one
# scope column of the calendar -> the sales_by dimension it is matched on
PROMOTION_SCOPE = {"category": "category", "product_id": "product", "channel": "channel"}
HOLIDAY_SCOPE = {"country": "country", "region": "region"}


@dataclass(frozen=True, slots=True)
class CalendarRegressors:
    """Regressor values per series and period (history and horizon) and what they came from."""

    frame: pd.DataFrame  # unique_id, ds and one column per regressor
    regressors: tuple[str, ...]
    promotions: int
    holidays: int
    promotions_end: str | None
    holidays_end: str | None

    def summary(self) -> dict[str, Any]:
        return {"regressors": list(self.regressors), "promotions": self.promotions,
                "holiday_days": self.holidays, "promotion_calendar_ends": self.promotions_end,
                "holiday_calendar_ends": self.holidays_end}  # fmt: skip


def clean_value(value: object) -> str:
    """A dimension value as the hierarchy's node ids spell it (no "/", "(none)" for blank)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "(none)"
    return str(value).replace("/", "-")


def node_id(values: Sequence[object]) -> str:
    """``total``, ``total/web``, ``total/web/books``: the unique_id of a hierarchy node."""
    return "/".join([TOTAL, *(clean_value(v) for v in values)])


def _read(ws: Workspace, table: str) -> pd.DataFrame:
    if not ws.has_table(table):
        return pd.DataFrame()
    return ws.duck.execute(f"SELECT * FROM {table}").df()


def _weights(ws: Workspace, dims: Sequence[str], scope: pd.DataFrame,
             columns: dict[str, str]) -> pd.DataFrame:
    """Per row of ``scope`` (its scope columns, NULL/"(all)" = any) and hierarchy node: the
    share of the node's revenue inside the scope. Returns index = scope rows, columns = nodes."""
    nodes: dict[str, None] = {}
    out: dict[int, dict[str, float]] = {}
    scoped = scope.copy()
    for c in columns:
        if c not in scoped:
            scoped[c] = None
        scoped[c] = scoped[c].where(scoped[c].notna() & (scoped[c].astype(str) != ALL), None)
    used = scoped[list(columns)].notna()
    for pattern, rows in scoped.groupby([used[c] for c in columns], sort=False):
        cols = [c for c, on in zip(columns, np.atleast_1d(pattern), strict=True) if on]
        dims_all = list(dict.fromkeys([*dims, *(columns[c] for c in cols)]))
        try:
            mix = sales_by(ws, dims_all, counts=False)
        except SchemaError as exc:
            warnings.warn(f"calendar rows scoped by {cols} are left out: {exc}", stacklevel=2)
            continue
        mix = mix[mix["revenue"] > 0]
        # one share per distinct scope (a calendar repeats the same few scopes)
        keys = rows[cols].astype(str).apply(tuple, axis=1) if cols else pd.Series(
            [()] * len(rows), index=rows.index)
        members: dict[tuple[str, ...], list[int]] = {}
        for i, key in keys.items():
            members.setdefault(tuple(key), []).append(int(i))
        for values, idx in members.items():
            inside = np.ones(len(mix), dtype=bool)
            for c, v in zip(cols, values, strict=True):
                inside &= (mix[columns[c]].astype(str) == v).to_numpy()
            shares: dict[str, float] = {}
            for k in range(len(dims) + 1):
                level = list(dims[:k])
                if not level:
                    total = float(mix["revenue"].sum())
                    shares[TOTAL] = float(mix.loc[inside, "revenue"].sum()) / total
                    continue
                total_by = mix.groupby(level)["revenue"].sum()
                part = mix[inside].groupby(level)["revenue"].sum()
                share = (part.reindex(total_by.index).fillna(0.0) / total_by).fillna(0.0)
                for key, v in share.items():
                    shares[node_id(key if isinstance(key, tuple) else (key,))] = float(v)
            nodes.update(dict.fromkeys(shares))
            for i in idx:
                out[i] = shares
    return pd.DataFrame.from_dict(out, orient="index").reindex(columns=list(nodes)).fillna(0.0)


def _day_share(days: np.ndarray, grid: pd.DatetimeIndex, step: pd.DateOffset) -> np.ndarray:
    """Per day (datetime64[D]) and period of ``grid``: 1 / days in the period where the day
    falls in it. Returns a (days, periods) matrix."""
    starts = grid.to_numpy("datetime64[D]")
    ends = (grid + step).to_numpy("datetime64[D]")
    pos = np.searchsorted(starts, days, side="right") - 1
    ok = (pos >= 0) & (days < ends[np.clip(pos, 0, None)])
    length = (ends - starts).astype(int).astype(float)
    mat = np.zeros((len(days), len(grid)))
    rows = np.nonzero(ok)[0]
    mat[rows, pos[ok]] = 1.0 / length[pos[ok]]
    return mat


def _span_days(start: pd.Series, end: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Every day of each [start, end] span: (row index, day)."""
    s = pd.to_datetime(start).to_numpy("datetime64[D]")
    e = pd.to_datetime(end).to_numpy("datetime64[D]")
    n = (e - s).astype(int) + 1
    n = np.maximum(n, 0)
    row = np.repeat(np.arange(len(s)), n)
    offset = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return row, np.repeat(s, n) + offset.astype("timedelta64[D]")


def _profile(weights: pd.DataFrame, row: np.ndarray, day: np.ndarray,
             grid: pd.DatetimeIndex, step: pd.DateOffset) -> pd.DataFrame:
    """Node x period values: sum over calendar days of the node's weight / period length."""
    share = _day_share(day, grid, step)  # day x period
    w = weights.reindex(row).fillna(0.0).to_numpy(float)  # day x node
    return pd.DataFrame(w.T @ share, index=weights.columns, columns=grid)


def workspace_regressors(
    ws: Workspace,
    dims: Sequence[str],
    grid: pd.DatetimeIndex,
    step: pd.DateOffset,
) -> CalendarRegressors | None:
    """The calendars' regressors for every node of the hierarchy over ``grid`` (history and
    horizon periods, each ``step`` long); None when the warehouse holds neither calendar or
    neither touches the periods."""
    promos = _read(ws, PROMOTIONS)
    holidays = _read(ws, HOLIDAYS)
    if promos.empty and holidays.empty:
        return None
    parts: dict[str, pd.DataFrame] = {}
    if len(promos):
        promos = promos.reset_index(drop=True)
        w = _weights(ws, dims, promos, PROMOTION_SCOPE)
        if len(w):
            row, day = _span_days(promos["start_date"], promos["end_date"])
            parts["promotion"] = _profile(w, row, day, grid, step)
            after = pd.to_datetime(promos["end_date"])
            row, day = _span_days(after + pd.Timedelta(days=1),
                                  after + pd.Timedelta(days=AFTER_DAYS))
            parts["after_promotion"] = _profile(w, row, day, grid, step)
    if len(holidays):
        holidays = holidays.reset_index(drop=True)
        w = _weights(ws, dims, holidays, HOLIDAY_SCOPE)
        if len(w):
            names = holidays["name"].astype(str)
            top = names.value_counts().index[:MAX_HOLIDAYS]
            label = names.where(names.isin(top), "other")
            for name in dict.fromkeys(label):
                rows = holidays.index[label == name]
                d = pd.to_datetime(holidays.loc[rows, "date"]).to_numpy("datetime64[D]")
                parts[f"holiday:{name}"] = _profile(w.loc[rows].reset_index(drop=True),
                                                    np.arange(len(rows)), d, grid, step)
    parts = {k: v for k, v in parts.items() if (v.to_numpy() != 0).any()}
    if not parts:
        return None
    first = next(iter(parts.values()))
    ids = first.index
    frame = pd.DataFrame({
        "unique_id": np.repeat(ids.to_numpy(), len(grid)),
        "ds": np.tile(grid.to_numpy(), len(ids)),
    })  # fmt: skip
    for name, p in parts.items():
        frame[name] = p.reindex(index=ids, columns=grid).fillna(0.0).to_numpy().ravel()

    def _end(table: pd.DataFrame, col: str) -> str | None:
        return str(pd.to_datetime(table[col]).max().date()) if len(table) else None

    return CalendarRegressors(
        frame=frame,
        regressors=tuple(parts),
        promotions=len(promos),
        holidays=len(holidays),
        promotions_end=_end(promos, "end_date"),
        holidays_end=_end(holidays, "date"),
    )
