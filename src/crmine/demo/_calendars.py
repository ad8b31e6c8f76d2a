"""The demo company's promotion plan and holiday list: the calendars a forecast can look ahead
with.

``promotion_calendar`` holds every promotion the company ran (read from the planted price
calendar of :mod:`crmine.demo._pricing`: one per category and promotion week, Monday to Sunday,
with its discount and the ``promotion_id`` its order lines carry) and the promotions it has
planned for the weeks after the data end, drawn as the past ones were (about one week in
``1 / PROMO_WEEK_SHARE`` per category, never two running). ``holidays`` lists the shopping
festivals the order calendar spikes on (:func:`crmine.demo._spec.day_intensity`): Singles'
Day (9-11 November) and the 618 festival (16-18 June), in China, through a year past the end.
The no-signal company runs no promotions, so its plan is empty; its orders follow the same
calendar, so it has the holidays too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmine.demo._pricing import FIRST_MONDAY, PROMO_DISCOUNTS, PROMO_WEEK_SHARE
from crmine.demo._spec import CATEGORIES, OBSERVATION_END, START

__all__ = ["FESTIVALS", "PLANNED_WEEKS", "make_holidays", "make_promotion_calendar"]

PLANNED_WEEKS = 13  # a quarter of promotions planned beyond the data
# name -> (month, first day, last day): the spikes of day_intensity
FESTIVALS = {"Singles' Day": (11, 9, 11), "618 festival": (6, 16, 18)}
COUNTRY = "China"


def _promotion_id(category: str, monday: pd.Timestamp) -> str:
    # the id the order lines of that promotion carry (PriceCalendar.promotion_ids)
    return f"PROMO-{category[:3].upper()}-{monday:%Y%m%d}"


def make_promotion_calendar(price_calendar: pd.DataFrame | None,
                            rng: np.random.Generator) -> pd.DataFrame:
    """Past promotions from ``truth.sales_price_calendar`` and planned ones after the data.

    ``price_calendar`` is None for the no-signal company (no promotions: an empty plan).
    """
    columns = ["promotion_id", "promotion_name", "start_date", "end_date", "category",
               "discount"]  # fmt: skip
    if price_calendar is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    past = price_calendar[price_calendar["discount"] > 0]
    rows = [(str(r.category), pd.Timestamp(r.week), float(r.discount))
            for r in past.itertuples(index=False)]  # fmt: skip
    last_week = pd.Timestamp(price_calendar["week"].max())
    first_planned = last_week + pd.Timedelta(weeks=1)
    for category in CATEGORIES:
        promoted_last = bool(((past["category"] == category) & (past["week"] == last_week)).any())
        draw = rng.random(PLANNED_WEEKS) < PROMO_WEEK_SHARE
        cut = rng.choice(PROMO_DISCOUNTS, size=PLANNED_WEEKS)
        for w in range(PLANNED_WEEKS):
            if draw[w] and not promoted_last:
                rows.append((category, first_planned + pd.Timedelta(weeks=w), float(cut[w])))
            promoted_last = bool(draw[w] and not promoted_last)
    frame = pd.DataFrame(rows, columns=["category", "start", "discount"])
    frame = frame[frame["start"] >= FIRST_MONDAY]
    return pd.DataFrame({
        "promotion_id": [_promotion_id(c, m) for c, m in zip(frame["category"], frame["start"],
                                                               strict=True)],
        "promotion_name": [f"{c} week {m:%Y-%m-%d}" for c, m in zip(frame["category"],
                                                                    frame["start"], strict=True)],
        "start_date": frame["start"].dt.date,
        "end_date": (frame["start"] + pd.Timedelta(days=6)).dt.date,
        "category": frame["category"],
        "discount": frame["discount"],
    }).sort_values(["start_date", "category"], ignore_index=True)  # fmt: skip


def make_holidays() -> pd.DataFrame:
    """One row per festival day from the start of the data to a year after its end."""
    rows = []
    for year in range(START.year, OBSERVATION_END.year + 2):
        for name, (month, first, last) in FESTIVALS.items():
            for day in range(first, last + 1):
                rows.append({"date": pd.Timestamp(year, month, day).date(), "name": name,
                             "country": COUNTRY})  # fmt: skip
    return pd.DataFrame(rows).sort_values("date", ignore_index=True)
