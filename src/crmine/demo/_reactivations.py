"""Planted lifecycle dynamics: repeat customers who lapse for a long gap and come back.

A post-processing of the generated order lines (the buy-till-you-die draws are left alone).
Up to 5 % of repeat customers (``SHARE``) are picked; who qualifies (below) makes it about
4 % (69 of 1,715 at 2,000 customers, seed 0). For each, the orders after a chosen
purchase (the *lapse start*) are moved later in time by one continuous, increasing map of time:

* the first later purchase moves to a known day in the win-back week (``reactivated_on``,
  ``WINBACK_START`` to 7 days after), at least ``MIN_GAP_CYCLES`` of the customer's own cycles
  (median days between their purchase days before the lapse) and ``MIN_GAP_DAYS`` after the
  lapse start;
* the next purchase moves one own cycle after the comeback, and the later ones are squeezed
  linearly (in order) into the time between there and the end of the data.

So every purchase is kept (the BG/NBD counts, first purchases and spend are unchanged), returns
stay after the orders they return, and the customer is ``lapsed``/``at_risk`` inside the gap and
``reactivated`` in the days after the comeback. Picked are living repeat customers with at
least three purchase days before the lapse and an own cycle of 8 to 90 days (so one week after
the comeback they have not bought again yet). The truth is ``truth.lifecycle_reactivations``
(``customer_id, lapse_start, reactivated_on, cycle_days``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmine.demo._spec import DAYS, START
from crmine.demo._util import days_to_ts

__all__ = ["REACTIVATION_COLUMNS", "WINBACK_START", "plant_reactivations"]

SHARE = 0.05
WINBACK_START = pd.Timestamp("2026-03-02")  # 120 days before the end of the data
WINBACK_DAYS = 7
MIN_GAP_CYCLES = 6.0
MIN_GAP_DAYS = 45.0
MIN_PRE_DAYS = 3
CYCLE_RANGE = (8.0, 90.0)
REACTIVATION_COLUMNS = ("customer_id", "lapse_start", "reactivated_on", "cycle_days")


def _empty_truth() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": pd.Series(dtype="string"),
        "lapse_start": pd.Series(dtype="datetime64[ns]"),
        "reactivated_on": pd.Series(dtype="datetime64[ns]"),
        "cycle_days": pd.Series(dtype=float),
    })  # fmt: skip


def _move(t: np.ndarray, anchors_from: list[float], anchors_to: list[float]) -> np.ndarray:
    """``t`` through the continuous increasing map joining the anchors (identity before the
    first): one map for all of a customer's lines keeps every return after its order."""
    xs, ys = np.asarray(anchors_from), np.asarray(anchors_to)
    return np.where(t <= xs[0], t, np.interp(t, xs, ys))


