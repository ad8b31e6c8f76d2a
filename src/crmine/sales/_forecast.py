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

from crmine.contract import Verdict, recorded_warnings
from crmine.exceptions import DataError, MissingColumnError
from crmine.sales import _backtest as _bt
from crmine.sales._calibrate import apply_factors, conformal_factors, ensure_intervals
from crmine.sales._regressors import check_future, effects, regressor_columns, shift

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
    "theta": "DynamicOptimizedTheta",
    "autotheta": "AutoTheta",
    "arima": "AutoARIMA",
    "mstl": "MSTL",
    "croston": "CrostonOptimized",
    "adida": "ADIDA",
    "combo": "Combination",
}
DEFAULT_MODELS = ("ets", "theta", "arima", "combo")
BASELINE = _bt.BASELINE
# Members of the combination (equal weights): averaging ETS, Theta and ARIMA is what beat
# single methods in the M3/M4 competitions.
# Theta in its dynamic optimised form (Fiorucci et al. 2016): one fit, where AutoTheta fits
# four variants, and the better member on the simulated competition (``_competition``).
COMBO_MEMBERS = ("AutoETS", "DynamicOptimizedTheta", "AutoARIMA")
COMBINE = "mean"  # or "median": with three members, robust to one that runs away
INTERMITTENT_ZERO_SHARE = 0.3  # series with more zero periods get Croston / ADIDA too
# windows taking at most 20 % of the shortest history: one fit per series, applied forward
ONE_PASS_SHARE = 0.8
CLOSED_SHARE = 0.8  # a weekday without sales in 80 % of weeks is a closing day


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


def pandas_freq(freq: str, ds: pd.Series) -> str:
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


def _check_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    missing = [c for c in ("unique_id", "ds", "y") if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"forecast needs columns unique_id, ds, y; missing {missing} "
            f"(found {list(frame.columns)[:20]})"
        )
    regressors = regressor_columns(frame)
    df = frame[["unique_id", "ds", "y", *regressors]].copy()
    df["unique_id"] = df["unique_id"].astype(str)
    df["ds"] = pd.to_datetime(df["ds"])
    df["y"] = pd.to_numeric(df["y"], errors="coerce").astype(float)
    for c in regressors:
        df[c] = pd.to_numeric(df[c]).astype(float)
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
    return df.sort_values(["unique_id", "ds"]).reset_index(drop=True), regressors


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
        DynamicOptimizedTheta,
        SeasonalNaive,
    )

    out: list[Any] = [SeasonalNaive(season_length=season)]
    wanted = set(names)
    # Seasonal ETS and ARIMA with a period over 24 (weekly data's 52) are slow and unstable:
    # the yearly cycle of weekly data is Theta's (decomposition) and MSTL's job.
    short_season = season if season <= 24 else 1
    if "ets" in wanted or "combo" in wanted:
        out.append(AutoETS(season_length=short_season))
    if "theta" in wanted or "combo" in wanted:
        out.append(DynamicOptimizedTheta(season_length=season))
    if "autotheta" in wanted:
        out.append(AutoTheta(season_length=season))
    if "arima" in wanted:
        out.append(AutoARIMA(season_length=short_season))
    # MSTL for daily data with a yearly cycle on top of the weekly one, when two years exist.
    two_years = freq.upper().startswith("D") and season == 7 and n_min >= 2 * 365 + horizon
    if "mstl" in wanted or (two_years and "ets" in wanted):
        out.append(MSTL(season_length=[7, 365] if two_years else [season]))
    if intermittent or "croston" in wanted or "adida" in wanted:
        # no intervals of their own: the calibration gives them conformal ones
        out.append(CrostonOptimized())
        out.append(ADIDA())
    return out


def _add_combo(frame: pd.DataFrame, level: Sequence[int]) -> pd.DataFrame:
    members = [m for m in COMBO_MEMBERS if m in frame.columns]
    if len(members) < 2:
        return frame

    def combine(cols: list[str]) -> pd.Series:
        part = frame[cols]
        return part.median(axis=1) if COMBINE == "median" else part.mean(axis=1)

    add = {"Combination": combine(members)}
    for lv in level:  # combining quantiles: Vincentization (Lichtendahl et al. 2013)
        for side in ("lo", "hi"):
            add[f"Combination-{side}-{lv}"] = combine([f"{m}-{side}-{lv}" for m in members])
    return frame.assign(**add)


