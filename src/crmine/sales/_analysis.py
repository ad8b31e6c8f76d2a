"""The sales analysis's declaration (read by the pipeline, registry, checks, report, CLI)."""

from __future__ import annotations

from crmine.contract import Analysis, Mart, Setting, not_null, unique
from crmine.sales._elasticity import ELASTICITY_COLUMNS
from crmine.sales._forecast import MODELS
from crmine.sales._summary import MEASURES, WHALE_COLUMNS
from crmine.sales._whatif import WHATIF_COLUMNS
from crmine.sales._workspace import (
    BREAK_EVEN_COLUMNS,
    FORECAST_COLUMNS,
    PROMOTION_COLUMNS,
    run_sales,
)

__all__ = ["ANALYSIS"]


def _non_negative(value: float) -> str | None:
    return None if float(value) >= 0 else "a number >= 0"


def _periods(value: int) -> str | None:
    return None if int(value) >= 1 else "a whole number of periods >= 1"


def _change(value: float) -> str | None:
    return None if -1 < float(value) < 10 else "a relative change above -1 (-0.05 is -5 %)"


def _models(value: list[str]) -> str | None:
    bad = [m for m in value if m not in MODELS]
    return None if not bad else f"a list of {', '.join(sorted(MODELS))}"


def _cols(*names: str) -> tuple[str, ...]:
    return (*names, "model_version", "scored_at")


_MARTS: tuple[Mart, ...] = (
    Mart("sales_by_dimension", "one row per dimension and value (product, category, channel…)",
         _cols("dimension", "value", *MEASURES),
         (unique("dimension", "value"), not_null("dimension", "value"))),
    Mart("sales_by_period", "one row per month", _cols("period", *MEASURES),
         (unique("period"), not_null("period"))),
    Mart("sales_period_change",
         "one row per dimension and value (last complete month against the one before)",
         _cols("period", "previous_period", "dimension", "value", "previous", "current",
               "change", "change_pct", "contribution"),
         (unique("dimension", "value"),)),
    Mart("sales_whale_curve", "one row per customer (ranked by profit after cost to serve)",
         _cols(*WHALE_COLUMNS), (unique("customer_id"), not_null("customer_id", "profit"))),
    Mart("sales_forecast", "one row per series (total, channel…) and future period",
         _cols(*FORECAST_COLUMNS), (unique("unique_id", "ds"), not_null("unique_id", "ds",
                                                                       "yhat")),
         actionable=True),
    Mart("sales_forecast_backtest", "one row per forecast series (held-out final window)",
         _cols("unique_id", "model", "mase", "naive_mase", "smape", "naive_smape"),
         (unique("unique_id"),)),
    Mart("sales_elasticity", "one row per category (log-log price elasticity)",
         _cols("category", *ELASTICITY_COLUMNS[1:]), (unique("category"),)),
    Mart("sales_promotions",
         "one row per category with promotions (lift beyond the price cut, total uplift by "
         "the model and by matched periods, pull-forward, cannibalisation)",
         _cols(*PROMOTION_COLUMNS), (unique("category"),)),
    Mart("sales_whatif", "one row per category (revenue and margin under sales.price_change)",
         _cols("category", *WHATIF_COLUMNS[1:]), (unique("category"),)),
    Mart("sales_discounts", "one row per category (loss-making and margin-maximising discount)",
         _cols("category", "loss_discount", "best_discount"), (unique("category"),)),
    Mart("sales_break_even", "one row per purchase rate (spend per purchase to break even)",
         _cols(*BREAK_EVEN_COLUMNS), (unique("purchase_rate"),)),
)  # fmt: skip

_SETTINGS: tuple[Setting, ...] = (
    Setting("sales.forecast_freq", str, "W", "period of the revenue forecast",
            choices=("D", "W", "M")),
    Setting("sales.forecast_horizon", int, None,
            "periods ahead (default 28 days, 8 weeks or 3 months)", check=_periods),
    Setting("sales.forecast_models", list, None,
            f"candidate models (default ets, theta, combo; any of {', '.join(MODELS)})",
            check=_models),
    Setting("sales.forecast_by", str, "channel",
            "dimensions below the total, comma-separated (channel,category), reconciled with it"),
    Setting("sales.forecast_windows", int, 3,
            "rolling-origin windows (all but the last choose the model, the last is the "
            "backtest)", check=_periods),
    Setting("sales.forecast_calendar", bool, True,
            "use core.dim_promotion_calendar and core.dim_holidays (when loaded) as forecast "
            "regressors with known future values"),
    Setting("sales.price_change", float, -0.05,
            "relative price change of the what-if mart (-0.05: 5 % cheaper)", check=_change),
    Setting("sales.cost_per_order", float, 0.0, "cost to serve one order (whale curve, "
            "break-even)", check=_non_negative),
    Setting("sales.cost_per_return", float, 0.0, "cost of handling one returned line",
            check=_non_negative),
    Setting("sales.cost_per_ticket", float, 0.0, "cost of one service ticket",
            check=_non_negative),
    Setting("sales.acquisition_cost", float, None, "cost of acquiring a customer (default: "
            "half the margin of an average order)", check=_non_negative),
)  # fmt: skip

ANALYSIS = Analysis(
    name="sales",
    title="Sales: by dimension, forecast, price elasticity and what-if",
    run=run_sales,
    requires=("core.fct_order_lines",),
    marts=_MARTS,
    settings=_SETTINGS,
)
