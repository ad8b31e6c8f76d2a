"""Conformal calibration of forecast intervals from the rolling-origin windows.

A model's own intervals assume its error model is right; on real sales they are usually too
narrow (parameters estimated, not known; shocks fatter than normal). Each interval is widened
or narrowed around its point forecast by one factor per model and level: the conformal
quantile of the errors of earlier windows measured in units of the model's own half-width
(split conformal prediction with a normalised score; Vovk, Gammerman & Shafer 2005; Lei et
al. 2018). The scores are pooled over the series, so even a 16-point backtest per series gives
a stable factor, and the series keep their own widths and their growth with the horizon.
A model without intervals (Croston, ADIDA) gets the series' MASE scale as its half-width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["apply_factors", "conformal_factors", "ensure_intervals"]

MIN_SCORES = 8  # fewer calibration errors than this: the model's intervals are left as they are


def ensure_intervals(
    frame: pd.DataFrame, models: Sequence[str], level: Sequence[int], scale: pd.Series
) -> pd.DataFrame:
    """Give models without interval columns a unit interval: yhat ± the series' scale."""
    width = frame["unique_id"].map(scale).to_numpy(float)
    add: dict[str, np.ndarray] = {}
    for m in models:
        for lv in level:
            if f"{m}-lo-{lv}" not in frame.columns:
                add[f"{m}-lo-{lv}"] = frame[m].to_numpy(float) - width
                add[f"{m}-hi-{lv}"] = frame[m].to_numpy(float) + width
    return frame.assign(**add) if add else frame


def _scores(frame: pd.DataFrame, model: str, lv: int) -> np.ndarray:
    """Error over half-width on the side the actual fell (1 = on the interval's edge)."""
    y = frame["y"].to_numpy(float)
    f = frame[model].to_numpy(float)
    lo = frame[f"{model}-lo-{lv}"].to_numpy(float)
    hi = frame[f"{model}-hi-{lv}"].to_numpy(float)
    below = y < f
    half = np.where(below, f - lo, hi - f)
    err = np.abs(y - f)
    ok = np.isfinite(y) & np.isfinite(half) & (half > 0)
    return err[ok] / half[ok]


def conformal_factors(
    calibration: pd.DataFrame, models: Sequence[str], level: Sequence[int]
) -> dict[tuple[str, int], float]:
    """Per (model, level) the factor that makes the calibration windows' coverage ``level``.

    Uses the finite-sample conformal quantile: the ceil((n + 1) L)-th smallest score.
    """
    out: dict[tuple[str, int], float] = {}
    for m in models:
        for lv in level:
            s = np.sort(_scores(calibration, m, lv))
            if len(s) < MIN_SCORES:
                continue
            k = min(len(s), math.ceil((len(s) + 1) * lv / 100.0))
            out[(m, lv)] = float(s[k - 1])
    return out


def apply_factors(
    frame: pd.DataFrame,
    factors: dict[tuple[str, int], float],
    models: Sequence[str],
    level: Sequence[int],
) -> pd.DataFrame:
    """Scale each interval's two sides around its point forecast; nesting kept (95 ⊇ 80)."""
    frame = frame.copy()
    for m in models:
        f = frame[m].to_numpy(float)
        inner_lo: np.ndarray | None = None
        inner_hi: np.ndarray | None = None
        for lv in sorted(level):
            k = factors.get((m, lv))
            lo_c, hi_c = f"{m}-lo-{lv}", f"{m}-hi-{lv}"
            lo = frame[lo_c].to_numpy(float)
            hi = frame[hi_c].to_numpy(float)
            if k is not None:
                lo, hi = f - k * (f - lo), f + k * (hi - f)
            if inner_lo is not None and inner_hi is not None:  # a wider level never narrower
                lo, hi = np.minimum(lo, inner_lo), np.maximum(hi, inner_hi)
            frame[lo_c], frame[hi_c] = lo, hi
            inner_lo, inner_hi = lo, hi
    return frame
