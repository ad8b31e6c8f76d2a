"""Weekly ticket volume split into trend, yearly seasonality and the rest, with a test of
whether the seasonality is real.

A Fourier regression on the counts themselves, once two years of weeks are there: a
quasi-Poisson model of weekly tickets with a smooth trend (a cubic spline with a knot a year,
too stiff to follow a yearly cycle) times a yearly season (two Fourier pairs). The season is
tested with an F test of the drop in deviance against the trend alone, the dispersion
estimated from the fit (Poisson counts are rarely Poisson). The fitted Fourier terms give
the season's size: the peak week's volume over the trough week's. (STL would be the other
choice; importing it costs seconds, more than the whole fit.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.interpolate import BSpline

__all__ = ["VOLUME_COLUMNS", "VolumeSeasonality", "volume_seasonality", "weekly_volume"]

VOLUME_COLUMNS = ("week", "tickets", "trend", "seasonal", "remainder")
WEEKS_PER_YEAR = 365.25 / 7
SEASON_WEEKS = 52
FOURIER_PAIRS = 2
ALPHA = 0.05


def weekly_volume(opened: pd.Series, end: pd.Timestamp) -> pd.Series:
    """Tickets opened per whole week (Monday to Sunday) from the first to the last whole week
    before ``end``; weeks without tickets count zero."""
    opened = pd.to_datetime(opened)
    week = opened.dt.to_period("W-SUN").dt.start_time
    day = opened.min().normalize()
    first = day + pd.Timedelta(days=(7 - day.weekday()) % 7)  # the first Monday from then
    last = (end - pd.Timedelta(days=7)).normalize()
    last -= pd.Timedelta(days=last.weekday())  # the last Monday with 7 days before ``end``
    weeks = pd.date_range(first, last, freq="7D")
    return week.value_counts().reindex(weeks, fill_value=0).rename("tickets").rename_axis("week")


@dataclass(frozen=True, slots=True)
class VolumeSeasonality:
    """Trend and seasonality of weekly ticket volume.

    Attributes
    ----------
    frame : DataFrame
        ``VOLUME_COLUMNS``: one row per whole week: the fitted ``trend``, the ``seasonal``
        tickets on top of it and the ``remainder`` (tickets = trend + seasonal + remainder);
        NaN with less than two years of weeks.
    p_value : float
        Of the F test that the yearly seasonality adds nothing (NaN below two years).
    peak_to_trough : float
        Fitted volume of the seasonal peak week over that of the trough week (1 = no season).
    peak_week : int
        Week of the year (1-53) of the seasonal peak.
    significant : bool
        ``p_value < 0.05``.
    """

    frame: pd.DataFrame
    p_value: float
    peak_to_trough: float
    peak_week: int
    significant: bool

    def summary(self) -> dict[str, object]:
        return {"weeks": len(self.frame), "seasonality_p_value": self.p_value,
                "seasonal_peak_to_trough": self.peak_to_trough,
                "seasonal_peak_week": self.peak_week, "seasonality_significant": self.significant}


def _trend_basis(t: np.ndarray) -> np.ndarray:
    """Cubic B-splines over ``t`` (in years) with a knot a year (they sum to one, so they
    carry the intercept)."""
    span = max(float(t.max() - t.min()), 1e-9)
    inner = np.linspace(t.min(), t.max(), max(round(span), 1) + 1)
    knots = np.r_[[inner[0]] * 3, inner, [inner[-1]] * 3]
    return BSpline.design_matrix(np.clip(t, inner[0], inner[-1]), knots, 3).toarray()


def _fourier(t: np.ndarray) -> np.ndarray:
    return np.column_stack([f(2 * np.pi * k * t) for k in range(1, FOURIER_PAIRS + 1)
                            for f in (np.sin, np.cos)])


def _poisson_fit(y: np.ndarray, x: np.ndarray, iterations: int = 50
                 ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """A Poisson GLM (log link) by iteratively reweighted least squares: coefficients, fitted
    means, deviance and Pearson dispersion."""
    beta = np.linalg.lstsq(x, np.log(y + 0.5), rcond=None)[0]
    for _ in range(iterations):
        eta = np.clip(x @ beta, -30.0, 30.0)
        mu = np.exp(eta)
        work = eta + (y - mu) / mu
        new = np.linalg.solve((x * mu[:, None]).T @ x + 1e-9 * np.eye(x.shape[1]),
                              (x * mu[:, None]).T @ work)
        done = np.max(np.abs(new - beta)) < 1e-8
        beta = new
        if done:
            break
    mu = np.exp(np.clip(x @ beta, -30.0, 30.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    deviance = float(2.0 * np.sum(term - (y - mu)))
    dispersion = float(np.sum((y - mu) ** 2 / mu)) / max(len(y) - x.shape[1], 1)
    return beta, mu, deviance, dispersion


def volume_seasonality(weekly: pd.Series) -> VolumeSeasonality:
    """Decompose ``weekly`` (tickets per week, a weekly DatetimeIndex) and test its season."""
    y = weekly.to_numpy(dtype=float)
    weeks = pd.DatetimeIndex(weekly.index)
    t = (weeks - weeks[0]).days.to_numpy() / 365.25
    frame = pd.DataFrame({"week": weeks, "tickets": y.astype("int64"), "trend": np.nan,
                          "seasonal": np.nan, "remainder": np.nan})
    if len(y) < 2 * SEASON_WEEKS + 1 or y.sum() == 0:
        return VolumeSeasonality(frame, float("nan"), float("nan"), 0, False)
    trend = _trend_basis(t)
    full = np.column_stack([trend, _fourier(t)])
    _, _, d_reduced, _ = _poisson_fit(y, trend)
    params, mu, d_full, dispersion = _poisson_fit(y, full)
    smooth = np.exp(trend @ params[: trend.shape[1]])
    frame["trend"], frame["seasonal"], frame["remainder"] = smooth, mu - smooth, y - mu
    df_num, df_den = 2 * FOURIER_PAIRS, len(y) - full.shape[1]
    f_stat = max(d_reduced - d_full, 0.0) / df_num / max(dispersion, 1e-12)
    p_value = float(stats.f.sf(f_stat, df_num, df_den))
    grid = np.linspace(0.0, 1.0, 366, endpoint=False)
    season = _fourier(grid) @ params[trend.shape[1]:]
    peak_day = weeks[0] + pd.Timedelta(days=float(grid[int(season.argmax())] * 365.25))
    return VolumeSeasonality(frame, p_value, float(np.exp(season.max() - season.min())),
                             int(peak_day.isocalendar().week), p_value < ALPHA)