def _model_names(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if c not in ("unique_id", "ds", "cutoff", "y") and "-lo-" not in c and "-hi-" not in c
    ]


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
    future: pd.DataFrame | None = None,
    pooled_effects: bool = False,
) -> ForecastResult:
    """Forecast every series of a long frame, choosing the model per series by backtest.

    Parameters
    ----------
    frame : DataFrame
        ``unique_id, ds, y`` (long format), one row per series and period without gaps
        (missing periods are filled with 0: no sales). Further numeric columns are
        regressors (a promotion share, a holiday flag): their effect per series is taken
        out before the models and added back to the forecast (:mod:`._regressors`).
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
        Default from ``freq`` (:func:`season_length_of`); series shorter than two seasons
        (plus the horizon) are forecast without one.
    n_windows : int
        Rolling-origin windows of ``horizon`` periods: all but the last choose the model and
        calibrate the intervals, the last is the held-out backtest (1: choice and backtest on
        the same window, intervals uncalibrated in the backtest).
    n_jobs : int
        Processes statsforecast fits the series with (-1: every core).
    future : DataFrame, optional
        ``unique_id, ds`` and every regressor column for each forecast period; required
        when ``frame`` has regressors.
    pooled_effects : bool
        One relative effect per regressor for every series (scaled by each series' level)
        instead of one per series: for the nodes of one hierarchy (:mod:`._regressors`).

    Where the windows take at most a fifth of the history, each model is fitted once per
    series (on the history before the first window) and the windows and the final forecast
    apply it to the data up to their origin (statsforecast's ``forward``): the backtest costs
    no refits. Shorter histories refit at every window and for the final forecast. Intervals
    are calibrated conformally on the windows (:mod:`._calibrate`). Daily series whose shop
    is closed on some weekday (no sales in 80 % of those days before the backtest) get 0,
    intervals included, on that weekday.

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
    if horizon < 1:
        raise DataError(f"forecast horizon must be >= 1 period, got {horizon}")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise DataError(f"unknown forecast model(s) {unknown}; choose from {sorted(MODELS)}")
    level = tuple(int(lv) for lv in level)
    df, regressors = _check_frame(frame)
    if df.empty:
        raise DataError("forecast frame has no rows")
    season = season_length or season_length_of(freq)
    pfreq = pandas_freq(freq, df["ds"])
    try:
        offset = pd.tseries.frequencies.to_offset(pfreq)
    except ValueError:
        raise DataError(f"unknown forecast frequency {freq!r}: use D, W, M (MS), Q or H") from None
    df = _fill_gaps(df, pfreq, regressors)
    last = df.groupby("unique_id", sort=False)["ds"].max()
    ahead = pd.DataFrame({
        "unique_id": np.repeat(last.index.to_numpy(), horizon),
        "ds": [d + k * offset for d in last for k in range(1, horizon + 1)],
    })  # fmt: skip
    ahead = check_future(future, regressors, ahead)
    lengths = df.groupby("unique_id", sort=False).size()
    # Each series gets as many windows as its history allows (at most n_windows); one too
    # short for a single window is forecast without a backtest.
    windows = max(1, int(n_windows))
    n = lengths.to_numpy()
    fits = np.clip((n - max(2 * season, 8)) // horizon, 0, windows)
    # Too short for two seasons and a window: backtested without the season.
    plain = np.clip((n - 8) // horizon, 0, windows)
    seasons = np.where(fits > 0, season, 1)
    fits = np.where(fits > 0, fits, plain)
    closed: dict[str, set[int]] = {}
    if pfreq.upper() == "D":  # closing days judged before the backtest windows: no peeking
        end = df["unique_id"].map(last) - pd.Timedelta(days=windows * horizon)
        closed = closed_weekdays(df[df["ds"] <= end])
    zero_share = (df["y"] == 0).groupby(df["unique_id"], sort=False).mean()
    intermittent = bool((zero_share >= INTERMITTENT_ZERO_SHARE).any())
    groups = sorted({(int(s), int(w)) for s, w in zip(seasons, fits, strict=True) if w > 0},
                    key=lambda g: (-g[0], -g[1]))  # fmt: skip
    with recorded_warnings() as caught:
        run = _Run(models, level, pfreq, horizon, intermittent, n_jobs, regressors, closed,
                   pooled_effects)
        parts = [
            run.backtested(df, ahead, lengths.index[(seasons == s) & (fits == w)], s, w)
            for s, w in groups
        ]
        short = lengths.index[fits == 0]
        factors = parts[0].factors if parts else {}
        if len(short):
            parts.append(run.forecast_only(df, ahead, short, season, factors))
    final = pd.concat([p.forecast for p in parts], ignore_index=True)
    final = final.sort_values(["unique_id", "ds"], ignore_index=True)
    tested = [p for p in parts if len(p.held)]
    held = pd.concat([p.held for p in tested], ignore_index=True) if tested else pd.DataFrame()
    chosen = pd.concat([p.chosen for p in parts])
    scale = pd.concat([p.scale for p in parts])
    verdict, backtest = _bt.verdict(held, chosen, scale, season, level)
    verdict = verdict.with_warnings(caught)
    cv = pd.concat([p.windows for p in tested], ignore_index=True) if tested else pd.DataFrame()
    used_season = season if tested and groups[0][0] == season else 1
    return ForecastResult(final, backtest, cv, verdict, pfreq, horizon, level, used_season)


@dataclass(frozen=True, slots=True)
class _Part:
    forecast: pd.DataFrame
    held: pd.DataFrame  # the held-out window, calibrated on the earlier ones
    windows: pd.DataFrame
    chosen: pd.Series
    scale: pd.Series
    factors: dict[tuple[str, int], float]


@dataclass(frozen=True, slots=True)
class _Run:
    """One forecast call's settings, applied to the backtested and the short series."""

    names: Sequence[str]
    level: tuple[int, ...]
    pfreq: str
    horizon: int
    intermittent: bool
    n_jobs: int
    regressors: list[str]
    closed: dict[str, set[int]]
    pooled: bool = False

    def _allowed(self, fitted: list[str]) -> list[str]:
        allowed = [MODELS[m] for m in self.names if MODELS[m] in fitted] or list(fitted)
        if "MSTL" in fitted and "MSTL" not in allowed:
            allowed.append("MSTL")
        if self.intermittent:
            extra = ("CrostonOptimized", "ADIDA")
            allowed += [m for m in extra if m in fitted and m not in allowed]
        return allowed

    def backtested(
        self, df: pd.DataFrame, ahead: pd.DataFrame, ids: pd.Index, season: int, windows: int
    ) -> _Part:
        """Rolling windows, their calibrated intervals, the choice and the final forecast."""
        from statsforecast import StatsForecast
        from statsforecast.models import Naive

        hist = df[df["unique_id"].isin(ids)]
        fut = ahead[ahead["unique_id"].isin(ids)].assign(y=np.nan)
        ext = pd.concat([hist, fut[hist.columns]], ignore_index=True)
        ext = ext.sort_values(["unique_id", "ds"], ignore_index=True)
        # the history before the first window: what the models' parameters are fitted on
        pos = hist.groupby("unique_id", sort=False).cumcount()
        size = hist.groupby("unique_id", sort=False)["y"].transform("size")
        train = hist[pos < size - windows * self.horizon]
        coef = effects(train, self.regressors, pooled=self.pooled) if self.regressors else None
        xb = shift(ext, coef, self.regressors) if coef is not None else np.zeros(len(ext))
        ext = ext.assign(y=ext["y"] - xb)
        lengths = hist.groupby("unique_id").size()
        candidates = _models(self.names, season, self.horizon, self.intermittent,
                             int(lengths.min()), self.pfreq)  # fmt: skip
        # Long histories: each model is fitted once, before the first window, and applied
        # forward through the windows and the future (one more window). When the windows
        # take a large share of the history, parameters and model forms fitted on what is
        # left would be stale: every window refits, and the final forecast uses all of it.
        one_pass = (lengths.min() - windows * self.horizon) >= ONE_PASS_SHARE * lengths.min()
        cols = ["unique_id", "ds", "y"]
        if one_pass:
            cv = self._windows(candidates, ext[cols], windows + 1, forward=True)
        else:
            past = self._windows(candidates, ext.loc[ext["y"].notna(), cols], windows, False)
            sf = StatsForecast(models=candidates, freq=self.pfreq, n_jobs=self.n_jobs,
                               fallback_model=Naive())  # fmt: skip
            fut_df = sf.forecast(h=self.horizon, df=ext.loc[ext["y"].notna(), cols],
                                 level=list(self.level)).reset_index(drop=True)  # fmt: skip
            last_ds = hist.groupby("unique_id", sort=False)["ds"].max()
            fut_df.insert(2, "cutoff", fut_df["unique_id"].map(last_ds).to_numpy())
            fut_df.insert(3, "y", np.nan)
            cv = pd.concat([past, fut_df[past.columns]], ignore_index=True)
            cv = cv.sort_values(["unique_id", "cutoff", "ds"], ignore_index=True)
        cv = self._restore(cv, ext, xb)
        scale = _bt.scales(train, season)
        fitted = _model_names(cv)
        cv = ensure_intervals(cv, fitted, self.level, scale)
        cv = _add_combo(_closed_to_zero(cv, self.closed), self.level)
        names = _model_names(cv)
        window = cv.groupby("unique_id", sort=False)["cutoff"].rank(method="dense").astype(int)
        final_rows = window.to_numpy() == windows + 1
        held_rows = window.to_numpy() == windows
        sel_rows = window.to_numpy() < windows if windows > 1 else held_rows
        calib = cv[sel_rows] if windows > 1 else cv.iloc[:0]
        f_bt = conformal_factors(calib, names, self.level)
        f_final = conformal_factors(cv[sel_rows | held_rows], names, self.level)
        past = apply_factors(cv[~final_rows], f_bt, names, self.level)
        future_rows = apply_factors(cv[final_rows], f_final, names, self.level)
        allowed = self._allowed(names)
        chosen = _bt.choose(past[sel_rows[~final_rows]], allowed, scale)
        chosen = chosen.reindex(ids).fillna(_fallback(allowed))
        held = past[held_rows[~final_rows]].reset_index(drop=True)
        out = _pick(future_rows.reset_index(drop=True), chosen, self.level)
        return _Part(out, held, past.reset_index(drop=True), chosen, scale, f_final)

    def _windows(
        self, candidates: list[Any], frame: pd.DataFrame, n_windows: int, forward: bool
    ) -> pd.DataFrame:
        """Rolling-origin forecasts of every candidate; with ``forward`` fitted only once
        (models without a forward step, Croston and ADIDA, are cheap and refit anyway)."""
        from statsforecast import StatsForecast
        from statsforecast.models import Naive

        cv = None
        for refit in (False, True) if forward else (True,):
            group = [m for m in candidates if not forward or hasattr(m, "forward") != refit]
            if not group:
                continue
            sf = StatsForecast(models=group, freq=self.pfreq, n_jobs=self.n_jobs,
                               fallback_model=Naive())  # fmt: skip
            part = sf.cross_validation(
                h=self.horizon,
                df=frame,
                n_windows=n_windows,
                step_size=self.horizon,
                level=list(self.level),
                refit=refit,
            ).reset_index(drop=True)
            if cv is None:
                cv = part
            else:
                new = part.drop(columns=["unique_id", "ds", "cutoff", "y"])
                cv = pd.concat([cv, new], axis=1)
        assert cv is not None  # SeasonalNaive is always a candidate
        return cv

    def _restore(self, cv: pd.DataFrame, ext: pd.DataFrame, xb: np.ndarray) -> pd.DataFrame:
        """Add the regressors' effect back to actuals, forecasts and interval bounds."""
        if not self.regressors:
            return cv
        key = pd.MultiIndex.from_frame(ext[["unique_id", "ds"]])
        add = pd.Series(xb, index=key).reindex(pd.MultiIndex.from_frame(cv[["unique_id", "ds"]]))
        add_v = add.to_numpy(float)
        cols = [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff")]
        cv = cv.copy()
        for c in cols:
            cv[c] = cv[c].to_numpy(float) + add_v
        return cv

    def forecast_only(
        self,
        df: pd.DataFrame,
        ahead: pd.DataFrame,
        ids: pd.Index,
        season: int,
        factors: dict[tuple[str, int], float],
    ) -> _Part:
        """Series too short for a backtest: forecast without one (no season under 2 of them).

        Their intervals take the calibration of the backtested series, when there are any.
        """
        from statsforecast import StatsForecast
        from statsforecast.models import Naive

        hist = df[df["unique_id"].isin(ids)]
        lengths = hist.groupby("unique_id").size()
        s = season if lengths.min() >= 2 * season + 2 else 1
        fut = ahead[ahead["unique_id"].isin(ids)]
        coef = effects(hist, self.regressors, pooled=self.pooled) if self.regressors else None
        xb_hist = shift(hist, coef, self.regressors) if coef is not None else 0.0
        xb_fut = shift(fut, coef, self.regressors) if coef is not None else np.zeros(len(fut))
        hist = hist.assign(y=hist["y"] - xb_hist)
        candidates = _models(self.names, s, self.horizon, self.intermittent, int(lengths.min()),
                             self.pfreq)  # fmt: skip
        sf = StatsForecast(models=candidates, freq=self.pfreq, n_jobs=1, fallback_model=Naive())
        f = sf.forecast(h=self.horizon, df=hist[["unique_id", "ds", "y"]], level=list(self.level))
        f = f.reset_index(drop=True)
        scale = _bt.scales(hist, s)
        f = ensure_intervals(f, _model_names(f), self.level, scale)
        f = _add_combo(_closed_to_zero(f, self.closed), self.level)
        f = apply_factors(f, factors, _model_names(f), self.level)
        if coef is not None:
            add = pd.Series(xb_fut, index=pd.MultiIndex.from_frame(fut[["unique_id", "ds"]]))
            add_v = add.reindex(pd.MultiIndex.from_frame(f[["unique_id", "ds"]])).to_numpy(float)
            for c in _value_columns(f):
                f[c] = f[c].to_numpy(float) + add_v
        allowed = self._allowed(_model_names(f))
        chosen = pd.Series(_fallback(allowed), index=ids, dtype=object)
        empty = pd.DataFrame()
        return _Part(_pick(f, chosen, self.level), empty, empty, chosen, scale, factors)


def _value_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("unique_id", "ds", "cutoff")]


