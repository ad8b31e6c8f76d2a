"""Model choice on the selection windows, and the held-out backtest's verdict.

The windows of one series are numbered from its first cutoff: all but the last choose the
model, the last is the backtest the choice never saw. The choice prefers the combination: a
single model replaces it on a series only when it was clearly better there (by
:data:`COMBO_MARGIN` of scaled error), since a choice made on a few windows is itself noisy
and averaging forecasts is the safer bet (Petropoulos & Svetunkov 2020 on the M4 data).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from crmine.contract import Verdict, judge

__all__ = ["BASELINE", "COMBINATION", "choose", "scales", "take", "verdict"]

BASELINE = "SeasonalNaive"
COMBINATION = "Combination"
COMBO_MARGIN = 0.10  # a single model must beat the combination by 10 % MASE on a series
MIN_GAIN = 0.05  # a MASE gain over seasonal naive under 5 % is "weak"


def scales(history: pd.DataFrame, season: int) -> pd.Series:
    """MASE scale per series: the in-sample MAE of seasonal naive on ``history``."""
    y = history["y"]
    by = history.groupby("unique_id", sort=False)
    size = by["y"].transform("size")
    lag = np.where(size > season, season, 1)
    diff = pd.Series(np.nan, index=history.index)
    for k in np.unique(lag):  # at most two lags: the season, or 1 for short series
        rows = lag == k
        diff[rows] = (y - by["y"].shift(int(k))).abs()[rows]
    mae = diff.groupby(history["unique_id"], sort=False).mean()
    level = y.abs().groupby(history["unique_id"], sort=False).mean()
    out = mae.where(mae > 0, level)
    return out.where(out > 0, 1.0).fillna(1.0)


def take(frame: pd.DataFrame, model: np.ndarray, suffix: str = "") -> np.ndarray:
    """Per row the value of column ``model[i] + suffix``."""
    cols = [f"{m}{suffix}" for m in model]
    mat = frame.reindex(columns=sorted(set(cols)))
    pos = mat.columns.get_indexer(cols)
    return mat.to_numpy(dtype=float)[np.arange(len(frame)), pos]


def choose(selection: pd.DataFrame, allowed: Sequence[str], scale: pd.Series) -> pd.Series:
    """The model per series: the combination unless a single one beat it by the margin."""
    cols = list(allowed)
    err = selection[cols].sub(selection["y"], axis=0).abs()
    err = err.div(selection["unique_id"].map(scale), axis=0)
    mase = err.groupby(selection["unique_id"].to_numpy()).mean()
    best = mase.idxmin(axis=1)
    if COMBINATION in cols:
        single = mase.min(axis=1) < (1.0 - COMBO_MARGIN) * mase[COMBINATION]
        best = best.where(single, COMBINATION)
    return best


def _coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    ok = np.isfinite(lo) & np.isfinite(hi)
    return np.where(ok, (y >= lo) & (y <= hi), np.nan)


def _smape_terms(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    den = np.abs(y) + np.abs(f)
    return np.where(den > 0, 200.0 * np.abs(y - f) / np.where(den > 0, den, 1.0), 0.0)


def verdict(
    held: pd.DataFrame,
    chosen: pd.Series,
    scale: pd.Series,
    season: int,
    level: Sequence[int],
) -> tuple[Verdict, pd.DataFrame]:
    """Held-out MASE gain over seasonal naive, with a block-bootstrap interval."""
    if held.empty:
        v = Verdict(
            "not_informative",
            "held-out MASE gain over seasonal naive",
            None,
            0.0,
            why="no series was long enough for a backtest window",
            what_to_try="forecast fewer periods ahead or supply more history",
        )
        return v, pd.DataFrame(columns=["unique_id", "model", "mase", "naive_mase"])
    uid = held["unique_id"].to_numpy()
    model = held["unique_id"].map(chosen).to_numpy()
    y = held["y"].to_numpy(float)
    s = held["unique_id"].map(scale).to_numpy(float)
    yhat = take(held, model)
    naive = held[BASELINE].to_numpy(float)
    cols: dict[str, Any] = {
        "unique_id": uid,
        "model": model,
        "mase": np.abs(y - yhat) / s,
        "naive_mase": np.abs(y - naive) / s,
        "smape": _smape_terms(y, yhat),
        "naive_smape": _smape_terms(y, naive),
    }
    for lv in level:
        cols[f"coverage_{lv}"] = _coverage(
            y, take(held, model, f"-lo-{lv}"), take(held, model, f"-hi-{lv}")
        )
        cols[f"naive_coverage_{lv}"] = _coverage(
            y, held[f"{BASELINE}-lo-{lv}"].to_numpy(float),
            held[f"{BASELINE}-hi-{lv}"].to_numpy(float),
        )  # fmt: skip
    points = pd.DataFrame(cols)
    backtest = points.groupby("unique_id", sort=True).agg(
        {"model": "first", **{c: "mean" for c in cols if c not in ("unique_id", "model")}}
    )
    backtest = backtest.reset_index()
    # Resampling units: (series, block of one season) — errors within a block are correlated.
    step = held.groupby("unique_id").cumcount().to_numpy() // max(season, 1)
    unit = pd.factorize(pd.Series(uid).astype(str) + "#" + pd.Series(step).astype(str))[0]
    em = np.bincount(unit, points["mase"].to_numpy())
    en = np.bincount(unit, points["naive_mase"].to_numpy())
    gain = 1.0 - em.sum() / en.sum() if en.sum() > 0 else math.nan
    rng = np.random.default_rng(0)
    k = len(em)
    draws = rng.integers(0, k, (1000, k))
    boot = 1.0 - em[draws].sum(axis=1) / np.maximum(en[draws].sum(axis=1), 1e-12)
    lo, hi = (float(x) for x in np.percentile(boot, [2.5, 97.5])) if k > 1 else (gain, gain)
    mase, naive_mase = float(backtest["mase"].mean()), float(backtest["naive_mase"].mean())
    cov_level = 80 if 80 in level else level[0]
    cov = float(np.nanmean(points[f"coverage_{cov_level}"].to_numpy(float)))
    why = (
        f"on the held-out final window the forecast's MASE is {mase:.3f} against seasonal "
        f"naive's {naive_mase:.3f} ({len(backtest)} series): a {gain:.1%} lower scaled error "
        f"(95% interval {lo:.1%} to {hi:.1%}); {cov_level}% intervals (calibrated on the "
        f"earlier windows) covered {cov:.0%} of actual values"
    )
    v = judge(
        "held-out MASE gain over seasonal naive",
        gain,
        0.0,
        (lo, hi),
        min_gain=MIN_GAIN,
        why=why
        if lo > 0
        else why + "; the forecast does not beat copying last season beyond chance",
        what_to_try="use seasonal naive (or aggregate to a coarser period / fewer series); "
        "add promotion and holiday regressors; a longer history",
    )
    return v, backtest
