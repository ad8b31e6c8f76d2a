"""Paid-media spend as ad platforms export it, and the weekly sales it moves.

``marketing_spend``: one row per week x channel x campaign x age band x gender with spend,
impressions, clicks, conversions, approved conversions and platform-reported revenue. Clicks
and conversions are binomial draws with planted rates per channel and per audience, so the
audience that costs least per result is known (``truth.spend_audiences``).

``marketing_outcomes``: one row per week with all sales (every channel, online and offline),
average price, promotion and holiday flags. Sales are the marketing-mix model's own form::

    sales_t = base * (1 + trend * t + seasonality_t) + price, promotion and holiday
              effects + sum_c beta_c * hill(adstock(spend_c; decay_c); K_c, s_c) + noise

with geometric adstock (weights ``decay**l`` over 8 weeks, summing to 1) and Hill saturation
(``x**s / (K**s + x**s)``); ``beta_c`` is set so that channel ``c`` returns its planted ROI
(contribution per unit spent over the three years). ``truth.mmm_channels`` holds every
parameter and the realised contribution and ROI. The company without signal gets the same
spend, and sales that no channel moves (every ``beta`` zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmine.demo._spec import OBSERVATION_END, START

__all__ = ["MEDIA_CHANNELS", "MediaChannel", "SpendResult", "make_marketing_spend"]

MAX_LAG = 8


@dataclass(frozen=True, slots=True)
class MediaChannel:
    """A paid channel: average weekly spend, carry-over, saturation (``half_saturation`` as a
    multiple of the average spend), the planted ROI and its platform metrics."""

    name: str
    mean_spend: float
    decay: float
    half_saturation: float
    shape: float
    roi: float
    cpm: float  # cost per 1,000 impressions
    ctr: float  # clicks per impression
    cvr: float  # conversions per click
    off_share: float  # weeks without spend (flighting)


MEDIA_CHANNELS: tuple[MediaChannel, ...] = (
    MediaChannel("affiliate", 8_000, 0.2, 0.6, 1.0, 5.0, 4.0, 0.020, 0.060, 0.05),
    MediaChannel("search", 20_000, 0.1, 0.8, 1.2, 3.0, 12.0, 0.040, 0.050, 0.05),
    MediaChannel("social", 15_000, 0.4, 1.0, 1.0, 2.0, 6.0, 0.012, 0.030, 0.1),
    MediaChannel("video", 25_000, 0.6, 1.2, 2.0, 1.5, 9.0, 0.004, 0.020, 0.2),
    MediaChannel("display", 10_000, 0.3, 1.5, 1.5, 0.8, 2.5, 0.003, 0.015, 0.15),
)
AGES = ("18-24", "25-34", "35-44", "45-54", "55+")
GENDERS = ("F", "M")
# Conversion per click by audience (x the channel's): 25-34 women convert best, 55+ least.
AUDIENCE_CVR = {("18-24", "F"): 1.0, ("18-24", "M"): 1.2, ("25-34", "F"): 1.7,
                ("25-34", "M"): 1.1, ("35-44", "F"): 0.9, ("35-44", "M"): 0.8,
                ("45-54", "F"): 0.7, ("45-54", "M"): 0.7, ("55+", "F"): 0.5,
                ("55+", "M"): 0.5}  # fmt: skip
AUDIENCE_SHARE = {"18-24": 0.2, "25-34": 0.3, "35-44": 0.25, "45-54": 0.15, "55+": 0.1}
ORDER_VALUE = 80.0  # platform-reported revenue per conversion (gamma, shape 4)
APPROVED_SHARE = 0.4
BASE_SALES, TREND, SEASON = 500_000.0, 0.15, 0.10
NOISE_SD = 6_000.0
PRICE_EFFECT, PROMO_EFFECT, HOLIDAY_EFFECT = -12_000.0, 40_000.0, 30_000.0


@dataclass(frozen=True, slots=True)
class SpendResult:
    spend: pd.DataFrame  # the marketing_spend entity
    outcomes: pd.DataFrame  # the marketing_outcomes entity
    truth: dict[str, pd.DataFrame]


def _weeks() -> pd.DatetimeIndex:
    first = START + pd.Timedelta(days=(7 - START.dayofweek) % 7)  # the first Monday
    return pd.date_range(first, OBSERVATION_END - pd.Timedelta(days=7), freq="7D")


def _adstock(x: np.ndarray, decay: float) -> np.ndarray:
    w = decay ** np.arange(MAX_LAG)
    w = w / w.sum()
    out = np.zeros_like(x)
    for lag in range(MAX_LAG):
        out[lag:] += w[lag] * x[: len(x) - lag]
    return out


def _weekly_spend(rng: np.random.Generator, weeks: pd.DatetimeIndex) -> np.ndarray:
    """Spend per week and channel: a seasonal plan, noise and weeks off (flighting) so that
    each channel's effect can be told from the others' and from the season."""
    year = weeks.dayofyear.to_numpy(float) / 365.25 * 2 * np.pi
    out = np.zeros((len(weeks), len(MEDIA_CHANNELS)))
    for j, ch in enumerate(MEDIA_CHANNELS):
        plan = 1 + 0.25 * np.sin(year + rng.uniform(0, 2 * np.pi))
        level = plan * rng.lognormal(-0.5 * 0.6**2, 0.6, len(weeks))
        off = rng.random(len(weeks)) < ch.off_share
        level[off] = 0.0
        out[:, j] = ch.mean_spend * level / level.mean()
    return out


def _platform_rows(rng: np.random.Generator, weeks: pd.DatetimeIndex, spend: np.ndarray,
                   signal: bool) -> pd.DataFrame:
    """Split each channel-week over two campaigns and ten audiences and draw the results."""
    audiences = [(a, g) for a in AGES for g in GENDERS]
    share = np.array([AUDIENCE_SHARE[a] / 2 for a, _g in audiences])
    mult = np.array([AUDIENCE_CVR[k] if signal else 1.0 for k in audiences])
    parts = []
    for j, ch in enumerate(MEDIA_CHANNELS):
        for c, camp_share in enumerate((0.6, 0.4)):
            s = spend[:, j][:, None] * camp_share * share[None, :]
            s = s * rng.lognormal(-0.02, 0.2, s.shape)
            impressions = rng.poisson(s / ch.cpm * 1000)
            clicks = rng.binomial(impressions, ch.ctr)
            conv = rng.binomial(clicks, np.minimum(ch.cvr * mult[None, :], 1.0))
            approved = rng.binomial(conv, APPROVED_SHARE)
            revenue = rng.gamma(np.maximum(conv, 1e-9) * 4.0, ORDER_VALUE / 4.0) * (conv > 0)
            n_w, n_a = s.shape
            parts.append(pd.DataFrame({
                "date": np.repeat(weeks.date, n_a),
                "channel": ch.name,
                "campaign": f"{ch.name}-{'prospecting' if c == 0 else 'retargeting'}",
                "age": np.tile([a for a, _g in audiences], n_w),
                "gender": np.tile([g for _a, g in audiences], n_w),
                "spend": s.ravel().round(2), "impressions": impressions.ravel().astype(float),
                "clicks": clicks.ravel().astype(float), "conversions": conv.ravel().astype(float),
                "approved_conversions": approved.ravel().astype(float),
                "revenue": revenue.ravel().round(2),
            }))  # fmt: skip
    rows = pd.concat(parts, ignore_index=True)
    return rows[rows["spend"] > 0].reset_index(drop=True)


def _holidays(weeks: pd.DatetimeIndex) -> np.ndarray:
    """Weeks holding Singles' Day (11 Nov), Christmas or the spring festival (early Feb)."""
    flags = np.zeros(len(weeks))
    for i, w in enumerate(weeks):
        days = pd.date_range(w, periods=7)
        if any((d.month, d.day) in ((11, 11), (12, 25), (2, 5)) for d in days):
            flags[i] = 1.0
    return flags


