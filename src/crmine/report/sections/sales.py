"""Sales: by dimension, contribution waterfall, whale curve, forecast fan charts with the
backtest, elasticities with intervals, what-if tables."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace

_DROP = ["model_version", "scored_at"]


def _read(ws: Workspace, name: str) -> pd.DataFrame:
    table_name = f"marts.{name}"
    return (
        ws.read(table_name).drop(columns=_DROP, errors="ignore")
        if ws.has_table(table_name)
        else pd.DataFrame()
    )


@section("sales", order=55, title="Sales: by dimension, forecast, price elasticity and what-if")
def sales(ws: Workspace) -> Section | None:
    from crmine.sales import forecast_settings, sales_series
    from crmine.sales._plots import (
        plot_elasticity,
        plot_forecast,
        plot_promotions,
        plot_waterfall,
        plot_whale_curve,
    )
    from crmine.sales._summary import whale_summary

    by_dim = _read(ws, "sales_by_dimension")
    if by_dim.empty:
        return None
    months = _read(ws, "sales_by_period")
    whale = _read(ws, "sales_whale_curve")
    ws_fig = whale_summary(whale)
    html = kpis({
        "revenue": float(months["revenue"].sum()),
        "units": float(months["units"].sum()),
        "margin": float(months["profit"].sum() / months["revenue"].sum())
        if months["profit"].notna().any() else None,
        "return rate": float(months["returned_units"].sum() / max(months["units"].sum(), 1)),
        "unprofitable customers": ws_fig.get("unprofitable_customers"),
    })  # fmt: skip
    fig = go.Figure(go.Bar(x=months["period"], y=months["revenue"], name="revenue"))
    fig.update_layout(title="Revenue per month")
    html += plot(fig, height=320)
    for dim in ("category", "channel", "sales_method", "region", "country"):
        part = by_dim[by_dim["dimension"] == dim].drop(columns="dimension")
        if len(part):
            html += table(
                part.rename(columns={"value": dim}),
                max_rows=12,
                digits=2,
                caption=f"Sales by {dim}",
            )
    products = by_dim[by_dim["dimension"] == "product"].drop(columns="dimension")
    if len(products):
        html += table(
            products.sort_values("returned_units", ascending=False).rename(
                columns={"value": "product"}
            )[["product", "revenue", "units", "returned_units", "return_rate", "margin"]],
            max_rows=10,
            digits=3,
            caption="Products with the most returns",
        )
    change = _read(ws, "sales_period_change")
    if len(change):
        for dim in ("channel", "category"):
            if (change["dimension"] == dim).any():
                html += plot(plot_waterfall(change, dim), height=380)
    if len(whale):
        html += plot(plot_whale_curve(whale), height=380)
        html += note(
            f"{ws_fig['unprofitable_customers']:,} customers ({ws_fig['unprofitable_share']:.0%})"
            f" lose money after cost to serve, {ws_fig['profit_destroyed']:,.0f} in all; the "
            f"most profitable ones earn {ws_fig['peak_profit_share']:.0%} of total profit."
        )
    fc = _read(ws, "sales_forecast")
    backtest = _read(ws, "sales_forecast_backtest")
    if len(fc):
        fs = forecast_settings(ws)
        history = sales_series(ws, fs["freq"], fs["by"])
        total = history.groupby("ds", as_index=False)["y"].sum()
        html += plot(plot_forecast(total, fc, "total", title="Total revenue forecast"), height=380)
        first = fs["by"][0]
        for uid in sorted(set(fc.loc[fc["level"] == first, "unique_id"]))[:4]:
            value = uid.split("/")[-1]
            part = history[history[first] == value].groupby("ds", as_index=False)["y"].sum()
            html += plot(plot_forecast(part, fc, uid), height=300)
    if len(backtest):
        html += table(
            backtest,
            max_rows=20,
            digits=3,
            caption="Backtest on the held-out final window: the chosen model "
            "against seasonal naive (MASE < naive_mase: better)",
        )
    elasticity = _read(ws, "sales_elasticity")
    if len(elasticity) and elasticity["elasticity"].notna().any():
        html += plot(plot_elasticity(elasticity), height=360)
        html += table(
            elasticity[["category", "elasticity", "lower", "upper", "p_holm", "promotion_lift",
                        "promotion_lift_lower", "promotion_lift_upper", "price_sd",
                        "price_varies", "first_stage_f", "weak_instrument", "weeks"]],
            max_rows=20, digits=3,
            caption="Price elasticity and promotion lift per category (weak_instrument: too "
            "few lines for the instrument; its interval is Anderson-Rubin's and it cannot "
            "tell)",
        )  # fmt: skip
    promotions = _read(ws, "sales_promotions")
    if len(promotions) and promotions["matched_uplift"].notna().any():
        html += plot(plot_promotions(promotions), height=360)
        html += table(
            promotions[["category", "promotion_weeks", "promotion_lift", "promotion_lift_lower",
                        "promotion_lift_upper", "model_uplift", "model_uplift_lower",
                        "model_uplift_upper", "matched_uplift", "matched_uplift_lower",
                        "matched_uplift_upper", "pull_forward", "pull_forward_lower",
                        "pull_forward_upper", "cannibalisation", "cannibalisation_note"]],
            max_rows=20, digits=3,
            caption="Promotions: lift beyond the price cut; uplift of units against the demand "
            "model and against matched clean weeks nearby (bootstrap interval); pull-forward "
            "(the dip the week after); cannibalisation of the category's other products",
        )  # fmt: skip
    whatif = _read(ws, "sales_whatif")
    if len(whatif):
        html += table(
            whatif[["category", "change", "units_change", "revenue_change",
                    "revenue_change_lower", "revenue_change_upper", "margin_change",
                    "margin_change_lower", "margin_change_upper", "price_varies"]],
            max_rows=20, digits=3, caption="What-if: a price change (sales.price_change)",
        )  # fmt: skip
    discounts = _read(ws, "sales_discounts")
    if len(discounts):
        html += table(
            discounts[["category", "unit_price", "unit_cost", "loss_discount", "best_discount"]],
            max_rows=20,
            digits=3,
            caption="Discount beyond which a unit sells at a loss, and the "
            "margin-maximising discount (elastic categories only)",
        )
    be = _read(ws, "sales_break_even")
    if len(be):
        html += table(
            be,
            max_rows=10,
            digits=2,
            caption="Break-even customer: spend per purchase at which a customer "
            "covers acquisition and cost to serve within a year",
        )
    return Section(
        html, summary=f"revenue {float(months['revenue'].sum()):,.0f} over {len(months)} months"
    )
