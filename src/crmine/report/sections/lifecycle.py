"""Customer lifecycle: stages and their transitions (Sankey), cohort heat map, health vs churn."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace

_STAGES = ["prospect", "new", "active", "growing", "at_risk", "lapsed", "reactivated"]


def _sankey(transitions: pd.DataFrame) -> go.Figure:
    left = [s for s in ["(none)", *_STAGES] if s in set(transitions["from_stage"])]
    right = [s for s in _STAGES if s in set(transitions["to_stage"])]
    labels = [f"{s} ({transitions['from_date'].iloc[0]:%Y-%m-%d})" for s in left] + [
        f"{s} ({transitions['to_date'].iloc[0]:%Y-%m-%d})" for s in right
    ]
    src = transitions["from_stage"].map({s: i for i, s in enumerate(left)})
    dst = transitions["to_stage"].map({s: len(left) + i for i, s in enumerate(right)})
    fig = go.Figure(
        go.Sankey(
            node={"label": labels, "pad": 12},
            link={
                "source": src.tolist(),
                "target": dst.tolist(),
                "value": transitions["customers"].tolist(),
                "customdata": transitions["revenue"].round(0).tolist(),
                "hovertemplate": "%{value:,} customers, revenue %{customdata:,.0f}<extra></extra>",
            },
        )
    )
    fig.update_layout(title="How customers moved between stages")
    return fig


def _heatmap(cohorts: pd.DataFrame) -> go.Figure | None:
    month = cohorts[cohorts["dimension"] == "acquisition_month"]
    if month.empty:
        return None
    grid = month.pivot(index="cohort", columns="period", values="retention").sort_index()
    grid = grid.iloc[-36:, :25]  # the latest three years, two years after acquisition
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=[str(c) for c in grid.columns],
            y=grid.index.tolist(),
            colorscale="Blues",
            zmin=0,
            zmax=float(grid.iloc[:, 1:].max().max() or 1),
            hovertemplate="cohort %{y}, month %{x}: %{z:.0%}<extra></extra>",
            colorbar={"tickformat": ".0%"},
        )
    )
    fig.update_layout(
        title="Share of each acquisition month's customers buying n months later",
        xaxis_title="months since acquisition",
        yaxis={"autorange": "reversed"},
    )
    return fig


@section("lifecycle", order=45, title="Customer lifecycle: cohorts, stages and health")
def lifecycle(ws: Workspace) -> Section | None:
    if not ws.has_table("marts.lifecycle_stage_summary"):
        return None
    summary = ws.read("marts.lifecycle_stage_summary")
    total = int(summary["customers"].sum())
    counts = dict(zip(summary["stage"], summary["customers"], strict=True))
    html = kpis(
        {
            "customers": total,
            "active or growing": int(counts.get("active", 0) + counts.get("growing", 0)),
            "at risk": int(counts.get("at_risk", 0)),
            "lapsed": int(counts.get("lapsed", 0)),
            "reactivated": int(counts.get("reactivated", 0)),
        }
    )
    html += table(
        summary.drop(columns=["model_version", "scored_at"], errors="ignore"),
        max_rows=10,
        digits=2,
        caption="Stages and what to do",
    )
    if ws.has_table("marts.lifecycle_transitions"):
        transitions = ws.read("marts.lifecycle_transitions")
        if len(transitions):
            html += plot(_sankey(transitions), height=480)
    if ws.has_table("marts.lifecycle_cohorts"):
        heat = _heatmap(ws.read("marts.lifecycle_cohorts"))
        if heat is not None:
            html += plot(heat, height=520)
    if ws.has_table("marts.lifecycle_health_holdout"):
        deciles = ws.read("marts.lifecycle_health_holdout")
        if len(deciles):
            fig = go.Figure(
                go.Bar(
                    x=deciles["decile"],
                    y=deciles["churn_rate"],
                    name="churn rate after the cut-off",
                )
            )
            fig.update_layout(
                title="Held-out churn by health-score decile at the cut-off (1 = least healthy)",
                yaxis={"tickformat": ".0%"},
                xaxis_title="health decile",
            )
            html += plot(fig, height=360)
    if ws.has_table("marts.lifecycle_sbg_plans"):
        plans = ws.read("marts.lifecycle_sbg_plans")
        if len(plans):
            shown = plans[
                [
                    "plan",
                    "contracts",
                    "cancelled",
                    "alpha",
                    "beta",
                    "retention_month_1",
                    "retention_month_12",
                    "survival_month_12",
                    "derl_new_contract",
                ]
            ]
            html += table(
                shown,
                max_rows=20,
                digits=3,
                caption="Contractual retention: shifted-beta-geometric fit per plan "
                "(DERL = discounted expected months still to pay, new contract)",
            )
    at_risk = (
        ws.read("marts.lifecycle_at_risk")
        if ws.has_table("marts.lifecycle_at_risk")
        else pd.DataFrame()
    )
    if len(at_risk):
        html += table(
            at_risk.drop(columns=["action", "model_version", "scored_at"], errors="ignore"),
            max_rows=15,
            digits=2,
            caption=f"Most at risk ({len(at_risk):,} saveable customers)",
        )
    else:
        html += note(
            "No at-risk list: either no saveable customer is below the health "
            "threshold or the health score did not predict churn on held-out data."
        )
    return Section(
        html,
        summary=f"{total:,} customers: {counts.get('at_risk', 0):,} at risk, "
        f"{counts.get('lapsed', 0):,} lapsed",
    )
