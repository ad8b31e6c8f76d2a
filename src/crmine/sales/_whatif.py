"""What-if: revenue and margin under a price or discount change, break-even discount and
customer, from the fitted elasticities.

With elasticity ``e`` a relative price change ``c`` moves units by ``(1 + c)^e`` (the constant
elasticity of the log-log model), so revenue becomes ``R (1 + c)^(1 + e)`` and margin
``U (1 + c)^e (P (1 + c) - C)`` per unit price ``P`` and unit cost ``C``. Intervals come from
drawing the elasticity from its sampling distribution (normal with its robust standard error).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from crmine.exceptions import DataError

__all__ = ["WHATIF_COLUMNS", "break_even_discounts", "whatif_price"]

WHATIF_COLUMNS = (
    "group", "change", "elasticity", "units_change", "revenue", "revenue_new",
    "revenue_change", "revenue_change_lower", "revenue_change_upper", "margin", "margin_new",
    "margin_change", "margin_change_lower", "margin_change_upper", "price_varies", "plausible",
)  # fmt: skip
DRAWS = 4000


def whatif_price(
    elasticities: pd.DataFrame,
    change: float,
    *,
    groups: Sequence[str] | None = None,
    level: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """Revenue and margin over the base year if prices change by ``change`` (``-0.05``: 5 %
    cheaper), per group of :func:`crmine.sales.price_elasticity`.

    A discount is a price change too: a 10 % discount is ``change=-0.10``.

    Returns one row per group with :data:`WHATIF_COLUMNS` (``*_change`` relative, intervals at
    ``level``); ``margin`` is NaN where unit costs are unknown.

    Examples
    --------
    >>> e = pd.DataFrame({"group": ["a"], "elasticity": [-2.0], "std_error": [0.0],
    ...                   "units": [100.0], "revenue": [1000.0], "cost": [600.0],
    ...                   "price_varies": [True]})
    >>> row = whatif_price(e, -0.10).iloc[0]
    >>> round(float(row["revenue_change"]), 4), round(float(row["margin_change"]), 4)
    (0.1111, -0.0741)
    """
    if not -1 < change < 10:
        raise DataError(f"price change {change!r} must be above -100 % (e.g. -0.05 for -5 %)")
    rows = elasticities if groups is None else elasticities[elasticities["group"].isin(groups)]
    if groups is not None and rows.empty:
        raise DataError(
            f"no elasticity for {list(groups)}; fitted groups: {', '.join(elasticities['group'])}"
        )
    rng = np.random.default_rng(random_state)
    tail = (1 - level) / 2 * 100
    out = []
    for r in rows.itertuples(index=False):
        e, se = float(r.elasticity), float(r.std_error)
        if not math.isfinite(e):
            continue
        draws = e + (se if math.isfinite(se) else 0.0) * rng.standard_normal(DRAWS)
        f = 1.0 + change
        rev = float(r.revenue)
        rev_ch = f ** (1 + draws) - 1
        units, cost = float(r.units), float(r.cost)
        margin = rev - cost if math.isfinite(cost) else math.nan
        unit_price, unit_cost = rev / units, cost / units
        new_margin = units * f**draws * (unit_price * f - unit_cost)
        mar_ch = new_margin / margin - 1 if margin and math.isfinite(margin) else draws * np.nan
        point_margin = units * f**e * (unit_price * f - unit_cost)
        out.append({
            "group": r.group, "change": change, "elasticity": e,
            "units_change": f**e - 1, "revenue": rev, "revenue_new": rev * f ** (1 + e),
            "revenue_change": f ** (1 + e) - 1,
            "revenue_change_lower": float(np.percentile(rev_ch, tail)),
            "revenue_change_upper": float(np.percentile(rev_ch, 100 - tail)),
            "margin": margin, "margin_new": point_margin,
            "margin_change": point_margin / margin - 1 if margin else math.nan,
            "margin_change_lower": float(np.nanpercentile(mar_ch, tail)) if margin else math.nan,
            "margin_change_upper": float(np.nanpercentile(mar_ch, 100 - tail))
            if margin else math.nan,
            "price_varies": bool(r.price_varies),
            "plausible": bool(getattr(r, "plausible", True)),
        })  # fmt: skip
    return pd.DataFrame(out).reindex(columns=list(WHATIF_COLUMNS))


def break_even_discounts(elasticities: pd.DataFrame) -> pd.DataFrame:
    """Per group the discount beyond which a unit sells at a loss (``1 - cost / price``) and
    the discount that maximises the margin given the elasticity (none when demand is
    inelastic, ``e > -1``: any cut loses margin).

    With price ``P(1 - d)`` margin is ``U (1 - d)^e (P (1 - d) - C)``; its maximum over ``d``
    is at ``1 - d = e C / ((1 + e) P)`` for ``e < -1``.
    """
    out = elasticities[["group", "elasticity", "units", "revenue", "cost"]].copy()
    price = out["revenue"] / out["units"]
    unit_cost = out["cost"] / out["units"]
    out["unit_price"] = price
    out["unit_cost"] = unit_cost
    out["loss_discount"] = 1 - unit_cost / price
    e = out["elasticity"]
    best_factor = e * unit_cost / ((1 + e) * price)
    out["best_discount"] = np.where(e < -1, 1 - best_factor, np.nan)
    out["best_discount"] = out["best_discount"].where(out["best_discount"] > -1)
    return out
