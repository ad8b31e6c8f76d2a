"""Plots of sales results (Plotly figures), used by the report and open to notebook users."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["plot_elasticity", "plot_forecast", "plot_promotions", "plot_waterfall",
           "plot_whale_curve"]


def plot_forecast(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    unique_id: str = "total",
    *,
    last: int = 104,
    title: str = "",
) -> go.Figure:
    """Fan chart: ``history`` (``ds, y``) and ``forecast`` rows of ``unique_id`` with their
    80 % and 95 % bands."""
    import plotly.graph_objects as go

    f = forecast[forecast["unique_id"] == unique_id].sort_values("ds")
    h = history.sort_values("ds").tail(last)
    fig = go.Figure()
    for lv, alpha in ((95, 0.15), (80, 0.3)):
        lo, hi = f"yhat_lo_{lv}", f"yhat_hi_{lv}"
        if lo not in f.columns:
            continue
        fig.add_trace(go.Scatter(
            x=[*f["ds"], *f["ds"][::-1]], y=[*f[hi], *f[lo][::-1]], fill="toself",
            fillcolor=f"rgba(31,119,180,{alpha})", line={"width": 0}, name=f"{lv}% interval",
            hoverinfo="skip",
        ))  # fmt: skip
    fig.add_trace(go.Scatter(x=h["ds"], y=h["y"], name="actual", line={"color": "#333"}))
    fig.add_trace(
        go.Scatter(
            x=f["ds"], y=f["yhat"], name="forecast", line={"color": "#1f77b4", "dash": "dash"}
        )
    )
    model = f["model"].iloc[0] if len(f) and "model" in f.columns else ""
    fig.update_layout(title=title or f"{unique_id}: forecast ({model})", yaxis_title="revenue")
    return fig


def plot_waterfall(change: pd.DataFrame, dimension: str = "channel", *, top: int = 10) -> go.Figure:
    """Contribution waterfall from the previous period's total to the current one."""
    import plotly.graph_objects as go

    c = change[change["dimension"] == dimension] if "dimension" in change.columns else change
    c = c.head(top)
    rest = change[change["dimension"] == dimension].iloc[top:] if "dimension" in change else c[:0]
    prev, cur = (
        float(c["previous"].sum() + rest["previous"].sum()),
        float(c["current"].sum() + rest["current"].sum()),
    )
    labels = ["previous", *c["value"].astype(str), *(["others"] if len(rest) else []), "current"]
    values = [prev, *c["change"], *([float(rest["change"].sum())] if len(rest) else []), cur]
    measure = ["absolute", *["relative"] * (len(values) - 2), "total"]
    fig = go.Figure(go.Waterfall(x=labels, y=values, measure=measure))
    period = f" ({c['previous_period'].iloc[0]} → {c['period'].iloc[0]})" if len(c) else ""
    fig.update_layout(title=f"What drove the change in revenue, by {dimension}{period}")
    return fig


def plot_whale_curve(curve: pd.DataFrame) -> go.Figure:
    """Cumulative share of total profit by share of customers ranked by profit."""
    import plotly.graph_objects as go

    step = max(len(curve) // 1000, 1)  # a thousand points draw the same curve
    c = curve.iloc[::step]
    fig = go.Figure(
        go.Scatter(
            x=c["customer_share"],
            y=c["cumulative_profit_share"],
            mode="lines",
            name="cumulative profit",
        )
    )
    fig.add_hline(y=1.0, line_dash="dot")
    fig.update_layout(
        title="Whale curve: cumulative profit by customers ranked from most to least profitable",
        xaxis={"tickformat": ".0%", "title": "share of customers"},
        yaxis={"tickformat": ".0%", "title": "share of total profit"},
    )
    return fig


def plot_elasticity(fit: pd.DataFrame) -> go.Figure:
    """Elasticity per category with its 95 % interval (grey: prices barely varied; orange:
    weakly instrumented, cannot tell)."""
    import plotly.graph_objects as go

    name = "category" if "category" in fit.columns else "group"
    f = fit.dropna(subset=["elasticity"]).sort_values("elasticity")
    weak = f["weak_instrument"] if "weak_instrument" in f.columns else [False] * len(f)
    colours = [
        "#bbbbbb" if not v else "#ff7f0e" if w else "#1f77b4"
        for v, w in zip(f["price_varies"], weak, strict=True)
    ]
    fig = go.Figure(go.Scatter(
        x=f["elasticity"], y=f[name], mode="markers", marker={"color": colours, "size": 10},
        error_x={"type": "data", "symmetric": False, "array": f["upper"] - f["elasticity"],
                 "arrayminus": f["elasticity"] - f["lower"]},
    ))  # fmt: skip
    fig.add_vline(x=0, line_dash="dot")
    fig.add_vline(x=-1, line_dash="dash", annotation_text="unit elastic")
    fig.update_layout(
        title="Price elasticity of demand with 95% intervals",
        xaxis_title="% change in units per 1% change in price",
    )
    return fig


def plot_promotions(promotions: pd.DataFrame) -> go.Figure:
    """Units uplift of promotion weeks per category by the two baselines (the demand model,
    matched clean weeks) with 95 % intervals; they should agree."""
    import plotly.graph_objects as go

    name = "category" if "category" in promotions.columns else "group"
    fig = go.Figure()
    for kind, label, colour in (("model", "demand model", "#1f77b4"),
                                ("matched", "matched weeks", "#ff7f0e")):  # fmt: skip
        mid, lo, hi = (promotions[f"{kind}_uplift{s}"] for s in ("", "_lower", "_upper"))
        fig.add_trace(go.Scatter(
            x=mid, y=promotions[name], mode="markers", name=label,
            marker={"color": colour, "size": 10},
            error_x={"type": "data", "symmetric": False, "array": hi - mid,
                     "arrayminus": mid - lo},
        ))  # fmt: skip
    fig.add_vline(x=0, line_dash="dot")
    fig.update_layout(
        title="Promotion uplift of units against two baselines (95% intervals)",
        xaxis_title="units in a promotion week / baseline - 1", xaxis_tickformat=".0%",
    )
    return fig
