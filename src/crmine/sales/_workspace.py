"""``run_sales``: sales by dimension, drivers of change, whale curve, forecast, elasticity and
what-if on a workspace; writes the ``sales_*`` marts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmine.contract import SkipAnalysis, Verdict, judge, record_verdict, recorded_warnings
from crmine.exceptions import ConfigError
from crmine.sales._calendar import CalendarRegressors, workspace_regressors
from crmine.sales._elasticity import (
    ELASTICITY_COLUMNS,
    MIN_FIRST_STAGE_F,
    price_elasticity,
    workspace_panel,
)
from crmine.sales._forecast import MODELS, pandas_freq
from crmine.sales._hierarchy import HierarchicalForecast, forecast_hierarchy
from crmine.sales._promotions import cannibalisation, matched_uplift, workspace_product_weeks
from crmine.sales._summary import (
    MEASURES,
    ORDERS,
    period_change,
    sales_by,
    whale_curve,
    whale_summary,
)
from crmine.sales._whatif import WHATIF_COLUMNS, break_even_discounts, whatif_price
from crmine.warehouse import Workspace

__all__ = [
    "BREAK_EVEN_COLUMNS",
    "DIMENSIONS",
    "FORECAST_COLUMNS",
    "PROMOTION_COLUMNS",
    "SalesRun",
    "forecast_settings",
    "promotion_effects",
    "run_sales",
    "sales_series",
]

MODEL_VERSION = "sales-1"
# The dimensions of marts.sales_by_dimension, when the warehouse has them.
DIMENSIONS = ("category", "product", "channel", "sales_method", "promotion", "region",
              "country", "segment", "brand")  # fmt: skip
CHANGE_DIMENSIONS = ("channel", "category", "region", "product")
PERIOD_OF = {"D": "day", "W": "week", "M": "month"}
FORECAST_COLUMNS = ("unique_id", "level", "ds", "yhat", "yhat_lo_80", "yhat_hi_80",
                    "yhat_lo_95", "yhat_hi_95", "yhat_base", "model")  # fmt: skip
BREAK_EVEN_COLUMNS = ("purchase_rate", "break_even_spend", "acquisition_cost", "margin",
                      "cost_to_serve", "customers_above")  # fmt: skip
PROMOTION_COLUMNS = ("category", "promotion_weeks", "promotion_lift", "promotion_lift_lower",
                     "promotion_lift_upper", "model_uplift", "model_uplift_lower",
                     "model_uplift_upper", "matched_uplift", "matched_uplift_lower",
                     "matched_uplift_upper", "pull_forward", "pull_forward_lower",
                     "pull_forward_upper", "cannibalisation", "cannibalisation_lower",
                     "cannibalisation_upper", "cannibalisation_note", "weeks")  # fmt: skip
ELASTICITY_MIN_GAIN = 0.5  # half the categories with a price effect: informative


@dataclass(frozen=True, slots=True)
class SalesRun:
    """The result of :func:`run_sales`.

    Attributes
    ----------
    by_dimension : DataFrame
        ``dimension, value`` and the sales measures (:func:`crmine.sales.sales_by`).
    by_period : DataFrame
        The measures per month.
    change : DataFrame
        Last complete month against the one before, per channel/category/region/product,
        with each value's contribution to the change.
    whale : DataFrame
        The customer profitability curve (empty without unit costs).
    forecast : HierarchicalForecast or None
        Revenue per period, total and by ``sales.forecast_by``, reconciled, with backtest.
    elasticity, whatif, discounts : DataFrame
        Price elasticity and promotion lift per category; the what-if of
        ``sales.price_change``; break-even and margin-maximising discounts.
    break_even : DataFrame
        The spend per purchase at which a customer becomes profit-positive, per purchase rate.
    """

    by_dimension: pd.DataFrame
    by_period: pd.DataFrame
    change: pd.DataFrame
    whale: pd.DataFrame
    forecast: HierarchicalForecast | None
    elasticity: pd.DataFrame
    whatif: pd.DataFrame
    discounts: pd.DataFrame
    break_even: pd.DataFrame
    marts: tuple[str, ...]
    verdict: Verdict
    # the promotion and holiday regressors the forecast used (None: no calendar)
    calendar: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        total = self.by_period[["revenue", "units", "profit"]].sum(numeric_only=True)
        out: dict[str, Any] = {
            "revenue": float(total["revenue"]),
            "units": float(total["units"]),
            "profit": float(total["profit"]) if self.by_period["profit"].notna().any() else None,
            "periods": len(self.by_period),
            "whale": whale_summary(self.whale),
            "forecast": self.forecast.summary() if self.forecast is not None else None,
            "calendar": self.calendar,
            "elasticity": self.elasticity[
                ["group", "elasticity", "lower", "upper", "promotion_lift", "price_varies",
                 "weak_instrument"]
            ].to_dict("records"),
            "marts": list(self.marts),
            "verdict": self.verdict.to_dict(),
        }
        if not self.verdict.actionable:
            out["withheld"] = (
                "the forecast is withheld: it did not beat seasonal naive on held-out data"
            )
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.by_dimension.copy()


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def forecast_settings(ws: Workspace) -> dict[str, Any]:
    """The ``sales.forecast_*`` settings with their defaults resolved."""
    freq = str(ws.setting("sales.forecast_freq", "W")).upper()
    if freq not in PERIOD_OF:
        raise ConfigError(f"sales.forecast_freq must be D, W or M, got {freq!r}")
    horizon = ws.setting("sales.forecast_horizon")
    models = ws.setting("sales.forecast_models")
    by = ws.setting("sales.forecast_by")
    return {
        "freq": freq,
        "horizon": int(horizon) if horizon else {"D": 28, "W": 8, "M": 3}[freq],
        "models": tuple(models) if models else ("ets", "theta", "combo"),
        # "channel,category": the total, each channel, each channel's categories
        "by": tuple(d.strip() for d in str(by or "channel").split(",") if d.strip()),
        "n_windows": int(ws.setting("sales.forecast_windows", 3)),
        # promotion plan and holidays as regressors, when the warehouse holds them
        "calendar": bool(ws.setting("sales.forecast_calendar", True)),
    }


def sales_series(ws: Workspace, freq: str, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Revenue per complete period (``ds``, ``y``, and ``by`` when given) from the orders.

    The last period is dropped when the data stop before its end (a half week is not a
    week with half the sales).
    """
    period = PERIOD_OF[freq.upper()]
    dims = [by] if isinstance(by, str) else list(by or ())
    frame = sales_by(ws, dims, period=period, counts=False)
    frame = frame.rename(columns={"period": "ds", "revenue": "y"})
    frame["ds"] = pd.to_datetime(frame["ds"])
    last = ws.duck.execute(f"SELECT max(order_ts) FROM {ORDERS}").fetchone()
    if last and last[0] is not None:
        end = pd.Timestamp(last[0]).normalize() + pd.Timedelta(days=1)
        step = {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1),
                "month": pd.DateOffset(months=1)}[period]  # fmt: skip
        frame = frame[frame["ds"] + step <= end]
    return frame[["ds", "y", *dims]].reset_index(drop=True)