def plant_reactivations(
    rng: np.random.Generator, orders: pd.DataFrame, customer_truth: pd.DataFrame, *,
    signal: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Move the picked customers' later orders (module docstring).

    Returns the order lines (same rows, some ``order_ts`` and ``promotion_id`` changed, in time
    order), the customer truth with ``last_purchase_ts`` and ``repeat_purchase_days`` updated,
    and the truth table of the planted reactivations (empty when ``signal`` is False).
    """
    if not signal:
        return orders, customer_truth, _empty_truth()
    t = ((orders["order_ts"] - START) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    known = orders["customer_id"].notna().to_numpy()
    completed = known & (orders["status"] == "completed").to_numpy()
    cust = orders["customer_id"].to_numpy()
    ids = customer_truth["customer_id"].to_numpy()
    repeat = customer_truth["repeat_purchase_days"].to_numpy() >= 1
    n_plant = round(SHARE * int(repeat.sum()))
    # Draws for every customer up front, so who is picked does not change the other draws.
    order = rng.permutation(len(ids))
    comeback_offset = rng.integers(0, WINBACK_DAYS, len(ids))
    gap_cycles = rng.uniform(MIN_GAP_CYCLES, MIN_GAP_CYCLES + 3.0, len(ids))
    winback = float((WINBACK_START - START).days)
    alive = customer_truth["alive"].to_numpy(dtype=bool)

    # Each customer's line rows as one slice of the rows sorted by customer (no groupby loop).
    known_rows = np.flatnonzero(known)
    by_cust = known_rows[np.argsort(cust[known_rows].astype(str), kind="stable")]
    sorted_ids = cust[by_cust].astype(str)
    lo = np.searchsorted(sorted_ids, ids.astype(str), side="left")
    hi = np.searchsorted(sorted_ids, ids.astype(str), side="right")
    new_t = t.copy()
    planted: list[dict[str, object]] = []
    for i in order:
        if len(planted) >= n_plant:
            break
        if not (repeat[i] and alive[i]) or lo[i] == hi[i]:
            continue
        rows = by_cust[lo[i]:hi[i]]
        buy = rows[completed[rows]]
        days = np.unique(np.floor(t[buy]))
        r_day = winback + float(comeback_offset[i])
        before = days[days < r_day - MIN_GAP_DAYS]
        if len(before) < MIN_PRE_DAYS:
            continue
        # the lapse starts at the last purchase day that leaves gap_cycles own cycles
        first_cycle = float(np.median(np.diff(before)))
        before = days[days < r_day - max(gap_cycles[i] * first_cycle, MIN_GAP_DAYS)]
        if len(before) < MIN_PRE_DAYS or not (days > before[-1]).any():
            continue
        cycle = float(np.median(np.diff(before)))
        if not CYCLE_RANGE[0] <= cycle <= CYCLE_RANGE[1]:
            continue
        if r_day - before[-1] < MIN_GAP_CYCLES * cycle:
            continue
        last_before = float(t[buy][np.floor(t[buy]) == before[-1]].max())
        later = np.sort(t[buy][t[buy] > last_before])
        src = [last_before, float(later[0])]
        dst = [last_before, r_day + (later[0] % 1.0)]
        if len(later) > 1:
            src.append(float(later[1]))
            dst.append(r_day + cycle + (later[1] % 1.0))
        src.append(DAYS)
        dst.append(DAYS)
        if not np.all(np.diff(dst) > 0) or not np.all(np.diff(src) > 0):
            continue
        new_t[rows] = _move(t[rows], src, dst)
        planted.append({
            "customer_id": ids[i],
            "lapse_start": days_to_ts([last_before], START)[0],
            "reactivated_on": days_to_ts([dst[1]], START)[0],
            "cycle_days": cycle,
        })  # fmt: skip

    if not planted:
        return orders, customer_truth, _empty_truth()
    out = orders.copy()
    moved = new_t != t
    out.loc[moved, "order_ts"] = days_to_ts(new_t[moved], START)
    # a moved line keeps its promotion: it was bought at that promotion's price
    out = out.iloc[np.lexsort((out["line_number"].to_numpy(), out["order_ts"].to_numpy()))]
    out = out.reset_index(drop=True)

    truth = _empty_truth().iloc[:0]
    truth = pd.concat([truth, pd.DataFrame(planted)], ignore_index=True)
    truth = truth.astype({"customer_id": "string", "cycle_days": float})
    ct = customer_truth.copy()
    done = out[out["customer_id"].isin(truth["customer_id"]) & (out["status"] == "completed")]
    per = done.groupby("customer_id")["order_ts"].agg(
        last="max", days=lambda s: s.dt.floor("D").nunique())
    idx = ct["customer_id"].isin(per.index)
    ct.loc[idx, "last_purchase_ts"] = ct.loc[idx, "customer_id"].map(per["last"]).to_numpy()
    ct.loc[idx, "repeat_purchase_days"] = (
        ct.loc[idx, "customer_id"].map(per["days"]).to_numpy() - 1)
    return out, ct, truth.sort_values("customer_id").reset_index(drop=True)
