"""Promotion effects against matched periods: uplift, and cannibalisation where measurable.

The model-based lift (``crmine.sales._elasticity``) rests on the demand model being right.
The matched-period baseline rests on nothing but the calendar: for each promotion week of a
category, its baseline is the mean of the ``MATCHES`` nearest *clean* weeks of the same
category within ``WINDOW`` weeks (same season; clean: no promotion that week or the week
before, so a post-promotion dip does not lower the baseline). Units are taken per line of
the rest of the shop when known (``traffic``), so a busy week is not mistaken for an
effect. The uplift is ``Σ units / Σ baseline - 1`` over the promotions, with a percentile
bootstrap interval over promotions (each resampled with its matched weeks).

Cannibalisation is the drop of the category's *other* products during a promotion that
covers only some of them: their units against what they sell in matched clean weeks. It is
"not measurable" when promotions cover (nearly) the whole category or happen too rarely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from crmine.warehouse import Workspace

__all__ = [
    "EFFECT_COLUMNS",
    "cannibalisation",
    "matched_baseline",
    "matched_uplift",
    "workspace_product_weeks",
]

WINDOW = 8  # weeks either side in which matched weeks are looked for
MATCHES = 4
MIN_PROMOTIONS = 5
PROMOTED = 0.5  # promoted share of units that makes a promotion week
CLEAN = 0.05  # at most this promoted share (this week and the one before) in a clean week
PARTIAL = (0.1, 0.8)  # promoted shares of a promotion that leaves other products to compare
N_BOOT = 1000
EFFECT_COLUMNS = ("group", "promotions", "matched_uplift", "matched_uplift_lower",
                  "matched_uplift_upper", "cannibalisation", "cannibalisation_lower",
                  "cannibalisation_upper", "cannibalisation_note")  # fmt: skip


def matched_baseline(g: pd.DataFrame, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For one group's weekly panel: the promotion weeks' positions and, per promotion, the
    mean of ``value`` over its matched clean weeks (NaN when fewer than two were found)."""
    weeks = pd.to_datetime(g["week"]).to_numpy()
    share = g["promo_share"].to_numpy(float)
    before = pd.Series(share, index=weeks + np.timedelta64(7, "D")).reindex(weeks).fillna(0.0)
    clean = np.flatnonzero((share <= CLEAN) & (before.to_numpy() <= CLEAN))
    promo = np.flatnonzero(share >= PROMOTED)
    base = np.full(len(promo), np.nan)
    step = np.timedelta64(7, "D")
    for i, w in enumerate(promo):
        gap = np.abs((weeks[clean] - weeks[w]) / step)
        near = clean[gap <= WINDOW]
        if len(near) >= 2:
            near = near[np.argsort(np.abs((weeks[near] - weeks[w]) / step), kind="stable")]
            base[i] = value[near[:MATCHES]].mean()
    return promo, base


def _rate(g: pd.DataFrame, units: np.ndarray) -> np.ndarray:
    traffic = g["traffic"].to_numpy(float) if "traffic" in g.columns else np.full(len(g), np.nan)
    return units / traffic if np.all(traffic > 0) else units


def _ratio_interval(
    num: np.ndarray, den: np.ndarray, level: float, seed: int
) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(num), (N_BOOT, len(num)))
    boot = num[idx].sum(axis=1) / den[idx].sum(axis=1)
    tail = (1 - level) / 2
    lo, hi = np.quantile(boot, [tail, 1 - tail])
    return float(num.sum() / den.sum()), float(lo), float(hi)


