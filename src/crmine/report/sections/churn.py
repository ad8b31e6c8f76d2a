"""Churn: how well risk is predicted, why customers leave, how long they stay, whom to save."""

from __future__ import annotations

import html as _html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace

_RISK = ["low risk", "medium risk", "high risk"]
_VALUE = ["low value", "medium value", "high value"]


def _evaluation_figure(roc: pd.DataFrame, lift: pd.DataFrame, cal: pd.DataFrame,
                       auc: float) -> go.Figure:  # fmt: skip
    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        f"ROC curve (AUC {auc:.3f})", "Cumulative gain (capture) by decile",
        "Calibration: predicted vs observed"))  # fmt: skip
    fig.add_trace(go.Scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name="model"), 1, 1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                             line={"dash": "dot", "color": "grey"}), 1, 1)  # fmt: skip
    share = np.r_[0, lift["decile"] / 10]
    hover = [""] + [f"lift {v:.2f}" for v in lift["lift"]]
    fig.add_trace(go.Scatter(x=share, y=np.r_[0, lift["cumulative_capture"]],
                             mode="lines+markers", name="gain", text=hover), 1, 2)  # fmt: skip
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", showlegend=False,
                             line={"dash": "dot", "color": "grey"}), 1, 2)  # fmt: skip
    top = max(float(cal["mean_predicted"].max()), float(cal["observed_rate"].max()), 0.05)
    fig.add_trace(go.Scatter(x=cal["mean_predicted"], y=cal["observed_rate"],
                             mode="lines+markers", name="calibration"), 1, 3)  # fmt: skip
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", showlegend=False,
                             line={"dash": "dot", "color": "grey"}), 1, 3)  # fmt: skip
    fig.update_xaxes(title_text="false positive rate", row=1, col=1)
    fig.update_yaxes(title_text="true positive rate", row=1, col=1)
    fig.update_xaxes(title_text="share of customers targeted", row=1, col=2)
    fig.update_yaxes(title_text="share of churners found", row=1, col=2)
    fig.update_xaxes(title_text="mean predicted risk", row=1, col=3)
    fig.update_yaxes(title_text="observed churn rate", row=1, col=3)
    fig.update_layout(showlegend=False)
    return fig


def _drivers_figure(drivers: pd.DataFrame) -> go.Figure:
    d = drivers.head(12).iloc[::-1]
    colour = ["#c0392b" if "more" in str(v) else "#2874a6" if "less" in str(v) else "#7f8c8d"
              for v in d["direction"]]  # fmt: skip
    fig = go.Figure(go.Bar(x=d["importance"], y=d["feature"], orientation="h",
                           marker_color=colour, text=d["direction"],
                           hovertext=d["detail"]))  # fmt: skip
    fig.update_layout(title="Why customers leave: drop in ROC AUC when the feature is shuffled "
                      "(red: higher → more churn, blue: higher → less churn, grey: by level "
                      "or mixed)",
                      xaxis_title="permutation importance")  # fmt: skip
    return fig


def _tree_figure(nodes: pd.DataFrame) -> go.Figure:
    ids = nodes["node"].astype(str)
    parents = nodes["parent"].map(lambda p: "" if p < 0 else str(p))
    rows = zip(nodes["split"], nodes["churn_rate"], nodes["customers"], strict=True)
    labels = [f"{s}<br>{r:.0%} churn · {n:,}" for s, r, n in rows]
    fig = go.Figure(go.Icicle(ids=ids, parents=parents, labels=labels,
                              values=nodes["customers"], branchvalues="total",
                              marker={"colors": nodes["churn_rate"], "colorscale": "RdYlGn_r",
                                      "showscale": True,
                                      "colorbar": {"title": "churn rate"}},
                              tiling={"orientation": "v"}))  # fmt: skip
    fig.update_layout(title="Decision tree: each box is a group of customers (width = "
                      "customers, colour = churn rate)")  # fmt: skip
    return fig


