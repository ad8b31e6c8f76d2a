"""Customer lifecycle: stages and their transitions (Sankey, stages over time), cohort heat map,
health vs churn, loyalty distributions, NPS over time and by channel, CSAT, NPS drivers."""

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


def _stages_over_time(history: pd.DataFrame) -> go.Figure:
    counts = history.groupby(["to_date", "to_stage"])["customers"].sum().unstack(fill_value=0)
    first = history[history["from_date"] == history["from_date"].min()]
    start = first[first["from_stage"] != "(none)"].groupby("from_stage")["customers"].sum()
    counts.loc[first["from_date"].iloc[0]] = start.reindex(counts.columns).fillna(0)
    counts = counts.sort_index()
    fig = go.Figure()
    for stage in [s for s in _STAGES if s in counts.columns]:
        fig.add_trace(
            go.Scatter(
                x=counts.index, y=counts[stage], name=stage, stackgroup="stages", mode="lines"
            )
        )
    fig.update_layout(title="Customers per stage over time", yaxis_title="customers")
    return fig


def _loyalty_by_stage(loyalty: pd.DataFrame, stages: pd.DataFrame) -> go.Figure:
    frame = loyalty.merge(stages[["customer_id", "stage"]], on="customer_id", how="left")
    fig = go.Figure()
    for stage in [s for s in _STAGES if s in set(frame["stage"])]:
        fig.add_trace(go.Box(y=frame.loc[frame["stage"] == stage, "loyalty_index"], name=stage))
    fig.update_layout(
        title="Loyalty index by lifecycle stage", yaxis_title="loyalty index", showlegend=False
    )
    return fig


def _nps_bars(nps: pd.DataFrame, dimension: str, title: str) -> go.Figure | None:
    part = nps[nps["dimension"] == dimension]
    if part.empty:
        return None
    kind = go.Scatter if dimension == "period" else go.Bar
    trace = kind(
        x=part["group"],
        y=part["nps"],
        error_y={
            "type": "data",
            "symmetric": False,
            "array": part["ci_high"] - part["nps"],
            "arrayminus": part["nps"] - part["ci_low"],
        },
        marker={"color": ["#c0392b" if s else "#7f8c8d" for s in part["significant"]]},
    )
    fig = go.Figure(trace)
    fig.update_layout(title=title, yaxis_title="NPS (95% interval; red: differs, Holm)")
    return fig


def _satisfaction(ws: Workspace) -> str:
    html = ""
    if ws.has_table("marts.lifecycle_nps"):
        nps = ws.read("marts.lifecycle_nps")
        if len(nps):
            overall = nps[nps["dimension"] == "all"].iloc[0]
            html += kpis(
                {
                    "NPS": round(float(overall["nps"]), 1),
                    "95% interval": f"{overall['ci_low']:.1f} to {overall['ci_high']:.1f}",
                    "answers": int(overall["responses"]),
                }
            )
            for dim, title in (
                ("period", "NPS by quarter"),
                ("channel", "NPS by survey channel"),
                ("segment", "NPS by segment"),
            ):
                fig = _nps_bars(nps, dim, title)
                if fig is not None:
                    html += plot(fig, height=360)
    if ws.has_table("marts.lifecycle_nps_drivers"):
        drivers = ws.read("marts.lifecycle_nps_drivers")
        if len(drivers):
            html += table(
                drivers.drop(columns=["model_version", "scored_at"], errors="ignore"),
                max_rows=10,
                digits=3,
                caption="What goes with the NPS answer (OLS, NPS points per unit, HC1 "
                "intervals, Holm-corrected p)",
            )
    if ws.has_table("marts.lifecycle_nps_churn"):
        bands = ws.read("marts.lifecycle_nps_churn")
        if len(bands):
            html += table(
                bands.drop(columns=["model_version", "scored_at"], errors="ignore"),
                digits=3,
                caption="Churn and spend after answering, by NPS band",
            )
    if ws.has_table("marts.lifecycle_csat"):
        csat = ws.read("marts.lifecycle_csat")
        if len(csat):
            html += table(
                csat.drop(columns=["model_version", "scored_at"], errors="ignore"),
                max_rows=20,
                digits=2,
                caption="Ticket CSAT by category and channel (Holm-corrected)",
            )
    return html


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
    if ws.has_table("marts.lifecycle_transition_history"):
        history = ws.read("marts.lifecycle_transition_history")
        if history["from_date"].nunique() > 1:
            html += plot(_stages_over_time(history), height=380)
    if ws.has_table("marts.lifecycle_loyalty") and ws.has_table("marts.lifecycle_stages"):
        loyalty = ws.read("marts.lifecycle_loyalty")
        if len(loyalty):
            html += plot(_loyalty_by_stage(loyalty, ws.read("marts.lifecycle_stages")), height=380)
            if ws.has_table("marts.lifecycle_loyalty_segments"):
                segs = ws.read("marts.lifecycle_loyalty_segments")
                html += table(
                    segs.drop(columns=["model_version", "scored_at"], errors="ignore"),
                    max_rows=25,
                    digits=2,
                    caption="Loyalty per segment: persistence, firmness and stability",
                )
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
    html += _satisfaction(ws)
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