def calendar_regressors(ws: Workspace, series: pd.DataFrame, by: Sequence[str], freq: str,
                        horizon: int) -> CalendarRegressors | None:
    """The promotion and holiday regressors of :func:`sales_series`'s nodes, over its periods
    and the ``horizon`` after them (None without calendars in the warehouse)."""
    ds = pd.DatetimeIndex(np.sort(series["ds"].unique()))
    pfreq = pandas_freq(freq, pd.Series(ds))
    step = pd.tseries.frequencies.to_offset(pfreq)
    grid = pd.date_range(ds[0], periods=len(pd.date_range(ds[0], ds[-1], freq=pfreq)) + horizon,
                         freq=pfreq)  # fmt: skip
    return workspace_regressors(ws, list(by), grid, step)


def _by_dimension(ws: Workspace) -> pd.DataFrame:
    parts = []
    for d in DIMENSIONS:
        try:
            t = sales_by(ws, (d,))
        except Exception:  # a dimension the warehouse does not have is left out
            continue
        if t[d].nunique() <= 1 and d not in ("category", "channel"):
            continue
        parts.append(t.rename(columns={d: "value"}).assign(dimension=d))
    columns = ("dimension", "value", *MEASURES)
    return pd.concat(parts, ignore_index=True)[list(columns)] if parts else _empty(columns)


def _changes(ws: Workspace) -> pd.DataFrame:
    parts = []
    for d in CHANGE_DIMENSIONS:
        try:
            t = period_change(ws, d, period="month")
        except Exception:  # dimension absent, or a single month of data
            continue
        parts.append(t.rename(columns={d: "value"}).assign(dimension=d))
    cols = ("period", "previous_period", "dimension", "value", "previous", "current", "change",
            "change_pct", "contribution")  # fmt: skip
    return pd.concat(parts, ignore_index=True)[list(cols)] if parts else _empty(cols)


