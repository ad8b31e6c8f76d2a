"""Running the spend analysis on a workspace: cost per result by dimension, the marketing-
mix model judged on held-out weeks, channel ROI, response curves and the budget split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmine.contract import Status, Verdict, judge, record_verdict, recorded_warnings
from crmine.exceptions import ConfigError, DataError
from crmine.marketing._mmm import MarketingMix, MixAllocation
from crmine.marketing._spend import (
    cheapest_groups,
    collapse_sums,
    spend_performance,
    summarise_spend,
)
from crmine.warehouse import Workspace

__all__ = [
    "ADSTOCK_CHOICES",
    "MIX_CHANNEL_COLUMNS",
    "MIX_MODEL_VERSION",
    "MixBacktest",
    "MixFit",
    "MixRun",
    "backtest_mix",
    "choose_adstock",
    "fit_mix_of",
    "load_weekly",
    "marketing_mix_of",
    "run_marketing_mix",
    "spend_kpis_of",
]

MIX_MODEL_VERSION = "mmm-1"
MIX_CHANNEL_COLUMNS = ("channel", "spend", "contribution", "contribution_ci_low",
                       "contribution_ci_high", "share_of_outcome", "roi", "roi_ci_low",
                       "roi_ci_high", "marginal_roi", "marginal_roi_ci_low",
                       "marginal_roi_ci_high", "rank", "beta", "decay", "half_saturation",
                       "shape", "lag_scale", "lag_shape")  # fmt: skip
ADSTOCK_CHOICES = ("geometric", "weibull", "auto")
SPEND_TABLE = "core.fct_marketing_spend"
OUTCOMES_TABLE = "core.fct_marketing_outcomes"
# Dimensions tabulated in marts.spend_performance when the source has them.
MART_DIMENSIONS = ("channel", "campaign", "ad_set", "ad", "age", "gender", "interest")
# The media must cut the held-out error by a tenth of the baseline's to be worth acting on.
MIN_RELATIVE_GAIN = 0.10


_EMPTY = {
    "mmm_channels": MIX_CHANNEL_COLUMNS,
    "mmm_contributions": ("week", "actual", "component", "contribution"),
    "mmm_response_curves": ("channel", "multiplier", "spend", "expected", "ci_low", "ci_high",
                            "marginal_roi"),
    "mmm_backtest": ("week", "actual", "forecast", "baseline_forecast"),
    "mmm_budget": ("channel", "current_spend", "optimal_spend", "change", "min_spend",
                   "max_spend", "expected_current", "expected_optimal", "weekly_budget",
                   "expected_gain", "gain_ci_low", "gain_ci_high", "prob_gain_positive"),
}


def _setting(ws: Workspace, key: str, default: Any) -> Any:
    value = ws.setting(key, default)
    return default if value is None else value


def spend_kpis_of(ws: Workspace, by: list[str] | tuple[str, ...], *, period: str = "W"
                  ) -> pd.DataFrame:
    """CTR, CPC, CPM, conversion rate, CPA and ROAS with intervals per group of ``by`` over
    ``core.fct_marketing_spend`` (``crmine campaigns kpis --by ...``)."""
    if not ws.has_table(SPEND_TABLE):
        raise DataError(f"{ws.root}: no {SPEND_TABLE}; load an ad-platform export with "
                        "`crmine ingest marketing_spend FILE`")  # fmt: skip
    if "channel" in by:
        return spend_performance(summarise_spend(SPEND_TABLE, by, con=ws.duck, period=period),
                                 by)
    # One scan: the groups within channels, added up (see spend_performance for why).
    strata = summarise_spend(SPEND_TABLE, [*by, "channel"], con=ws.duck, period=period)
    sums = collapse_sums(strata, by)
    return spend_performance(sums, by, strata=strata if strata["channel"].nunique() > 1
                             else None)


def _weekly_sql(ws: Workspace) -> pd.DataFrame:
    return ws.duck.execute(
        f"SELECT CAST(date_trunc('week', date) AS DATE) AS week, channel, sum(spend) AS spend "
        f"FROM {SPEND_TABLE} GROUP BY 1, 2 ORDER BY 1, 2").df()


def load_weekly(ws: Workspace, *, outcome: str = "revenue"
                ) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Weekly spend per channel, the weekly outcome and the controls.

    The outcome comes from ``core.fct_marketing_outcomes`` (all sales, not what platforms
    claim) and, without it, from the completed orders of ``core.fct_order_lines``
    (``revenue``: their amount; ``conversions``: their number). Weeks are Monday-based;
    only weeks covered by both spend and outcome are kept.
    """
    if outcome not in ("revenue", "conversions"):
        raise ConfigError(f"mmm_outcome must be revenue or conversions, not {outcome!r}")
    if not ws.has_table(SPEND_TABLE):
        raise DataError(f"{ws.root}: no {SPEND_TABLE}; load spend with `crmine ingest "
                        "marketing_spend FILE`")  # fmt: skip
    long = _weekly_sql(ws)
    spend = long.pivot_table(index="week", columns="channel", values="spend", aggfunc="sum",
                             fill_value=0.0)
    spend.index = pd.DatetimeIndex(spend.index)
    controls = pd.DataFrame(index=spend.index)
    if ws.has_table(OUTCOMES_TABLE):
        cols = {r[0]: r[1] for r in ws.duck.execute(f"DESCRIBE {OUTCOMES_TABLE}").fetchall()}
        numeric = [c for c, t in cols.items()
                   if c not in ("date", "revenue", "conversions", "source_row")
                   and t in ("DOUBLE", "BIGINT", "INTEGER", "FLOAT")]  # fmt: skip
        sums = ", ".join(f'sum("{c}") AS "{c}"' for c in (outcome,))
        avgs = "".join(f', avg("{c}") AS "{c}"' for c in numeric)
        weekly = ws.duck.execute(
            f"SELECT CAST(date_trunc('week', date) AS DATE) AS week, {sums}{avgs}, "
            f"count(*) AS days FROM {OUTCOMES_TABLE} GROUP BY 1 ORDER BY 1").df()
        weekly = weekly.set_index(pd.DatetimeIndex(weekly["week"]))
        where = f"{OUTCOMES_TABLE}.{outcome}"
        if weekly[outcome].isna().all():
            raise DataError(f"{where} holds no values; load them or set mmm_outcome")
        y = weekly[outcome]
        controls = weekly[[c for c in numeric if weekly[c].notna().any()
                           and weekly[c].std() > 0]]  # fmt: skip
    elif ws.has_table("core.fct_order_lines"):
        agg = "sum(amount)" if outcome == "revenue" else "count(DISTINCT order_id)"
        weekly = ws.duck.execute(
            f"SELECT CAST(date_trunc('week', order_ts) AS DATE) AS week, {agg} AS y "
            "FROM core.fct_order_lines WHERE status = 'completed' GROUP BY 1 ORDER BY 1").df()
        y = weekly.set_index(pd.DatetimeIndex(weekly["week"]))["y"]
    else:
        raise DataError(f"{ws.root}: no outcome for the marketing-mix model: load weekly "
                        "sales with `crmine ingest marketing_outcomes FILE` (or orders)")
    weeks = spend.index.intersection(y.dropna().index)
    if len(weeks) < 52:
        raise DataError(f"the marketing-mix model needs a year of weeks with both spend and "
                        f"outcome; found {len(weeks)}")  # fmt: skip
    return spend.loc[weeks], y.loc[weeks].astype(float), controls.reindex(weeks)


