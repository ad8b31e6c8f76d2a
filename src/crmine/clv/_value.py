"""Customer lifetime value, value tiers, break-even and sensitivity (what-if) views."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crmine.clv._base import TransactionModel, check_summary
from crmine.clv._gammagamma import GammaGammaModel
from crmine.exceptions import DataError

__all__ = [
    "BreakEvenResult",
    "ClvResult",
    "break_even",
    "clv_sensitivity",
    "clv_tiers",
    "customer_lifetime_value",
]

FloatArray = NDArray[np.float64]
TIER_LABELS = ("low", "medium", "high", "top")


@dataclass(frozen=True, slots=True)
class ClvResult:
    """Per-customer lifetime value over a horizon.

    Attributes
    ----------
    customers : DataFrame
        Indexed like the summary: ``expected_purchases`` (over the horizon),
        ``discounted_purchases``, ``expected_spend`` (per purchase), ``margin``, ``clv``,
        ``clv_tier``.
    total_clv : float
        Sum of ``clv``.
    horizon, step, discount_rate : float
        ``horizon`` steps of ``step`` time units, each discounted at ``discount_rate``.
    """

    customers: pd.DataFrame
    total_clv: float
    horizon: int
    step: float
    discount_rate: float

    def to_frame(self) -> pd.DataFrame:
        return self.customers.copy()


def _discount_factors(horizon: int, discount_rate: float) -> FloatArray:
    return np.asarray(1.0 / (1.0 + discount_rate) ** np.arange(1, horizon + 1))


def _check_horizon(horizon: int, step: float, discount_rate: float) -> None:
    if int(horizon) != horizon or horizon < 1:
        raise DataError(f"horizon must be a whole number of steps >= 1, not {horizon!r}")
    if not np.isfinite(step) or step <= 0:
        raise DataError(f"step must be > 0 time units, not {step!r}")
    if not np.isfinite(discount_rate) or discount_rate <= -1:
        raise DataError(f"discount_rate must be > -1 (e.g. 0.01 per step), not {discount_rate!r}")


def _purchase_increments(
    model: TransactionModel, summary: pd.DataFrame, horizon: int, step: float
) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    """Expected purchases per step as ``weight[i] * increments[pair[i], step]``.

    Returns ``(weight, increments, pair)``: ``increments`` has one row per distinct
    (frequency, T) pair, so no (customers × steps) matrix is ever built.
    """
    model._check_fitted()
    cols = check_summary(summary, model._columns, integer_frequency=model._integer_frequency)
    ts = [i * step for i in range(1, horizon + 1)]
    weight, cum, pair = model._expected_parts(ts, cols["frequency"], cols["recency"], cols["T"])
    increments = np.diff(cum, axis=1, prepend=0.0)
    return weight, increments, pair


def _spend(
    spend: GammaGammaModel | pd.Series | FloatArray | float | None, summary: pd.DataFrame
) -> FloatArray:
    if spend is None:
        if "monetary_value" not in summary.columns:
            raise DataError(
                "no spend given: pass spend=GammaGammaModel(...) fitted on the summary, an array "
                "of expected values per purchase, or a summary with a monetary_value column"
            )
        values = summary["monetary_value"].to_numpy(np.float64)
    elif isinstance(spend, GammaGammaModel):
        values = spend.expected_spend(summary).to_numpy()
    elif isinstance(spend, pd.Series):
        values = spend.reindex(summary.index).to_numpy(np.float64)
    else:
        values = np.broadcast_to(np.asarray(spend, dtype=np.float64), (len(summary),)).copy()
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(
            f"expected spend is missing/NaN for customer(s) {list(summary.index[bad][:5])}"
        )
    return values


def clv_tiers(
    clv: pd.Series | FloatArray,
    quantiles: Sequence[float] = (0.5, 0.8, 0.95),
    labels: Sequence[str] = TIER_LABELS,
) -> pd.Series:
    """Value tiers by CLV quantile (default: bottom 50% low, next 30% medium, 15% high, top 5%)."""
    values = pd.Series(clv, dtype=np.float64)
    if len(labels) != len(quantiles) + 1:
        raise DataError(f"need {len(quantiles) + 1} labels for {len(quantiles)} quantile cuts")
    if len(values) == 0:
        return pd.Series(pd.Categorical([], categories=list(labels), ordered=True), name="clv_tier")
    cuts = np.quantile(values.to_numpy(), np.asarray(quantiles))
    codes = np.searchsorted(cuts, values.to_numpy(), side="right")
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=list(labels), ordered=True),
        index=values.index,
        name="clv_tier",
    )


def customer_lifetime_value(
    model: TransactionModel,
    summary: pd.DataFrame,
    *,
    spend: GammaGammaModel | pd.Series | FloatArray | float | None = None,
    horizon: int = 12,
    step: float = 30.0,
    discount_rate: float = 0.01,
    margin: float | FloatArray | pd.Series = 1.0,
    cost_per_purchase: float = 0.0,
) -> ClvResult:
    """Discounted expected margin of each customer over ``horizon`` steps.

    ``CLV = sum_i (E[Y(i·step)] - E[Y((i-1)·step)]) · (spend · margin - cost_per_purchase)
    / (1 + discount_rate)^i`` — lifetimes' convention (monthly steps of 30 days on daily data).

    Parameters
    ----------
    model : fitted transaction model (BG/NBD, Pareto/NBD, MBG/NBD, BG/BB)
    summary : DataFrame
        RFM summary (``frequency, recency, T`` [, ``monetary_value``]).
    spend : GammaGammaModel, Series, array or float, optional
        Expected value per purchase; default the summary's ``monetary_value``.
    horizon : int
        Number of steps (e.g. 12 months).
    step : float
        Length of a step in the summary's time unit (30 for months on daily data).
    discount_rate : float
        Discount rate per step (0.01 per month ≈ 12.7% a year).
    margin : float or per-customer array
        Gross margin share of revenue (1 - product costs / revenue).
    cost_per_purchase : float
        Cost of serving one purchase (shipping, handling).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for
    customer base analysis. Journal of Marketing Research 42(4), 415-430.
    """
    _check_horizon(horizon, step, discount_rate)
    weight, increments, pair = _purchase_increments(model, summary, int(horizon), float(step))
    factors = _discount_factors(int(horizon), discount_rate)
    discounted = weight * (increments @ factors)[pair]
    total_purchases = weight * increments.sum(axis=1)[pair]
    per_purchase = _spend(spend, summary)
    if isinstance(margin, pd.Series):
        margin_arr = margin.reindex(summary.index).to_numpy(np.float64)
    else:
        margin_arr = np.broadcast_to(np.asarray(margin, dtype=np.float64), (len(summary),)).copy()
    if not np.all(np.isfinite(margin_arr)):
        raise DataError("margin must be a finite share of revenue for every customer")
    clv = discounted * (per_purchase * margin_arr - cost_per_purchase)
    frame = pd.DataFrame(
        {
            "expected_purchases": total_purchases,
            "discounted_purchases": discounted,
            "expected_spend": per_purchase,
            "margin": margin_arr,
            "clv": clv,
        },
        index=summary.index,
    )
    frame["clv_tier"] = clv_tiers(frame["clv"]).to_numpy()
    return ClvResult(frame, float(clv.sum()), int(horizon), float(step), float(discount_rate))


def clv_sensitivity(
    model: TransactionModel,
    summary: pd.DataFrame,
    *,
    spend: GammaGammaModel | pd.Series | FloatArray | float | None = None,
    margins: Sequence[float] = (0.2, 0.3, 0.4, 0.5),
    discount_rates: Sequence[float] = (0.0, 0.005, 0.01, 0.02),
    horizon: int = 12,
    step: float = 30.0,
) -> pd.DataFrame:
    """Total CLV for every combination of margin and discount rate (a what-if grid).

    The expected purchases are computed once; each grid point only re-weights them.
    Returns columns ``margin, discount_rate, total_clv, mean_clv``.
    """
    _check_horizon(horizon, step, 0.0)
    weight, increments, pair = _purchase_increments(model, summary, int(horizon), float(step))
    per_purchase = _spend(spend, summary)
    # spend-weighted expected purchases per step, summed over customers
    pair_weights = np.bincount(pair, weights=per_purchase * weight, minlength=len(increments))
    value_per_step = pair_weights @ increments
    rows = []
    for d in discount_rates:
        _check_horizon(horizon, step, d)
        base = float(value_per_step @ _discount_factors(int(horizon), d))
        for m in margins:
            rows.append(
                {
                    "margin": float(m),
                    "discount_rate": float(d),
                    "total_clv": base * m,
                    "mean_clv": base * m / max(len(summary), 1),
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True, slots=True)
class BreakEvenResult:
    """Where a customer becomes profit-positive.

    Attributes
    ----------
    thresholds : DataFrame
        ``purchase_rate`` (purchases per step) and ``break_even_spend``: the average spend per
        purchase at which the discounted margin covers acquisition and cost to serve.
    grid : DataFrame
        ``purchase_rate, spend, net_value, profitable`` over the what-if grid.
    """

    thresholds: pd.DataFrame
    grid: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.grid.copy()


def break_even(
    *,
    acquisition_cost: float,
    margin: float,
    purchase_rates: Sequence[float],
    spend_levels: Sequence[float] = (),
    cost_to_serve: float = 0.0,
    retention: float = 1.0,
    discount_rate: float = 0.01,
    horizon: int = 12,
) -> BreakEvenResult:
    """Break-even spend per purchase for each purchase rate, and a net-value grid.

    A customer survives each step with probability ``retention``; while active they make
    ``purchase_rate`` purchases per step and cost ``cost_to_serve`` per step. The net value is
    ``D · (purchase_rate · spend · margin - cost_to_serve) - acquisition_cost`` with
    ``D = sum_i retention^(i-1) / (1 + discount_rate)^i``, so the break-even spend is
    ``(acquisition_cost / D + cost_to_serve) / (purchase_rate · margin)``.

    Examples
    --------
    >>> res = break_even(acquisition_cost=50, margin=0.3, purchase_rates=[0.5, 1.0],
    ...                  discount_rate=0.0, horizon=10)
    >>> res.thresholds["break_even_spend"].round(2).tolist()
    [33.33, 16.67]
    """
    _check_horizon(horizon, 1.0, discount_rate)
    if not 0 < retention <= 1:
        raise DataError(f"retention must be in (0, 1] (survival per step), not {retention!r}")
    if margin <= 0:
        raise DataError(f"margin must be > 0 to break even, not {margin!r}")
    rates = np.asarray(purchase_rates, dtype=np.float64)
    if (rates <= 0).any() or not np.all(np.isfinite(rates)):
        raise DataError("purchase_rates must all be > 0")
    steps = np.arange(1, int(horizon) + 1)
    dsum = float(np.sum(retention ** (steps - 1) / (1 + discount_rate) ** steps))
    thresholds = pd.DataFrame(
        {
            "purchase_rate": rates,
            "break_even_spend": (acquisition_cost / dsum + cost_to_serve) / (rates * margin),
        }
    )
    spends = np.asarray(spend_levels, dtype=np.float64)
    if spends.size == 0:
        top = float(thresholds["break_even_spend"].max()) * 2
        spends = np.linspace(top / 20, top, 20)
    rr, ss = np.meshgrid(rates, spends, indexing="ij")
    net = dsum * (rr * ss * margin - cost_to_serve) - acquisition_cost
    grid = pd.DataFrame(
        {"purchase_rate": rr.ravel(), "spend": ss.ravel(), "net_value": net.ravel()}
    )
    grid["profitable"] = grid["net_value"] > 0
    return BreakEvenResult(thresholds, grid)
