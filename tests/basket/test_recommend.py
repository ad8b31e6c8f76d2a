"""Missing-product offers, next-best-product recommendations, the propensity model,
sequential patterns and the leave-last-basket-out evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.basket import (
    ProductPropensity,
    RuleRecommender,
    association_rules,
    evaluate_recommendations,
    missing_product_offers,
    purchase_features,
    sequential_patterns,
    split_last_basket,
)
from crmine.exceptions import DataError, MissingColumnError, NotFittedError
from tests.basket._data import retail_lines

# 10 baskets: {tent, stove} strongly together, {tent, stove, lantern} the full kit
KIT = ([["tent", "stove", "lantern"]] * 4 + [["tent", "stove"]] * 2 + [["tent"]]
       + [["lantern"]] * 2 + [["socks"]])


def test_missing_product_offers_complete_the_combination():
    rules = association_rules(KIT, 0.3, 0.6)
    histories = {"ann": ["tent", "stove"], "bob": ["tent"], "cat": ["tent", "stove", "lantern"],
                 "dan": ["socks"]}
    offers = missing_product_offers(histories, rules, max_offers=2)
    by = {c: g for c, g in offers.groupby("customer_id")}
    assert set(by) == {"ann", "bob"}                    # cat owns everything, dan nothing
    ann = by["ann"].iloc[0]
    # {stove, tent} -> {lantern}: 4 of 6 baskets; ann owns 2 of the 3 products
    assert ann["product_id"] == "lantern"
    assert ann["confidence"] == pytest.approx(4 / 6)
    assert ann["lift"] == pytest.approx((4 / 6) / (6 / 10))
    assert ann["owned_share"] == pytest.approx(2 / 3)
    assert ann["because_bought"] == "stove + tent"
    assert ann["combination"] == "lantern + stove + tent"
    bob = by["bob"]
    assert bob.iloc[0]["product_id"] == "stove"          # tent -> stove: 6/7
    assert bob.iloc[0]["confidence"] == pytest.approx(6 / 7)
    assert bob["rank"].tolist() == list(range(1, len(bob) + 1))
    with pytest.raises(MissingColumnError, match="lift"):
        missing_product_offers(histories, rules.drop(columns="lift"))


def test_min_owned_share_demands_most_of_the_combination():
    rules = association_rules(KIT, 0.3, 0.6)
    offers = missing_product_offers({"bob": ["tent"]}, rules, min_owned_share=0.5)
    # from {tent} the 3-item kit is only a third owned: only the pair rule may fire
    assert set(offers["combination"]) == {"stove + tent"}


def test_recommender_ranks_by_confidence_then_fills_with_popular():
    rec = RuleRecommender(min_support=0.3, min_confidence=0.5, n=3).fit(KIT)
    out = rec.recommend({"bob": ["tent"], "new": []})
    bob = out[out["customer_id"] == "bob"]
    assert bob["product_id"].tolist()[:2] == ["stove", "lantern"]
    assert bob["source"].tolist()[:2] == ["rule", "rule"]
    assert bob["score"].iloc[0] == pytest.approx(6 / 7)
    assert "tent" not in set(bob["product_id"])
    new = out[out["customer_id"] == "new"]
    assert new["source"].eq("popular").all()
    assert new["product_id"].tolist() == ["tent", "lantern", "stove"]   # 7, 6, 6 baskets
    assert len(out) == 6
    with pytest.raises(NotFittedError):
        RuleRecommender().recommend({"x": ["a"]})


def test_propensity_recovers_the_planted_driver():
    rng = np.random.default_rng(1)
    n = 3000
    features = pd.DataFrame({"owns_tent": rng.integers(0, 2, n).astype(float),
                             "frequency": rng.poisson(3, n).astype(float),
                             "noise": rng.normal(size=n)})
    logit = -2.0 + 2.5 * features["owns_tent"] + 0.3 * features["frequency"]
    bought = rng.random(n) < 1 / (1 + np.exp(-logit))
    model = ProductPropensity(product="stove").fit(features, bought)
    assert model.coef_.index[0] == "owns_tent"
    assert model.coef_["owns_tent"] > 0.8 and abs(model.coef_["noise"]) < 0.15
    assert model.auc_ > 0.75
    p = model.predict_proba(features)
    assert p[features["owns_tent"] == 1].mean() > 2 * p[features["owns_tent"] == 0].mean()
    with pytest.raises(DataError, match="both buyers and non-buyers"):
        ProductPropensity().fit(features, np.zeros(n))
    with pytest.raises(DataError, match="'city'"):
        ProductPropensity().fit(features.assign(city="x"), bought)


def test_purchase_features_leave_the_target_out():
    feats = purchase_features({"a": ["x", "y"], "b": ["y"]}, exclude=["x"])
    assert list(feats.columns) == ["owns_y"]
    assert feats.loc["a", "owns_y"] == 1.0


def _planted_sequences(seed: int = 0) -> pd.DataFrame:
    """Half the camera buyers buy a memory card 3-10 days later; other items are noise."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2024-01-01")
    for cust in range(600):
        for _ in range(rng.integers(1, 4)):
            day = int(rng.integers(0, 300))
            noise = str(rng.choice(["book", "pen", "mug", "lamp"]))
            rows.append((cust, noise, start + pd.Timedelta(days=day)))
        if cust % 2 == 0:
            day = int(rng.integers(0, 300))
            rows.append((cust, "camera", start + pd.Timedelta(days=day)))
            if cust % 4 == 0:
                gap = int(rng.integers(3, 11))
                rows.append((cust, "memory card", start + pd.Timedelta(days=day + gap)))
    return pd.DataFrame(rows, columns=["customer_id", "product_id", "order_ts"])