def matched_uplift(panel: pd.DataFrame, *, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Per group: promotions matched, the matched-period uplift and its bootstrap interval
    (NaN with fewer than ``MIN_PROMOTIONS`` matched promotions)."""
    rows = []
    for name, g in panel.groupby("group", sort=True):
        g = g.sort_values("week")
        value = _rate(g, g["units"].to_numpy(float))
        promo, base = matched_baseline(g, value)
        ok = np.isfinite(base) & (base > 0)
        row: dict[str, object] = {"group": name, "promotions": int(ok.sum())}
        if ok.sum() >= MIN_PROMOTIONS:
            r, lo, hi = _ratio_interval(value[promo[ok]], base[ok], level, seed)
            row |= {"matched_uplift": r - 1, "matched_uplift_lower": lo - 1,
                    "matched_uplift_upper": hi - 1}  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=list(EFFECT_COLUMNS[:5]))


def cannibalisation(products: pd.DataFrame, *, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Per group, from a product-week frame (``group, week, product_id, units, promoted`` and
    optional ``traffic``): the relative drop of the unpromoted products' units in partial
    promotion weeks against their matched clean weeks, with a bootstrap interval, or a note
    saying why it is not measurable."""
    rows = []
    for name, d in products.groupby("group", sort=True):
        d = d.assign(promo_units=np.where(d["promoted"], d["units"], 0.0))
        g = d.groupby("week", as_index=False).agg(
            units=("units", "sum"),
            promo_units=("promo_units", "sum"),
            products_promoted=("promoted", "mean"),
            traffic=("traffic", "first") if "traffic" in d.columns else ("units", "size"),
        )
        g["promo_share"] = g["promo_units"] / g["units"]
        row: dict[str, object] = {"group": name}
        # partial: part of the units and part of the products promoted (a category-wide
        # promotion with a few orders moved in from other weeks is not one)
        partial = g["promo_share"].between(*PARTIAL) & g["products_promoted"].between(*PARTIAL)
        if partial.sum() < MIN_PROMOTIONS:
            row["cannibalisation_note"] = (
                f"not measurable: {int(partial.sum())} promotion weeks left other products of "
                "the category unpromoted (promotions covered the whole category)"
            )
            rows.append(row)
            continue
        # For each week: the units of the products *not* promoted that week, and what the
        # same products sell in a clean week (their mean over clean weeks).
        weeks = g["week"].to_numpy()
        share = g["promo_share"].to_numpy(float)
        clean_weeks = set(weeks[share <= CLEAN])
        typical = d[d["week"].isin(clean_weeks)].groupby("product_id")["units"].sum() / max(
            len(clean_weeks), 1
        )
        others = d[~d["promoted"]]
        other_units = others.groupby("week")["units"].sum().reindex(weeks, fill_value=0.0)
        promoted_products = d[d["promoted"]].groupby("week")["product_id"].agg(set)
        expected = np.array([
            typical.drop(list(promoted_products.get(w, set())), errors="ignore").sum()
            for w in weeks])  # fmt: skip
        # clean weeks: all products unpromoted, so the ratio is the category's normal level
        rate = _rate(g, other_units.to_numpy(float)) / np.where(expected > 0, expected, np.nan)
        # neither clean nor partial (a category-wide promotion): neither baseline nor case
        g = g.assign(promo_share=np.where(partial, 1.0, np.where(share <= CLEAN, 0.0, 0.25)))
        promo, base = matched_baseline(g, rate)
        ok = np.isfinite(base) & (base > 0) & np.isfinite(rate[promo])
        if ok.sum() < MIN_PROMOTIONS:
            row["cannibalisation_note"] = "not measurable: too few partial promotions matched"
            rows.append(row)
            continue
        r, lo, hi = _ratio_interval(rate[promo[ok]], base[ok], level, seed)
        row |= {"cannibalisation": 1 - r, "cannibalisation_lower": 1 - hi,
                "cannibalisation_upper": 1 - lo,
                "cannibalisation_note": f"{int(ok.sum())} partial promotions"}  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows).reindex(
        columns=["group", *[c for c in EFFECT_COLUMNS if c.startswith("cannibalisation")]]
    )


def workspace_product_weeks(ws: Workspace, group: str = "category") -> pd.DataFrame:
    """The product-week frame of :func:`cannibalisation` from ``core.fct_order_lines``
    (empty without a ``promotion_id`` column)."""
    line_cols = set(ws.columns("core.fct_order_lines"))
    if "promotion_id" not in line_cols:
        return pd.DataFrame(columns=["group", "week", "product_id", "units", "promoted"])
    src = "l" if group in line_cols else "p"
    sql = f"""
        WITH w AS (
            SELECT coalesce(CAST({src}."{group}" AS VARCHAR), '(none)') AS "group",
                   CAST(date_trunc('week', l.order_ts) AS TIMESTAMP) AS week, l.product_id,
                   sum(l.quantity) AS units, count(*) AS lines,
                   sum(l.quantity) FILTER (l.promotion_id IS NOT NULL) AS promo_units
            FROM core.fct_order_lines l LEFT JOIN core.dim_product p USING (product_id)
            WHERE l.status = 'completed' AND l.quantity > 0 AND l.amount > 0
            GROUP BY 1, 2, 3
        ), own AS (  -- the group's own lines: a promotion moves them, so they are left out
            SELECT "group", week, sum(lines) AS lines FROM w GROUP BY 1, 2
        ), t AS (SELECT week, sum(lines) AS lines FROM own GROUP BY 1)
        SELECT w."group", w.week, w.product_id, w.units,
               coalesce(w.promo_units, 0) >= 0.5 * w.units AS promoted,
               t.lines - own.lines AS traffic
        FROM w JOIN own USING ("group", week) JOIN t USING (week)
    """
    return ws.duck.execute(sql).df()
