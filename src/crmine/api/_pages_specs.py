"""What each analysis page of the dashboard shows beyond its declaration.

Every declared analysis gets a page from its declaration alone (verdict, its actionable lists,
every mart browsable); the blocks here add a few charts and tables per analysis. A block's
SQL is fixed here (no request text reaches it); the marts it reads are found in the SQL, so a
block reading an actionable mart is withheld with it when the analysis is not informative,
and a block over a missing table is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PAGES", "Block", "Kpi", "ListSpec", "PageSpec"]


@dataclass(frozen=True, slots=True)
class Block:
    """A chart (with its rows as the table view) or a table on a page.

    kind : ``bar``, ``hbar`` (horizontal bars), ``line``, ``funnel`` or ``table``.
    x, y : the result columns on each axis (``y`` may name several series).
    lo, hi : columns of an interval around the single ``y`` (error bars or a band).
    group : a column splitting ``y`` into one series per value.
    actionable : withheld when the analysis is not informative even if the marts it reads
        are not declared actionable (e.g. customer-level scores).
    """

    key: str
    title: str
    kind: str
    sql: str
    x: str = ""
    y: tuple[str, ...] = ()
    lo: str = ""
    hi: str = ""
    group: str = ""
    note: str = ""
    actionable: bool = False


@dataclass(frozen=True, slots=True)
class Kpi:
    """A headline figure: ``sql`` returns one row with a column ``v``."""

    label: str
    sql: str
    kind: str = "number"  # number, money or share


@dataclass(frozen=True, slots=True)
class ListSpec:
    """How a mart is listed on its page: default order, columns shown first, the numeric
    columns offered as minimum filters, and whether free-text search is offered."""

    mart: str
    title: str = ""
    sort: str = ""
    desc: bool = False
    columns: tuple[str, ...] = ()
    minimums: tuple[str, ...] = ()
    search: bool = True


@dataclass(frozen=True, slots=True)
class PageSpec:
    kpis: tuple[Kpi, ...] = ()
    blocks: tuple[Block, ...] = ()
    lists: tuple[ListSpec, ...] = ()


_RISK_BINS = """
SELECT printf('%.2f-%.2f', b / 20.0, (b + 1) / 20.0) AS risk, count(*) AS customers
FROM (SELECT least(floor(churn_risk * 20), 19)::INT AS b FROM marts.retention_list
      WHERE churn_risk IS NOT NULL)
GROUP BY b ORDER BY b"""

_CLV_BANDS = """
SELECT band AS predicted_12m_value, count(*) AS customers, sum(v) AS value
FROM (SELECT predicted_clv_12m AS v,
             CASE WHEN predicted_clv_12m < 10 THEN '0 - 10'
                  WHEN predicted_clv_12m < 100 THEN '10 - 100'
                  WHEN predicted_clv_12m < 1000 THEN '100 - 1,000'
                  WHEN predicted_clv_12m < 10000 THEN '1,000 - 10,000'
                  ELSE '10,000 or more' END AS band,
             CASE WHEN predicted_clv_12m < 10 THEN 0 WHEN predicted_clv_12m < 100 THEN 1
                  WHEN predicted_clv_12m < 1000 THEN 2 WHEN predicted_clv_12m < 10000 THEN 3
                  ELSE 4 END AS o
      FROM marts.customer_scores WHERE predicted_clv_12m IS NOT NULL)
GROUP BY band, o ORDER BY o"""

_CLV_TIERS = """
SELECT clv_tier AS tier, count(*) AS customers, sum(predicted_clv_12m) AS value,
       sum(predicted_clv_12m) / sum(sum(predicted_clv_12m)) OVER () AS value_share
