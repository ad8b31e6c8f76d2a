"""``forecast``: statistical forecasts per series, chosen by rolling-origin backtest.

Every candidate model (Nixtla ``statsforecast``) is cross-validated on rolling origins. The
model of each series is the one with the lowest MASE on the *selection* windows; the final
window, which the choice never saw, is the backtest shown to the user and judged against
seasonal naive — the forecast a sceptical analyst would make by copying last season.

References
----------
Hyndman, R. J. & Koehler, A. B. (2006). Another look at measures of forecast accuracy.
International Journal of Forecasting 22(4), 679-688 (MASE).
Makridakis, S. & Hibon, M. (2000). The M3-Competition: results, conclusions and implications.
International Journal of Forecasting 16(4), 451-476 (sMAPE; Theta the best published method).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmine.contract import Verdict, judge, recorded_warnings
from crmine.exceptions import DataError, MissingColumnError

__all__ = [
    "MODELS",
    "ForecastResult",
    "forecast",
    "season_length_of",
    "smape",
]

# Short names a caller picks models by -> statsforecast alias of the fitted column.
MODELS = {
    "snaive": "SeasonalNaive",
    "ets": "AutoETS",
    "theta": "AutoTheta",
    "arima": "AutoARIMA",
    "mstl": "MSTL",
    "croston": "CrostonOptimized",
    "adida": "ADIDA",
    "combo": "Combination",
}
DEFAULT_MODELS = ("ets", "theta", "arima", "combo")
BASELINE = "SeasonalNaive"
# Members of the combination (equal weights): averaging ETS, Theta and ARIMA is what beat
# single methods in the M3/M4 competitions.
COMBO_MEMBERS = ("AutoETS", "AutoTheta", "AutoARIMA")
INTERMITTENT_ZERO_SHARE = 0.3  # series with more zero periods get Croston / ADIDA too
CLOSED_SHARE = 0.8  # a weekday without sales in 80 % of weeks is a closing day
MIN_GAIN = 0.05  # a MASE gain over seasonal naive under 5 % is "weak"


def season_length_of(freq: str) -> int:
    """The main seasonal period of a pandas frequency (``D`` → 7, ``W`` → 52, ``M`` → 12).

    >>> season_length_of("D"), season_length_of("W-MON"), season_length_of("MS")
    (7, 52, 12)
    """
    base = freq.upper().split("-")[0].lstrip("0123456789")
    table = {"D": 7, "B": 5, "W": 52, "M": 12, "MS": 12, "ME": 12, "Q": 4, "QS": 4, "QE": 4,
             "H": 24, "Y": 1, "YS": 1, "A": 1}  # fmt: skip
    if base not in table:
        raise DataError(
            f"unknown forecast frequency {freq!r}: use D, W, M (MS), Q or H, or pass season_length="
        )
    return table[base]


def _pandas_freq(freq: str, ds: pd.Series) -> str:
    """Anchor ``W`` on the data's weekday and ``M``/``Q`` on month starts or ends."""
    f = freq.upper()
    first = pd.Timestamp(ds.min())
    if f == "W":
        return f"W-{first.day_name()[:3].upper()}"
    if f in ("M", "Q"):
        return f + ("S" if first.day == 1 else "E")
    return freq


def smape(y: np.ndarray, f: np.ndarray) -> float:
    """Symmetric MAPE in percent (0–200), 0 where actual and forecast are both 0.

    >>> round(smape(np.array([100.0, 0.0]), np.array([110.0, 0.0])), 3)
    4.762
    """
    den = np.abs(y) + np.abs(f)
    term = np.where(den > 0, 2.0 * np.abs(y - f) / np.where(den > 0, den, 1.0), 0.0)
    return float(100.0 * term.mean()) if len(term) else math.nan


