"""Customer lifetime value: scores, model fit on the holdout, break-even and sensitivity."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crmine._format import fmt_number
from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace

_TIERS = ["low", "medium", "high", "top"]


@section("clv", order=30, title="Customer lifetime value")
def clv(ws: Workspace) -> Section | None:
    if not (ws.has_table("marts.customer_scores") and ws.has_table("marts.clv_params")):
        return None
    scores = ws.read("marts.customer_scores")
    if "predicted_clv_12m" not in scores.columns:
        return None
    scores = scores.dropna(subset=["predicted_clv_12m"])
    params = ws.read("marts.clv_params")
    selection = (
        ws.read("marts.clv_model_selection") if ws.has_table("marts.clv_model_selection") else None
    )
    if scores.empty:
        # not informative: the scores were withheld; show only the held-out evidence
        html = note(
            "No CLV model forecast the holdout better than the naive rate (each customer's "
            "past purchase rate times the holdout length): P(alive), expected purchases and "
            "CLV tiers are not shown."
        )
        if selection is not None:
            html += _selection_table(selection)
        return Section(html, summary="CLV withheld: no model beats the naive purchase rate")
    html = kpis(
        {
            "customers scored": len(scores),
            "12-month CLV, total": float(scores["predicted_clv_12m"].sum()),
            "12-month CLV, median": float(scores["predicted_clv_12m"].median()),
            "mean P(alive)": float(scores["p_alive"].mean()),
            "purchases expected, next 90 days": float(scores["expected_purchases_90d"].sum()),
            "model": str(params["model_version"].iloc[0]),
        }
    )

    # who holds the value: tiers and the alive probability
    by_tier = (
        scores.groupby("clv_tier")["predicted_clv_12m"]
        .agg(["count", "sum"])
        .reindex(_TIERS)
        .fillna(0)
    )
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Share of customers and of 12-month CLV by tier", "P(alive) of customers"),
    )
    fig.add_bar(
        x=_TIERS,
        y=by_tier["count"] / max(by_tier["count"].sum(), 1),
        name="share of customers",
        row=1,
        col=1,
    )
    fig.add_bar(
        x=_TIERS,
        y=by_tier["sum"] / max(by_tier["sum"].sum(), 1e-12),
        name="share of 12-month CLV",
        row=1,
        col=1,
    )
    fig.add_histogram(
        x=scores["p_alive"], nbinsx=40, name="P(alive)", row=1, col=2, showlegend=False
    )
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    # the legend belongs to the tier chart: under it, not beside the P(alive) histogram
    fig.update_layout(legend={"orientation": "h", "x": 0, "y": -0.15, "xanchor": "left"})
    html += plot(fig, height=360)

    if ws.has_table("marts.clv_holdout_tracking"):
        track = ws.read("marts.clv_holdout_tracking")
        # a few hundred points draw the same curves and keep the page small
        every = max(1, len(track) // 300)
        track = track.iloc[sorted({*range(0, len(track), every), len(track) - 1})]
        cond = ws.read("marts.clv_conditional_expectations")
        metrics = ws.read("marts.clv_holdout_metrics")
        fig = make_subplots(
            rows=1,
            cols=2,
            subplot_titles=(
                "Cumulative repeat purchases: actual vs model",
                "Holdout purchases by calibration frequency",
            ),
        )
        fig.add_scatter(
            x=track["period"], y=track["actual"], name="actual", mode="lines", row=1, col=1
        )
        fig.add_scatter(
            x=track["period"],
            y=track["predicted"],
            name="model",
            mode="lines",
            line={"dash": "dash"},
            row=1,
            col=1,
        )
        cal_end = track.loc[~track["in_holdout"], "period"].max()
        fig.add_vline(x=cal_end, line_dash="dot", line_color="grey", row=1, col=1)
        fig.add_scatter(
            x=cond["frequency_cal"],
            y=cond["actual"],
            name="actual (holdout)",
            mode="lines+markers",
            row=1,
            col=2,
        )
        fig.add_scatter(
            x=cond["frequency_cal"],
            y=cond["predicted"],
            name="model",
            mode="lines+markers",
            row=1,
            col=2,
        )
        fig.add_scatter(
            x=cond["frequency_cal"],
            y=cond["naive"],
            name="naive baseline",
            mode="lines+markers",
            line={"dash": "dot"},
            row=1,
            col=2,
        )
        html += plot(fig, height=380)
        shown = metrics[
            [
                "forecaster",
                "mae",
                "rmse",
                "correlation",
                "total_predicted",
                "total_actual",
                "total_error_pct",
            ]
        ]
        html += table(shown, caption="Holdout accuracy (model refitted on the calibration period)")
        html += note(
            f"Calibration until {str(metrics['calibration_end'].iloc[0])[:10]}, holdout of "
            f"{int(metrics['holdout_days'].iloc[0])} days. The naive baseline is each "
            "customer's own past purchase rate times the holdout length."
        )
    if selection is not None:
        html += _selection_table(selection)

    if ws.has_table("marts.clv_break_even"):
        be = ws.read("marts.clv_break_even")
        fig = go.Figure()
        fig.add_scatter(
            x=be["purchase_rate"],
            y=be["break_even_spend"],
            mode="lines",
            name="break-even spend",
            fill="tozeroy",
            fillcolor="rgba(200,80,80,0.15)",
        )
        fig.add_scatter(
            x=[be["current_rate"].iloc[0]],
            y=[be["current_spend"].iloc[0]],
            mode="markers",
            marker={"size": 12},
            name="average customer today",
        )
        fig.update_layout(
            title="Break-even: spend per purchase needed at each purchase rate "
            "(below the line loses money)",
            xaxis_title="purchases per month",
            yaxis_title="spend per purchase",
        )
        html += plot(fig, height=360)
        html += note(
            f"Acquisition cost {be['acquisition_cost'].iloc[0]:,.2f}, margin "
            f"{be['margin'].iloc[0]:.0%}, monthly retention {be['retention'].iloc[0]:.0%}."
        )
    if ws.has_table("marts.clv_sensitivity"):
        sens = ws.read("marts.clv_sensitivity")
        pivot = sens.pivot(index="margin", columns="discount_rate", values="total_clv")
        pivot.columns = [f"discount {c:.2%}/month" for c in pivot.columns]
        pivot.index = [f"{m:.0%}" for m in pivot.index]
        pivot.index.name = "margin"
        html += table(
            pivot.reset_index(),
            digits=0,
            caption="Sensitivity of total 12-month CLV to margin and discount rate",
        )
    if ws.has_table("marts.clv_segment_params"):
        seg = ws.read("marts.clv_segment_params")
        cols = [
            c
            for c in (
                "segment",
                "n_customers",
                "purchases_per_30_days",
                "dropout_probability",
                "mean_p_alive",
                "mean_expected_purchases_90d",
                "mean_clv_12m",
            )
            if c in seg.columns
        ]
        html += table(
            seg[cols].sort_values("mean_clv_12m", ascending=False),
            caption="One model per customer segment (from the segmentation step)",
        )
    html += table(
        params[["model", "parameter", "estimate", "standard_error", "lower", "upper"]],
        caption="Model estimates (95% confidence bounds)",
    )
    vague = params[(params["model"] != "gamma_gamma") & (params["upper"] > 100 * params["lower"])]
    if len(vague):
        names = ", ".join(
            f"{r.parameter} ({fmt_number(r.lower)} to {fmt_number(r.upper)})"
            for r in vague.itertuples()
        )
        html += note(
            f"The data barely determine {names}: the 95% bounds span more than a factor of "
            "100. When it is the dropout process (BG/NBD's a and b, Pareto/NBD's s and beta), "
            "P(alive) near 1 says the window is too short to see customers leave, not that "
            "none has; read P(alive) and long-horizon CLV with care, or extend the history."
        )
    top_share = by_tier.loc["top", "sum"] / max(by_tier["sum"].sum(), 1e-12)
    return Section(
        html,
        summary=f"The top 5% of customers hold {top_share:.0%} of the expected "
        f"12-month value; mean P(alive) {scores['p_alive'].mean():.0%}",
    )


def _selection_table(selection: pd.DataFrame) -> str:
    cols = [c for c in ("forecaster", "rmse", "mae", "correlation", "skill_vs_naive",
                        "total_predicted", "total_actual", "total_error_pct", "chosen",
                        "diagnostics") if c in selection.columns]  # fmt: skip
    return table(
        selection[cols],
        caption="Models compared on the holdout (skill = 1 - MSE / MSE of the naive rate; "
        "the chosen one is refitted on the whole history)",
    )
