"""The demo company's planted prices: re-pricing, promotions, elasticities and pull-forward.

Per category and calendar week (Monday to Sunday) the shelf price is the product's list
price times a *price level* (re-priced every few weeks, sd ``LEVEL_SD`` in logs around 1)
times ``1 - discount`` in a promotion week (about one week in ``1 / PROMO_WEEK_SHARE``, a
15-30 % cut, never two weeks running). A line's units respond to it as

    units = planned units · price ^ elasticity · (1 + lift) ^ promoted · (1 - pull_forward) ^ after

(``after``: the week following a promotion, when customers who stocked up buy less), scaled
per category so that the *spend* factor ``units · price`` has mean one over the calendar
(weighted by how busy each week is). So a customer's expected order value stays the CLV
truth's ``p / nu`` while prices and units move. The truth is ``truth.sales_elasticity`` (one
row per category) and ``truth.sales_price_calendar`` (one row per category and week).

Some other weeks (about one in ``1 / PARTIAL_WEEK_SHARE``, never next to a category
promotion) run a *product* promotion: only the featured products (every
``FEATURED_EVERY``-th product, a quarter of each category) are cut by 15-30 %; they sell as
in a promotion (price response, lift, and a dip the week after), while the category's other
products lose ``CANNIBALISATION`` of their units to them (``cannibalisation`` in
``truth.sales_elasticity``; ``partial_discount``, ``featured_units_factor`` and
``sibling_units_factor`` in the calendar).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmine.demo._spec import CATEGORIES, DAYS, START, day_intensity

__all__ = ["ELASTICITIES", "PriceCalendar", "flat_price_truth", "make_price_calendar"]

ELASTICITIES = {"electronics": -1.8, "fashion": -1.3, "beauty": -0.8, "home": -1.1,
                "grocery": -0.5, "sports": -1.5, "books": -0.7}  # fmt: skip
PROMOTION_LIFTS = {"electronics": 0.30, "fashion": 0.25, "beauty": 0.15, "home": 0.20,
                   "grocery": 0.10, "sports": 0.25, "books": 0.15}  # fmt: skip
PULL_FORWARD = {"electronics": 0.20, "fashion": 0.10, "beauty": 0.10, "home": 0.15,
                "grocery": 0.25, "sports": 0.10, "books": 0.05}  # fmt: skip
# the share of their units the unfeatured products lose during a product promotion
CANNIBALISATION = {"electronics": 0.20, "fashion": 0.15, "beauty": 0.10, "home": 0.15,
                   "grocery": 0.10, "sports": 0.20, "books": 0.10}  # fmt: skip
FEATURED_EVERY = 4  # products whose index is a multiple of this are the featured ones
PARTIAL_WEEK_SHARE = 0.10
LEVEL_SD = 0.12  # log sd of the regular price level
REPRICE_SHARE = 0.15  # share of weeks in which a category is re-priced
PROMO_WEEK_SHARE = 0.12
PROMO_DISCOUNTS = np.array([0.15, 0.20, 0.25, 0.30])
# Weeks are Monday-based like DuckDB's date_trunc('week'); week 0 holds START.
FIRST_MONDAY = START - pd.Timedelta(days=START.dayofweek)


@dataclass(frozen=True, slots=True)
class PriceCalendar:
    """Per category (rows, in ``CATEGORIES`` order) and week (columns): the shelf price factor
    ``price``, the units factor ``units``, the promotion ``discount`` (0 outside one) and
    whether the week follows a promotion (``after``); the product promotions' discount of the
    featured products (``partial``, 0 outside one) and the units factors, relative to
    ``units``, of the featured and the other products (``featured``, ``siblings``); ``rng``
    draws the lines' rounding."""

    price: np.ndarray
    units: np.ndarray
    discount: np.ndarray
    after: np.ndarray
    rng: np.random.Generator
    partial: np.ndarray
    featured: np.ndarray
    siblings: np.ndarray

    def week_of(self, t: np.ndarray) -> np.ndarray:
        """Week index of times ``t`` in days from START."""
        offset = (START - FIRST_MONDAY).days
        return np.minimum(((t + offset) // 7).astype(np.int64), self.price.shape[1] - 1)

    def promotion_ids(self, category: np.ndarray, week: np.ndarray) -> np.ndarray:
        """``PROMO-<CAT>-<yyyymmdd of the Monday>`` for lines in a promotion week, else None."""
        ids = np.full((len(CATEGORIES), self.price.shape[1]), None, dtype=object)
        for ci, w in zip(*np.nonzero(self.discount > 0), strict=True):
            monday = FIRST_MONDAY + pd.Timedelta(weeks=int(w))
            ids[ci, w] = f"PROMO-{CATEGORIES[ci][:3].upper()}-{monday:%Y%m%d}"
        return ids[category, week]

    def line_factors(self, category: np.ndarray, product: np.ndarray, week: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per line (its category, product index and week): the units factor, the shelf price
        factor and the promotion id (None outside a promotion)."""
        is_featured = product % FEATURED_EVERY == 0
        rel = np.where(is_featured, self.featured[category, week], self.siblings[category, week])
        d = self.partial[category, week]
        on = is_featured & (d > 0)
        ids = self.promotion_ids(category, week)
        product_ids = np.full(self.partial.shape, None, dtype=object)
        for ci, w in zip(*np.nonzero(self.partial > 0), strict=True):
            monday = FIRST_MONDAY + pd.Timedelta(weeks=int(w))
            product_ids[ci, w] = f"PROMO-{CATEGORIES[ci][:3].upper()}-P-{monday:%Y%m%d}"
        ids[on] = product_ids[category[on], week[on]]
        return (self.units[category, week] * rel, self.price[category, week] * (1 - d * on),
                ids)

    def truth(self) -> dict[str, pd.DataFrame]:
        """``sales_elasticity`` (planted per category) and ``sales_price_calendar``."""
        promo = self.discount > 0
        rows = []
        for ci, cat in enumerate(CATEGORIES):
            e, lift = ELASTICITIES[cat], PROMOTION_LIFTS[cat]
            d = self.discount[ci, promo[ci]]
            rows.append({
                "category": cat, "elasticity": e, "promotion_lift": lift,
                "pull_forward": PULL_FORWARD[cat], "promotions": int(promo[ci].sum()),
                "cannibalisation": CANNIBALISATION[cat],
                "product_promotions": int((self.partial[ci] > 0).sum()),
                "mean_discount": float(d.mean()) if len(d) else 0.0,
                # units in a promotion week against the same week at its regular price
                "promotion_uplift": float(np.mean((1 - d) ** e * (1 + lift)) - 1) if len(d)
                else 0.0,
            })  # fmt: skip
        n_weeks = self.price.shape[1]
        cal = pd.DataFrame({
            "category": np.repeat(np.array(CATEGORIES, dtype=object), n_weeks),
            "week": np.tile(FIRST_MONDAY + pd.to_timedelta(7 * np.arange(n_weeks), unit="D"),
                            len(CATEGORIES)),
            "price_factor": self.price.ravel(), "units_factor": self.units.ravel(),
            "discount": self.discount.ravel(), "after_promotion": self.after.ravel(),
            "partial_discount": self.partial.ravel(),
            "featured_units_factor": self.featured.ravel(),
            "sibling_units_factor": self.siblings.ravel(),
        })  # fmt: skip
        return {"sales_elasticity": pd.DataFrame(rows), "sales_price_calendar": cal}


def _week_weights(n_weeks: int) -> np.ndarray:
    """How busy each week is: the calendar's purchase intensity summed over its days."""
    offset = (START - FIRST_MONDAY).days
    day = np.arange(int(DAYS))
    return np.bincount((day + offset) // 7, day_intensity(), minlength=n_weeks)


def make_price_calendar(rng: np.random.Generator) -> PriceCalendar:
    """Draw the planted price calendar (see the module docstring)."""
    n_weeks = _n_weeks()
    weight = _week_weights(n_weeks)
    k = len(CATEGORIES)
    reprice = rng.random((k, n_weeks)) < REPRICE_SHARE
    reprice[:, 0] = True
    level_draw = np.exp(rng.normal(0.0, LEVEL_SD, (k, n_weeks)))
    # the level set at the last re-pricing holds until the next one
    last = np.maximum.accumulate(np.where(reprice, np.arange(n_weeks), 0), axis=1)
    level = np.take_along_axis(level_draw, last, axis=1)
    promo = rng.random((k, n_weeks)) < PROMO_WEEK_SHARE
    promo[:, 1:] &= ~promo[:, :-1]  # never two promotion weeks running
    discount = np.where(promo, rng.choice(PROMO_DISCOUNTS, size=(k, n_weeks)), 0.0)
    after = np.zeros((k, n_weeks), dtype=bool)
    after[:, 1:] = promo[:, :-1]
    price = level * (1.0 - discount)
    # product promotions: in weeks neither next to a category promotion nor to each other
    near = promo | after | np.roll(promo, -1, axis=1)
    partial_on = (rng.random((k, n_weeks)) < PARTIAL_WEEK_SHARE) & ~near
    partial_on[:, 1:] &= ~partial_on[:, :-1]
    partial = np.where(partial_on, rng.choice(PROMO_DISCOUNTS, size=(k, n_weeks)), 0.0)
    after_partial = np.zeros((k, n_weeks), dtype=bool)
    after_partial[:, 1:] = partial_on[:, :-1]
    units = np.empty((k, n_weeks))
    featured = np.ones((k, n_weeks))
    siblings = np.ones((k, n_weeks))
    share = 1.0 / FEATURED_EVERY  # the featured products' nominal share of the spend
    for ci, cat in enumerate(CATEGORIES):
        e = ELASTICITIES[cat]
        u = (
            price[ci] ** e
            * np.where(promo[ci], 1 + PROMOTION_LIFTS[cat], 1.0)
            * np.where(after[ci], 1 - PULL_FORWARD[cat], 1.0)
        )
        featured[ci] = np.where(partial_on[ci], (1 - partial[ci]) ** e
                                * (1 + PROMOTION_LIFTS[cat]), 1.0) * np.where(
            after_partial[ci], 1 - PULL_FORWARD[cat], 1.0)
        siblings[ci] = np.where(partial_on[ci], 1 - CANNIBALISATION[cat], 1.0)
        spend = u * price[ci] * (share * featured[ci] * np.where(partial_on[ci],
                                                                 1 - partial[ci], 1.0)
                                 + (1 - share) * siblings[ci])
        # mean-one spend: the CLV truth's expected order value is kept
        units[ci] = u / (np.sum(weight * spend) / weight.sum())
    return PriceCalendar(price=price, units=units, discount=discount, after=after, rng=rng,
                         partial=partial, featured=featured, siblings=siblings)


def flat_price_truth() -> dict[str, pd.DataFrame]:
    """The no-signal company's price truth: list prices throughout, no promotion, demand
    that does not respond (elasticity, lift and pull-forward 0)."""
    n_weeks = _n_weeks()
    k = len(CATEGORIES)
    flat = PriceCalendar(
        price=np.ones((k, n_weeks)),
        units=np.ones((k, n_weeks)),
        discount=np.zeros((k, n_weeks)),
        after=np.zeros((k, n_weeks), bool),
        rng=np.random.default_rng(0),
        partial=np.zeros((k, n_weeks)),
        featured=np.ones((k, n_weeks)),
        siblings=np.ones((k, n_weeks)),
    )
    truth = flat.truth()
    truth["sales_elasticity"][["elasticity", "promotion_lift", "pull_forward",
                               "cannibalisation"]] = 0.0
    return truth


def _n_weeks() -> int:
    return int((DAYS + (START - FIRST_MONDAY).days) // 7) + 1
