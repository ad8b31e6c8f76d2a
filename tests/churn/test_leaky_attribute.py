"""A customer attribute that leaks the churn label under an innocent name is found from the
data (not its name), dropped with a warning in the verdict, and the AUC stays realistic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.churn import build_churn_dataset, run_churn
from crmine.churn._leaks import _orders_in, leaky_attributes
from crmine.churn._workspace import data_end


@pytest.mark.slow
def test_an_innocently_named_leaky_attribute_is_dropped_and_auc_stays_realistic(tmp_path):
    from crmine.demo._workspace import build_demo_workspace

    ws, _ = build_demo_workspace(tmp_path / "demo", n_customers=2_000, seed=0)
    with ws:
        honest = build_churn_dataset(ws)
        latest = honest.X["cutoff"] == honest.cutoffs[0]
        churned = dict(zip(honest.X.loc[latest, "customer_id"], honest.y[latest.to_numpy()],
                           strict=True))
        # A CRM "engagement index" refreshed last night: low for customers who cancelled in the
        # last window (the latest cut-off's label), noisy (alone ROC AUC ~0.9, not the
        # near-perfect 0.995 the model's own check catches), and with a harmless name.
        customers = ws.read("core.dim_customer")
        rng = np.random.default_rng(0)
        lost = customers["customer_id"].astype(str).map(churned).fillna(0).to_numpy()
        customers["engagement_index"] = np.round(
            70 - 35 * lost + rng.normal(0, 20, len(customers)), 1)
        ws.write_table("core.dim_customer", customers)
        assert data_end(ws) - honest.cutoffs[0] == np.timedelta64(honest.window_days, "D")

        run = run_churn(ws)
        v = run.verdict
        leak = [w for w in v.warnings if "engagement_index" in w]
        assert leak and leak[0].startswith("LeakageWarning"), v.warnings
        assert "dropped as leakage" in leak[0] and "the earlier cut-offs'" in leak[0]
        assert all("engagement_index" not in w for w in v.warnings if w not in leak)
        assert "engagement_index" not in (*run.model.plan_.numeric, *run.model.plan_.categorical)
        # only the planted leak goes: the demo's genuine attributes all stay
        assert sum("dropped as leakage" in w for w in v.warnings) == 1
        assert v.status == "informative" and 0.6 < v.value < 0.85, v.why


def _shop(n: int = 3_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers buying at their own steady rate (set by ``income``) for a year; the cut-off
    is 60 days before the end."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(np.log(50_000), 0.5, n)
    rate = 0.02 * income / 50_000  # orders a day
    start = pd.Timestamp("2024-01-01")
    rows = []
    for i in range(n):
        days = np.sort(rng.uniform(0, 365, rng.poisson(rate[i] * 365)))
        rows += [(f"C{i}", start + pd.Timedelta(days=float(d))) for d in days]
    orders = pd.DataFrame(rows, columns=["customer_id", "order_ts"])
    cut = start + pd.Timedelta(days=305)
    X = pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)], "cutoff": cut,
                      "income": income})
    return X, orders


def test_an_attribute_following_the_label_window_orders_is_found_and_a_trait_is_not():
    X, orders = _shop()
    cut = X["cutoff"].iloc[0]
    after = _orders_in(orders, X["customer_id"], cut, cut + pd.Timedelta(days=60))
    rng = np.random.default_rng(1)
    X["activity_score"] = after + rng.normal(0, 0.7, len(X))  # today's "last 60 days" count
    X["vip"] = rng.random(len(X)) < 0.1  # unrelated flag
    y = (after == 0).astype(int)
    y_noise = rng.random(len(X)) < 0.5  # keep the label test out of it: rates, not labels
    found = leaky_attributes(X, y_noise.astype(int), ["income", "activity_score", "vip"],
                             orders, cut, 60)
    assert list(found) == ["activity_score"], found
    assert "orders in the churn window after the cut-off" in found["activity_score"]
    # income drives buying both before and after the cut-off alike: no asymmetry
    assert leaky_attributes(X, y, ["income"], orders, cut, 60) == {}


def test_an_attribute_predicting_churn_implausibly_well_is_found_without_orders():
    rng = np.random.default_rng(2)
    n = 2_000
    cut = pd.Timestamp("2025-01-01")
    y = (rng.random(n) < 0.3).astype(int)
    X = pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)], "cutoff": cut,
                      "health": 80 - 40 * y + rng.normal(0, 8, n),  # AUC ~0.998
                      "monthly_charge": 50 + 15 * y + rng.normal(0, 20, n)})  # a real driver
    found = leaky_attributes(X, y, ["health", "monthly_charge"], None, cut, 90)
    assert list(found) == ["health"]
    assert "more than any attribute known beforehand could" in found["health"]