@dataclass(frozen=True, slots=True)
class ForecastResult:
    """What :func:`forecast` returns.

    Attributes
    ----------
    forecast : DataFrame
        ``unique_id, ds, yhat, yhat_lo_<l>, yhat_hi_<l>`` (per level), ``model``.
    backtest : DataFrame
        One row per series: the chosen model, and on the held-out final window its MASE,
        sMAPE and interval coverage next to seasonal naive's (``naive_mase``...).
    windows : DataFrame
        Every cross-validation forecast (``unique_id, ds, cutoff, y`` and one column per
        model, intervals included): the backtest's raw material, e.g. for fan charts.
    verdict : Verdict
        The MASE gain over seasonal naive on the held-out window, with its interval.
    """

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    windows: pd.DataFrame
    verdict: Verdict
    freq: str
    horizon: int
    level: tuple[int, ...]
    season_length: int

    def to_frame(self) -> pd.DataFrame:
        return self.forecast.copy()

    def summary(self) -> dict[str, Any]:
        bt = self.backtest.dropna(subset=["mase"])
        out: dict[str, Any] = {
            "series": int(self.forecast["unique_id"].nunique()),
            "freq": self.freq,
            "horizon": self.horizon,
            "season_length": self.season_length,
            "models": self.forecast.groupby("unique_id")["model"].first().value_counts().to_dict(),
            "backtest_mase": float(bt["mase"].mean()) if len(bt) else None,
            "naive_mase": float(bt["naive_mase"].mean()) if len(bt) else None,
            "backtest_smape": float(bt["smape"].mean()) if len(bt) else None,
            "naive_smape": float(bt["naive_smape"].mean()) if len(bt) else None,
            "verdict": self.verdict.to_dict(),
        }
        for lv in self.level:
            col = f"coverage_{lv}"
            out[col] = float(bt[col].mean()) if len(bt) else None
        return out


def _check_frame(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("unique_id", "ds", "y") if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"forecast needs columns unique_id, ds, y; missing {missing} "
            f"(found {list(frame.columns)[:20]})"
        )
    df = frame[["unique_id", "ds", "y"]].copy()
    df["unique_id"] = df["unique_id"].astype(str)
    df["ds"] = pd.to_datetime(df["ds"])
    df["y"] = pd.to_numeric(df["y"], errors="coerce").astype(float)
    bad = df[~np.isfinite(df["y"])]
    if len(bad):
        row = bad.index[0]
        raise DataError(
            f"forecast frame row {row}: column y holds {frame.loc[row, 'y']!r}, not a finite "
            "number; fill gaps with 0 (no sales) or drop the row"
        )
    dup = df.duplicated(["unique_id", "ds"])
    if dup.any():
        row = df.index[dup.to_numpy()][0]
        raise DataError(
            f"forecast frame row {row}: series {df.loc[row, 'unique_id']!r} has two values "
            f"at {df.loc[row, 'ds']}; aggregate to one row per unique_id and ds"
        )
    return df.sort_values(["unique_id", "ds"]).reset_index(drop=True)


def _models(
    names: Sequence[str], season: int, horizon: int, intermittent: bool, n_min: int, freq: str
) -> list[Any]:
    from statsforecast.models import (
        ADIDA,
        MSTL,
        AutoARIMA,
        AutoETS,
        AutoTheta,
        CrostonOptimized,
        SeasonalNaive,
    )
    from statsforecast.utils import ConformalIntervals

    out: list[Any] = [SeasonalNaive(season_length=season)]
    wanted = set(names)
    if "ets" in wanted or "combo" in wanted:
        # Seasonal ETS with a period over 24 (weekly data's 52) is slow and unstable: the
        # yearly cycle of weekly data is Theta's and MSTL's job.
        out.append(AutoETS(season_length=season if season <= 24 else 1))
    if "theta" in wanted or "combo" in wanted:
        out.append(AutoTheta(season_length=season))
    if "arima" in wanted:
        out.append(AutoARIMA(season_length=season))
    # MSTL for daily data with a yearly cycle on top of the weekly one, when two years exist.
    two_years = freq.upper().startswith("D") and season == 7 and n_min >= 2 * 365 + horizon
    if "mstl" in wanted or (two_years and "ets" in wanted):
        out.append(MSTL(season_length=[7, 365] if two_years else [season]))
    if intermittent or "croston" in wanted or "adida" in wanted:
        conformal = ConformalIntervals(h=horizon, n_windows=2)
        out.append(CrostonOptimized(prediction_intervals=conformal))
        out.append(ADIDA(prediction_intervals=conformal))
    return out


def _add_combo(frame: pd.DataFrame, level: Sequence[int]) -> pd.DataFrame:
    members = [m for m in COMBO_MEMBERS if m in frame.columns]
    if len(members) < 2:
        return frame
    frame = frame.copy()
    frame["Combination"] = frame[members].mean(axis=1)
    for lv in level:  # averaging quantiles: Vincentization (Lichtendahl et al. 2013)
        for side in ("lo", "hi"):
            frame[f"Combination-{side}-{lv}"] = frame[[f"{m}-{side}-{lv}" for m in members]].mean(
                axis=1
            )
    return frame


