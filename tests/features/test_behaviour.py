"""Behaviour features: exact values on a tiny hand-made warehouse, the as_of cut-off, demo."""

from __future__ import annotations

import pandas as pd
import pytest

from crmine.features._behaviour import build_customer_features, customer_behaviour, feature_name


@pytest.fixture
def tiny(workspace):
    ws = workspace
    ws.write_table("core.dim_customer", pd.DataFrame({
        "customer_id": ["a", "b", "c", "a"], "signup_date": pd.to_datetime(
            ["2024-01-01", None, "2024-06-01", "2023-01-01"]).date,
        "is_current": [True, True, True, False]}))
    ws.write_table("core.dim_product", pd.DataFrame({
        "product_id": ["p1", "p2", "p3"], "category": ["Home & Garden", "books", "books"]}))
    ts = pd.to_datetime
    ws.write_table("core.fct_order_lines", pd.DataFrame({
        "order_id": ["o1", "o1", "o2", "o3", "o4", "o5"],
        "line_number": [1, 2, 1, 1, 1, 1],
        "customer_id": ["a", "a", "a", "b", "b", "a"],
        "order_ts": ts(["2024-02-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01",
                        "2024-12-01"]),
        "product_id": ["p1", "p2", "p2", "p3", "p3", "p1"],
        "quantity": [1.0, 3.0, 1.0, 2.0, -2.0, 1.0],
        "unit_price": [100.0, 10.0, 20.0, 5.0, 5.0, 999.0],
        "discount": [0.0, 6.0, 0.0, 0.0, 0.0, 0.0],
        "amount": [100.0, 24.0, 20.0, 10.0, -10.0, 999.0],
        "channel": ["web", "web", "store", "app", "app", "web"],
        "status": ["completed"] * 4 + ["returned", "completed"],
        "is_return": [False] * 4 + [True, False],
    }))
    ws.write_table("core.fct_tickets", pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3"], "customer_id": ["a", "a", "b"],
        "opened_ts": ts(["2024-02-10", "2024-12-20", "2024-04-02"]),
        "is_complaint": [True, False, False]}))
    ws.write_table("core.campaign_assignments", pd.DataFrame({
        "campaign_id": ["k1", "k1", "k2"], "customer_id": ["a", "b", "a"],
        "group": ["treatment", "control", "treatment"]}))
    ws.write_table("core.dim_campaign", pd.DataFrame({
        "campaign_id": ["k1", "k2"],
        "start_date": pd.to_datetime(["2024-01-15", "2025-01-15"]).date}))
    return ws


def test_exact_values_before_the_cut_off(tiny):
    f = customer_behaviour(tiny, as_of="2024-06-30").to_pandas().set_index("customer_id")
    assert list(f.index) == ["a", "b", "c"]  # current customers only, also those without orders
    a, b, c = f.loc["a"], f.loc["b"], f.loc["c"]
    # a before the cut-off: lines (p1 1x100), (p2 3x10, discount 6), (p2 1x20); the December
    # order is after as_of and ignored.
    assert a["lines"] == 3
    assert a["avg_unit_price"] == pytest.approx((100 + 30 + 20) / 5)
    assert a["discount_share"] == pytest.approx(1 / 3)
    assert a["discount_rate"] == pytest.approx(6 / (144 + 6))
    home, books = feature_name("cat_share", "Home & Garden"), feature_name("cat_share", "books")
    assert home == "cat_share_home_garden"
    assert a[home] == pytest.approx(100 / 144) and a[books] == pytest.approx(44 / 144)
    assert a["channel_share_web"] == pytest.approx(0.5) and a["channel_share_store"] == 0.5
    cut = pd.Timestamp("2024-06-30")
    assert a["customer_tenure_days"] == (cut - pd.Timestamp("2024-01-01")).days
    assert a["service_contacts"] == 1 and a["complaints"] == 1
    assert a["campaign_exposure"] == 1  # k2 starts after the cut-off
    # b: one sale and one return -> return rate 1/2; no signup date -> tenure from first order.
    assert b["return_rate"] == pytest.approx(0.5)
    assert b["customer_tenure_days"] == (cut - pd.Timestamp("2024-04-01")).days
    assert b["channel_share_app"] == 1.0 and b["campaign_exposure"] == 0
    # c never bought: zero counts and shares, unknown price.
    assert c["lines"] == 0 and c["return_rate"] == 0 and pd.isna(c["avg_unit_price"])


