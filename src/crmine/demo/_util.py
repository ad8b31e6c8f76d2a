"""Small vectorised sampling helpers shared by the generator modules."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["choice_rows", "days_to_ts", "group_rank", "shop_hours"]

_HOUR_WEIGHT = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.5, 3.5, 4.5, 5, 5.5, 5,
                         4.5, 4.5, 4.5, 5, 5.5, 6.5, 7.5, 7.5, 5.5, 3], dtype=float)  # fmt: skip


def choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (non-negative rows), vectorised."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


def shop_hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Fraction of a day for ``n`` events, peaking at lunch and in the evening."""
    hour = rng.choice(24, size=n, p=_HOUR_WEIGHT / _HOUR_WEIGHT.sum())
    return (hour + rng.random(n)) / 24.0


def group_rank(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal, contiguous ``groups``."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[True, groups[1:] != groups[:-1]]
    start_pos = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    return np.arange(n) - start_pos


def days_to_ts(days: ArrayLike, origin: pd.Timestamp) -> pd.DatetimeIndex:
    """Timestamps ``origin + days`` to the second; NaN days become NaT.

    Done in integer seconds because pandas' float-to-timedelta cast of NaN trips an integer
    overflow warning inside NumPy.
    """
    values = np.asarray(days, dtype=float)
    ok = np.isfinite(values)
    seconds = np.zeros(values.shape, dtype=np.int64)
    seconds[ok] = np.round(values[ok] * 86400.0).astype(np.int64)
    stamps = np.datetime64(origin.to_datetime64(), "s") + seconds.astype("timedelta64[s]")
    stamps = stamps.astype("datetime64[ns]")
    stamps[~ok] = np.datetime64("NaT")
    return pd.DatetimeIndex(stamps)