@dataclass(frozen=True, slots=True)
class MixBacktest:
    """The held-out weeks: actual outcome, the model's and the media-free baseline's
    forecasts, and the verdict on them."""

    weeks: pd.DataFrame
    mape: float
    baseline_mape: float
    verdict: Verdict
    adstock: str = "geometric"  # the carry-over form fitted (chosen on training weeks if auto)


def _mape(actual: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.abs(actual - pred) / np.maximum(np.abs(actual), 1e-9)


def _check_adstock(adstock: str) -> None:
    if adstock not in ADSTOCK_CHOICES:
        raise ConfigError(f"mmm_adstock must be one of {', '.join(ADSTOCK_CHOICES)}; got "
                          f"{adstock!r}")  # fmt: skip


def choose_adstock(spend: pd.DataFrame, y: pd.Series, controls: pd.DataFrame, *,
                   holdout: int = 13) -> tuple[str, dict[str, float]]:
    """The carry-over form (geometric or Weibull) whose fit on all but the last ``holdout``
    weeks forecasts those weeks best (mean absolute percentage error), and both errors.
    Ties go to geometric, the simpler: Weibull must cut the error by 2% to be chosen."""
    n = len(spend) - holdout
    if holdout < 1 or n < 26:
        raise ConfigError(f"choosing the adstock needs 26 weeks before the last {holdout}; "
                          f"got {len(spend)} weeks")  # fmt: skip
    actual = y.to_numpy(float)[n:]
    errors = {}
    for form in ("geometric", "weibull"):
        model = MarketingMix(n_bootstrap=0, adstock=form).fit(
            spend.iloc[:n], y.iloc[:n], controls.iloc[:n])
        errors[form] = float(_mape(actual, model.predict(spend, controls)[n:]).mean())
    best = "weibull" if errors["weibull"] < 0.98 * errors["geometric"] else "geometric"
    return best, errors


def backtest_mix(spend: pd.DataFrame, y: pd.Series, controls: pd.DataFrame, *,
                 holdout: int = 13, random_state: int = 0, adstock: str = "geometric"
                 ) -> MixBacktest:
    """Fit on all but the last ``holdout`` weeks, forecast them (spend known, as in a plan)
    and compare the mean absolute percentage error with the baseline a sceptic would use:
    the same trend, seasonality and controls without any media. The interval is a paired
    bootstrap over the held-out weeks.

    ``adstock="auto"`` picks geometric or Weibull carry-over on the training weeks alone
    (:func:`choose_adstock` with their own last ``holdout`` weeks), so the held-out weeks
    that judge the model took no part in choosing it."""
    _check_adstock(adstock)
    if holdout < 4 or holdout > len(spend) // 3:
        raise ConfigError(f"mmm_holdout_weeks = {holdout} must be between 4 and a third of "
                          f"the {len(spend)} weeks")  # fmt: skip
    train = slice(0, len(spend) - holdout)
    if adstock == "auto":
        adstock, _errors = choose_adstock(spend.iloc[train], y.iloc[train],
                                          controls.iloc[train], holdout=holdout)
    model = MarketingMix(n_bootstrap=0, adstock=adstock).fit(
        spend.iloc[train], y.iloc[train], controls.iloc[train])
    pred = model.predict(spend, controls)[-holdout:]
    base = _baseline_forecast(model, spend, y, controls, holdout)
    actual = y.to_numpy(float)[-holdout:]
    e_mix, e_base = _mape(actual, pred), _mape(actual, base)
    rng = np.random.default_rng(random_state)
    idx = rng.integers(0, holdout, size=(2000, holdout))
    gain = (e_base[idx] - e_mix[idx]).mean(axis=1)
    mape, base_mape = float(e_mix.mean()), float(e_base.mean())
    lo_gain, hi_gain = np.quantile(gain, [0.025, 0.975])
    interval = (max(0.0, base_mape - float(hi_gain)), base_mape - float(lo_gain))
    metric = f"held-out MAPE of the weekly outcome, last {holdout} weeks"
    verdict = judge(
        metric, mape, base_mape, interval, min_gain=MIN_RELATIVE_GAIN * base_mape,
        higher_is_better=False,
        why=(f"Forecasting the last {holdout} weeks from their spend, the marketing-mix "
             f"model's error is {mape:.1%} against {base_mape:.1%} for trend, seasonality and "
             f"controls without media."),
        what_to_try=("vary spend more between weeks and channels (flighting, geo tests): "
                     "media that move together or never change cannot be told apart from "
                     "the season"),
    )
    weeks = pd.DataFrame({"week": spend.index[-holdout:], "actual": actual, "forecast": pred,
                          "baseline_forecast": base})
    return MixBacktest(weeks, mape, base_mape, verdict, adstock)


def _baseline_forecast(model: MarketingMix, spend: pd.DataFrame, y: pd.Series,
                       controls: pd.DataFrame, holdout: int) -> np.ndarray:
    """Least squares on the model's own trend, seasonality and controls, without media."""
    ctrl = (np.empty((len(spend), 0)) if not model.control_names_
            else controls[model.control_names_].fillna(0.0).to_numpy(float))
    design = model._baseline_design(pd.DatetimeIndex(spend.index), ctrl)
    n = len(spend) - holdout
    coef, *_ = np.linalg.lstsq(design[:n], y.to_numpy(float)[:n], rcond=None)
    return np.asarray(design[n:] @ coef)


def _adstock_of(ws: Workspace, adstock: str | None) -> str:
    form = str(_setting(ws, "mmm_adstock", "geometric") if adstock is None else adstock)
    _check_adstock(form)
    return form


def fit_mix_of(ws: Workspace, *, n_bootstrap: int | None = None, adstock: str | None = None
               ) -> MarketingMix:
    """The marketing-mix model fitted on every week of the workspace, with the ``mmm_adstock``
    carry-over (``auto``: the form forecasting the last ``mmm_holdout_weeks`` better)."""
    spend, y, controls = load_weekly(ws, outcome=_setting(ws, "mmm_outcome", "revenue"))
    boots = int(_setting(ws, "mmm_bootstrap", 100)) if n_bootstrap is None else n_bootstrap
    form = _adstock_of(ws, adstock)
    if form == "auto":
        form, _errors = choose_adstock(spend, y, controls,
                                       holdout=int(_setting(ws, "mmm_holdout_weeks", 13)))
    return MarketingMix(n_bootstrap=boots, adstock=form).fit(spend, y, controls)


@dataclass(frozen=True, slots=True)
class MixFit:
    """The model judged and fitted on a workspace's weeks (``crmine campaigns mmm``)."""

    weeks: int
    backtest: MixBacktest
    model: MarketingMix
    channels: pd.DataFrame
    allocation: MixAllocation | None  # None when the backtest is not informative


def marketing_mix_of(ws: Workspace, *, n_bootstrap: int | None = None,
                     adstock: str | None = None) -> MixFit:
    """Backtest, final fit, channel summary and (when informative) the budget split, with
    the workspace's ``mmm_*`` settings (``adstock`` overrides ``mmm_adstock``); writes
    nothing."""
    if n_bootstrap is not None and n_bootstrap < 0:
        raise ConfigError(f"the number of bootstrap replicates must be >= 0; got {n_bootstrap}")
    spend, y, controls = load_weekly(ws, outcome=_setting(ws, "mmm_outcome", "revenue"))
    back = backtest_mix(spend, y, controls, holdout=int(_setting(ws, "mmm_holdout_weeks", 13)),
                        adstock=_adstock_of(ws, adstock))
    # The final fit keeps the form the backtest judged (auto: chosen on its training weeks).
    model = fit_mix_of(ws, n_bootstrap=n_bootstrap, adstock=back.adstock)
    alloc = (model.optimize_budget(_setting(ws, "mmm_budget", None),
                                   max_change=float(_setting(ws, "mmm_max_change", 0.5)))
             if back.verdict.actionable else None)  # fmt: skip
    return MixFit(len(spend), back, model, model.channel_summary(), alloc)


@dataclass(frozen=True, slots=True)
class MixRun:
    """Everything :func:`run_marketing_mix` computed (also written to ``marts.*``).

    ``verdict`` judges the model's forecast of held-out weeks against trend, seasonality and
    controls without media; when it is not informative ``allocation`` is None and
    ``marts.mmm_budget`` is written empty (no channel is shown to move the outcome).
    """

    performance: pd.DataFrame
    cheapest: pd.DataFrame
    channels: pd.DataFrame
    curves: pd.DataFrame
    contributions: pd.DataFrame
    backtest: MixBacktest | None
    allocation: MixAllocation | None
    verdict: Verdict | None
    marts: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"groups": len(self.performance)}
        if len(self.cheapest):
            top = self.cheapest.iloc[0]
            out["cheapest_audience"] = str(top["audience"])
            out["cheapest_cpa"] = float(top["cpa"])
        if len(self.channels):
            best = self.channels.sort_values("rank").iloc[0]
            out |= {"channels": len(self.channels), "best_roi_channel": str(best["channel"]),
                    "best_roi": float(best["roi"]),
                    "best_roi_interval": [float(best["roi_ci_low"]),
                                          float(best["roi_ci_high"])]}  # fmt: skip
        if self.backtest is not None:
            out |= {"holdout_mape": self.backtest.mape,
                    "baseline_mape": self.backtest.baseline_mape,
                    "adstock": self.backtest.adstock}
        if self.allocation is not None:
            out |= self.allocation.summary()
        elif self.verdict is not None and not self.verdict.actionable:
            out["note"] = ("no budget recommendation: the media do not improve the forecast "
                           "of held-out weeks over trend and seasonality")
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.channels.copy()


