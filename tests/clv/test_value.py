"""CLV, tiers, break-even and sensitivity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.clv import (
    BetaGeoModel,
    GammaGammaModel,
    break_even,
    clv_sensitivity,
    clv_tiers,
    customer_lifetime_value,
)
from crmine.exceptions import DataError


@pytest.fixture(scope="module")
def fitted(cdnow_spend):
    summary = cdnow_spend.set_index("ID")
    return summary, BetaGeoModel().fit(summary), GammaGammaModel().fit(summary)


def test_clv_hand_computed_for_one_customer(fitted):
    summary, bg, gg = fitted
    result = customer_lifetime_value(
        bg,
        summary,
        spend=gg,
        horizon=3,
        step=4.0,
        discount_rate=0.1,
        margin=0.3,
        cost_per_purchase=1.0,
    )
    one = summary.iloc[[0]]
    cum = [0.0] + [bg.expected_purchases(4.0 * i, one).iloc[0] for i in (1, 2, 3)]
    spend = gg.expected_spend(one).iloc[0]
    by_hand = sum((cum[i] - cum[i - 1]) * (spend * 0.3 - 1.0) / 1.1**i for i in (1, 2, 3))
    assert result.customers["clv"].iloc[0] == pytest.approx(by_hand, rel=1e-10)
    assert result.total_clv == pytest.approx(result.customers["clv"].sum())
    assert result.to_frame().columns.tolist() == [
        "expected_purchases",
        "discounted_purchases",
        "expected_spend",
        "margin",
        "clv",
        "clv_tier",
    ]


def test_clv_tiers_by_quantile():
    tiers = clv_tiers(pd.Series(np.arange(100.0)))
    assert tiers.value_counts().to_dict() == {"low": 50, "medium": 30, "high": 15, "top": 5}
    assert tiers.iloc[99] == "top" and tiers.iloc[0] == "low"


def test_sensitivity_is_linear_in_margin_and_falls_with_discount(fitted):
    summary, bg, gg = fitted
    grid = clv_sensitivity(
        bg, summary, spend=gg, margins=[0.2, 0.4], discount_rates=[0.0, 0.02], horizon=6, step=4.345
    )
    base = customer_lifetime_value(
        bg, summary, spend=gg, horizon=6, step=4.345, discount_rate=0.02, margin=0.4
    ).total_clv
    row = grid[(grid["margin"] == 0.4) & (grid["discount_rate"] == 0.02)]
    assert row["total_clv"].iloc[0] == pytest.approx(base, rel=1e-10)
    by_d = grid.pivot(index="discount_rate", columns="margin", values="total_clv")
    assert by_d.loc[0.0, 0.4] == pytest.approx(2 * by_d.loc[0.0, 0.2])
    assert by_d.loc[0.02, 0.4] < by_d.loc[0.0, 0.4]


def test_break_even_spend_makes_net_value_zero():
    res = break_even(
        acquisition_cost=40.0,
        margin=0.25,
        purchase_rates=[0.2, 0.5, 1.0],
        cost_to_serve=1.0,
        retention=0.9,
        discount_rate=0.01,
        horizon=24,
        spend_levels=[10.0, 50.0, 200.0],
    )
    steps = np.arange(1, 25)
    d = np.sum(0.9 ** (steps - 1) / 1.01**steps)
    for rate, spend in res.thresholds.itertuples(index=False):
        assert d * (rate * spend * 0.25 - 1.0) - 40.0 == pytest.approx(0.0, abs=1e-9)
    assert res.grid["profitable"].sum() > 0 and (~res.grid["profitable"]).sum() > 0
    with pytest.raises(DataError, match="retention"):
        break_even(acquisition_cost=1, margin=0.2, purchase_rates=[1], retention=1.5)


def test_clv_rejects_bad_horizon(fitted):
    summary, bg, _ = fitted
    with pytest.raises(DataError, match="horizon"):
        customer_lifetime_value(bg, summary, horizon=0)
    with pytest.raises(DataError, match="no spend given"):
        customer_lifetime_value(bg, summary.drop(columns="monetary_value"))