def test_later_cut_off_sees_more(tiny):
    f = customer_behaviour(tiny, as_of="2025-06-30").to_pandas().set_index("customer_id")
    assert f.loc["a", "lines"] == 4 and f.loc["a", "campaign_exposure"] == 2
    assert f.loc["a", "service_contacts"] == 2


def test_build_customer_features_writes_the_mart(tiny):
    feats = build_customer_features(tiny, as_of="2024-06-30")
    mart = tiny.read("marts.customer_features")
    assert len(mart) == 3 and mart["customer_id"].is_unique
    assert {"avg_unit_price", "model_version", "scored_at"} <= set(mart.columns)
    assert len(feats) == 3


def test_demo_features_capture_the_planted_differences(demo_workspace):
    f = customer_behaviour(demo_workspace).to_pandas()
    truth = demo_workspace.read("truth.customers", columns=["customer_id", "segment"])
    f = f.merge(truth.astype({"customer_id": str}), on="customer_id")
    f = f[f["lines"] > 0]
    m = f.groupby("segment")[["avg_unit_price", "discount_share", "channel_share_app",
                              "cat_share_electronics", "cat_share_books"]].mean()
    assert m["avg_unit_price"].idxmax() == "premium"
    assert m["discount_share"].idxmax() == "discount_seeker"
    # Planted: 72% of discount seekers' lines discounted, 4% of premium customers'; on top,
    # the category promotions (truth.sales_price_calendar) reach everyone's lines alike.
    promo = float(demo_workspace.duck.execute(
        "SELECT avg(CAST(promotion_id IS NOT NULL AS DOUBLE)) FROM core.fct_order_lines "
        "WHERE status = 'completed'").fetchone()[0])
    assert m.loc["discount_seeker", "discount_share"] == pytest.approx(
        1 - 0.28 * (1 - promo), abs=0.06)
    assert m.loc["premium", "discount_share"] == pytest.approx(1 - 0.96 * (1 - promo), abs=0.03)
    assert m["channel_share_app"].idxmax() == "discount_seeker"
    assert m["cat_share_electronics"].idxmax() == "premium"
    assert m["cat_share_books"].idxmax() == "occasional"


def test_small_categories_are_pooled_into_other(tiny, monkeypatch):
    import crmine.features._behaviour as fb

    monkeypatch.setattr(fb, "MAX_LEVELS", 1)
    f = customer_behaviour(tiny, as_of="2024-06-30").to_pandas().set_index("customer_id")
    # Home & Garden has the most revenue (100 vs 54); books pooled into "other".
    assert [c for c in f.columns if c.startswith("cat_share")] == ["cat_share_home_garden",
                                                                   "cat_share_other"]
    assert f.loc["a", "cat_share_other"] == pytest.approx(44 / 144)


def test_orders_only_warehouse(workspace):
    workspace.write_table("core.fct_order_lines", pd.DataFrame({
        "order_id": ["o1", "o2"], "customer_id": ["x", "y"],
        "order_ts": pd.to_datetime(["2024-01-01", "2024-01-02"]), "amount": [5.0, 7.0],
        "channel": ["web", "app"]}))
    f = customer_behaviour(workspace, as_of="2024-02-01").to_pandas().set_index("customer_id")
    assert list(f.index) == ["x", "y"]
    assert f.loc["y", "channel_share_app"] == 1.0 and f.loc["x", "lines"] == 1
