"""Price elasticity and promotion lift recovered from planted sales; the what-if's arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.demo._sales import simulate_sales
from crmine.sales import elasticity_panel, price_elasticity, whatif_price
from crmine.sales._whatif import break_even_discounts


@pytest.fixture(scope="module")
def planted():
    lines, truth = simulate_sales(seed=0)
    fit = price_elasticity(elasticity_panel(lines))
    return fit.merge(truth, left_on="group", right_on="category", suffixes=("", "_true"))


def test_planted_elasticities_are_inside_their_95_intervals(planted):
    inside = (planted["lower"] < planted["elasticity_true"]) & (
        planted["elasticity_true"] < planted["upper"]
    )
    assert len(planted) == 7 and inside.mean() >= 0.9, planted
    # and the estimates are sharp enough to tell categories apart, not just wide
    assert (planted["upper"] - planted["lower"]).max() < 0.8
    assert np.corrcoef(planted["elasticity"], planted["elasticity_true"])[0, 1] > 0.9
    assert (planted["p_holm"] < 0.05).all() and planted["price_varies"].all()


def test_planted_promotion_lifts_are_recovered_within_their_intervals(planted):
    inside = (planted["promotion_lift_lower"] < planted["promotion_lift_true"]) & (
        planted["promotion_lift_true"] < planted["promotion_lift_upper"]
    )
    assert inside.mean() >= 0.85, planted[["group", "promotion_lift", "promotion_lift_true"]]


def test_a_shop_without_price_response_shows_none():
    lines, truth = simulate_sales(seed=2, signal=False, categories=4)
    fit = price_elasticity(elasticity_panel(lines))
    assert (truth["elasticity"] == 0).all()
    assert (fit["p_holm"] > 0.05).all(), fit
    assert ((fit["lower"] < 0) & (fit["upper"] > 0)).all()


def test_prices_that_barely_vary_are_flagged():
    lines, _ = simulate_sales(seed=3, categories=1, weeks=60)
    # one fixed price per product: only promotions remain, and those are controlled for
    ref = lines.groupby("product_id")["unit_price"].transform("median")
    lines = lines.assign(unit_price=ref, amount=lines["quantity"] * ref)
    fit = price_elasticity(elasticity_panel(lines))
    assert not fit["price_varies"].iloc[0]
    assert fit["price_sd"].iloc[0] < 0.02


def test_whatif_follows_constant_elasticity():
    e = pd.DataFrame(
        {
            "group": ["g"],
            "elasticity": [-1.5],
            "std_error": [0.1],
            "units": [1000.0],
            "revenue": [50_000.0],
            "cost": [30_000.0],
            "price_varies": [True],
            "plausible": [True],
        }
    )
    row = whatif_price(e, -0.10).iloc[0]
    assert row["units_change"] == pytest.approx(0.9**-1.5 - 1)
    assert row["revenue_change"] == pytest.approx(0.9**-0.5 - 1)
    # margin: 1000 * 0.9^-1.5 units at (45 - 30)
    assert row["margin_new"] == pytest.approx(1000 * 0.9**-1.5 * 15)
    assert row["revenue_change_lower"] < row["revenue_change"] < row["revenue_change_upper"]
    d = break_even_discounts(e).iloc[0]
    assert d["loss_discount"] == pytest.approx(0.4)  # price 50, cost 30
    # margin-maximising price factor e C / ((1 + e) P) = 1.5 * 30 / (0.5 * 50) = 1.8: raise it
    assert d["best_discount"] == pytest.approx(1 - 1.8)


def test_whatif_of_an_unknown_category_is_a_clear_error():
    from crmine.exceptions import DataError

    e = pd.DataFrame(
        {
            "group": ["g"],
            "elasticity": [-1.0],
            "std_error": [0.1],
            "units": [1.0],
            "revenue": [1.0],
            "cost": [0.5],
            "price_varies": [True],
        }
    )
    with pytest.raises(DataError, match="fitted groups: g"):
        whatif_price(e, -0.05, groups=["toys"])
    with pytest.raises(DataError, match="above -100"):
        whatif_price(e, -1.5)