AUDIENCE = ("age", "gender", "interest")


def _performance_mart(ws: Workspace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every dimension with more than one level, and the audiences (age x gender x
    interest together), in one tidy table; and the cheapest audiences."""
    present = {r[0] for r in ws.duck.execute(f"DESCRIBE {SPEND_TABLE}").fetchall()}
    levels = {d: int(ws.duck.execute(f'SELECT count(DISTINCT "{d}") FROM {SPEND_TABLE}')
                     .fetchone()[0]) for d in MART_DIMENSIONS if d in present}  # type: ignore[index]
    parts = []
    for dim, n in levels.items():
        if n > 1:
            perf = spend_kpis_of(ws, [dim]).rename(columns={dim: "group"})
            parts.append(perf.assign(dimension=dim))
    audience = [d for d in AUDIENCE if levels.get(d, 0) > 1]
    cheapest = pd.DataFrame()
    if audience:
        perf = spend_kpis_of(ws, audience)
        label = perf[audience].astype(str).agg(" / ".join, axis=1)
        parts.append(perf.drop(columns=audience).assign(group=label, dimension="audience"))
        cheap = cheapest_groups(perf, audience)
        cheap.insert(0, "audience", cheap[audience].astype(str).agg(" / ".join, axis=1))
        cheapest = cheap.drop(columns=audience)
    if not parts:
        return pd.DataFrame(), cheapest
    out = pd.concat(parts, ignore_index=True)
    first = ["dimension", "group"]
    return out[first + [c for c in out.columns if c not in first]], cheapest


def _performance_verdict(perf: pd.DataFrame) -> Verdict:
    """Without an outcome series only the cost-per-result differences can be judged: is any
    group's CPA different from the rest's (Holm within each dimension) by at least 10%?"""
    metric = "CPA of a group relative to the rest (Holm-corrected)"
    if perf.empty:
        return Verdict("not_informative", metric, None, 1.0,
                       why="The spend has a single level on every dimension: nothing to compare.")
    sig = perf[perf["significant"] & perf["cpa_vs_rest"].notna()]
    if sig.empty:
        return Verdict("not_informative", metric, None, 1.0,
                       why="No group's cost per result differs significantly from the rest.",
                       what_to_try="load weekly sales (`crmine ingest marketing_outcomes "
                                   "FILE`) for the marketing-mix model")  # fmt: skip
    row = sig.loc[(sig["cpa_vs_rest"] - 1).abs().idxmax()]
    ratio = float(row["cpa_vs_rest"])
    status: Status = "informative" if abs(ratio - 1) >= 0.1 else "weak"
    return Verdict(status, metric, ratio, 1.0, None,
                   why=(f"{len(sig):,} of {len(perf):,} groups differ in cost per result; the "
                        f"largest, {row['dimension']} {row['group']}, pays {ratio:.2f}x the "
                        "rest's CPA."))  # fmt: skip


def run_marketing_mix(ws: Workspace, *, model_version: str = MIX_MODEL_VERSION
                      ) -> MixRun:
    """Cost per result by dimension and audience, the marketing-mix model with its held-out
    verdict, channel ROI, response curves and the budget split, written to marts.

    Writes ``marts.spend_performance`` (one row per dimension and group), ``marts.
    spend_cheapest_audiences``, ``marts.mmm_channels``, ``marts.mmm_contributions``, ``marts.
    mmm_response_curves``, ``marts.mmm_backtest`` and ``marts.mmm_budget`` (EMPTY when the
    verdict is not informative). Without an outcome series (no ``core.fct_marketing_outcomes``
    or orders) the model's marts are written empty and the verdict judges the CPA differences.
    """
    written: list[str] = []

    def write(name: str, frame: pd.DataFrame) -> None:
        ws.write_mart(name, frame, model_version=model_version)
        written.append(f"marts.{name}")

    perf, cheapest = _performance_mart(ws)
    write("spend_performance", perf)
    write("spend_cheapest_audiences", cheapest)
    outcome = _setting(ws, "mmm_outcome", "revenue")
    try:
        spend, y, controls = load_weekly(ws, outcome=outcome)
    except DataError as exc:
        verdict = _performance_verdict(perf)
        verdict = Verdict(verdict.status, verdict.metric, verdict.value, verdict.baseline,
                          verdict.interval, verdict.why + f" No marketing-mix model: {exc}",
                          verdict.what_to_try)  # fmt: skip
        for name, cols in _EMPTY.items():
            write(name, pd.DataFrame({c: pd.Series(dtype="float64") for c in cols}))
        record_verdict(ws, "marketing_mix", verdict)
        return MixRun(perf, cheapest, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), None,
                      None, verdict, tuple(written))  # fmt: skip
    holdout = int(_setting(ws, "mmm_holdout_weeks", 13))
    with recorded_warnings() as caught:
        back = backtest_mix(spend, y, controls, holdout=holdout, adstock=_adstock_of(ws, None))
        model = MarketingMix(n_bootstrap=int(_setting(ws, "mmm_bootstrap", 100)),
                             adstock=back.adstock).fit(spend, y, controls)
        channels = model.channel_summary()
        curves = model.response_curves()
        alloc = model.optimize_budget(_setting(ws, "mmm_budget", None),
                                      max_change=float(_setting(ws, "mmm_max_change", 0.5)))
    verdict = back.verdict.with_warnings(caught)
    contrib = model.contributions()
    contrib.insert(0, "actual", y.to_numpy(float))
    tidy = (contrib.rename_axis("week").reset_index()
            .melt(id_vars=["week", "actual"], var_name="component", value_name="contribution"))
    write("mmm_channels", channels)
    write("mmm_contributions", tidy)
    write("mmm_response_curves", curves)
    write("mmm_backtest", back.weeks)
    budget = _budget_table(alloc)
    write("mmm_budget", budget if verdict.actionable else budget.iloc[0:0])
    record_verdict(ws, "marketing_mix", verdict)
    return MixRun(perf, cheapest, channels, curves, tidy, back,
                  alloc if verdict.actionable else None, verdict, tuple(written))


def _budget_table(alloc: MixAllocation) -> pd.DataFrame:
    table = alloc.table.copy()
    table["weekly_budget"] = alloc.budget
    table["expected_gain"] = alloc.expected_gain
    table["gain_ci_low"] = alloc.gain_ci_low
    table["gain_ci_high"] = alloc.gain_ci_high
    table["prob_gain_positive"] = alloc.prob_gain_positive
    return table
