"""The planted design of the demo company: calendar, segments, channels, funnels, churn drivers.

Everything an analysis is supposed to *find* is written down here once, so the generator and
the truth tables cannot disagree. Times are in days (BG/NBD ``time_unit="D"``); money in CNY.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORIES",
    "CHANNELS_ORDER",
    "CHURN_CONTRACT_EFFECT",
    "CHURN_EFFECTS",
    "DAYS",
    "MARKETING_CHANNELS",
    "NO_SIGNAL",
    "OBSERVATION_END",
    "SEGMENTS",
    "START",
    "ChannelSpec",
    "NoSignalSpec",
    "SegmentSpec",
]

# The data span exactly three years; every timestamp is strictly before OBSERVATION_END.
START = pd.Timestamp("2023-07-01")
OBSERVATION_END = pd.Timestamp("2026-06-30")
DAYS = float((OBSERVATION_END - START).days)

CATEGORIES = ("electronics", "fashion", "beauty", "home", "grocery", "sports", "books")
CHANNELS_ORDER = ("web", "app", "store", "phone")


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    """One planted customer segment.

    ``r, alpha`` (rate per day) and ``a, b`` are the BG/NBD heterogeneity parameters (Fader,
    Hardie & Lee 2005); ``gg_p, gg_q, gg_v`` the Gamma-Gamma spend parameters (Fader, Hardie
    & Lee 2005b), so a customer's mean order value is ``gg_p / nu`` with ``nu ~ Gamma(gg_q,
    rate=gg_v)`` and the segment mean is ``gg_p * gg_v / (gg_q - 1)``.
    """

    name: str
    share: float
    description: str
    r: float
    alpha: float
    a: float
    b: float
    gg_p: float
    gg_q: float
    gg_v: float
    lines_per_order: float  # mean number of primary lines (>= 1)
    discount_rate: float  # mean share of lines bought with a discount
    category_mix: tuple[float, ...]  # over CATEGORIES
    channel_mix: tuple[float, ...]  # over CHANNELS_ORDER
    acquisition_mix: tuple[float, ...]  # over ACQUISITION_CHANNELS
    age_mean: float
    age_sd: float
    income_median: float  # yearly CNY
    response_base: float  # relative propensity to respond to a campaign without it
    response_uplift: float  # relative extra propensity caused by a campaign
    ticket_rate: float  # service tickets per month
    nps_base: float
    subscription_share: float
    plan_mix: tuple[float, ...]  # basic, standard, premium


ACQUISITION_CHANNELS = ("web", "store", "referral", "social", "search")

SEGMENTS: tuple[SegmentSpec, ...] = (
    SegmentSpec(
        name="premium",
        share=0.25,
        description="high prices, electronics/fashion/beauty, rarely discounted, store and web",
        r=2.0, alpha=56.0, a=1.2, b=10.8,
        gg_p=4.0, gg_q=8.0, gg_v=2625.0,
        lines_per_order=1.4, discount_rate=0.04,
        category_mix=(0.45, 0.33, 0.14, 0.05, 0.01, 0.01, 0.01),
        channel_mix=(0.40, 0.05, 0.55, 0.00),
        acquisition_mix=(0.30, 0.40, 0.20, 0.05, 0.05),
        age_mean=46.0, age_sd=8.0, income_median=420_000.0,
        response_base=1.0, response_uplift=0.0,
        ticket_rate=0.05, nps_base=8.6, subscription_share=0.65,
        plan_mix=(0.10, 0.30, 0.60),
    ),
    SegmentSpec(
        name="discount_seeker",
        share=0.25,
        description="cheap items, most lines discounted, app and web, grocery/beauty/fashion",
        r=1.5, alpha=26.0, a=2.0, b=8.0,
        gg_p=3.0, gg_q=8.0, gg_v=350.0,
        lines_per_order=3.0, discount_rate=0.72,
        category_mix=(0.02, 0.20, 0.12, 0.10, 0.52, 0.03, 0.01),
        channel_mix=(0.32, 0.63, 0.05, 0.00),
        acquisition_mix=(0.20, 0.05, 0.15, 0.45, 0.15),
        age_mean=27.0, age_sd=5.0, income_median=90_000.0,
        response_base=0.3, response_uplift=1.0,
        ticket_rate=0.08, nps_base=6.6, subscription_share=0.55,
        plan_mix=(0.60, 0.35, 0.05),
    ),
    SegmentSpec(
        name="occasional",
        share=0.35,
        description="few orders, mid prices, books/home/sports, web store and phone",
        r=0.8, alpha=110.0, a=1.5, b=3.5,
        gg_p=4.0, gg_q=7.0, gg_v=300.0,
        lines_per_order=1.6, discount_rate=0.10,
        category_mix=(0.03, 0.04, 0.02, 0.38, 0.04, 0.09, 0.40),
        channel_mix=(0.45, 0.05, 0.25, 0.25),
        acquisition_mix=(0.30, 0.25, 0.10, 0.10, 0.25),
        age_mean=42.0, age_sd=12.0, income_median=150_000.0,
        response_base=0.25, response_uplift=0.3,
        ticket_rate=0.06, nps_base=7.2, subscription_share=0.55,
        plan_mix=(0.50, 0.40, 0.10),
    ),
    SegmentSpec(
        name="loyal_regular",
        share=0.15,
        description="frequent orders, mid-high spend, sports/beauty/home, store and web",
        r=3.0, alpha=35.0, a=0.5, b=12.0,
        gg_p=5.0, gg_q=8.0, gg_v=840.0,
        lines_per_order=2.5, discount_rate=0.30,
        category_mix=(0.03, 0.05, 0.28, 0.09, 0.10, 0.44, 0.01),
        channel_mix=(0.30, 0.10, 0.60, 0.00),
        acquisition_mix=(0.25, 0.30, 0.35, 0.05, 0.05),
        age_mean=38.0, age_sd=10.0, income_median=200_000.0,
        response_base=0.8, response_uplift=0.2,
        ticket_rate=0.07, nps_base=8.9, subscription_share=0.75,
        plan_mix=(0.25, 0.50, 0.25),
    ),
)

# Customers' own category / channel mixes scatter around their segment's mix by a Dirichlet
# with this concentration: moderate noise, segments still separable on every mix.
MIX_CONCENTRATION = 50.0

# Young customers (< 30) respond more *because of* a campaign; loyal customers aged 55+ are
# "sleeping dogs" whom a campaign annoys (negative uplift).
YOUNG_AGE = 30
YOUNG_UPLIFT = 0.6
SLEEPING_DOG_AGE = 55
SLEEPING_DOG_UPLIFT = -0.4


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A marketing channel: cost per contact, low-spend conversion rate and funnel rates.

    ``funnel`` holds the stage-to-stage rates for delivered, open, click, visit and lead; the
    last step lead→convert follows from each customer's response probability. Expected
    conversions of a campaign spending ``S`` are ``a * (1 - exp(-b * S))`` with
    ``a = conversion_rate * SATURATION * n_customers`` and ``b = 1 / (cost_per_contact *
    SATURATION * n_customers)``: the first contacts convert at ``conversion_rate``, later
    ones less (diminishing returns).
    """

    name: str
    cost_per_contact: float
    conversion_rate: float
    funnel: tuple[float, float, float, float, float]
    campaign_reach: tuple[float, ...]  # share of customers assigned, one campaign each
    promotion_type: str