def _elasticity_verdict(fit: pd.DataFrame) -> Verdict:
    usable = fit[fit["price_varies"] & fit["p_holm"].notna()]
    if usable.empty:
        return Verdict(
            "not_informative",
            "share of categories with a price elasticity (Holm 5%)",
            0.0,
            0.0,
            why="prices barely varied in any category: no elasticity can be told",
            what_to_try="price tests (vary prices deliberately) or a longer history",
        )
    # a weakly instrumented category's usual p-value is unreliable: it cannot tell
    weak = usable["weak_instrument"].astype(bool)
    found = (usable["p_holm"] < 0.05) & (usable["elasticity"] < 0) & ~weak
    share, k = float(found.mean()), int(found.sum())
    wrong = int(((usable["p_holm"] < 0.05) & (usable["elasticity"] > 0) & ~weak).sum())
    notes = (
        f"; {wrong} show demand rising with price, a sign that price moved with something "
        "else (mix, seasonal pricing): their what-ifs are not to be acted on"
        if wrong
        else ""
    )
    if weak.any():
        names = ", ".join(map(str, usable.loc[weak, "group"]))
        notes += (
            f"; {int(weak.sum())} ({names[:120]}) cannot tell: too few lines for their two "
            f"halves' prices to agree (first-stage F < {MIN_FIRST_STAGE_F:g}), so their "
            "intervals are Anderson-Rubin's, wider"
        )
    return judge(
        "share of categories with a price elasticity (Holm 5%)",
        share,
        0.0,
        None,
        min_gain=ELASTICITY_MIN_GAIN,
        why=f"{k} of {len(usable)} categories whose prices varied show demand falling with "
        f"price, distinguishable from 0 after Holm's correction{notes}",
        what_to_try="more weeks of data, or deliberate price tests, before acting on what-ifs",
    )


