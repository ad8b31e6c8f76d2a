"""RFM distributions from marts.customer_rfm."""

from __future__ import annotations

import numpy as np
import plotly.express as px
from plotly.subplots import make_subplots

from crmine.report import Section, kpis, plot, section
from crmine.warehouse import Workspace


@section("rfm", order=10, title="Recency, frequency, monetary value")
def rfm(ws: Workspace) -> Section | None:
    if not ws.has_table("marts.customer_rfm"):
        return None
    df = ws.read("marts.customer_rfm")
    if df.empty:
        return None
    unit = str(df["time_unit"].iloc[0])
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            f"frequency (repeat {unit} periods)",
            f"recency ({unit})",
            "monetary value (log10)",
        ),
    )
    fig.add_histogram(
        x=df["frequency"].clip(upper=df["frequency"].quantile(0.99)), row=1, col=1, name="frequency"
    )
    fig.add_histogram(x=df["recency"], row=1, col=2, name="recency")
    repeat = df.loc[df["monetary_value"] > 0, "monetary_value"]
    fig.add_histogram(x=np.log10(repeat), row=1, col=3, name="monetary value")
    fig.update_layout(showlegend=False, title="Distributions per customer")
    sample = df.sample(min(len(df), 3000), random_state=0)
    scatter = px.scatter(
        sample,
        x="recency",
        y="frequency",
        color=np.log10(sample["total_spend"].clip(lower=1)),
        labels={"color": "log10 spend"},
        opacity=0.6,
        title="Frequency against recency (sample of 3,000 customers)",
    )
    body = (
        kpis(
            {
                "customers": len(df),
                "repeat buyers": int((df["frequency"] > 0).sum()),
                "median orders": float(df["orders"].median()),
                "median spend": float(df["total_spend"].median()),
                "observation end": str(df["observation_end"].iloc[0])[:10],
            }
        )
        + plot(fig, height=320)
        + plot(scatter, height=380)
    )
    share = (df["frequency"] > 0).mean()
    return Section(
        body,
        summary=f"{share:.0%} of customers bought again after their first purchase period ({unit})",
    )