FUNNEL = ("sent", "delivered", "open", "click", "visit", "lead", "convert")
SATURATION = 0.3

MARKETING_CHANNELS: tuple[ChannelSpec, ...] = (
    # Cheap and decent: clearly the best ROI.
    ChannelSpec("email", 0.5, 0.08, (0.98, 0.55, 0.45, 0.90, 0.80),
                (0.04, 0.10, 0.20, 0.35, 0.50), "discount"),
    ChannelSpec("sms", 1.0, 0.10, (0.97, 0.90, 0.35, 0.90, 0.80),
                (0.05, 0.15, 0.30, 0.45), "discount"),
    # The planted leak: click→visit converts badly (a broken landing page).
    ChannelSpec("social", 1.5, 0.04, (0.95, 0.70, 0.50, 0.30, 0.90),
                (0.05, 0.12, 0.25, 0.40), "new_product"),
    # Expensive but converts best.
    ChannelSpec("search", 4.0, 0.20, (0.99, 0.80, 0.65, 0.95, 0.90),
                (0.03, 0.08, 0.15, 0.25), "free_shipping"),
    ChannelSpec("display", 1.0, 0.03, (0.99, 0.50, 0.20, 0.85, 0.80),
                (0.05, 0.15, 0.30, 0.45), "bundle"),
)
LEAK = ("social", "visit")  # (channel, stage whose rate from the previous stage is planted low)