def _fallback(allowed: Sequence[str]) -> str:
    order = ("Combination", "AutoETS", "DynamicOptimizedTheta")
    return next((m for m in order if m in allowed), allowed[0])


def _pick(final: pd.DataFrame, chosen: pd.Series, level: Sequence[int]) -> pd.DataFrame:
    model = final["unique_id"].map(chosen).to_numpy()
    out = pd.DataFrame({"unique_id": final["unique_id"].to_numpy(), "ds": final["ds"].to_numpy()})
    out["yhat"] = _bt.take(final, model)
    for lv in level:
        out[f"yhat_lo_{lv}"] = _bt.take(final, model, f"-lo-{lv}")
        out[f"yhat_hi_{lv}"] = _bt.take(final, model, f"-hi-{lv}")
    out["model"] = model
    return out


def _fill_gaps(df: pd.DataFrame, pfreq: str, regressors: Sequence[str]) -> pd.DataFrame:
    """Every series on one complete grid from its first to its last period (gaps: 0 sales)."""
    grid = pd.date_range(df["ds"].min(), df["ds"].max(), freq=pfreq)
    off = ~df["ds"].isin(grid)
    if off.any():
        row = df[off].iloc[0]
        raise DataError(
            f"forecast series {row['unique_id']!r}: dates such as {row['ds']} are not on "
            f"the {pfreq} grid; aggregate to the period first"
        )
    pos = grid.get_indexer(df["ds"])
    span = pd.DataFrame({"uid": df["unique_id"], "pos": pos}).groupby("uid", sort=True)["pos"]
    first, last = span.min(), span.max()
    n = (last - first + 1).to_numpy()
    if int(n.sum()) == len(df):
        return df
    uid = np.repeat(first.index.to_numpy(), n)
    idx = np.concatenate([np.arange(a, b + 1) for a, b in zip(first, last, strict=True)])
    full = pd.DataFrame({"unique_id": uid, "ds": grid[idx]})
    full = full.merge(df, on=["unique_id", "ds"], how="left")
    full["y"] = full["y"].fillna(0.0)
    for c in regressors:  # a period without sales had no recorded regressor: none active
        full[c] = full[c].fillna(0.0)
    return full


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
