"""A shop's sales with planted price elasticities, promotion lifts and seasonality.

The demo company plants its own prices and promotions (``crmine.demo._pricing``); this module
is a smaller, cleaner shop of independent categories (one line per order) for the sales
analysis's unit tests: per category and week a price move (regular re-pricing, sd 7 %) and, in
about one week in six, a promotion (20 % off plus a display lift); expected units are

    base · price_factor ^ elasticity · (1 + lift)^promo · season(week) · trend

and realised units are Poisson draws split into lines of 1–3 units. ``signal=False`` gives
the same shop with flat demand: no elasticity, no lift, no season, no trend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ELASTICITIES", "PROMOTION_LIFTS", "seasonal_factor", "simulate_sales"]

ELASTICITIES = {"electronics": -1.8, "fashion": -1.3, "beauty": -0.8, "home": -1.1,
                "grocery": -0.5, "sports": -1.5, "books": -0.7}  # fmt: skip
PROMOTION_LIFTS = {"electronics": 0.30, "fashion": 0.25, "beauty": 0.15, "home": 0.20,
                   "grocery": 0.10, "sports": 0.25, "books": 0.15}  # fmt: skip
PROMO_DISCOUNT = 0.20
PROMO_WEEK_SHARE = 0.16
PRICE_SD = 0.07
START = pd.Timestamp("2023-07-03")  # a Monday


def seasonal_factor(week_start: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """Planted yearly demand factor (mean about 1): a winter peak, a summer low."""
    doy = pd.DatetimeIndex(week_start).dayofyear.to_numpy()
    return 1.0 + 0.25 * np.cos(2 * np.pi * (doy - 350) / 365.25)


def simulate_sales(
    *,
    seed: int = 0,
    weeks: int = 156,
    categories: int = 7,
    base_units: float = 80.0,
    signal: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Order lines (``order_id, customer_id, order_ts, product_id, category, quantity,
    unit_price, discount, unit_cost, amount, channel, promotion_id, status``) and the truth
    per category (``category, elasticity, promotion_lift``)."""
    rng = np.random.default_rng(seed)
    names = list(ELASTICITIES)[:categories]
    week_start = pd.date_range(START, periods=weeks, freq="W-MON")
    season = seasonal_factor(week_start) if signal else np.ones(weeks)
    trend = np.exp(0.10 * np.arange(weeks) / 52) if signal else np.ones(weeks)
    parts, truth, line0 = [], [], 0
    for cat in names:
        e = ELASTICITIES[cat] if signal else 0.0
        lift = PROMOTION_LIFTS[cat] if signal else 0.0
        list_price = np.round(np.exp(rng.uniform(np.log(20), np.log(800), 10)), 0) - 0.01
        cost_share = rng.uniform(0.45, 0.75, 10)
        move = np.exp(rng.normal(0.0, PRICE_SD, weeks))
        promo = rng.random(weeks) < PROMO_WEEK_SHARE
        factor = move * np.where(promo, 1 - PROMO_DISCOUNT, 1.0)
        mean = base_units * factor**e * np.where(promo, 1 + lift, 1.0) * season * trend
        units = rng.poisson(mean)
        popularity = rng.dirichlet(np.full(10, 2.0))
        for w in np.flatnonzero(units):
            per_product = rng.multinomial(units[w], popularity)
            # lines of 1-3 units: cut the product's units at random points
            q = _split(rng, per_product)
            prod = np.repeat(np.arange(10), [len(x) for x in q])
            qty = np.concatenate(q).astype(float)
            n = len(qty)
            unit_price = np.round(list_price[prod] * move[w], 2)
            pct = PROMO_DISCOUNT if promo[w] else 0.0
            discount = np.round(qty * unit_price * pct, 2)
            parts.append(pd.DataFrame({
                "order_id": [f"S{line0 + i:08d}" for i in range(n)],
                "customer_id": [f"K{x:05d}" for x in rng.integers(0, 5000, n)],
                "order_ts": week_start[w] + pd.to_timedelta(rng.uniform(0, 7, n), unit="D"),
                "product_id": [f"{cat[:3].upper()}{p:02d}" for p in prod],
                "category": cat, "quantity": qty, "unit_price": unit_price,
                "discount": discount,
                "unit_cost": np.round(list_price[prod] * cost_share[prod], 2),
                "amount": np.round(qty * unit_price - discount, 2),
                "channel": rng.choice(["web", "store"], n, p=[0.6, 0.4]),
                "promotion_id": f"PROMO-{cat[:3].upper()}-{w:03d}" if promo[w] else None,
                "status": "completed",
            }))  # fmt: skip
            line0 += n
        truth.append({"category": cat, "elasticity": e, "promotion_lift": lift})
    lines = pd.concat(parts, ignore_index=True).sort_values("order_ts", ignore_index=True)
    return lines, pd.DataFrame(truth)


def _split(rng: np.random.Generator, per_product: np.ndarray) -> list[np.ndarray]:
    out = []
    for total in per_product:
        if total == 0:
            out.append(np.array([], dtype=int))
            continue
        sizes = rng.choice([1, 2, 3], size=int(total), p=[0.6, 0.3, 0.1])
        cum = np.cumsum(sizes)
        sizes = sizes[cum <= total]
        rest = int(total - sizes.sum())
        out.append(np.r_[sizes, [rest]] if rest else sizes)
    return out