# Subscription churn: monthly hazard = BASE * exp(sum of effects). Effects are log hazard
# ratios per unit of the feature (Cox-style), the planted truth of ``truth["churn_drivers"]``.
CHURN_BASE_HAZARD = 0.0085
CHURN_CONTRACT_EFFECT = {"month-to-month": 1.3, "one_year": 0.5, "two_year": 0.0}
CHURN_EFFECTS: dict[str, float] = {
    "n_complaints": 1.5,  # per complaint ticket in the previous 90 days
    "monthly_charge": 0.015,  # per CNY above 60
    "tenure_months": -0.035,  # per month since the subscription started
}
CONTRACT_TYPES = ("month-to-month", "one_year", "two_year")
CONTRACT_MIX = (0.50, 0.30, 0.20)
PLANS = ("basic", "standard", "premium")
PLAN_CHARGE = (39.0, 69.0, 109.0)
PAYMENT_METHODS = ("alipay", "wechat_pay", "credit_card", "bank_transfer")
PAYMENT_MIX = (0.40, 0.35, 0.18, 0.07)


def day_intensity() -> np.ndarray:
    """Relative purchase intensity per calendar day from START (mean 1).

    Singles' Day (11 Nov) and the 618 festival spike, December is busy, weekends are busier
    than weekdays. Orders are placed by warping a homogeneous process with this intensity,
    which keeps the number of purchases (and so BG/NBD) intact and only moves them in time.
    """
    days = pd.date_range(START, periods=int(DAYS), freq="D")
    weight = np.ones(len(days))
    weight[days.dayofweek >= 5] *= 1.25
    weight[days.month == 12] *= 1.35
    weight[(days.month == 11) & (days.day >= 9) & (days.day <= 11)] *= 2.5
    weight[(days.month == 6) & (days.day >= 16) & (days.day <= 18)] *= 1.8
    return weight / weight.mean()


@dataclass(frozen=True, slots=True)
class NoSignalSpec:
    """The company with nothing to find (``generate(..., signal=False)``).

    Every customer buys at one Poisson rate and never drops out; every order's lines are
    independent draws from one product popularity (no co-purchases), at list price, with the
    same discount chance for everyone; subscriptions end at one constant monthly hazard;
    every campaign converts treated and control customers at one rate (zero uplift); ticket
    rate and NPS are the same for everyone. Nothing depends on a customer's attributes, so an
    analysis that predicts better than its naive baseline here is fooling itself.
    """

    lambda_per_day: float = 0.02  # one purchase every 50 days, for life
    lines_per_order: float = 2.0  # 1 + Poisson(1) lines, each an independent product draw
    popularity_shape: float = 0.7  # product popularity ~ Gamma(shape): a few best-sellers
    discount_rate: float = 0.2
    response_rate: float = 0.06  # treated and control alike
    response_value_shape: float = 4.0  # Gamma spend of a campaign response
    response_value_mean: float = 300.0
    monthly_churn_hazard: float = 0.025
    subscription_share: float = 0.5
    plan_mix: tuple[float, float, float] = (0.4, 0.4, 0.2)
    ticket_rate: float = 0.065  # tickets per customer-month
    nps_mean: float = 7.5
    nps_sd: float = 2.0
    # One funnel for every channel (no leak): delivered, open, click, visit, lead.
    funnel: tuple[float, float, float, float, float] = (0.98, 0.6, 0.5, 0.9, 0.8)
    age_mean: float = 38.0
    age_sd: float = 12.0
    income_median: float = 150_000.0
    channel_mix: tuple[float, ...] = (0.4, 0.25, 0.3, 0.05)  # over CHANNELS_ORDER
    acquisition_mix: tuple[float, ...] = (0.25, 0.25, 0.2, 0.15, 0.15)


NO_SIGNAL = NoSignalSpec()
