"""Campaign response and uplift: gains and Qini curves, who to target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace


def _figure(gains: pd.DataFrame, curves: pd.DataFrame | None, profit: pd.DataFrame | None
            ) -> go.Figure:
    titles = ["Cumulative gain of the response model (held out)"]
    if curves is not None:
        titles.append("Qini curve of the uplift model (held out)")
    if profit is not None:
        titles.append("Profit by targeting depth")
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles)
    fig.add_trace(go.Scatter(x=np.r_[0, gains["depth"]], y=np.r_[0, gains["gain"]],
                             mode="lines+markers", name="model",
                             text=[""] + [f"lift {v:.2f}" for v in gains["lift"]]), 1, 1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random",
                             line={"dash": "dot", "color": "grey"}), 1, 1)
    fig.update_xaxes(title_text="share of customers targeted", row=1, col=1)
    fig.update_yaxes(title_text="share of responders reached", row=1, col=1)
    n_fixed = 2
    if curves is not None:
        q = curves[curves["curve"] == "qini"]
        fig.add_trace(go.Scatter(x=q["depth"], y=q["model"], mode="lines", name="uplift model"),
                      1, 2)
        fig.add_trace(go.Scatter(x=q["depth"], y=q["random"], mode="lines",
                                 name="random targeting",
                                 line={"dash": "dot", "color": "grey"}), 1, 2)
        fig.update_xaxes(title_text="share of customers targeted", row=1, col=2)
        fig.update_yaxes(title_text="incremental responders", row=1, col=2)
        n_fixed = 4
    if profit is not None:
        col = len(titles)
        by_basis = profit.groupby(profit.get("basis", pd.Series("all responses",
                                                                  index=profit.index)), sort=False)
        for (basis, curve), dash in zip(by_basis, ("dot", "solid"), strict=False):
            per_1000 = curve.get("profit_per_1000", curve["profit"])
            fig.add_trace(go.Scatter(x=curve["depth"], y=per_1000, mode="lines",
                                     name=str(basis), line={"dash": dash},
                                     showlegend=True), 1, col)
        fig.update_xaxes(title_text="share of customers contacted", row=1, col=col)
        fig.update_yaxes(title_text="profit per 1,000 customers (held out)", row=1, col=col)
        fig.update_layout(legend={"orientation": "h", "x": 0.68, "y": -0.2})
    for trace in fig.data[:n_fixed]:
        trace.showlegend = False
    return fig


def _pct(m: pd.Series, key: str) -> str:
    return f"{m[key]:+.1%}" if key in m and pd.notna(m[key]) else "n/a"


@section("response", order=65, title="Campaign response and uplift")
def build(ws: Workspace) -> Section | None:
    if not ws.has_table("marts.uplift_scores") or not ws.has_table("marts.response_metrics"):
        return None
    m = ws.read("marts.response_metrics").set_index("metric")["value"]
    scores = ws.read("marts.uplift_scores")
    with_uplift = "qini_coefficient" in m and ws.has_table("marts.uplift_curves")
    parts = []
    if ws.has_table("marts.response_gains"):
        profit = (ws.read("marts.response_profit") if ws.has_table("marts.response_profit")
                  else None)
        curves = ws.read("marts.uplift_curves") if with_uplift else None
        parts.append(plot(_figure(ws.read("marts.response_gains"), curves, profit), height=420))
        if profit is not None and "cost_per_contact" in m:
            text = (f"Profit assumes {m['cost_per_contact']:,.2f} per contact and "
                    f"{m['margin_per_response']:,.2f} margin per response (settings "
                    "response_cost_per_contact / response_margin). Counting every responder, "
                    f"the best depth is {m['best_depth']:.0%} of the list")
            if "incremental_best_depth" in m:
                text += (
                    "; counting only the responses the contact causes (the uplift model), it "
                    f"is {m['incremental_best_depth']:.0%}, earning "
                    f"{m['incremental_profit_per_1000_at_best_depth']:,.0f} per 1,000 customers."
                    " The difference is customers who would have bought anyway.")
            parts.append(note(text + ("" if text.endswith(".") else ".")))
    counts = scores["uplift_class"].value_counts()
    head: dict[str, object] = {"top-decile lift": float(m["top_decile_lift"])}
    if "holdout_auc" in m:
        head["held-out AUC"] = float(m["holdout_auc"])
    if with_uplift:
        head |= {"Qini coefficient": float(m["qini_coefficient"]),
                 "uplift in top 30%": _pct(m, "uplift_at_30pct"),
                 "average uplift": _pct(m, "average_uplift"),
                 "persuadables": int(counts.get("persuadable", 0)),
                 "sleeping dogs": int(counts.get("sleeping dog", 0))}
    targets = (ws.read("marts.response_targets") if ws.has_table("marts.response_targets")
               else pd.DataFrame())
    if len(targets):
        head["customers to contact"] = len(targets)
        cols = [c for c in ("rank", "customer_id", "basis", "score", "response_score", "uplift",
                            "expected_profit") if c in targets]
        parts.append(table(targets[cols].head(15), caption=(
            f"Target list ({len(targets):,} customers, best first; marts.response_targets)")))
    if with_uplift:
        summary = (f"Top 30% by uplift respond {_pct(m, 'uplift_at_30pct')} more when "
                   f"contacted (average {_pct(m, 'average_uplift')}); "
                   f"{int(counts.get('sleeping dog', 0)):,} sleeping dogs to leave out")
    else:
        summary = (f"No control groups, so no uplift: the top decile by response score "
                   f"responds {float(m['top_decile_lift']):.1f}x the average rate")
    return Section(html=kpis(head) + "".join(parts), summary=summary)
