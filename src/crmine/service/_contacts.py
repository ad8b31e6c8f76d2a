"""Contact analysis: volume, resolution time, repeat contacts, SLA, complaint rates, CSAT.

Pure functions of a tickets frame (the columns of ``core.fct_tickets``), so they run the same
on a workspace or on a DataFrame in a notebook.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "GROUP_COLUMNS",
    "PERIOD_COLUMNS",
    "contact_groups",
    "contact_periods",
    "prepare_tickets",
    "resolution_curves",
]

DIMENSIONS = ("all", "category", "channel", "priority")
GROUP_COLUMNS = (
    "dimension", "value", "tickets", "customers", "complaints", "complaint_share",
    "closed", "still_open", "median_hours", "p75_hours", "p90_hours", "km_median_hours",
    "sla_breach_rate", "repeat_rate", "first_contact_resolution", "csat_responses",
    "csat_mean", "csat_satisfied_share",
)  # fmt: skip
PERIOD_COLUMNS = (
    "period", "tickets", "complaints", "customers_contacting", "active_customers", "orders",
    "complaints_per_1000_customers", "complaints_per_1000_orders", "backlog_at_end",
    "median_hours", "csat_mean",
)  # fmt: skip


def prepare_tickets(tickets: pd.DataFrame, end: pd.Timestamp, *, repeat_days: int,
                    sla_hours: float) -> pd.DataFrame:
    """Tickets with derived columns: ``hours`` (to close, or open so far at ``end``),
    ``resolved`` (closed), ``repeat`` (the same customer contacted again within
    ``repeat_days``), ``sla_breach`` (took or has been open longer than ``sla_hours``)."""
    t = tickets.copy()
    t["opened_ts"] = pd.to_datetime(t["opened_ts"])
    t["closed_ts"] = pd.to_datetime(t["closed_ts"])
    t = t[t["opened_ts"] < end].sort_values(["customer_id", "opened_ts"], kind="stable")
    t["resolved"] = t["closed_ts"].notna() & (t["closed_ts"] <= end)
    stop = t["closed_ts"].where(t["resolved"], end)
    t["hours"] = (stop - t["opened_ts"]).dt.total_seconds() / 3600.0
    nxt = t.groupby("customer_id")["opened_ts"].shift(-1)
    t["repeat"] = (nxt - t["opened_ts"]) <= pd.Timedelta(days=repeat_days)
    # A ticket opened within repeat_days of the end cannot be known to be final yet.
    t["repeat_known"] = t["repeat"] | (t["opened_ts"] <= end - pd.Timedelta(days=repeat_days))
    t["sla_breach"] = t["hours"] > sla_hours
    t["is_complaint"] = t["is_complaint"].fillna(False).astype(bool)
    for c in ("category", "channel", "priority"):
        t[c] = t[c].fillna("(unknown)").astype(str) if c in t else "(unknown)"
    return t.reset_index(drop=True)


def kaplan_meier(hours: np.ndarray, resolved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Kaplan-Meier share still open just after each distinct closing time (open tickets
    censored at their hours so far); numpy, as lifelines' fitter costs ~60 ms a call."""
    hours = np.asarray(hours, dtype=float)
    resolved = np.asarray(resolved, dtype=bool)
    times, inverse = np.unique(hours, return_inverse=True)
    closed = np.bincount(inverse, weights=resolved, minlength=len(times))
    leaving = np.bincount(inverse, minlength=len(times))
    at_risk = len(hours) - np.r_[0, np.cumsum(leaving)[:-1]]
    keep = closed > 0
    return times[keep], np.cumprod(1.0 - closed[keep] / at_risk[keep])


def _km_median(hours: pd.Series, resolved: pd.Series) -> float:
    if len(hours) < 2 or not resolved.any():
        return float("nan")
    times, share_open = kaplan_meier(hours.clip(lower=1e-6).to_numpy(), resolved.to_numpy())
    below = np.flatnonzero(share_open <= 0.5)
    return float(times[below[0]]) if len(below) else float("nan")


def _group_row(g: pd.DataFrame, dimension: str, value: str) -> dict[str, object]:
    closed = g[g["resolved"]]
    known = g[g["repeat_known"]]
    csat = g["csat"].dropna()
    q = closed["hours"].quantile([0.5, 0.75, 0.9]) if len(closed) else pd.Series(
        [np.nan] * 3, index=[0.5, 0.75, 0.9])
    repeat_rate = float(known["repeat"].mean()) if len(known) else float("nan")
    return {
        "dimension": dimension, "value": value, "tickets": len(g),
        "customers": int(g["customer_id"].nunique()),
        "complaints": int(g["is_complaint"].sum()),
        "complaint_share": float(g["is_complaint"].mean()),
        "closed": len(closed), "still_open": int((~g["resolved"]).sum()),
        "median_hours": float(q[0.5]), "p75_hours": float(q[0.75]), "p90_hours": float(q[0.9]),
        "km_median_hours": _km_median(g["hours"], g["resolved"]),
        "sla_breach_rate": float(g["sla_breach"].mean()),
        "repeat_rate": repeat_rate,
        "first_contact_resolution": float((known["resolved"] & ~known["repeat"]).mean())
        if len(known) else float("nan"),
        "csat_responses": len(csat),
        "csat_mean": float(csat.mean()) if len(csat) else float("nan"),
        "csat_satisfied_share": float((csat >= 4).mean()) if len(csat) else float("nan"),
    }  # fmt: skip


