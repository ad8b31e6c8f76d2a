"""Service and contacts: volume over time, resolution curves, topics and their trend, and
what complaints cost in churn and in later spend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace


def _read(ws: Workspace, name: str) -> pd.DataFrame:
    table_name = f"marts.{name}"
    if not ws.has_table(table_name):
        return pd.DataFrame()
    return ws.read(table_name).drop(columns=["model_version", "scored_at"], errors="ignore")


def _volume(periods: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(x=periods["period"], y=periods["tickets"], name="tickets")
    fig.add_bar(x=periods["period"], y=periods["complaints"], name="complaints")
    fig.add_scatter(x=periods["period"], y=periods["complaints_per_1000_customers"],
                    name="complaints per 1,000 active customers", yaxis="y2", mode="lines")
    fig.update_layout(title="Contacts per month", barmode="overlay",
                      yaxis={"title": "tickets"},
                      yaxis2={"title": "per 1,000 customers", "overlaying": "y",
                              "side": "right"})
    return fig


def _weekly(weekly: pd.DataFrame, summary: str) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(x=weekly["week"], y=weekly["tickets"], name="tickets", opacity=0.5)
    fig.add_scatter(x=weekly["week"], y=weekly["trend"], name="trend", mode="lines")
    fig.add_scatter(x=weekly["week"], y=weekly["trend"] + weekly["seasonal"],
                    name="trend + yearly season", mode="lines")
    fig.update_layout(title=f"Tickets per week: {summary}", yaxis={"title": "tickets"})
    return fig


def _season_summary(weekly: pd.DataFrame) -> str:
    """The season's test, refitted from the mart's weekly counts (milliseconds)."""
    from crmine.service._seasonality import volume_seasonality

    found = volume_seasonality(weekly.set_index("week")["tickets"])
    if not np.isfinite(found.p_value):
        return "under two years of weeks, no yearly season estimated"
    verdict = "a significant" if found.significant else "no significant"
    return (f"{verdict} yearly season (F test p = {found.p_value:.3f}; peak week "
            f"{found.peak_week} at {found.peak_to_trough:.2f}x the trough)")


def _curves(curves: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for group, g in curves.groupby("group", sort=False):
        fig.add_scatter(x=g["hours"], y=g["share_open"], name=str(group), mode="lines",
                        line={"shape": "hv"})
    fig.update_layout(title="Share of tickets still open after h hours (Kaplan-Meier; open "
                      "tickets censored)", xaxis={"title": "hours", "type": "log"},
                      yaxis={"tickformat": ".0%"})
    return fig


def _topic_bars(topics: pd.DataFrame) -> go.Figure:
    t = topics.sort_values("size")
    fig = go.Figure(go.Bar(
        x=t["size"], y=[f"{r.topic}: {r.label}" for r in t.itertuples()], orientation="h",
        customdata=t[["terms", "complaint_share", "csat_mean"]].to_numpy(),
        hovertemplate="%{y}<br>%{customdata[0]}<br>complaints %{customdata[1]:.0%}, "
                      "CSAT %{customdata[2]:.2f}<extra>%{x:,} tickets</extra>",
    ))  # fmt: skip
    fig.update_layout(title="Topics of ticket text (hover for their terms)",
                      xaxis_title="tickets")
    return fig


def _topic_trend(trend: pd.DataFrame, topics: pd.DataFrame) -> go.Figure:
    labels = topics.set_index("topic")["label"]
    fig = go.Figure()
    for topic, g in trend.groupby("topic"):
        fig.add_scatter(x=g["period"], y=g["tickets"], mode="lines",
                        name=f"{topic}: {labels.get(topic, '')}")
    fig.update_layout(title="Tickets per topic and month")
    return fig


def _link(link: pd.DataFrame) -> go.Figure:
    hr = link["hazard_ratio"].to_numpy(dtype=float)
    fig = go.Figure(go.Scatter(
        x=hr, y=link["covariate"], mode="markers",
        error_x={"type": "data", "symmetric": False,
                 "array": np.exp(link["ci_high"].to_numpy(dtype=float)) - hr,
                 "arrayminus": hr - np.exp(link["ci_low"].to_numpy(dtype=float))},
    ))  # fmt: skip
    fig.add_vline(x=1.0, line_dash="dot")
    fig.update_layout(title="Hazard ratio of churn in a month (95% interval; 1 = no effect)",
                      xaxis={"type": "log", "title": "hazard ratio"})
    return fig


def _spend(spend: pd.DataFrame) -> go.Figure:
    ratio = spend["spend_ratio"].to_numpy(dtype=float)
    fig = go.Figure(go.Scatter(
        x=ratio, y=spend["covariate"], mode="markers",
        error_x={"type": "data", "symmetric": False,
                 "array": np.exp(spend["ci_high"].to_numpy(dtype=float)) - ratio,
                 "arrayminus": ratio - np.exp(spend["ci_low"].to_numpy(dtype=float))},
    ))  # fmt: skip
    fig.add_vline(x=1.0, line_dash="dot")
    fig.update_layout(title="Spend in a month per service event before it (95% interval; "
                      "1 = no effect)", xaxis={"type": "log", "title": "spend ratio"})
    return fig


@section("service", order=58, title="Service and contacts: volume, resolution, topics, churn")
def service(ws: Workspace) -> Section | None:
    groups = _read(ws, "service_contacts")
    if groups.empty:
        return None
    overall = groups[groups["dimension"] == "all"].iloc[0]
    html = kpis({
        "tickets": int(overall["tickets"]),
        "complaints": f"{overall['complaint_share']:.0%}",
        "median hours to close": f"{overall['median_hours']:.1f}",
        "SLA breaches": f"{overall['sla_breach_rate']:.0%}",
        "repeat contacts": f"{overall['repeat_rate']:.1%}",
        "CSAT": f"{overall['csat_mean']:.2f}",
    })  # fmt: skip
    periods = _read(ws, "service_periods")
    if len(periods):
        html += plot(_volume(periods), height=380)
    weekly = _read(ws, "service_volume_weekly")
    if len(weekly):
        html += plot(_weekly(weekly, _season_summary(weekly)), height=360)
    curves = _read(ws, "service_resolution_curves")
    if len(curves):
        html += plot(_curves(curves), height=380)
    html += table(groups[groups["dimension"] != "all"], max_rows=40, digits=2,
                  caption="Contacts by reason, channel and priority")
    agents = _read(ws, "service_agent_groups")
    if len(agents):
        html += table(agents, max_rows=30, digits=2,
                      caption="CSAT (95% interval) and resolution time by agent group; hours "
                      "ratio: geometric mean to the other groups', within priority")
        diffs = _read(ws, "service_agent_group_differences")
        shown = diffs[diffs["significant"].astype(bool)] if len(diffs) else diffs
        if len(shown):
            html += table(shown, max_rows=40, digits=3,
                          caption="Differences between agent groups significant after Holm's "
                          "correction (csat in points, log_hours a log ratio)")
        else:
            html += note("No difference between agent groups survives Holm's correction.")
    topics = _read(ws, "service_topics")
    if len(topics):
        html += plot(_topic_bars(topics), height=max(320, 28 * len(topics)))
        trend = _read(ws, "service_topic_trend")
        if len(trend):
            html += plot(_topic_trend(trend, topics), height=380)
        examples = _read(ws, "service_topic_examples")
        if len(examples):
            html += table(examples[examples["rank"] == 1], max_rows=40,
                          caption="The most typical ticket of each topic (personal data masked)")
    link = _read(ws, "service_churn_link")
    if len(link):
        html += plot(_link(link), height=320)
        html += table(link, max_rows=20, digits=3,
                      caption="Cox model of subscription churn on the service history before "
                      "each month")
    else:
        html += note("No churn link: the workspace has no subscriptions with end dates.")
    spend = _read(ws, "service_spend_link")
    if len(spend):
        html += plot(_spend(spend), height=300)
        html += table(spend, max_rows=20, digits=3,
                      caption="Monthly spend on the service history before each month "
                      "(Poisson, fixed effects per customer and month: each customer compared "
                      "with themselves)")
    return Section(html, summary=f"{int(overall['tickets']):,} tickets, "
                   f"{overall['complaint_share']:.0%} complaints, {len(topics)} topics")
