"""Marketing: which channels pay, whether the differences are real, where to move budget,
where the funnel leaks and who gets credit."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crmine._format import fmt_number
from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace


def _roi_figure(eff: pd.DataFrame) -> go.Figure:
    e = eff.sort_values("roi", ascending=False)
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "ROI by channel (95% Bayesian-bootstrap interval)",
        "Conversion uplift over control (95% interval)"))  # fmt: skip
    fig.add_trace(go.Bar(
        x=e["channel"], y=e["roi"], name="ROI",
        error_y={"type": "data", "symmetric": False, "array": e["roi_ci_high"] - e["roi"],
                 "arrayminus": e["roi"] - e["roi_ci_low"]},
        text=[f"P(best) {p:.0%}" for p in e["prob_best_roi"]], textposition="outside",
    ), 1, 1)  # fmt: skip
    u = e[e["uplift"].notna()]
    fig.add_trace(go.Bar(
        x=u["channel"], y=u["uplift"], name="uplift",
        error_y={"type": "data", "symmetric": False, "array": u["uplift_ci_high"] - u["uplift"],
                 "arrayminus": u["uplift"] - u["uplift_ci_low"]},
        text=[f"p_adj {fmt_number(p)}" for p in u["p_adjusted"]], textposition="outside",
    ), 1, 2)  # fmt: skip
    fig.update_yaxes(title_text="(revenue − cost) / cost", row=1, col=1)
    fig.update_yaxes(title_text="treated − control conversion rate", tickformat=".1%",
                     row=1, col=2)
    fig.update_layout(showlegend=False)
    return fig


def _funnel_figure(stages: pd.DataFrame) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55],
                        specs=[[{"type": "funnel"}, {"type": "heatmap"}]],
                        subplot_titles=("Funnel, all channels (journeys per stage)",
                                        "Conversion from the previous stage, by channel"))
    overall = stages[stages["group"] == "all"]
    fig.add_trace(go.Funnel(y=overall["stage"], x=overall["customers"],
                            textinfo="value+percent previous"), 1, 1)
    by = stages[(stages["group"] != "all") & (stages["step"] > 1)]
    grid = by.pivot(index="stage", columns="group", values="conversion")
    grid = grid.reindex(overall["stage"].iloc[1:])
    fig.add_trace(go.Heatmap(z=grid.to_numpy(), x=list(grid.columns), y=list(grid.index),
                             colorscale="RdYlGn", zmin=0, zmax=1,
                             text=[[f"{v:.0%}" for v in row] for row in grid.to_numpy()],
                             texttemplate="%{text}", colorbar={"title": "rate"}), 1, 2)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    return fig


def _budget_figure(curves: pd.DataFrame, alloc: pd.DataFrame) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "Response curves (expected conversions per campaign)", "Current vs optimal spend"))
    for ch, g in curves.groupby("channel"):
        fig.add_trace(go.Scatter(x=g["spend"], y=g["expected"], mode="lines", name=str(ch)),
                      1, 1)
    fig.add_trace(go.Bar(x=alloc["channel"], y=alloc["current_spend"], name="current"), 1, 2)
    fig.add_trace(go.Bar(x=alloc["channel"], y=alloc["optimal_spend"], name="optimal"), 1, 2)
    fig.update_xaxes(title_text="spend", row=1, col=1)
    return fig


def _attribution_figure(att: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for model, g in att.groupby("model"):
        fig.add_trace(go.Bar(x=g["channel"], y=g["share"], name=str(model)))
    fig.update_layout(barmode="group", title="Share of conversions credited, by model",
                      yaxis_tickformat=".0%")
    return fig


@section("marketing", order=60, title="Marketing effectiveness")
def build(ws: Workspace) -> Section | None:
    if not ws.has_table("marts.channel_effects"):
        return None
    eff = ws.read("marts.channel_effects")
    best = eff.loc[eff["prob_best_roi"].idxmax()]
    head = {"best channel (ROI)": str(best["channel"]),
            "P(best)": float(best["prob_best_roi"]),
            "its ROI": float(best["roi"])}
    parts = [plot(_roi_figure(eff), height=420)]
    summary = f"Best ROI: {best['channel']} (P(best) {best['prob_best_roi']:.0%})"
    if ws.has_table("marts.campaign_effects"):
        fam = ws.read("marts.campaign_effects")
        sig = fam[fam["significant"].astype(bool)]
        head["significant effects"] = f"{len(sig):,} of {int(fam['p_value'].notna().sum()):,}"
        if len(sig):
            cols = ["level", "key", "contacts", "control", "conversion_rate", "control_rate",
                    "uplift", "uplift_ci_low", "uplift_ci_high", "relative_lift", "p_adjusted"]
            parts.append(table(sig[cols], caption=(
                "Effects over control that are significant (the campaigns' average first, then "
                "each campaign and channel with Holm's correction)")))
    budget = (ws.read("marts.budget_allocation") if ws.has_table("marts.budget_allocation")
              else pd.DataFrame())
    if len(budget):
        alloc = budget
        gain = alloc["expected_gain"].iloc[0]
        head["gain from reallocation"] = float(gain)
        summary += f"; reallocating the same budget adds ≈{gain:.0f} conversions"
        if ws.has_table("marts.response_curves"):
            parts.append(plot(_budget_figure(ws.read("marts.response_curves"), alloc),
                              height=400))
        parts.append(note(
            f"Same total budget ({alloc['budget'].iloc[0]:,.0f} per campaign round): expected "
            f"gain {gain:,.1f} conversions, 90% interval {alloc['gain_ci_low'].iloc[0]:,.1f} to "
            f"{alloc['gain_ci_high'].iloc[0]:,.1f}."))
    stages = ws.read("marts.funnel") if ws.has_table("marts.funnel") else pd.DataFrame()
    if "dimension" in stages:
        stages = stages[stages["dimension"] == "channel"]
    if len(stages):  # written empty by a run without events or stages
        parts.append(plot(_funnel_figure(stages), height=450))
        leaks = (ws.read("marts.funnel_leaks") if ws.has_table("marts.funnel_leaks")
                 else pd.DataFrame())  # fmt: skip
        if "dimension" in leaks:
            leaks = leaks[leaks["dimension"] == "channel"]
        if len(leaks):
            top = leaks.iloc[0]
            head["funnel leak"] = f"{top['group']}: {top['from_stage']}→{top['stage']}"
            summary += f"; funnel leaks at {top['group']} {top['from_stage']}→{top['stage']}"
            parts.append(table(leaks.drop(columns=["model_version", "scored_at"]).head(5),
                               caption="Where the funnel leaks (vs the same step elsewhere)"))
    att = ws.read("marts.attribution") if ws.has_table("marts.attribution") else pd.DataFrame()
    if len(att):
        parts.append(plot(_attribution_figure(att), height=400))
    cols = ["channel", "contacts", "conversion_rate", "uplift", "uplift_ci_low",
            "uplift_ci_high", "p_adjusted", "roi", "roi_ci_low", "roi_ci_high", "prob_best_roi"]
    parts.append(table(eff[cols], caption="Channel effects"))
    if ws.has_table("marts.campaign_kpis"):
        k = ws.read("marts.campaign_kpis")
        k = k[k["level"] == "campaign"]
        parts.append(table(k[["key", "contacts", "conversions", "conversion_rate", "cost",
                              "revenue", "roi", "cpa"]].rename(columns={"key": "campaign"}),
                           caption="Campaign KPIs"))
    return Section(html=kpis(head) + "".join(parts), summary=summary)