def _km_figure(km: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for group, g in km.groupby("group"):
        fig.add_trace(go.Scatter(x=g["time"], y=g["survival"], mode="lines", name=str(group),
                                 line={"shape": "hv"}))  # fmt: skip
    fig.update_layout(title="Kaplan–Meier: share of subscriptions still active by tenure",
                      xaxis_title="tenure (months)", yaxis_title="still a customer",
                      yaxis_range=[0, 1.02])  # fmt: skip
    return fig


def _matrix_figure(matrix: pd.DataFrame) -> go.Figure:
    def grid(values: str) -> pd.DataFrame:
        wide = matrix.pivot_table(index="risk_band", columns="value_band", values=values,
                                  aggfunc="sum")  # fmt: skip
        return wide.reindex(index=_RISK[::-1], columns=_VALUE).fillna(0)

    pivot, counts = grid("value_at_risk"), grid("customers")
    text = [[f"{v:,.0f} at risk<br>{int(c):,} customers" for v, c in zip(vr, cr, strict=True)]
            for vr, cr in zip(pivot.to_numpy(), counts.to_numpy(), strict=True)]  # fmt: skip
    fig = go.Figure(go.Heatmap(z=pivot.to_numpy(), x=list(pivot.columns),
                               y=list(pivot.index), text=text, texttemplate="%{text}",
                               colorscale="Reds", colorbar={"title": "value at risk"}))  # fmt: skip
    fig.update_layout(title="Risk × value: where the value at risk sits (top right first)")
    return fig


def _profit_figure(curve: pd.DataFrame) -> go.Figure:
    fig = go.Figure(go.Scatter(x=curve["customers_targeted"], y=curve["cumulative_profit"],
                               mode="lines", customdata=curve["risk_threshold"],
                               hovertemplate="%{x:,} customers, risk ≥ %{customdata:.1%}: "
                               "%{y:,.0f}<extra></extra>"))  # fmt: skip
    best = curve.iloc[int(curve["cumulative_profit"].to_numpy().argmax())]
    fig.add_vline(x=float(best["customers_targeted"]), line_dash="dot")
    fig.update_layout(title="Expected profit of the retention offer by number of customers "
                      "targeted (riskiest first)", xaxis_title="customers targeted",
                      yaxis_title="expected profit")  # fmt: skip
    return fig


@section("churn", order=40, title="Churn and retention")
def churn(ws: Workspace) -> Section | None:
    needed = ("marts.churn_drivers", "marts.churn_model_comparison", "marts.churn_rules")
    if not all(ws.has_table(t) for t in needed):
        return None
    cmp = ws.read("marts.churn_model_comparison")
    drivers = ws.read("marts.churn_drivers")
    rules = ws.read("marts.churn_rules")
    chosen = cmp[cmp["selected"]].iloc[0]
    cutoff = pd.Timestamp(chosen["cutoff"]).date()
    window = int(chosen["window_days"])
    window_source = str(chosen.get("window_source") or "given")
    evaluated_on = str(chosen.get("evaluated_on") or "cross-validation")
    figures: dict[str, object] = {
        "model": str(chosen["method"]), "cross-validated ROC AUC": float(chosen["roc_auc"]),
        "cut-off": str(cutoff), "window (days)": window,
    }  # fmt: skip
    held_auc: float | None = None
    if ws.has_table("marts.churn_metrics"):
        held = ws.read("marts.churn_metrics").set_index("metric")["value"]
        held_auc = float(held["roc_auc"])
        figures["held-out ROC AUC"] = held_auc
    parts = []
    scores = (ws.read("marts.customer_scores") if ws.has_table("marts.customer_scores")
              else pd.DataFrame())  # fmt: skip
    if "churn_risk" in scores.columns:
        scored = scores.dropna(subset=["churn_risk"])
        figures["customers scored"] = len(scored)
        if len(scored):
            figures["mean churn risk"] = f"{scored['churn_risk'].mean():.1%}"
    parts.append(note(f"Label: churned = left within {window} days after the cut-off "
                      f"{cutoff} (window: {window_source}); features only from before it. "
                      "Methods compared by cross-validation keeping each customer in one fold; "
                      f"the selected one judged on {evaluated_on}."))  # fmt: skip
    parts.append(table(cmp[["method", "roc_auc", "roc_auc_std", "pr_auc", "brier", "selected"]],
                       caption="Methods compared"))  # fmt: skip
    if all(ws.has_table(f"marts.churn_{t}") for t in ("roc", "lift", "calibration")):
        auc = float(chosen["roc_auc"])
        if ws.has_table("marts.churn_metrics"):
            m = ws.read("marts.churn_metrics").set_index("metric")["value"]
            auc = float(m["roc_auc"])
            figures["lift, top decile"] = float(m["lift_top_decile"])
        parts.append(plot(_evaluation_figure(ws.read("marts.churn_roc"),
                                             ws.read("marts.churn_lift"),
                                             ws.read("marts.churn_calibration"), auc),
                          height=380))  # fmt: skip
    parts.append(plot(_drivers_figure(drivers), height=420))
    rule_list = "".join(f"<li>{_html.escape(r)}</li>" for r in rules["rule"].head(6))
    parts.append(f"<h4>Riskiest groups (decision-tree rules)</h4><ol>{rule_list}</ol>")
    if ws.has_table("marts.churn_tree"):
        parts.append(plot(_tree_figure(ws.read("marts.churn_tree")), height=520))
    if ws.has_table("marts.churn_km"):
        parts.append(plot(_km_figure(ws.read("marts.churn_km")), height=380))
    if ws.has_table("marts.churn_hazard_ratios"):
        hr = ws.read("marts.churn_hazard_ratios")
        parts.append(table(hr[["covariate", "hazard_ratio", "ci_lower", "ci_upper", "p"]],
                           caption="Cox model: hazard ratios (× churn rate vs. the baseline)"))
    if ws.has_table("marts.churn_risk_value") and len(ws.read("marts.churn_risk_value")):
        parts.append(plot(_matrix_figure(ws.read("marts.churn_risk_value")), height=400))
    if ws.has_table("marts.churn_profit_curve"):
        curve = ws.read("marts.churn_profit_curve")  # empty when the model is not informative
        if len(curve):
            first = curve.iloc[0]
            figures["offers that pay"] = int(first["best_customers"])
            figures["expected retention profit"] = float(first["max_profit"])
            parts.append(plot(_profit_figure(curve), height=360))
            parts.append(note(f"Offer cost {first['offer_cost']:,.2f}, assumed save rate "
                              f"{first['save_rate']:.0%}; profit is maximised by targeting "
                              f"customers with churn risk ≥ {first['best_threshold']:.1%}."))
    if ws.has_table("marts.retention_list") and not ws.read("marts.retention_list").empty:
        rl = ws.read("marts.retention_list")
        cols = [c for c in ("rank", "customer_id", "churn_risk", "value", "expected_profit",
                            "churn_reasons") if c in rl.columns]  # fmt: skip
        parts.append(table(rl[cols], max_rows=15, caption="Retention list (top 15)"))
    top = ", ".join(drivers["feature"].head(3))
    auc_text = (f"held-out AUC {held_auc:.3f}" if held_auc is not None
                else f"cross-validated AUC {float(chosen['roc_auc']):.3f}")  # fmt: skip
    summary = (f"{chosen['method']} model, {auc_text} (cross-validated "
               f"{float(chosen['roc_auc']):.3f}); window {window} days; top drivers: {top}")
    return Section(html=kpis(figures) + "".join(parts), summary=summary)