def _scales(df: pd.DataFrame, before: pd.Series, season: int) -> pd.Series:
    """MASE scale per series: in-sample MAE of seasonal naive on data before ``before``."""
    cut = df["unique_id"].map(before)
    train = df[df["ds"] <= cut]

    def scale(y: pd.Series) -> float:
        v = y.to_numpy()
        lag = season if len(v) > season else 1
        d = np.abs(v[lag:] - v[:-lag]) if len(v) > lag else np.array([])
        s = float(d.mean()) if len(d) else math.nan
        return s if s > 0 else float(np.abs(v).mean()) or 1.0

    return train.groupby("unique_id")["y"].agg(scale)


def _coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    ok = np.isfinite(lo) & np.isfinite(hi)
    return float(((y >= lo) & (y <= hi))[ok].mean()) if ok.any() else math.nan


def _verdict(
    held: pd.DataFrame, chosen: pd.Series, scale: pd.Series, season: int, level: Sequence[int]
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
    held = held.assign(model=held["unique_id"].map(chosen), scale=held["unique_id"].map(scale))
    held["yhat"] = held.apply(lambda r: r[r["model"]], axis=1).astype(float)
    held["err_model"] = np.abs(held["y"] - held["yhat"]) / held["scale"]
    held["err_naive"] = np.abs(held["y"] - held[BASELINE]) / held["scale"]
    rows = []
    for uid, g in held.groupby("unique_id", sort=True):
        m = str(g["model"].iloc[0])
        row: dict[str, Any] = {
            "unique_id": uid,
            "model": m,
            "mase": float(g["err_model"].mean()),
            "naive_mase": float(g["err_naive"].mean()),
            "smape": smape(g["y"].to_numpy(), g["yhat"].to_numpy()),
            "naive_smape": smape(g["y"].to_numpy(), g[BASELINE].to_numpy()),
        }
        for lv in level:
            row[f"coverage_{lv}"] = _coverage(
                g["y"].to_numpy(),
                g[f"{m}-lo-{lv}"].to_numpy(float),
                g[f"{m}-hi-{lv}"].to_numpy(float),
            )
            row[f"naive_coverage_{lv}"] = _coverage(
                g["y"].to_numpy(),
                g[f"{BASELINE}-lo-{lv}"].to_numpy(float),
                g[f"{BASELINE}-hi-{lv}"].to_numpy(float),
            )
        rows.append(row)
    backtest = pd.DataFrame(rows)
    # Resampling units: (series, block of one season) — errors within a block are correlated.
    step = held.groupby("unique_id").cumcount() // max(season, 1)
    unit = pd.factorize(held["unique_id"].astype(str) + "#" + step.astype(str))[0]
    em = np.bincount(unit, held["err_model"].to_numpy())
    en = np.bincount(unit, held["err_naive"].to_numpy())
    gain = 1.0 - em.sum() / en.sum() if en.sum() > 0 else math.nan
    rng = np.random.default_rng(0)
    k = len(em)
    draws = rng.integers(0, k, (1000, k))
    boot = 1.0 - em[draws].sum(axis=1) / np.maximum(en[draws].sum(axis=1), 1e-12)
    lo, hi = (float(x) for x in np.percentile(boot, [2.5, 97.5])) if k > 1 else (gain, gain)
    mase, naive = float(backtest["mase"].mean()), float(backtest["naive_mase"].mean())
    cov_level = 80 if 80 in level else level[0]
    cov = float(backtest[f"coverage_{cov_level}"].mean())
    why = (
        f"on the held-out final window the forecast's MASE is {mase:.3f} against seasonal "
        f"naive's {naive:.3f} ({len(backtest)} series): a {gain:.1%} lower scaled error "
        f"(95% interval {lo:.1%} to {hi:.1%}); {cov_level}% intervals covered {cov:.0%} of "
        "actual values"
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


def forecast(
    frame: pd.DataFrame,
    *,
    freq: str,
    horizon: int,
    level: Sequence[int] = (80, 95),
    models: Sequence[str] = DEFAULT_MODELS,
    season_length: int | None = None,
    n_windows: int = 3,
    n_jobs: int = 1,
) -> ForecastResult:
    """Forecast every series of a long frame, choosing the model per series by backtest.

    Parameters
    ----------
    frame : DataFrame
        ``unique_id, ds, y`` (long format), one row per series and period without gaps
        (missing periods are filled with 0: no sales).
    freq : str
        ``"D"``, ``"W"``, ``"M"`` (month starts or ends, as the data), ``"Q"``, ``"H"``.
    horizon : int
        Periods ahead.
    level : sequence of int
        Prediction-interval levels in percent.
    models : sequence of str
        Candidates among :data:`MODELS` (seasonal naive is always fitted as the baseline;
        Croston and ADIDA are added for intermittent series; MSTL for daily data with two
        years when ETS and Theta are candidates).
    season_length : int, optional
        Default from ``freq`` (:func:`season_length_of`); shorter histories fall back to 1.
    n_windows : int
        Rolling-origin windows of ``horizon`` periods: all but the last choose the model, the
        last is the held-out backtest (1: choice and backtest on the same window).
    n_jobs : int
        Processes statsforecast fits the series with (-1: every core).

    Daily series whose shop is closed on some weekday (no sales in 80 % of those days before
    the backtest) get 0, intervals included, on that weekday.

    Returns
    -------
    ForecastResult
        ``forecast`` (``unique_id, ds, yhat, yhat_lo_80…, model``), ``backtest``, ``verdict``.

    Examples
    --------
    >>> ds = pd.date_range("2024-01-01", periods=140, freq="D")
    >>> y = 100 + 20 * (ds.dayofweek >= 5) + np.random.default_rng(1).normal(0, 2, 140)
    >>> res = forecast(pd.DataFrame({"unique_id": "s", "ds": ds, "y": y}), freq="D",
    ...                horizon=7, models=("ets",), n_windows=2)
    >>> list(res.forecast.columns)[:3], len(res.forecast)
    (['unique_id', 'ds', 'yhat'], 7)
    """
    from statsforecast import StatsForecast

    if horizon < 1:
        raise DataError(f"forecast horizon must be >= 1 period, got {horizon}")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise DataError(f"unknown forecast model(s) {unknown}; choose from {sorted(MODELS)}")
    level = tuple(int(lv) for lv in level)
    df = _check_frame(frame)
    if df.empty:
        raise DataError("forecast frame has no rows")
    season = season_length or season_length_of(freq)
    pfreq = _pandas_freq(freq, df["ds"])
    try:
        pd.tseries.frequencies.to_offset(pfreq)
    except ValueError:
        raise DataError(f"unknown forecast frequency {freq!r}: use D, W, M (MS), Q or H") from None
    df = _fill_gaps(df, pfreq)
    lengths = df.groupby("unique_id").size()
    if lengths.min() < 2 * season + horizon:  # too short to estimate a seasonal pattern
        season = 1
    windows = max(1, int(n_windows))
    # Series too short for the backtest still get a forecast, just without one.
    need = windows * horizon + max(2 * season, 8)
    while windows > 1 and lengths.max() < need:
        windows -= 1
        need = windows * horizon + max(2 * season, 8)
    zero_share = df.groupby("unique_id")["y"].apply(lambda y: float((y == 0).mean()))
    closed: dict[str, set[int]] = {}
    if pfreq.upper() == "D":  # closing days judged before the backtest windows: no peeking
        end = df.groupby("unique_id")["ds"].transform("max") - pd.Timedelta(days=windows * horizon)
        closed = closed_weekdays(df[df["ds"] <= end])
    intermittent = bool((zero_share >= INTERMITTENT_ZERO_SHARE).any())
    with recorded_warnings() as caught:
        candidates = _models(models, season, horizon, intermittent, int(lengths.min()), freq)
        sf = StatsForecast(models=candidates, freq=pfreq, n_jobs=n_jobs)
        long_ids = lengths[lengths >= need].index
        cv = pd.DataFrame()
        if len(long_ids):
            cv = sf.cross_validation(
                h=horizon,
                df=df[df["unique_id"].isin(long_ids)],
                n_windows=windows,
                step_size=horizon,
                level=list(level),
            )
            cv = _add_combo(_closed_to_zero(cv.reset_index(drop=True), closed), level)
        final = sf.forecast(h=horizon, df=df, level=list(level))
        final = _add_combo(_closed_to_zero(final.reset_index(drop=True), closed), level)
    names = [
        c
        for c in final.columns
        if c not in ("unique_id", "ds") and "-lo-" not in c and "-hi-" not in c
    ]
    allowed = [MODELS[m] for m in models if MODELS[m] in names] or names
    if "MSTL" in names and "MSTL" not in allowed:
        allowed.append("MSTL")
    if intermittent:
        allowed += [m for m in ("CrostonOptimized", "ADIDA") if m in names and m not in allowed]
    chosen, backtest, verdict = _choose(cv, df, allowed, season, level, windows, lengths.index)
    verdict = verdict.with_warnings(caught)
    out = _pick(final, chosen, level)
    return ForecastResult(out, backtest, cv, verdict, pfreq, horizon, level, season)


def closed_weekdays(df: pd.DataFrame, share: float = CLOSED_SHARE) -> dict[str, set[int]]:
    """Per daily series the weekdays (0 = Monday) with no sales in at least ``share`` of the
    weeks: a shop closed on Saturdays sells nothing then, whatever a smooth model says.

    >>> ds = pd.date_range("2024-01-01", periods=28)
    >>> closed_weekdays(pd.DataFrame({"unique_id": "a", "ds": ds, "y": (ds.dayofweek != 5) * 1.0}))
    {'a': {5}}
    """
    out: dict[str, set[int]] = {}
    for uid, g in df.groupby("unique_id"):
        zero = (g["y"] == 0).groupby(g["ds"].dt.dayofweek).mean()
        days = {
            int(d) for d, z in zero.items() if z >= share and (g["ds"].dt.dayofweek == d).sum() >= 4
        }
        if days and len(days) < 7:
            out[str(uid)] = days
    return out


def _closed_to_zero(frame: pd.DataFrame, closed: dict[str, set[int]]) -> pd.DataFrame:
    if not closed:
        return frame
    dow = pd.to_datetime(frame["ds"]).dt.dayofweek
    mask = np.zeros(len(frame), dtype=bool)
    for uid, days in closed.items():
        mask |= (frame["unique_id"] == uid).to_numpy() & dow.isin(days).to_numpy()
    cols = [c for c in frame.columns if c not in ("unique_id", "ds", "cutoff", "y")]
    frame.loc[mask, cols] = 0.0
    return frame


def _fill_gaps(df: pd.DataFrame, pfreq: str) -> pd.DataFrame:
    parts = []
    for uid, g in df.groupby("unique_id", sort=False):
        idx = pd.date_range(g["ds"].min(), g["ds"].max(), freq=pfreq)
        if len(idx) != len(g) or not idx.equals(pd.DatetimeIndex(g["ds"])):
            off_grid = g.loc[~g["ds"].isin(idx), "ds"]
            if len(off_grid):
                raise DataError(
                    f"forecast series {uid!r}: dates such as {off_grid.iloc[0]} are not on "
                    f"the {pfreq} grid; aggregate to the period first"
                )
            g = g.set_index("ds").reindex(idx).rename_axis("ds").reset_index()
            g["unique_id"] = uid
            g["y"] = g["y"].fillna(0.0)
        parts.append(g[["unique_id", "ds", "y"]])
    return pd.concat(parts, ignore_index=True)


def _choose(
    cv: pd.DataFrame,
    df: pd.DataFrame,
    allowed: list[str],
    season: int,
    level: Sequence[int],
    windows: int,
    ids: pd.Index,
) -> tuple[pd.Series, pd.DataFrame, Verdict]:
    fallback = next(
        (m for m in ("AutoETS", "Combination", "AutoTheta") if m in allowed), allowed[0]
    )
    chosen = pd.Series(fallback, index=ids, dtype=object)
    if cv.empty:
        empty = pd.DataFrame(columns=["unique_id", "model", "mase", "naive_mase"])
        v, _ = _verdict(cv, chosen, pd.Series(dtype=float), season, level)
        return chosen, empty, v
    cutoffs = np.sort(cv["cutoff"].unique())
    first_cut = cv.groupby("unique_id")["cutoff"].min()
    scale = _scales(df, first_cut, season)
    sel = cv[cv["cutoff"] < cutoffs[-1]] if windows > 1 else cv
    held = cv[cv["cutoff"] == cutoffs[-1]]
    err = sel[allowed].sub(sel["y"], axis=0).abs().div(sel["unique_id"].map(scale), axis=0)
    err["unique_id"] = sel["unique_id"].to_numpy()
    mase = err.groupby("unique_id")[allowed].mean()
    best = mase.idxmin(axis=1)
    chosen.loc[best.index] = best
    verdict, backtest = _verdict(held.reset_index(drop=True), chosen, scale, season, level)
    return chosen, backtest, verdict


def _pick(final: pd.DataFrame, chosen: pd.Series, level: Sequence[int]) -> pd.DataFrame:
    model = final["unique_id"].map(chosen).to_numpy()
    out = pd.DataFrame({"unique_id": final["unique_id"].to_numpy(), "ds": final["ds"].to_numpy()})
    rows = np.arange(len(final))

    def take(suffix: str) -> np.ndarray:
        cols = [f"{m}{suffix}" for m in model]
        mat = final.reindex(columns=sorted(set(cols)))
        pos = mat.columns.get_indexer(cols)
        return mat.to_numpy(dtype=float)[rows, pos]

    out["yhat"] = take("")
    for lv in level:
        out[f"yhat_lo_{lv}"] = take(f"-lo-{lv}")
        out[f"yhat_hi_{lv}"] = take(f"-hi-{lv}")
    out["model"] = model
    return out
