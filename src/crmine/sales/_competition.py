"""A forecasting competition to hold the engine against Theta, simulated (no M3/M4 here).

The M3 and M4 competitions scored methods by sMAPE on the final ``h`` values of thousands of
yearly, quarterly and monthly series (h = 6, 8, 18); Theta was M3's best published method and
the combination of ETS, ARIMA and Theta beat it on M4 (Makridakis, Spiliotis &
Assimakopoulos 2020). No competition data ship with the installed packages and nothing may be
downloaded, so :func:`competition_series` draws series of the kinds those sets hold: local
level and trend models (damped or not), ARIMA in logs, deterministic trends with AR noise,
random walks with drift and trend breaks, multiplicative seasonality where the frequency has
one, all positive. :func:`score_against_theta` forecasts each series' last ``h`` values with
:func:`crmine.sales.forecast` and with statsforecast's standard Theta (Assimakopoulos &
Nikolopoulos 2000, as in M3) and returns both sMAPEs and the engine's interval coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FREQUENCIES", "competition_series", "score_against_theta"]

# frequency -> (pandas start frequency, season, horizon, shortest, longest series)
FREQUENCIES: dict[str, tuple[str, int, int, int, int]] = {
    "yearly": ("YS", 1, 6, 20, 45),
    "quarterly": ("QS", 4, 8, 24, 70),
    "monthly": ("MS", 12, 18, 60, 150),
}
PROCESSES = ("level", "trend", "damped", "arima", "deterministic", "drift", "break")


def _one(rng: np.random.Generator, n: int, season: int, process: str) -> np.ndarray:
    """One positive series of ``n`` values (simulated in logs)."""
    t = np.arange(n)
    noise = rng.uniform(0.02, 0.08)
    e = rng.normal(0.0, noise, n)
    if process == "level":  # ETS(A,N,·) in logs
        alpha = rng.uniform(0.1, 0.6)
        x = np.cumsum(alpha * e) + e
    elif process in ("trend", "damped"):  # ETS(A,A(d),·) in logs
        alpha, beta = rng.uniform(0.2, 0.6), rng.uniform(0.01, 0.15)
        phi = rng.uniform(0.8, 0.95) if process == "damped" else 1.0
        b = rng.normal(0.02, 0.02)
        level, x = 0.0, np.empty(n)
        for i in range(n):
            x[i] = level + phi * b + e[i]
            level = level + phi * b + alpha * e[i]
            b = phi * b + beta * e[i]
    elif process == "arima":  # ARIMA(1,1,1) in logs
        ar, ma = rng.uniform(-0.5, 0.8), rng.uniform(-0.5, 0.5)
        d = np.empty(n)
        d[0] = e[0]
        for i in range(1, n):
            d[i] = ar * d[i - 1] + e[i] + ma * e[i - 1]
        x = np.cumsum(d + rng.normal(0.005, 0.01))
    elif process == "deterministic":  # linear trend, AR(1) noise
        u = np.empty(n)
        u[0] = e[0]
        for i in range(1, n):
            u[i] = 0.6 * u[i - 1] + e[i]
        x = rng.normal(0.01, 0.015) * t + u
    elif process == "drift":  # random walk with drift
        x = np.cumsum(e + rng.normal(0.01, 0.01))
    else:  # a trend that changes once
        cut = int(rng.integers(n // 3, 2 * n // 3))
        b1, b2 = rng.normal(0.03, 0.02), rng.normal(0.0, 0.02)
        x = np.where(t < cut, b1 * t, b1 * cut + b2 * (t - cut)) + np.cumsum(e) * 0.5 + e
    if season > 1 and rng.random() < 0.7:
        amp = rng.uniform(0.05, 0.3)
        shape = rng.normal(0.0, 1.0, season)
        shape = amp * (shape - shape.mean()) / max(shape.std(), 1e-9)
        x = x + shape[t % season]
    return np.asarray(float(rng.uniform(500, 8000)) * np.exp(x))


def competition_series(n_per_frequency: int = 100, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Per frequency a long frame ``unique_id, ds, y`` of ``n_per_frequency`` series."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, (freq, season, _h, lo, hi) in FREQUENCIES.items():
        parts = []
        for i in range(n_per_frequency):
            n = int(rng.integers(lo, hi + 1))
            process = PROCESSES[i % len(PROCESSES)]
            y = _one(rng, n, season, process)
            ds = pd.date_range("1980-01-01", periods=n, freq=freq)
            parts.append(pd.DataFrame({"unique_id": f"{name[0]}{i:04d}-{process}", "ds": ds,
                                       "y": y}))  # fmt: skip
        out[name] = pd.concat(parts, ignore_index=True)
    return out


def _smape_per_series(test: pd.DataFrame, col: str) -> pd.Series:
    y, f = test["y"].to_numpy(float), test[col].to_numpy(float)
    den = np.abs(y) + np.abs(f)
    term = np.where(den > 0, 200.0 * np.abs(y - f) / np.where(den > 0, den, 1.0), 0.0)
    return pd.Series(term).groupby(test["unique_id"].to_numpy()).mean()


def score_against_theta(
    sets: dict[str, pd.DataFrame],
    *,
    models: Sequence[str] | None = None,
    n_jobs: int = 1,
) -> dict[str, Any]:
    """sMAPE of the engine and of standard Theta on each series' final horizon.

    Returns per frequency and overall (series-weighted, as M3/M4) the two sMAPEs and the
    engine's 80 % and 95 % interval coverage of the held-back values.
    """
    from statsforecast import StatsForecast
    from statsforecast.models import Theta

    from crmine.sales._forecast import DEFAULT_MODELS, forecast

    rows, per_series = [], []
    for name, frame in sets.items():
        freq, season, h, _lo, _hi = FREQUENCIES[name]
        pos = frame.groupby("unique_id").cumcount()
        size = frame.groupby("unique_id")["y"].transform("size")
        train, test = frame[pos < size - h], frame[pos >= size - h]
        res = forecast(train, freq=freq, horizon=h, models=tuple(models or DEFAULT_MODELS),
                       season_length=season, n_jobs=n_jobs)  # fmt: skip
        theta = StatsForecast(models=[Theta(season_length=season)], freq=freq, n_jobs=n_jobs)
        th = theta.forecast(h=h, df=train).reset_index(drop=True)
        got = test.merge(res.forecast, on=["unique_id", "ds"]).merge(th, on=["unique_id", "ds"])
        s_eng = _smape_per_series(got, "yhat")
        s_th = _smape_per_series(got, "Theta")
        y = got["y"].to_numpy(float)
        cov = {
            lv: float(((y >= got[f"yhat_lo_{lv}"]) & (y <= got[f"yhat_hi_{lv}"])).mean())
            for lv in (80, 95)
        }
        rows.append({"frequency": name, "series": len(s_eng), "engine_smape": float(s_eng.mean()),
                     "theta_smape": float(s_th.mean()), "coverage_80": cov[80],
                     "coverage_95": cov[95],
                     "models": res.forecast.groupby("unique_id")["model"].first()
                     .value_counts().to_dict()})  # fmt: skip
        per_series.append(pd.DataFrame({"engine": s_eng, "theta": s_th}))
    table = pd.DataFrame(rows)
    both = pd.concat(per_series)
    diff = (both["theta"] - both["engine"]).to_numpy()
    rng = np.random.default_rng(0)
    boot = diff[rng.integers(0, len(diff), (2000, len(diff)))].mean(axis=1)
    weights = table["series"] / table["series"].sum()
    return {
        "by_frequency": table,
        "engine_smape": float(both["engine"].mean()),
        "theta_smape": float(both["theta"].mean()),
        "gain": float(diff.mean()),
        "gain_interval": (float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))),
        "coverage_80": float((table["coverage_80"] * weights).sum()),
        "coverage_95": float((table["coverage_95"] * weights).sum()),
    }
