"""Saved models: which versions score, how good they were, and whether the data moved."""

from __future__ import annotations

import plotly.express as px

from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace


@section("models", order=95, title="Saved models and drift")
def models(ws: Workspace) -> Section | None:
    from crmine.models import headline, list_models

    saved = list_models(ws.models_dir)
    if saved.empty:
        return None
    latest = saved[saved["latest"]].copy()
    latest["metrics"] = latest["metrics"].map(headline)
    latest["saved_at"] = latest["saved_at"].str[:19].str.replace("T", " ")
    parts = [
        kpis({"models": len(latest), "versions kept": len(saved)}),
        table(latest[["name", "kind", "version", "saved_at", "metrics"]],
              caption="Models in use (crmine models list shows every version)"),
    ]  # fmt: skip
    summary = f"{len(latest)} models in use, {len(saved)} versions kept"
    if ws.has_table("marts.model_drift"):
        drift = ws.read("marts.model_drift").dropna(subset=["psi"])
        shifted = drift[drift["drift"] != "stable"]
        top = drift.sort_values("psi", ascending=False).head(20)
        fig = px.bar(top, x="psi", y=top["model"] + ": " + top["feature"], color="drift",
                     orientation="h", title="Largest shifts since the models were fitted "
                     "(population stability index)",
                     color_discrete_map={"stable": "#4c78a8", "moderate shift": "#f58518",
                                         "major shift": "#e45756"})  # fmt: skip
        fig.add_vline(x=0.1, line_dash="dot", line_color="grey")
        fig.add_vline(x=0.25, line_dash="dot", line_color="grey")
        fig.update_layout(yaxis={"autorange": "reversed", "title": ""})
        parts.append(plot(fig, height=120 + 22 * len(top)))
        parts.append(note(
            "Measured at the start of the last run, before the analyses refitted: today's data "
            "against each model's training data. Below 0.1 stable, 0.1-0.25 a moderate shift, "
            "above 0.25 a major shift (the refit was due). Churn models learn at past cut-offs, "
            "so tenure-like features differ from today's by construction."))  # fmt: skip
        summary += f"; {len(shifted)} feature(s) had shifted since the previous fit"
    return Section("".join(parts), summary=summary)
