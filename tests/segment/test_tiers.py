from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.exceptions import ConfigError, CrmineWarning, MissingColumnError
from crmine.segment import GoldenRule, golden_customers, value_tiers


def test_pareto_tiers_on_a_known_distribution():
    # 10 customers: two make 80% of revenue.
    values = [500.0, 300.0, 60.0, 40.0, 30.0, 25.0, 20.0, 15.0, 6.0, 4.0]
    df = pd.DataFrame({"customer_id": [f"c{i}" for i in range(10)], "total_spend": values})
    t = value_tiers(df.sample(frac=1, random_state=1))
    tiers = t.customers.set_index("customer_id")["value_tier"]
    assert tiers[["c0", "c1"]].eq("A").all()
    assert t.top_share_for_80 == pytest.approx(0.2)
    # B: cumulative share before them < 95%: c2 (80%), c3 (86%), c4 (90%), c5 (93%).
    assert tiers[["c2", "c3", "c4", "c5"]].eq("B").all()
    assert tiers[["c6", "c7", "c8", "c9"]].eq("C").all()
    assert t.pareto["value_share"].iloc[-1] == pytest.approx(1.0)
    assert t.summary.set_index("value_tier").loc["A", "value_share"] == pytest.approx(0.8)


def test_lognormal_spend_follows_pareto_shape():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"customer_id": range(20_000), "total_spend": rng.lognormal(0, 1.5, 20_000)})
    t = value_tiers(df)
    # For a lognormal(sigma) the top share q holding 80% of value: Phi(sigma - Phi^-1(0.8))
    from scipy.stats import norm
    expected = 1 - norm.cdf(norm.ppf(0.2) + 1.5)
    assert t.top_share_for_80 == pytest.approx(expected, abs=0.01)


def test_tier_errors():
    df = pd.DataFrame({"customer_id": ["a"], "total_spend": [1.0]})
    with pytest.raises(ConfigError):
        value_tiers(df, thresholds=(0.9, 0.8))
    with pytest.raises(MissingColumnError, match="total_spend"):
        value_tiers(df.rename(columns={"total_spend": "x"}))


def test_golden_rule_default_and_custom():
    rng = np.random.default_rng(1)
    n = 1000
    df = pd.DataFrame({"customer_id": range(n), "total_spend": rng.gamma(2, 100, n),
                       "orders": rng.integers(1, 30, n), "recency_days": rng.integers(0, 300, n),
                       "service_contacts": rng.poisson(1, n)})
    g = golden_customers(df)
    manual = ((df.total_spend >= df.total_spend.quantile(0.8)) &
              (df.orders >= df.orders.quantile(0.8)) &
              (df.recency_days <= df.recency_days.quantile(0.5)) &
              (df.service_contacts <= df.service_contacts.quantile(0.5)))
    assert (g["is_golden"].to_numpy() == manual.to_numpy()).all()
    assert 0 < g["is_golden"].sum() < 100
    assert "service_contacts <=" in g.attrs["rule"]
    loose = golden_customers(df, rule=GoldenRule(at_least={"total_spend": 0.5}, at_most={}))
    assert loose["is_golden"].sum() == 500
    with pytest.warns(CrmineWarning, match="service_contacts"):
        golden_customers(df.drop(columns="service_contacts"))