FROM marts.customer_scores WHERE clv_tier IS NOT NULL
GROUP BY clv_tier
ORDER BY CASE clv_tier WHEN 'top' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END"""

PAGES: dict[str, PageSpec] = {
    "churn": PageSpec(
        kpis=(Kpi("active customers scored", "SELECT count(*) AS v FROM marts.retention_list"),
              Kpi("high risk", "SELECT count(*) AS v FROM marts.retention_list "
                               "WHERE risk_band = 'high risk'"),
              Kpi("value at risk", "SELECT sum(value_at_risk) AS v FROM marts.retention_list",
                  "money"),
              Kpi("to contact", "SELECT count(*) FILTER (WHERE target) AS v FROM "
                                "marts.retention_list")),
        blocks=(
            Block("risk", "Churn risk of active customers", "bar", _RISK_BINS, x="risk",
                  y=("customers",)),
            Block("risk-value", "Value at risk by risk and value band", "bar",
                  "SELECT risk_band, value_band, customers, value_at_risk FROM "
                  "marts.churn_risk_value ORDER BY risk_band, value_band",
                  x="risk_band", y=("value_at_risk",), group="value_band"),
            Block("top-risk", "Top-risk customers and why", "table",
                  "SELECT r.rank, r.customer_id, r.churn_risk, r.value_at_risk, r.risk_band, "
                  "r.churn_reasons AS reasons FROM marts.retention_list r "
                  "ORDER BY r.churn_risk DESC, r.customer_id LIMIT 20"),
            Block("lift", "Held-out churn rate by risk decile (1 = riskiest)", "bar",
                  "SELECT decile, churn_rate, lift FROM marts.churn_lift ORDER BY decile",
                  x="decile", y=("churn_rate",)),
            Block("drivers", "What drives churn (permutation importance)", "hbar",
                  "SELECT feature, importance, importance - importance_std AS low, "
                  "importance + importance_std AS high, direction FROM marts.churn_drivers "
                  "ORDER BY importance DESC LIMIT 12",
                  x="feature", y=("importance",), lo="low", hi="high"),
        ),
        lists=(ListSpec("retention_list", "Retention target list", sort="rank",
                        columns=("rank", "customer_id", "churn_risk", "risk_band", "value",
                                 "value_at_risk", "expected_profit", "target",
                                 "churn_reasons"),
                        minimums=("churn_risk", "value_at_risk")),)),
    "clv": PageSpec(
        kpis=(Kpi("predicted 12-month value", "SELECT sum(predicted_clv_12m) AS v FROM "
                                               "marts.customer_scores", "money"),
              Kpi("mean per customer", "SELECT avg(predicted_clv_12m) AS v FROM "
                                        "marts.customer_scores", "money"),
              Kpi("share of value in the top tier",
                  "SELECT sum(predicted_clv_12m) FILTER (WHERE clv_tier = 'top') / "
                  "sum(predicted_clv_12m) AS v FROM marts.customer_scores", "share"),
              Kpi("mean chance still active", "SELECT avg(p_alive) AS v FROM "
                                               "marts.customer_scores", "share")),
        blocks=(
            Block("distribution", "Customers by predicted 12-month value", "bar", _CLV_BANDS,
                  x="predicted_12m_value", y=("customers",)),
            Block("tiers", "Value by tier", "bar", _CLV_TIERS, x="tier", y=("value",)),
            Block("top", "Top customers by predicted 12-month value", "table",
                  "SELECT customer_id, predicted_clv_12m, p_alive, expected_purchases_90d, "
                  "clv_tier FROM marts.customer_scores WHERE predicted_clv_12m IS NOT NULL "
                  "ORDER BY predicted_clv_12m DESC, customer_id LIMIT 20", actionable=True),
            Block("tracking", "Repeat purchases per period: actual and predicted", "line",
                  "SELECT t, actual, predicted FROM marts.clv_holdout_tracking ORDER BY t",
                  x="t", y=("actual", "predicted"),
                  note="Periods after the calibration end are held out."),
            Block("selection", "Forecasters on the holdout", "table",
                  "SELECT forecaster, rmse, mae, correlation, skill_vs_naive, total_error_pct, "
                  "chosen FROM marts.clv_model_selection ORDER BY rmse"),
        )),
    "basket": PageSpec(
        kpis=(Kpi("rules", "SELECT count(*) AS v FROM marts.rules"),
              Kpi("customers with recommendations",
                  "SELECT count(DISTINCT customer_id) AS v FROM marts.basket_recommendations")),
        blocks=(
            Block("top-rules", "Strongest rules by lift", "hbar",
                  "SELECT antecedent_names || ' → ' || consequent_names AS rule, lift, "
                  "confidence, support FROM marts.rules ORDER BY lift DESC, support DESC "
                  "LIMIT 15", x="rule", y=("lift",)),
            Block("recommended", "Products most often recommended first", "hbar",
                  "SELECT coalesce(p.product_name, r.product_id) AS product, count(*) AS "
                  "customers FROM marts.basket_recommendations r LEFT JOIN (SELECT DISTINCT "
                  "product_id, product_name FROM core.dim_product) p USING (product_id) "
                  "WHERE r.rank = 1 GROUP BY ALL ORDER BY customers DESC, product LIMIT 15",
                  x="product", y=("customers",)),
            Block("evaluation", "Recommenders on held-out last orders (hit rate)", "bar",
                  "SELECT method, hit_rate, precision, recall, gain_low, gain_high FROM "
                  "marts.basket_evaluation ORDER BY hit_rate DESC",
                  x="method", y=("hit_rate",)),
        ),
        lists=(ListSpec("rules", "Rules explorer", sort="lift", desc=True,
                        columns=("level", "antecedent_names", "consequent_names", "support",
                                 "confidence", "lift", "count"),
                        minimums=("lift", "confidence", "support")),
               ListSpec("basket_recommendations", "Next-best products", sort="customer_id"))),
    "marketing": PageSpec(
        kpis=(Kpi("contacts", "SELECT sum(contacts) AS v FROM marts.campaign_kpis "
                              "WHERE level = 'channel'"),
              Kpi("conversions", "SELECT sum(conversions) AS v FROM marts.campaign_kpis "
                                 "WHERE level = 'channel'"),
              Kpi("revenue", "SELECT sum(revenue) AS v FROM marts.campaign_kpis "
                             "WHERE level = 'channel'", "money"),
              Kpi("uplift over control (all campaigns)",
                  "SELECT uplift AS v FROM marts.campaign_effects WHERE level = "
                  "'all campaigns' LIMIT 1", "share")),
        blocks=(
            Block("funnel", "Funnel, all channels", "funnel",
                  "SELECT stage, customers, conversion FROM marts.funnel WHERE \"group\" = "
                  "'all' AND dimension = (SELECT min(dimension) FROM marts.funnel) "
                  "ORDER BY step", x="customers", y=("stage",)),
            Block("uplift", "Uplift over control per campaign (95% interval)", "bar",
                  "SELECT key AS campaign, uplift, uplift_ci_low, uplift_ci_high, contacts, "
                  "p_adjusted, significant FROM marts.campaign_effects WHERE level = "
                  "'campaign' ORDER BY key", x="campaign", y=("uplift",),
                  lo="uplift_ci_low", hi="uplift_ci_high"),
            Block("channels", "Return on spend per channel (95% interval)", "bar",
                  "SELECT channel, roi, roi_ci_low, roi_ci_high, uplift, prob_best_roi FROM "
                  "marts.channel_effects ORDER BY channel", x="channel", y=("roi",),
                  lo="roi_ci_low", hi="roi_ci_high"),
            Block("kpis", "Campaign KPIs", "table",
                  "SELECT k.key AS campaign, k.contacts, k.conversions, k.conversion_rate, "
                  "e.uplift, e.uplift_ci_low, e.uplift_ci_high, e.significant, k.cost, "
                  "k.revenue, k.roi FROM marts.campaign_kpis k LEFT JOIN "
                  "marts.campaign_effects e ON e.level = 'campaign' AND e.key = k.key "
                  "WHERE k.level = 'campaign' ORDER BY k.key"),
        ),
        lists=(ListSpec("budget_allocation", "Budget allocation", sort="channel"),)),
    "lifecycle": PageSpec(
        kpis=(Kpi("customers at risk", "SELECT count(*) AS v FROM marts.lifecycle_stages "
                                       "WHERE stage = 'at_risk'"),
              Kpi("to save (health below threshold)",
                  "SELECT count(*) AS v FROM marts.lifecycle_at_risk"),
              Kpi("mean health score", "SELECT avg(health_score) AS v FROM "
                                       "marts.lifecycle_health"),
              Kpi("NPS", "SELECT nps AS v FROM marts.lifecycle_nps WHERE dimension = 'all'")),
        blocks=(
            Block("stages", "Customers per lifecycle stage", "bar",
                  "SELECT stage, customers, share, action FROM marts.lifecycle_stage_summary",
                  x="stage", y=("customers",)),
            Block("health", "Held-out churn rate by health decile", "bar",
                  "SELECT decile, mean_health, churn_rate FROM marts.lifecycle_health_holdout "
                  "ORDER BY decile", x="decile", y=("churn_rate",)),
            Block("nps", "NPS by segment (95% interval)", "bar",
                  "SELECT \"group\" AS segment, nps, ci_low, ci_high, responses, p_holm FROM "
                  "marts.lifecycle_nps WHERE dimension = 'segment' ORDER BY nps DESC",
                  x="segment", y=("nps",), lo="ci_low", hi="ci_high"),
            Block("cohorts", "Retention by acquisition channel and month since acquisition",
                  "line",
                  "SELECT period, cohort, retention FROM marts.lifecycle_cohorts WHERE "
                  "dimension = 'acquisition_channel' ORDER BY cohort, period",
                  x="period", y=("retention",), group="cohort"),
        ),
        lists=(ListSpec("lifecycle_at_risk", "Customers to save", sort="health_score"),)),
    "service": PageSpec(
        kpis=(Kpi("tickets", "SELECT tickets AS v FROM marts.service_contacts WHERE "
                             "dimension = 'all'"),
              Kpi("median hours to resolve", "SELECT median_hours AS v FROM "
                                              "marts.service_contacts WHERE dimension = 'all'"),
              Kpi("first-contact resolution", "SELECT first_contact_resolution AS v FROM "
                                               "marts.service_contacts WHERE dimension = 'all'",
                  "share")),
        blocks=(
            Block("periods", "Tickets and complaints per month", "line",
                  "SELECT period, tickets, complaints FROM marts.service_periods ORDER BY "
                  "period", x="period", y=("tickets", "complaints")),
            Block("categories", "Tickets per category", "bar",
                  "SELECT value AS category, tickets, complaint_share, median_hours, csat_mean "
                  "FROM marts.service_contacts WHERE dimension = 'category' ORDER BY tickets DESC",
                  x="category", y=("tickets",)),
            Block("topics", "Topics mined from ticket text", "hbar",
                  "SELECT label, size, complaint_share, churn_rate FROM marts.service_topics "
                  "ORDER BY size DESC LIMIT 15", x="label", y=("size",)),
            Block("churn-link", "Service history and churn (hazard ratio, 95% interval)",
                  "hbar",
                  "SELECT covariate, hazard_ratio, exp(ci_low) AS low, exp(ci_high) AS high, "
                  "p_value FROM marts.service_churn_link ORDER BY hazard_ratio DESC",
                  x="covariate", y=("hazard_ratio",), lo="low", hi="high"),
        ),
        lists=(ListSpec("service_ticket_routing", "Tickets to route", sort="probability"),)),
    "sales": PageSpec(
        kpis=(Kpi("revenue", "SELECT sum(revenue) AS v FROM marts.sales_by_period", "money"),
              Kpi("margin", "SELECT sum(profit) / sum(revenue) AS v FROM "
                            "marts.sales_by_period", "share"),
              Kpi("forecast error vs naive (MASE, total)",
                  "SELECT mase AS v FROM marts.sales_forecast_backtest WHERE unique_id = "
                  "'total'")),
        blocks=(
            Block("periods", "Revenue per month", "line",
                  "SELECT period, revenue, profit FROM marts.sales_by_period ORDER BY period",
                  x="period", y=("revenue", "profit")),
            Block("forecast", "Revenue forecast, total (80% interval)", "line",
                  "SELECT ds, yhat, yhat_lo_80, yhat_hi_80 FROM marts.sales_forecast WHERE "
                  "unique_id = 'total' ORDER BY ds", x="ds", y=("yhat",), lo="yhat_lo_80",
                  hi="yhat_hi_80"),
            Block("elasticity", "Price elasticity per category (95% interval)", "bar",
                  "SELECT category, elasticity, lower, upper, p_holm, plausible FROM "
                  "marts.sales_elasticity ORDER BY elasticity", x="category",
                  y=("elasticity",), lo="lower", hi="upper"),
            Block("channels", "Revenue per channel", "bar",
                  "SELECT value AS channel, revenue, orders, margin FROM "
                  "marts.sales_by_dimension WHERE dimension = 'channel' ORDER BY revenue DESC",
                  x="channel", y=("revenue",)),
        ),
        lists=(ListSpec("sales_forecast", "Forecast", sort="ds"),)),
    "marketing_mix": PageSpec(
        kpis=(Kpi("media spend", "SELECT sum(spend) AS v FROM marts.mmm_channels", "money"),
              Kpi("expected gain of the recommended split",
                  "SELECT sum(expected_gain) AS v FROM marts.mmm_budget", "money")),
        blocks=(
            Block("roi", "Return on media spend per channel (interval)", "bar",
                  "SELECT channel, roi, roi_ci_low, roi_ci_high, spend, contribution FROM "
                  "marts.mmm_channels ORDER BY rank", x="channel", y=("roi",),
                  lo="roi_ci_low", hi="roi_ci_high"),
            Block("backtest", "Held-out weeks: actual and forecast", "line",
                  "SELECT week, actual, forecast, baseline_forecast FROM marts.mmm_backtest "
                  "ORDER BY week", x="week", y=("actual", "forecast", "baseline_forecast")),
            Block("budget", "Weekly spend: current and recommended", "bar",
                  "SELECT channel, current_spend, optimal_spend, expected_gain FROM "
                  "marts.mmm_budget ORDER BY channel", x="channel",
                  y=("current_spend", "optimal_spend")),
        ),
        lists=(ListSpec("mmm_budget", "Recommended budget", sort="channel"),)),
    "segment": PageSpec(
        blocks=(
            Block("clusters", "Customers per cluster", "bar",
                  "SELECT 'cluster ' || segment AS cluster, customers, revenue_share, "
                  "description FROM marts.segment_profiles ORDER BY segment",
                  x="cluster", y=("customers",)),
            Block("rfm", "Customers per RFM segment", "hbar",
                  "SELECT rfm_segment, customers, share FROM marts.segment_rfm_summary "
                  "ORDER BY customers DESC", x="rfm_segment", y=("customers",)),
        ),
        lists=(ListSpec("segment_profiles", "Clusters", sort="segment"),)),
    "response": PageSpec(
        blocks=(
            Block("qini", "Qini curve on held-out customers", "line",
                  "SELECT depth, model, random FROM marts.uplift_curves WHERE curve = 'qini' "
                  "ORDER BY depth", x="depth", y=("model", "random")),
            Block("gains", "Held-out response rate by score decile", "bar",
                  "SELECT bin, response_rate, lift FROM marts.response_gains ORDER BY bin",
                  x="bin", y=("response_rate",)),
        ),
        lists=(ListSpec("response_targets", "Customers to contact", sort="rank"),)),
}
