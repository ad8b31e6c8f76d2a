"""Customer attributes that record the label window, found from the data, not their names.

``core.dim_customer`` without SCD2 history holds each attribute as of today. Names such as
``total_orders`` or ``last_order_date`` give some of those away (see
:func:`crmine.churn._labels.behaviour_aggregates`); an "engagement score" or a "segment"
refreshed by another system last night does not. What gives every such column away is when
it was computed: a trait of the customer (income, region, plan) tells about their buying in
the weeks before a cut-off about as much as in the weeks after it, whereas a column computed
after the cut-off follows the buying in the label window far more closely than the buying
before it. That asymmetry, at the latest cut-off, is the test (with orders). The label
gives two more: today's value of a recent state predicts the latest cut-off's churn (whose
window ends today) far better than an earlier cut-off's, and no attribute of a real customer
table alone predicts out-of-time churn almost perfectly (the best real drivers, a contract
type or a tenure, reach 0.7-0.8 ROC AUC). A leaky column is dropped from every snapshot, with a
:class:`~crmine.churn.LeakageWarning` (recorded in the verdict).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crmine.churn._prep import LeakageWarning

__all__ = ["IMPLAUSIBLE_AUC", "MIN_AFTER_CORRELATION", "MIN_ASYMMETRY", "MIN_AUC_DRIFT",
           "drop_leaky_attributes", "leaky_attributes"]

# A column leaks when its rank correlation with the orders in the label window is at least
# this strong, and stronger by at least MIN_ASYMMETRY than with the orders in the window just
# before the cut-off. A genuine trait driving purchase rates correlates with both alike
# (differences of a few hundredths on a few thousand customers); a count of orders in a
# Poisson window limits any trait's correlation well below 1.
MIN_AFTER_CORRELATION = 0.5
MIN_ASYMMETRY = 0.25
# One attribute alone predicting the latest cut-off's churn at this ROC AUC is implausible.
IMPLAUSIBLE_AUC = 0.95
# ...or better by this much than it predicts the earlier cut-offs' churn (a trait's power
# changes little from one cut-off to the next).
MIN_AUC_DRIFT = 0.2


def _orders_in(orders: pd.DataFrame, ids: pd.Series, start: pd.Timestamp,
               end: pd.Timestamp) -> np.ndarray:
    ts = pd.to_datetime(orders["order_ts"])
    inside = orders.loc[(ts >= start) & (ts < end), "customer_id"].astype(str)
    counts = inside.value_counts()
    return ids.astype(str).map(counts).fillna(0).to_numpy(dtype=float)


def _as_numbers(column: pd.Series) -> np.ndarray | None:
    """The column as numbers to rank (booleans 0/1); None for text."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(column):
        return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    return None


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 20 or np.nanstd(x[ok]) == 0 or np.std(y[ok]) == 0:
        return float("nan")
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    return float(np.corrcoef(rx, ry)[0, 1])


def _auc(x: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC of ``x`` alone for ``y``, either direction (NaN when it cannot be computed)."""
    from sklearn.metrics import roc_auc_score

    ok = np.isfinite(x)
    if ok.sum() < 20 or len(np.unique(y[ok])) < 2 or np.std(x[ok]) == 0:
        return float("nan")
    auc = float(roc_auc_score(y[ok], x[ok]))
    return max(auc, 1 - auc)


def _label_leak(x: np.ndarray, y: np.ndarray, latest: np.ndarray, cutoff: pd.Timestamp
                ) -> str | None:
    auc_latest = _auc(x[latest], y[latest])
    if not np.isfinite(auc_latest):
        return None
    if auc_latest >= IMPLAUSIBLE_AUC:
        return (f"alone it predicts churn after the cut-off {cutoff.date()} at a ROC AUC of "
                f"{auc_latest:.3f}, more than any attribute known beforehand could")
    auc_earlier = _auc(x[~latest], y[~latest]) if (~latest).any() else float("nan")
    if np.isfinite(auc_earlier) and auc_latest - auc_earlier >= MIN_AUC_DRIFT:
        return (f"alone it predicts churn after the latest cut-off {cutoff.date()} at a ROC "
                f"AUC of {auc_latest:.3f} but the earlier cut-offs' at {auc_earlier:.3f}: its "
                "value is today's, set by what happened in the latest window")
    return None


def leaky_attributes(X: pd.DataFrame, y: np.ndarray, attributes: list[str],
                     orders: pd.DataFrame | None, cutoff: pd.Timestamp,
                     window_days: int) -> dict[str, str]:
    """Attribute columns of ``X`` (snapshots, column ``cutoff``; ``cutoff`` the latest) that
    were computed after the cut-off, each with why: they predict the label implausibly well,
    far better at the latest cut-off than at earlier ones, or (with ``orders``) follow the
    orders of the label window ``[cutoff, cutoff + window_days)`` far more closely than
    those of the same length before it."""
    window = pd.Timedelta(days=window_days)
    latest = (X["cutoff"] == cutoff).to_numpy()
    snapshot = X[latest]
    ids = snapshot["customer_id"]
    after = before = None
    if orders is not None:
        after = _orders_in(orders, ids, cutoff, cutoff + window)
        before = _orders_in(orders, ids, cutoff - window, cutoff)
    found: dict[str, str] = {}
    for col in attributes:
        values = _as_numbers(X[col])
        if values is None:
            continue
        if (why := _label_leak(values, y, latest, cutoff)) is not None:
            found[col] = why
            continue
        if after is None or before is None:
            continue
        x = values[latest]
        r_after, r_before = _spearman(x, after), _spearman(x, before)
        if not (np.isfinite(r_after) and np.isfinite(r_before)):
            continue
        if abs(r_after) >= MIN_AFTER_CORRELATION and \
                abs(r_after) - abs(r_before) >= MIN_ASYMMETRY:
            found[col] = (f"its rank correlation with each customer's orders in the churn "
                          f"window after the cut-off {cutoff.date()} is {r_after:+.2f}, with "
                          f"the orders of the {window_days} days before it {r_before:+.2f}: "
                          "it was computed after the cut-off")
    return found


def drop_leaky_attributes(X: pd.DataFrame, y: np.ndarray, attributes: list[str],
                          orders: pd.DataFrame | None, latest: pd.Timestamp,
                          window_days: int) -> tuple[pd.DataFrame, list[str]]:
    """``X`` (all snapshots, column ``cutoff``) without the leaky attribute columns (see
    :func:`leaky_attributes`); a :class:`LeakageWarning` and a note for each."""
    found = leaky_attributes(X, y, [c for c in attributes if c in X.columns], orders,
                             latest, window_days)
    notes = []
    for col, why in found.items():
        message = (f"customer attribute {col!r} dropped as leakage: {why}; core.dim_customer "
                   "has no history (valid_from/valid_to), so it holds today's value, which "
                   "records the very behaviour churn is predicted from")
        warnings.warn(message, LeakageWarning, stacklevel=2)
        notes.append(message)
    return X.drop(columns=list(found)), notes