def make_marketing_spend(rng: np.random.Generator, *, signal: bool = True) -> SpendResult:
    """The media spend, the weekly sales and their truth (see the module docstring)."""
    weeks = _weeks()
    spend = _weekly_spend(rng, weeks)
    n = len(weeks)
    t = np.arange(n) / n
    year = weeks.dayofyear.to_numpy(float) / 365.25 * 2 * np.pi
    baseline = BASE_SALES * (1 + TREND * t + SEASON * np.cos(year - 5.6))
    price = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    price_z = (price - price.mean()) / price.std()
    promotion = (rng.random(n) < 0.15).astype(float)
    holiday = _holidays(weeks)
    controls = PRICE_EFFECT * price_z + PROMO_EFFECT * promotion + HOLIDAY_EFFECT * holiday
    rows = []
    media = np.zeros(n)
    for j, ch in enumerate(MEDIA_CHANNELS):
        k = ch.half_saturation * ch.mean_spend
        sat = _adstock(spend[:, j], ch.decay) ** ch.shape
        sat = sat / (k**ch.shape + sat)
        total = spend[:, j].sum()
        beta = ch.roi * total / sat.sum() if signal else 0.0
        contrib = beta * sat
        media += contrib
        up = _adstock(spend[:, j] * 1.01, ch.decay) ** ch.shape
        up = beta * up / (k**ch.shape + up)
        rows.append({"channel": ch.name, "decay": ch.decay, "half_saturation": k,
                     "shape": ch.shape, "beta": beta, "mean_spend": spend[:, j].mean(),
                     "spend": total, "contribution": contrib.sum(),
                     "roi": contrib.sum() / total,
                     "marginal_roi": (up.sum() - contrib.sum()) / (0.01 * total)})
    sales = baseline + controls + media + rng.normal(0, NOISE_SD, n)
    truth_channels = pd.DataFrame(rows)
    truth_channels["rank"] = truth_channels["roi"].rank(ascending=False, method="first"
                                                        ).astype(int)
    outcomes = pd.DataFrame({"date": weeks.date, "revenue": sales.round(2),
                             "price": price.round(2), "promotion": promotion,
                             "holiday": holiday})
    audiences = pd.DataFrame([
        {"age": a, "gender": g, "cvr_multiplier": AUDIENCE_CVR[(a, g)] if signal else 1.0}
        for a in AGES for g in GENDERS])  # fmt: skip
    audiences["cpa_rank"] = audiences["cvr_multiplier"].rank(ascending=False, method="min"
                                                              ).astype(int)
    mmm_truth = pd.DataFrame([{
        "weeks": n, "baseline_mean": float(baseline.mean()), "noise_sd": NOISE_SD,
        "price_effect_per_sd": PRICE_EFFECT, "promotion_effect": PROMO_EFFECT,
        "holiday_effect": HOLIDAY_EFFECT, "media_share": float(media.sum() / sales.sum()),
        "max_lag": MAX_LAG}])  # fmt: skip
    return SpendResult(_platform_rows(rng, weeks, spend, signal), outcomes,
                       {"mmm_channels": truth_channels, "mmm_model": mmm_truth,
                        "spend_audiences": audiences})