def contact_groups(t: pd.DataFrame, extra: dict[str, pd.Series] | None = None) -> pd.DataFrame:
    """One row per dimension (all, category, channel, priority and any ``extra`` per-ticket
    grouping such as a customer segment or topic) and value."""
    rows = [_group_row(t, "all", "all")]
    groups = {d: t[d] for d in DIMENSIONS[1:]} | (extra or {})
    for dimension, key in groups.items():
        for value, g in t.groupby(key.reindex(t.index).fillna("(none)").astype(str)):
            rows.append(_group_row(g, dimension, str(value)))
    return pd.DataFrame(rows, columns=list(GROUP_COLUMNS))


def contact_periods(t: pd.DataFrame, orders: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """One row per calendar month: volume, complaint rates per 1,000 customers and orders,
    backlog at the month's end, median resolution and CSAT.

    ``orders`` has ``order_ts`` and ``customer_id`` (one row per order); a customer is
    active in a month when they order or contact service in it.
    """
    if t.empty:
        return pd.DataFrame(columns=list(PERIOD_COLUMNS))
    period = t["opened_ts"].dt.to_period("M")
    months = pd.period_range(period.min(), (end - pd.Timedelta(seconds=1)).to_period("M"),
                             freq="M")
    o_period = pd.to_datetime(orders["order_ts"]).dt.to_period("M")
    n_orders = o_period.value_counts()
    active = pd.concat([
        pd.DataFrame({"period": o_period, "customer_id": orders["customer_id"]}),
        pd.DataFrame({"period": period, "customer_id": t["customer_id"]}),
    ]).drop_duplicates().groupby("period").size()
    g = t.groupby(period)
    out = pd.DataFrame({
        "tickets": g.size(), "complaints": g["is_complaint"].sum(),
        "customers_contacting": g["customer_id"].nunique(),
        "median_hours": g["hours"].median(), "csat_mean": g["csat"].mean(),
    }).reindex(months)
    out[["tickets", "complaints", "customers_contacting"]] = (
        out[["tickets", "complaints", "customers_contacting"]].fillna(0).astype("int64"))
    out["active_customers"] = active.reindex(months).fillna(0).astype("int64").to_numpy()
    out["orders"] = n_orders.reindex(months).fillna(0).astype("int64").to_numpy()
    out["complaints_per_1000_customers"] = (
        1000.0 * out["complaints"] / out["active_customers"].where(out["active_customers"] > 0))
    out["complaints_per_1000_orders"] = (
        1000.0 * out["complaints"] / out["orders"].where(out["orders"] > 0))
    month_end = np.array([min(m.to_timestamp(how="end"), end) for m in months],
                         dtype="datetime64[ns]")
    opened = t["opened_ts"].to_numpy()
    closed = t["closed_ts"].where(t["resolved"], pd.Timestamp.max).to_numpy()
    out["backlog_at_end"] = [int(((opened <= e) & (closed > e)).sum()) for e in month_end]
    out.index = out.index.astype(str)
    return out.rename_axis("period").reset_index()[list(PERIOD_COLUMNS)]


def resolution_curves(t: pd.DataFrame, *, by: str = "priority",
                      grid_hours: np.ndarray | None = None) -> pd.DataFrame:
    """Kaplan-Meier share of tickets still open after h hours, per ``by`` value and overall;
    tickets still open at the data end are censored, not dropped."""
    grid = grid_hours if grid_hours is not None else np.unique(
        np.r_[0, np.geomspace(0.5, 24 * 30, 40)])
    rows = []
    for value, g in [("all", t), *t.groupby(by)]:
        if len(g) < 2:
            continue
        times, share_open = kaplan_meier(g["hours"].clip(lower=1e-6).to_numpy(),
                                         g["resolved"].to_numpy())
        at = np.searchsorted(times, grid, side="right") - 1  # the last closing at or before
        still = np.where(at >= 0, share_open[np.maximum(at, 0)], 1.0)
        rows += [{"group": f"{by}={value}" if value != "all" else "all", "hours": float(h),
                  "share_open": float(s), "tickets": len(g)} for h, s in zip(grid, still,
                                                                             strict=True)]
    return pd.DataFrame(rows, columns=["group", "hours", "share_open", "tickets"])
