"""Media spend and marketing mix: cost per result by dimension with intervals, the
channels' contribution over time, response curves and the recommended budget shift."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace


def _cpa_figure(perf: pd.DataFrame) -> go.Figure:
    dims = [d for d in ("channel", "campaign", "audience") if (perf["dimension"] == d).any()]
    fig = make_subplots(rows=1, cols=max(1, len(dims)), subplot_titles=[
        f"CPA by {d} (95% interval)" for d in dims])  # fmt: skip
    for i, d in enumerate(dims, 1):
        g = perf[perf["dimension"] == d].sort_values("cpa")
        fig.add_trace(go.Bar(
            x=g["group"], y=g["cpa"], name=d,
            error_y={"type": "data", "symmetric": False, "array": g["cpa_ci_high"] - g["cpa"],
                     "arrayminus": g["cpa"] - g["cpa_ci_low"]}), 1, i)  # fmt: skip
    fig.update_layout(showlegend=False)
    return fig


def _contribution_figure(contrib: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    wide = contrib.pivot(index="week", columns="component", values="contribution")
    order = ["baseline", *[c for c in wide.columns if c != "baseline"]]
    for comp in order:
        fig.add_trace(go.Scatter(x=wide.index, y=wide[comp], name=str(comp), stackgroup="one",
                                 mode="lines"))
    actual = contrib.drop_duplicates("week").set_index("week")["actual"]
    fig.add_trace(go.Scatter(x=actual.index, y=actual, name="actual", mode="lines",
                             line={"color": "black", "width": 1}))
    fig.update_layout(title="Weekly outcome: baseline and each channel's contribution")
    return fig


def _curves_figure(curves: pd.DataFrame, budget: pd.DataFrame) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "Response curves (steady weekly contribution, 90% band)",
        "Recommended weekly budget shift"))  # fmt: skip
    for ch, g in curves.groupby("channel"):
        fig.add_trace(go.Scatter(x=g["spend"], y=g["expected"], mode="lines", name=str(ch)),
                      1, 1)
        fig.add_trace(go.Scatter(x=list(g["spend"]) + list(g["spend"])[::-1],
                                 y=list(g["ci_high"]) + list(g["ci_low"])[::-1], fill="toself",
                                 opacity=0.15, line={"width": 0}, showlegend=False,
                                 hoverinfo="skip"), 1, 1)  # fmt: skip
    if len(budget):
        fig.add_trace(go.Bar(x=budget["channel"], y=budget["current_spend"], name="current"),
                      1, 2)
        fig.add_trace(go.Bar(x=budget["channel"], y=budget["optimal_spend"], name="optimal"),
                      1, 2)
    fig.update_xaxes(title_text="weekly spend", row=1, col=1)
    return fig


@section("marketing_mix", order=61, title="Media spend and marketing mix")
def build(ws: Workspace) -> Section | None:
    if not ws.has_table("marts.spend_performance"):
        return None
    perf = ws.read("marts.spend_performance")
    head: dict[str, object] = {}
    parts = []
    summary = ""
    if len(perf):
        parts.append(plot(_cpa_figure(perf), height=420))
    if ws.has_table("marts.spend_cheapest_audiences"):
        cheap = ws.read("marts.spend_cheapest_audiences")
        if len(cheap):
            top = cheap.iloc[0]
            head["cheapest audience"] = str(top["audience"])
            head["its CPA"] = float(top["cpa"])
            summary = f"Cheapest audience per result: {top['audience']} (CPA {top['cpa']:,.2f})"
            parts.append(table(cheap.drop(columns=["model_version", "scored_at"]), caption=(
                "Audiences cheapest per result (ranked by the upper end of the CPA interval; "
                "compared with the rest within each channel, Holm-corrected)")))
    channels = (ws.read("marts.mmm_channels") if ws.has_table("marts.mmm_channels")
                else pd.DataFrame())
    if len(channels):
        best = channels.sort_values("rank").iloc[0]
        head["best channel (ROI)"] = str(best["channel"])
        head["its ROI"] = float(best["roi"])
        summary += ("; " if summary else "") + (
            f"best ROI: {best['channel']} {best['roi']:.2f} (90% interval "
            f"{best['roi_ci_low']:.2f}-{best['roi_ci_high']:.2f})")
        if ws.has_table("marts.mmm_contributions"):
            parts.append(plot(_contribution_figure(ws.read("marts.mmm_contributions")),
                              height=420))
        cols = ["channel", "spend", "contribution", "share_of_outcome", "roi", "roi_ci_low",
                "roi_ci_high", "marginal_roi", "marginal_roi_ci_low", "marginal_roi_ci_high",
                "decay", "half_saturation", "shape", "rank"]
        if "lag_scale" in channels and channels["lag_scale"].notna().any():  # Weibull adstock
            cols[cols.index("decay")] = "lag_scale"
            cols.insert(cols.index("lag_scale") + 1, "lag_shape")
        parts.append(table(channels.sort_values("rank")[cols], caption=(
            "Channels: contribution, ROI (contribution per unit spent) and marginal ROI with "
            "90% bootstrap intervals; fitted adstock decay and Hill saturation")))
    budget = (ws.read("marts.mmm_budget") if ws.has_table("marts.mmm_budget")
              else pd.DataFrame())
    if ws.has_table("marts.mmm_response_curves") and len(channels):
        parts.append(plot(_curves_figure(ws.read("marts.mmm_response_curves"), budget),
                          height=420))
    if len(budget):
        gain = float(budget["expected_gain"].iloc[0])
        head["gain from the shift (per week)"] = gain
        parts.append(note(
            f"Same weekly budget ({budget['weekly_budget'].iloc[0]:,.0f}), each channel within "
            f"its bounds: expected gain {gain:,.0f} per week, 90% interval "
            f"{budget['gain_ci_low'].iloc[0]:,.0f} to {budget['gain_ci_high'].iloc[0]:,.0f}."))
    return Section(html=kpis(head) + "".join(parts), summary=summary)
