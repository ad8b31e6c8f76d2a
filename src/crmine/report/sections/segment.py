"""Segmentation: segment sizes and revenue shares, RFM heat map, cluster profiles, Pareto curve."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace

_META = ["model_version", "scored_at"]


def _read(ws: Workspace, name: str) -> pd.DataFrame:
    df = ws.read(f"marts.{name}")
    return df.drop(columns=[c for c in _META if c in df.columns])


@section("segment", order=20, title="Customer segments")
def build(ws: Workspace) -> Section | None:
    if not ws.has_table("marts.customer_segments") or not ws.has_table("marts.segment_profiles"):
        return None
    seg = _read(ws, "customer_segments")
    prof = _read(ws, "segment_profiles").sort_values("segment")
    rfm = _read(ws, "segment_rfm_summary")
    html = kpis({
        "customers": len(seg),
        "clusters": len(prof),
        "golden customers": int(seg["is_golden"].sum()),
        "tier A customers": int((seg["value_tier"] == "A").sum()),
    })

    clusters = not prof.empty  # empty: no natural segments, the clusters were withheld
    from crmine.contract import verdict_of

    verdict = verdict_of(ws, "segment")
    if verdict is not None and verdict.checks:
        html += note("Evidence: " + " ".join(c.why for c in verdict.checks))

    # 1. Sizes and revenue shares, RFM segments and clusters side by side.
    panels = ((1, rfm, "rfm_segment"), (2, prof, "segment")) if clusters else \
        ((1, rfm, "rfm_segment"),)
    fig = make_subplots(rows=1, cols=len(panels),
                        subplot_titles=("RFM segments", "Clusters")[:len(panels)])
    for col, frame, label in panels:
        x = frame[label].astype(str)
        fig.add_bar(x=x, y=frame["share"], name="share of customers", row=1, col=col,
                    marker_color="#4C78A8", showlegend=col == 1)
        fig.add_bar(x=x, y=frame["revenue_share"], name="share of revenue", row=1, col=col,
                    marker_color="#F58518", showlegend=col == 1)
    fig.update_layout(barmode="group", title="Segment sizes and revenue shares",
                      yaxis_tickformat=".0%")
    if clusters:
        fig.update_layout(yaxis2_tickformat=".0%")
    html += plot(fig, height=380)

    # 2. RFM heat map: customers per (recency score, frequency-monetary score).
    if ws.has_table("marts.segment_rfm_grid"):
        grid = _read(ws, "segment_rfm_grid")
        mat = grid.pivot_table(index="r_score", columns="fm_score", values="customers",
                               aggfunc="sum").fillna(0)
        heat = go.Figure(go.Heatmap(z=mat.to_numpy(), x=[str(c) for c in mat.columns],
                                    y=[str(i) for i in mat.index], colorscale="Blues",
                                    text=mat.to_numpy().astype(int), texttemplate="%{text}",
                                    colorbar={"title": "customers"}))
        heat.update_layout(title="RFM grid: customers by recency score (5 = most recent) and "
                           "frequency-monetary score", xaxis_title="FM score",
                           yaxis_title="R score")
        html += plot(heat, height=420)

    # 3. Cluster profiles: what sets each cluster apart (standardised differences).
    if clusters and ws.has_table("marts.segment_feature_stats"):
        stats = _read(ws, "segment_feature_stats")
        mat = stats.pivot_table(index="feature", columns="segment", values="std_diff")
        mat = mat.loc[mat.abs().max(axis=1).sort_values(ascending=False).index[:18]]
        prof_heat = go.Figure(go.Heatmap(
            z=mat.to_numpy(), x=[f"cluster {c}" for c in mat.columns], y=list(mat.index),
            colorscale="RdBu", zmid=0, colorbar={"title": "std. diff."}))
        prof_heat.update_layout(title="Cluster profiles: standardised difference from the other "
                                "customers")
        html += plot(prof_heat, height=520)
    if clusters:
        html += table(prof[["segment", "customers", "share", "revenue_share", "description",
                            "rule"]], caption="Clusters in plain language")

    # Behaviour by cluster: what each buys more of than the average customer, and where.
    if clusters and ws.has_table("marts.segment_categories") and \
            len(_read(ws, "segment_categories")):
        cats = _read(ws, "segment_categories")
        mat = cats.pivot_table(index="segment", columns="category", values="index")
        beh = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], subplot_titles=(
            "Category preference index (100 = average customer)", "Channel mix (share of orders)"))
        beh.add_trace(go.Heatmap(z=mat.to_numpy(), x=list(mat.columns),
                                 y=[f"cluster {c}" for c in mat.index], colorscale="RdBu",
                                 zmid=100, colorbar={"title": "index", "x": 0.55}), row=1, col=1)
        if ws.has_table("marts.segment_channels"):
            ch = _read(ws, "segment_channels")
            for channel, part in ch.groupby("channel"):
                beh.add_bar(x=[f"cluster {c}" for c in part["segment"]], y=part["order_share"],
                            name=str(channel), row=1, col=2)
        beh.update_layout(barmode="stack", title="Behaviour by cluster", yaxis2_tickformat=".0%")
        html += plot(beh, height=420)
        if ws.has_table("marts.segment_discounts"):
            html += table(_read(ws, "segment_discounts"),
                          caption="Discount sensitivity by cluster")

    # 4. Pareto curve of value.
    if ws.has_table("marts.segment_pareto"):
        par = _read(ws, "segment_pareto")
        top = float(par["top_share_for_80"].iloc[0])
        curve = go.Figure()
        curve.add_scatter(x=par["customer_share"], y=par["value_share"], mode="lines",
                          name="customers ranked by revenue")
        curve.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot"},
                          name="equal shares")
        curve.add_vline(x=top, line_dash="dash", annotation_text=f"{top:.0%} make 80%")
        curve.update_layout(title="Pareto curve: share of revenue by share of customers",
                            xaxis_tickformat=".0%", yaxis_tickformat=".0%")
        html += plot(curve, height=380)
        html += note(f"Tier A: the {top:.0%} of buyers who make 80% of revenue.")
    if not clusters:
        return Section(html, summary="no natural segments: RFM segments and value tiers only")
    biggest = prof.sort_values("revenue_share", ascending=False).iloc[0]
    return Section(html, summary=f"{len(prof)} clusters; cluster {biggest['segment']} "
                   f"({biggest['description']}) makes {biggest['revenue_share']:.0%} of revenue")
