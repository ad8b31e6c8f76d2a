"""Sales analysis, forecasting and what-if.

:func:`sales_by` gives revenue, units, orders, price, discount, margin and returns by any
product, order-line or customer dimension and period; :func:`period_change` the change from
one period to the next and which values drove it; :func:`whale_curve` the customer
profitability curve with a configurable cost to serve. :func:`forecast` forecasts long-format
series (``unique_id, ds, y``) with statsforecast, choosing the model per series by
rolling-origin backtest against seasonal naive; :func:`forecast_hierarchy` reconciles total,
channel, category… levels. :func:`price_elasticity` fits a log-log demand model per category
(trend, seasonality and promotion controls) and :func:`whatif_price` the revenue and margin of
a price or discount change. :func:`matched_uplift` measures promotion uplift against matched
clean weeks, :func:`cannibalisation` the drop of a category's other products during partial
promotions, :func:`promotion_effects` both next to the model's lift and pull-forward on a
workspace. :func:`run_sales` does it all on a workspace.
"""

from crmine.sales._analysis import ANALYSIS
from crmine.sales._elasticity import (
    ELASTICITY_COLUMNS,
    elasticity_panel,
    price_elasticity,
    workspace_panel,
)
from crmine.sales._forecast import MODELS, ForecastResult, forecast, season_length_of, smape
from crmine.sales._hierarchy import HierarchicalForecast, forecast_hierarchy
from crmine.sales._plots import plot_elasticity, plot_forecast, plot_waterfall, plot_whale_curve
from crmine.sales._promotions import cannibalisation, matched_uplift
from crmine.sales._summary import period_change, sales_by, whale_curve, whale_summary
from crmine.sales._whatif import break_even_discounts, whatif_price
from crmine.sales._workspace import (
    SalesRun,
    forecast_settings,
    promotion_effects,
    run_sales,
    sales_series,
)

__all__ = [
    "ANALYSIS",
    "ELASTICITY_COLUMNS",
    "MODELS",
    "ForecastResult",
    "HierarchicalForecast",
    "SalesRun",
    "break_even_discounts",
    "cannibalisation",
    "elasticity_panel",
    "forecast",
    "forecast_hierarchy",
    "forecast_settings",
    "matched_uplift",
    "period_change",
    "plot_elasticity",
    "plot_forecast",
    "plot_waterfall",
    "plot_whale_curve",
    "price_elasticity",
    "promotion_effects",
    "run_sales",
    "sales_by",
    "sales_series",
    "season_length_of",
    "smape",
    "whale_curve",
    "whale_summary",
    "whatif_price",
    "workspace_panel",
]
