"""Campaign response and uplift: gains and Qini curves, who to target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace


def _figure(gains: pd.DataFrame, curves: pd.DataFrame, profit: pd.DataFrame | None
            ) -> go.Figure:
    cols = 3 if profit is not None else 2
    titles = ["Cumulative gain of the response model (held out)",
              "Qini curve of the uplift model (held out)", "Profit by targeting depth"]
    fig = make_subplots(rows=1, cols=cols, subplot_titles=titles[:cols])
    fig.add_trace(go.Scatter(x=np.r_[0, gains["depth"]], y=np.r_[0, gains["gain"]],
                             mode="lines+markers", name="model",
                             text=[""] + [f"lift {v:.2f}" for v in gains["lift"]]), 1, 1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random",
                             line={"dash": "dot", "color": "grey"}), 1, 1)
    q = curves[curves["curve"] == "qini"]
    fig.add_trace(go.Scatter(x=q["depth"], y=q["model"], mode="lines", name="uplift model"), 1, 2)
    fig.add_trace(go.Scatter(x=q["depth"], y=q["random"], mode="lines", name="random targeting",
                             line={"dash": "dot", "color": "grey"}), 1, 2)
    fig.update_xaxes(title_text="share of customers targeted", row=1, col=1)
    fig.update_xaxes(title_text="share of customers targeted", row=1, col=2)
    fig.update_yaxes(title_text="share of responders reached", row=1, col=1)
    fig.update_yaxes(title_text="incremental responders", row=1, col=2)
    if profit is not None:
        by_basis = profit.groupby(profit.get("basis", pd.Series("all responses",
                                                                  index=profit.index)), sort=False)
        for (basis, curve), dash in zip(by_basis, ("dot", "solid"), strict=False):
            per_1000 = curve.get("profit_per_1000", curve["profit"])
            fig.add_trace(go.Scatter(x=curve["depth"], y=per_1000, mode="lines",
                                     name=str(basis), line={"dash": dash},
                                     showlegend=True), 1, 3)
        fig.update_xaxes(title_text="share of customers contacted", row=1, col=3)
        fig.update_yaxes(title_text="profit per 1,000 customers (held out)", row=1, col=3)
        fig.update_layout(legend={"orientation": "h", "x": 0.68, "y": -0.2})
    for trace in fig.data[:4]:
        trace.showlegend = False
    return fig


@section("response", order=65, title="Campaign response and uplift")
def build(ws: Workspace) -> Section | None:
    if not ws.has_table("marts.uplift_scores") or not ws.has_table("marts.response_metrics"):
        return None
    m = ws.read("marts.response_metrics").set_index("metric")["value"]
    scores = ws.read("marts.uplift_scores")
    parts = []
    if ws.has_table("marts.response_gains") and ws.has_table("marts.uplift_curves"):
        profit = (ws.read("marts.response_profit") if ws.has_table("marts.response_profit")
                  else None)
        parts.append(plot(_figure(ws.read("marts.response_gains"),
                                  ws.read("marts.uplift_curves"), profit), height=420))
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
    head = {"top-decile lift": float(m["top_decile_lift"]),
            "Qini coefficient": float(m["qini_coefficient"]),
            "uplift in top 30%": f"{m['uplift_at_30pct']:+.1%}",
            "average uplift": f"{m['average_uplift']:+.1%}",
            "persuadables": int(counts.get("persuadable", 0)),
            "sleeping dogs": int(counts.get("sleeping dog", 0))}
    top = scores.sort_values("uplift", ascending=False).head(15)
    parts.append(table(top[["customer_id", "uplift", "p_treated", "p_control", "response_score",
                            "uplift_class"]], caption="Top persuadables (target these first)"))
    summary = (f"Top 30% by uplift respond {m['uplift_at_30pct']:+.1%} more when contacted "
               f"(average {m['average_uplift']:+.1%}); {int(counts.get('sleeping dog', 0))} "
               "sleeping dogs to leave out")
    return Section(html=kpis(head) + "".join(parts), summary=summary)
