"""Holiday and promotion regressors: a linear effect per series, taken out before the models.

Exponential smoothing and Theta take no regressors, so the effect is estimated first and the
models forecast what is left (regression with time-series errors, two-step): per series,
first differences of ``y`` on first differences of the regressors (differencing removes the
level and the seasonal-free trend, so a promotion that lifts sales while it runs is not
confused with them; Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed.,
ch. 10). The effect is estimated on the history before the first backtest window only, then
``X·b`` is added back to every forecast, interval bounds included: the future regressor
values are known (a promotion plan, a holiday calendar).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmine.exceptions import DataError, MissingColumnError

__all__ = ["check_future", "effects", "regressor_columns", "shift"]

RIDGE = 1e-6  # keeps the fit defined for a regressor that never changes in a series


def regressor_columns(frame: pd.DataFrame) -> list[str]:
    """Columns beyond ``unique_id, ds, y``: the regressors (numeric, checked)."""
    cols = [c for c in frame.columns if c not in ("unique_id", "ds", "y")]
    for c in cols:
        values = pd.to_numeric(frame[c], errors="coerce")
        bad = frame.index[~np.isfinite(values.to_numpy(float))]
        if len(bad):
            raise DataError(
                f"forecast frame row {bad[0]}: regressor {c!r} holds {frame.loc[bad[0], c]!r}, "
                "not a finite number (a promotion share, a 0/1 holiday flag…)"
            )
    return cols


def check_future(
    future: pd.DataFrame | None, regressors: Sequence[str], expected: pd.DataFrame
) -> pd.DataFrame:
    """The regressors' values over the horizon: one row per series and future period."""
    if not regressors:
        return expected
    if future is None:
        raise DataError(
            f"forecast frame has regressor columns {list(regressors)}: pass future= with "
            "unique_id, ds and their values for every forecast period (or drop the columns)"
        )
    missing = [c for c in ("unique_id", "ds", *regressors) if c not in future.columns]
    if missing:
        raise MissingColumnError(
            f"forecast future= needs columns unique_id, ds and the regressors; missing {missing}"
        )
    fut = future[["unique_id", "ds", *regressors]].copy()
    fut["unique_id"] = fut["unique_id"].astype(str)
    fut["ds"] = pd.to_datetime(fut["ds"])
    merged = expected.merge(fut, on=["unique_id", "ds"], how="left")
    gap = merged[merged[list(regressors)].isna().any(axis=1)]
    if len(gap):
        row = gap.iloc[0]
        raise DataError(
            f"forecast future= has no regressor values for series {row['unique_id']!r} at "
            f"{row['ds'].date()} ({len(gap)} forecast periods lack them); give every "
            "regressor for every series and period of the horizon"
        )
    return merged


def effects(history: pd.DataFrame, regressors: Sequence[str], *,
            pooled: bool = False) -> pd.DataFrame:
    """Per series the coefficient of each regressor (index unique_id, one column each).

    ``pooled``: one *relative* effect per regressor for all series (sales move by the same
    share of their level), each series' coefficient that share times its mean level. Where
    the series are nodes of one hierarchy (total, channels) with few events each (two
    Singles' Days before the backtest), a small channel's own estimate is mostly noise.
    """
    cols = list(regressors)
    if pooled:
        return _pooled_effects(history, cols)
    rows = {}
    for uid, g in history.groupby("unique_id", sort=False):
        d = g[["y", *cols]].to_numpy(float)
        d = np.diff(d, axis=0)
        if len(d) < len(cols) + 3:
            rows[uid] = np.zeros(len(cols))
            continue
        dx = np.column_stack([np.ones(len(d)), d[:, 1:]])  # intercept: the drift
        gram = dx.T @ dx + RIDGE * np.eye(dx.shape[1])
        beta = np.linalg.solve(gram, dx.T @ d[:, 0])
        rows[uid] = beta[1:]
    return pd.DataFrame.from_dict(rows, orient="index", columns=cols)


def _pooled_effects(history: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    ys, xs, scales = [], [], {}
    for uid, g in history.groupby("unique_id", sort=False):
        scale = float(np.abs(g["y"]).mean())
        scales[uid] = scale
        if len(g) < 3 or not scale > 0:
            continue
        d = np.diff(g[["y", *cols]].to_numpy(float), axis=0)
        d[:, 0] /= scale
        d -= d.mean(axis=0)  # the series' own drift
        ys.append(d[:, 0])
        xs.append(d[:, 1:])
    beta = np.zeros(len(cols))
    if ys and sum(len(y) for y in ys) >= len(cols) + 3:
        x, y = np.vstack(xs), np.concatenate(ys)
        beta = np.linalg.solve(x.T @ x + RIDGE * np.eye(len(cols)), x.T @ y)
    return pd.DataFrame({c: [beta[j] * scales[u] for u in scales] for j, c in enumerate(cols)},
                        index=list(scales))


def shift(frame: pd.DataFrame, coef: pd.DataFrame, regressors: Sequence[str]) -> np.ndarray:
    """``X·b`` per row of ``frame`` (which holds ``unique_id`` and the regressor columns)."""
    b = coef.reindex(frame["unique_id"]).fillna(0.0).to_numpy(float)
    return (frame[list(regressors)].to_numpy(float) * b).sum(axis=1)
