"""Cross-sell: the strongest rules, the product network they draw, lift between categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace


def _single(rules: pd.DataFrame) -> pd.DataFrame:
    one = (rules["antecedents"].map(len) == 1) & (rules["consequents"].map(len) == 1)
    return rules[one.to_numpy()]


def _layout(nodes: list[str], edges: list[tuple[str, str, float]], seed: int = 0) -> np.ndarray:
    """Fruchterman–Reingold force layout (1991): linked products pull, all others push."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(-1, 1, (len(nodes), 2))
    index = {n: i for i, n in enumerate(nodes)}
    # ideal edge length: linked products sit apart enough for their labels to be read
    k = 2.0 / np.sqrt(max(len(nodes), 1))
    src = np.array([index[a] for a, _, _ in edges], dtype=int)
    dst = np.array([index[b] for _, b, _ in edges], dtype=int)
    for step in range(200):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=2), 1e-3)
        force = (delta / dist[..., None] * (k * k / dist)[..., None]).sum(axis=1)
        pull = pos[src] - pos[dst]
        d = np.maximum(np.linalg.norm(pull, axis=1), 1e-3)[:, None]
        attr = pull * d / k
        np.add.at(force, src, -attr)
        np.add.at(force, dst, attr)
        # gravity keeps unlinked pairs from drifting apart far beyond their own length
        force -= pos * len(nodes) * k * 0.5
        temp = 0.2 * (1 - step / 200) + 0.005
        length = np.maximum(np.linalg.norm(force, axis=1), 1e-9)[:, None]
        pos += force / length * np.minimum(length, temp)
    return pos


def _network(rules: pd.DataFrame, top: int = 40) -> go.Figure | None:
    single = _single(rules).sort_values("lift", ascending=False)
    seen: set[frozenset[str]] = set()
    edges: list[tuple[str, str, float]] = []
    for a, c, lift in zip(single["antecedent_names"], single["consequent_names"],
                          single["lift"], strict=True):
        pair = frozenset((a, c))
        if pair in seen:
            continue
        seen.add(pair)
        edges.append((a, c, float(lift)))
        if len(edges) >= top:
            break
    if not edges:
        return None
    nodes = sorted({n for a, c, _ in edges for n in (a, c)})
    pos = _layout(nodes, edges)
    index = {n: i for i, n in enumerate(nodes)}
    fig = go.Figure()
    xs: list[float | None] = []
    ys: list[float | None] = []
    for a, c, _ in edges:
        xs += [pos[index[a], 0], pos[index[c], 0], None]
        ys += [pos[index[a], 1], pos[index[c], 1], None]
    fig.add_scatter(x=xs, y=ys, mode="lines", line={"width": 1, "color": "#9aa5b1"},
                    hoverinfo="skip", showlegend=False)
    degree = pd.Series([n for a, c, _ in edges for n in (a, c)]).value_counts()
    fig.add_scatter(x=pos[:, 0], y=pos[:, 1], mode="markers+text", text=nodes,
                    textposition="top center", textfont={"size": 9},
                    marker={"size": [8 + 4 * degree[n] for n in nodes], "color": "#2f6db5"},
                    hovertext=[f"{n}: {degree[n]} strong link(s)" for n in nodes],
                    hoverinfo="text", showlegend=False)
    fig.update_layout(title=f"Products bought together (the {len(edges)} strongest pairs by "
                            "lift)", xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def _heatmap(rules: pd.DataFrame) -> go.Figure | None:
    single = _single(rules)
    if single.empty:
        return None
    a = single["antecedents_text"]
    c = single["consequents_text"]
    cats = sorted(set(a) | set(c))
    grid = pd.DataFrame(np.nan, index=cats, columns=cats)
    for ai, ci, lift in zip(a, c, single["lift"], strict=True):
        grid.loc[ai, ci] = lift
    fig = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=cats, y=cats, colorscale="RdBu", zmid=1.0,
        colorbar={"title": "lift"},
        hovertemplate="%{y} → %{x}: lift %{z:.2f}<extra></extra>"))
    fig.update_layout(title="Lift between categories (rows: bought; columns: also bought)",
                      xaxis_title="consequent", yaxis_title="antecedent")
    return fig


@section("basket", order=50, title="Cross-sell: products bought together")
def basket(ws: Workspace) -> Section | None:
    if not ws.has_table("marts.rules"):
        return None
    rules = ws.read("marts.rules")
    product = rules[rules["level"] == "product"]
    values: dict[str, object] = {
        "orders mined": int(product["n_baskets"].iloc[0]) if len(product) else 0,
        "product rules": len(product),
    }
    if ws.has_table("marts.basket_offers"):
        offers = ws.read("marts.basket_offers")
        values["missing-product offers"] = len(offers)
        values["customers with an offer"] = int(offers["customer_id"].nunique())
    evidence = ""
    if ws.has_table("marts.basket_evaluation"):
        ev = ws.read("marts.basket_evaluation").set_index("method")
        k = int(ev["k"].iloc[0]) if "k" in ev.columns else 10
        values[f"hit-rate@{k}, rules"] = float(ev.loc["rules", "hit_rate"])
        values[f"hit-rate@{k}, best-sellers"] = float(ev.loc["popularity", "hit_rate"])
        if {"gain_low", "gain_high"} <= set(ev.columns):
            lo, hi = float(ev.loc["rules", "gain_low"]), float(ev.loc["rules", "gain_high"])
            gain = float(ev.loc["rules", "hit_rate"] - ev.loc["popularity", "hit_rate"])
            n = int(ev.loc["rules", "customers"])
            evidence = note(
                f"Held out: each repeat customer's last order ({n:,} customers). The rules' "
                f"top-{k} lists held a product the customer then bought "
                f"for {float(ev.loc['rules', 'hit_rate']):.1%} of them, the best-sellers' for "
                f"{float(ev.loc['popularity', 'hit_rate']):.1%}: a gain of {gain:+.1%} "
                f"(95% bootstrap interval over customers {lo:+.1%} to {hi:+.1%}).")
    html = kpis(values) + evidence
    shown = product.sort_values("lift", ascending=False).head(15)
    html += table(
        shown[["antecedent_names", "consequent_names", "support", "confidence", "lift",
               "count"]].rename(columns={"antecedent_names": "bought",
                                         "consequent_names": "also bought",
                                         "count": "orders"}),
        max_rows=15, caption="Strongest rules (by lift)")
    network = _network(product)
    if network is not None:
        html += plot(network, height=560)
    heat = _heatmap(rules[rules["level"] == "category"])
    if heat is not None:
        html += plot(heat, height=480)
    html += note("Support: share of orders holding the whole rule; confidence: share of orders "
                 "with the left side that also hold the right side; lift: how many times more "
                 "often than if the products were bought independently. Next-best products per "
                 "customer are in marts.customer_scores (next_best_products), offers in "
                 "marts.basket_offers.")
    top = shown.head(1)
    summary = (f"{len(product):,} product rules; strongest: {top['antecedent_names'].iloc[0]} → "
               f"{top['consequent_names'].iloc[0]} (lift {top['lift'].iloc[0]:.1f})"
               if len(top) else "no product rules at these thresholds")
    return Section(html=html, summary=summary)