def test_sequential_patterns_find_the_planted_sequence():
    lines = _planted_sequences()
    pats = sequential_patterns(lines, max_gap_days=14, min_support=0.05)
    top = pats.iloc[0]
    assert (top["antecedent"], top["consequent"]) == ("camera", "memory card")
    assert top["customers"] == 150                       # every 4th of 600 customers
    assert top["confidence"] == pytest.approx(0.5)      # of 300 camera buyers
    assert top["lift"] == pytest.approx(0.5 / (150 / 600))
    assert 3 <= top["median_gap_days"] <= 10
    # the reverse order and a too-short window find nothing
    assert not ((pats["antecedent"] == "memory card") & (pats["consequent"] == "camera")).any()
    short = sequential_patterns(lines, max_gap_days=2, min_support=0.05)
    assert not ((short["antecedent"] == "camera") & (short["consequent"] == "memory card")).any()
    with pytest.raises(DataError, match="max_gap_days"):
        sequential_patterns(lines, max_gap_days=0)


def test_split_last_basket_holds_out_the_latest_order():
    lines = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b"], "order_id": [1, 2, 2, 3],
        "product_id": ["x", "y", "z", "x"],
        "order_ts": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01", "2024-01-05"]),
    })
    train, test = split_last_basket(lines)
    assert test["order_id"].tolist() == [2, 2]
    assert sorted(train["order_id"].tolist()) == [1, 3]


@pytest.mark.data
def test_online_retail_rules_beat_popularity_on_hit_rate_at_10():
    lines = retail_lines()
    lines = lines[lines["customer_id"].notna()]
    ev = evaluate_recommendations(lines, k=10, min_support=0.01, min_confidence=0.05)
    summary = ev.summary.set_index("method")
    assert summary.loc["rules", "customers"] == 2498
    assert summary.loc["rules", "hit_rate"] == pytest.approx(0.326, abs=0.01)
    assert summary.loc["popularity", "hit_rate"] == pytest.approx(0.210, abs=0.01)
    assert ev.lift_over_popularity() > 1.4
    assert summary.loc["rules", "precision"] > 1.5 * summary.loc["popularity", "precision"]
    assert ev.n_rules > 500


@pytest.mark.data
def test_online_retail_invoice_rules_are_found():
    from crmine.basket import baskets_from_lines, mine_rules

    baskets = baskets_from_lines(retail_lines())
    assert len(baskets) == 20_538          # invoices with at least one product line
    mined = mine_rules(baskets, 0.01, 0.5)
    assert len(mined.rules) > 100
    top = mined.rules.iloc[0]
    assert top["lift"] > 20