def promotion_effects(ws: Workspace, panel: pd.DataFrame | None = None,
                      fit: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per category with promotions (:data:`PROMOTION_COLUMNS`): the model's lift beyond
    the price cut and total uplift, the matched-period uplift, the pull-forward and the
    cannibalisation (or why it is not measurable), all with 95 % intervals."""
    panel = workspace_panel(ws, "category") if panel is None else panel
    fit = price_elasticity(panel) if fit is None else fit
    matched = matched_uplift(panel)
    cannibal = cannibalisation(workspace_product_weeks(ws, "category"))
    out = fit.merge(matched.drop(columns="promotions"), on="group", how="left")
    if len(cannibal):
        out = out.merge(cannibal, on="group", how="left")
    out = out.rename(columns={"group": "category"}).reindex(columns=list(PROMOTION_COLUMNS))
    return out[out["promotion_lift"].notna() | out["matched_uplift"].notna()].reset_index(
        drop=True)


def _break_even(ws: Workspace, by_period: pd.DataFrame, whale: pd.DataFrame) -> pd.DataFrame:
    from crmine.clv import break_even

    revenue = float(by_period["revenue"].sum())
    profit = float(by_period["profit"].sum()) if by_period["profit"].notna().any() else math.nan
    margin = profit / revenue if revenue > 0 and math.isfinite(profit) else math.nan
    if not (margin > 0) or whale.empty:
        return _empty(BREAK_EVEN_COLUMNS)
    orders = float(whale["orders"].sum())
    mean_order = revenue / max(orders, 1.0)
    acquisition = ws.setting("sales.acquisition_cost")
    acquisition = float(acquisition) if acquisition is not None else 0.5 * margin * mean_order
    cost_per_order = float(ws.setting("sales.cost_per_order", 0.0))
    # Purchases per year of the customers, by their quartiles of order counts over the data.
    span = max(float(len(by_period)) / 12.0, 1 / 12)
    rates = np.unique(np.round(np.quantile(whale["orders"] / span, [0.25, 0.5, 0.75, 0.9]), 2))
    rates = rates[rates > 0]
    if not len(rates):
        return _empty(BREAK_EVEN_COLUMNS)
    res = break_even(
        acquisition_cost=acquisition,
        margin=margin,
        purchase_rates=rates.tolist(),
        cost_to_serve=0.0,
        retention=1.0,
        discount_rate=0.0,
        horizon=1,
    )
    out = res.thresholds.copy()
    # The cost to serve is per order: it raises the spend needed per purchase by cost/margin.
    out["break_even_spend"] += cost_per_order / margin
    per_order = whale["revenue"] / whale["orders"].where(whale["orders"] > 0)
    out["acquisition_cost"] = acquisition
    out["margin"] = margin
    out["cost_to_serve"] = cost_per_order
    out["customers_above"] = [int((per_order >= s).sum()) for s in out["break_even_spend"]]
    return out[list(BREAK_EVEN_COLUMNS)]


def run_sales(ws: Workspace) -> SalesRun:
    """Sales analysis, forecast, elasticity and what-if; writes the ``sales_*`` marts.

    The verdict is the forecast's: its held-out MASE gain over seasonal naive (a forecast
    that does not beat copying last season is withheld); the elasticity's verdict is among
    its checks.
    """
    if not ws.has_table(ORDERS):
        raise SkipAnalysis(f"no {ORDERS} in the workspace: load orders with `crmine ingest`")
    change = float(ws.setting("sales.price_change", -0.05))
    fs = forecast_settings(ws)
    unknown = [m for m in fs["models"] if m not in MODELS]
    if unknown:
        raise ConfigError(f"sales.forecast_models: unknown {unknown}; choose from {sorted(MODELS)}")
    with recorded_warnings() as caught:
        by_dimension = _by_dimension(ws)
        by_period = sales_by(ws, (), period="month")
        if by_period.empty or float(by_period["revenue"].sum()) <= 0:
            raise SkipAnalysis(f"{ORDERS} has no completed sales")
        changes = _changes(ws)
        whale = whale_curve(
            ws,
            cost_per_order=float(ws.setting("sales.cost_per_order", 0.0)),
            cost_per_return=float(ws.setting("sales.cost_per_return", 0.0)),
            cost_per_ticket=float(ws.setting("sales.cost_per_ticket", 0.0)),
        )
        series = sales_series(ws, fs["freq"], fs["by"])
        fc: HierarchicalForecast | None = None
        calendar = None
        if series["ds"].nunique() >= 2 * fs["horizon"] + 4:
            calendar = (calendar_regressors(ws, series, fs["by"], fs["freq"], fs["horizon"])
                        if fs["calendar"] else None)  # fmt: skip
            fc = forecast_hierarchy(
                series,
                list(fs["by"]),
                freq=fs["freq"],
                horizon=fs["horizon"],
                models=fs["models"],
                n_windows=fs["n_windows"],
                exog=calendar.frame if calendar is not None else None,
            )
        panel = (
            workspace_panel(ws, "category")
            if "category" in set(by_dimension["dimension"])
            else pd.DataFrame()
        )
        fit = price_elasticity(panel) if len(panel) else _empty(ELASTICITY_COLUMNS)
        whatif = whatif_price(fit, change) if len(fit) else _empty(WHATIF_COLUMNS)
        discounts = break_even_discounts(fit) if len(fit) else pd.DataFrame()
        be = _break_even(ws, by_period, whale)
    if fc is not None:
        verdict = fc.base.verdict
    else:
        verdict = Verdict(
            "not_informative",
            "held-out MASE gain over seasonal naive",
            None,
            0.0,
            why=f"only {series['ds'].nunique()} complete periods: too few for a backtest",
            what_to_try="a longer history or sales.forecast_freq = D",
        )
    e_verdict = _elasticity_verdict(fit) if len(fit) else None
    if e_verdict is not None:
        from dataclasses import replace

        verdict = replace(verdict, checks=(e_verdict,))
    verdict = verdict.with_warnings(caught)
    forecast = (
        fc.forecast.reindex(columns=list(FORECAST_COLUMNS))
        if fc is not None and verdict.actionable
        else _empty(FORECAST_COLUMNS)
    )
    backtest = (
        fc.base.backtest
        if fc is not None
        else _empty(("unique_id", "model", "mase", "naive_mase", "smape", "naive_smape"))
    )
    promotions = promotion_effects(ws, panel, fit) if len(fit) else _empty(PROMOTION_COLUMNS)
    written = {
        "sales_by_dimension": by_dimension,
        "sales_by_period": by_period,
        "sales_period_change": changes,
        "sales_whale_curve": whale,
        "sales_forecast": forecast,
        "sales_forecast_backtest": backtest,
        "sales_elasticity": fit.rename(columns={"group": "category"}),
        "sales_promotions": promotions,
        "sales_whatif": whatif.rename(columns={"group": "category"}),
        "sales_discounts": discounts.rename(columns={"group": "category"})
        if len(discounts)
        else _empty(("category", "loss_discount", "best_discount")),
        "sales_break_even": be,
    }
    for name, frame in written.items():
        ws.write_mart(name, frame, model_version=MODEL_VERSION)
    record_verdict(ws, "sales", verdict)
    return SalesRun(
        by_dimension=by_dimension,
        by_period=by_period,
        change=changes,
        whale=whale,
        forecast=fc,
        elasticity=fit,
        whatif=whatif,
        discounts=discounts,
        break_even=be,
        marts=tuple(f"marts.{n}" for n in written),
        verdict=verdict,
        calendar=calendar.summary() if calendar is not None else None,
    )
