"""Tests of the demo company generator: contract, integrity, and the planted truth in the data.

``generate(2_000)`` takes about 0.6 s and ``generate(10_000)`` about 3 s on one core
(measured 2026-11-22); the module builds the small company once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from crmine.demo import DemoCompany, generate
from crmine.exceptions import ConfigError
from crmine.warehouse import ENTITIES

N = 2_000
TABLES = ("customers", "products", "orders", "events", "campaigns", "campaign_assignments",
          "tickets", "subscriptions", "surveys", "marketing_spend", "marketing_outcomes",
          "promotion_calendar", "holidays")
UNIQUE_KEYS = {
    "customers": ["customer_id"], "products": ["product_id"],
    "orders": ["order_id", "line_number"], "events": ["event_id"],
    "campaigns": ["campaign_id"], "campaign_assignments": ["campaign_id", "customer_id"],
    "tickets": ["ticket_id"], "subscriptions": ["subscription_id"],
    "marketing_spend": ["date", "channel", "campaign", "age", "gender"],
    "marketing_outcomes": ["date"], "promotion_calendar": ["promotion_id"],
    "holidays": ["date", "name", "country"],
}  # fmt: skip


@pytest.fixture(scope="module")
def company() -> DemoCompany:
    return generate(n_customers=N, seed=0)


@pytest.fixture(scope="module")
def purchases(company: DemoCompany) -> pd.DataFrame:
    """One row per completed order with a customer: the BG/NBD + Gamma-Gamma process."""
    o = company.tables["orders"]
    o = o[(o["status"] == "completed") & o["customer_id"].notna()]
    return (o.groupby(["customer_id", "order_id"], as_index=False)
            .agg(order_ts=("order_ts", "first"), value=("amount", "sum"),
                 channel=("channel", "first")))


def _segment(company: DemoCompany) -> pd.Series:
    return company.truth["customers"].set_index("customer_id")["segment"]


# --- contract ------------------------------------------------------------------------------


def test_api_shape(company: DemoCompany) -> None:
    assert tuple(company.tables) == TABLES
    assert company.n_customers == N and company.seed == 0
    assert company.observation_end == pd.Timestamp("2026-06-30")
    for name in ("customers", "segments", "bgnbd_params", "gamma_gamma_params",
                 "product_affinities", "uplift", "customer_uplift", "channels", "funnel",
                 "churn_drivers"):
        assert len(company.truth[name]) > 0, name
    assert set(company.truth["customers"].columns) >= {"customer_id", "segment"}
    assert list(company.truth["bgnbd_params"].columns) == [
        "segment", "r", "alpha", "a", "b", "time_unit"]
    assert company.summary()["rows"].gt(0).all()


def test_deterministic_for_a_seed(company: DemoCompany) -> None:
    again = generate(n_customers=N, seed=0)
    for name in TABLES:
        pd.testing.assert_frame_equal(company.tables[name], again.tables[name])
    for name, df in company.truth.items():
        pd.testing.assert_frame_equal(df, again.truth[name])
    other = generate(n_customers=N, seed=1)
    assert not other.tables["orders"]["amount"].equals(company.tables["orders"]["amount"])


@pytest.mark.parametrize("name", TABLES)
def test_canonical_columns_and_unique_keys(company: DemoCompany, name: str) -> None:
    df = company.tables[name]
    entity = ENTITIES[name]
    assert list(df.columns) == [c for c in entity.column_names if c in df.columns]
    assert set(entity.required) <= set(df.columns)
    assert len(df) > 0
    if name in UNIQUE_KEYS:
        assert not df.duplicated(UNIQUE_KEYS[name]).any()
    for col in entity.columns:
        if col.non_negative and col.name in df:
            assert (df[col.name].dropna() >= 0).all(), f"{name}.{col.name}"
        if col.accepted and col.name in df:
            assert set(df[col.name].dropna()) <= set(col.accepted)


def test_referential_integrity(company: DemoCompany) -> None:
    ids = set(company.tables["customers"]["customer_id"])
    t = company.tables
    orders = t["orders"]
    anonymous = orders["customer_id"].isna()
    assert 0.005 < anonymous.mean() < 0.02  # the planted anonymous lines, ~1%
    assert set(orders.loc[~anonymous, "customer_id"]) <= ids
    for name in ("events", "campaign_assignments", "tickets", "subscriptions", "surveys"):
        assert t[name]["customer_id"].notna().all(), name
        assert set(t[name]["customer_id"]) <= ids, name
    assert set(orders["product_id"]) <= set(t["products"]["product_id"])
    camp = set(t["campaigns"]["campaign_id"])
    assert set(t["campaign_assignments"]["campaign_id"]) == camp
    assert set(t["events"]["campaign_id"].dropna()) <= camp
    # Every return references an earlier purchase of the same product by the same customer.
    ret = company.truth["returns"].merge(
        orders[["order_id", "customer_id", "order_ts", "product_id"]],
        left_on="return_order_id", right_on="order_id")
    orig = ret.merge(orders[["order_id", "customer_id", "order_ts", "product_id"]],
                     left_on=["original_order_id", "product_id_x"],
                     right_on=["order_id", "product_id"], suffixes=("_ret", "_orig"))
    assert len(orig) >= len(company.truth["returns"])
    assert (orig["customer_id_ret"] == orig["customer_id_orig"]).all()
    assert (orig["order_ts_ret"] > orig["order_ts_orig"]).all()


def test_time_range(company: DemoCompany) -> None:
    end, start = company.observation_end, pd.Timestamp("2023-07-01")
    for name, col in (("orders", "order_ts"), ("events", "event_ts"), ("tickets", "opened_ts"),
                      ("surveys", "response_ts"), ("subscriptions", "start_date")):
        ts = company.tables[name][col]
        assert ts.min() >= start and ts.max() < end, name
    c = company.tables["customers"].set_index("customer_id")
    o = company.tables["orders"].dropna(subset=["customer_id"])
    first = o.groupby("customer_id")["order_ts"].min()
    assert (first.dt.normalize() >= c.loc[first.index, "signup_date"]).all()
    assert len(first) == N  # every customer made the BG/NBD "trial" purchase
    s = company.tables["subscriptions"]
    churned = s[s["churned"]]
    assert churned["end_date"].notna().all() and s.loc[~s["churned"], "end_date"].isna().all()
    assert (churned["end_date"] >= churned["start_date"]).all()
    tk = company.tables["tickets"].dropna(subset=["closed_ts"])
    assert (tk["closed_ts"] >= tk["opened_ts"]).all()


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ConfigError, match="n_customers=10 is too small"):
        generate(n_customers=10)
    with pytest.raises(ConfigError, match="n_customers must be an integer"):
        generate(n_customers=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        generate(n_customers=200, seed=-1)


# --- orders ---------------------------------------------------------------------------------


def test_amounts_and_statuses(company: DemoCompany) -> None:
    o = company.tables["orders"]
    expected = o["quantity"] * o["unit_price"] - o["discount"]
    assert np.allclose(o["amount"], expected, atol=0.011)
    share = o["status"].value_counts(normalize=True)
    assert 0.012 < share["returned"] < 0.03
    assert 0.005 < share["cancelled"] < 0.02
    ret = o[o["status"] == "returned"]
    assert (ret["quantity"] < 0).all() and (ret["amount"] < 0).all()
    assert (o.loc[o["status"] != "returned", "quantity"] > 0).all()
    # promotion ids mark the lines bought in a planted promotion week of their category
    # (truth.sales_price_calendar); personal discounts (the discount column) are not one
    promo = o["promotion_id"].notna()
    assert 0.05 < promo.mean() < 0.3 and o.loc[promo, "promotion_id"].str.startswith("PROMO-").all()
    # Typical size: ~21 lines per customer.
    assert 15 * N < len(o) < 30 * N


def test_segment_sizes_match_the_plan(company: DemoCompany) -> None:
    seg = company.truth["segments"].set_index("segment")
    counts = company.truth["customers"]["segment"].value_counts()
    assert len(seg) >= 4
    for name, row in seg.iterrows():
        assert abs(counts[name] / N - row["planned_share"]) <= 1 / N


def test_segments_differ_on_several_behaviour_features(company: DemoCompany) -> None:
    o = company.tables["orders"]
    o = o[(o["status"] == "completed") & o["customer_id"].notna()]
    seg = _segment(company)
    lines = o.assign(segment=o["customer_id"].map(seg), discounted=o["discount"] > 0)
    by = lines.groupby("segment")
    price = by["unit_price"].median()
    disc = by["discounted"].mean()
    assert price["premium"] > 3 * price.drop("premium").max()
    assert disc["discount_seeker"] > 0.6 and disc["premium"] < 0.08
    orders_per_customer = o.groupby("customer_id")["order_id"].nunique().groupby(seg).mean()
    assert orders_per_customer["loyal_regular"] > 2 * orders_per_customer["premium"]
    assert orders_per_customer["occasional"] < 0.5 * orders_per_customer["discount_seeker"]
    channel = lines.groupby(["segment", "channel"]).size().unstack(fill_value=0)
    channel = channel.div(channel.sum(axis=1), axis=0)
    assert channel.loc["discount_seeker", "app"] > 0.5
    assert channel.loc["occasional", "phone"] > 0.15
    assert channel.drop("occasional")["phone"].max() == 0.0


def test_bgnbd_repeat_purchases_match_expectation(company: DemoCompany,
                                                  purchases: pd.DataFrame) -> None:
    # E[X(T)] of the BG/NBD model (Fader, Hardie & Lee 2005, eq. 9) per customer, averaged
    # per segment, against the observed number of repeat purchases.
    seg = _segment(company)
    per_cust = purchases.groupby("customer_id").agg(n=("order_id", "size"),
                                                    first=("order_ts", "min"))
    per_cust["x"] = per_cust["n"] - 1
    per_cust["T"] = (company.observation_end - per_cust["first"]) / pd.Timedelta(days=1)
    params = company.truth["bgnbd_params"].set_index("segment")
    assert (params["time_unit"] == "D").all()
    truth = company.truth["customers"].set_index("customer_id")
    assert (per_cust["x"] == truth.loc[per_cust.index, "repeat_purchases"]).all()
    assert (truth["repeat_purchase_days"] <= truth["repeat_purchases"]).all()
    # The latent values are Gamma(r, alpha) and Beta(a, b) draws.
    for name, d in truth.groupby("segment"):
        r, alpha, a, b = params.loc[name, ["r", "alpha", "a", "b"]]
        lam_sd = np.sqrt(r) / alpha / np.sqrt(len(d))
        assert abs(d["lambda_per_day"].mean() - r / alpha) < 4 * lam_sd, name
        p_sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)) / len(d))
        assert abs(d["p_dropout"].mean() - a / (a + b)) < 4 * p_sd, name
    for name, d in per_cust.groupby(seg.loc[per_cust.index]):
        r, alpha, a, b = params.loc[name, ["r", "alpha", "a", "b"]]
        t = d["T"].to_numpy()
        ex = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r
                                      * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
        se = d["x"].std() / np.sqrt(len(d))
        assert abs(d["x"].mean() - ex.mean()) < 4 * se, name


def test_spend_follows_gamma_gamma(company: DemoCompany, purchases: pd.DataFrame) -> None:
    # Order values are exact Gamma-Gamma draws: the per-segment mean order value is
    # E[p / nu] = p v / (q - 1), and within a customer the CV is 1 / sqrt(p).
    seg = _segment(company)
    gg = company.truth["gamma_gamma_params"].set_index("segment")
    by_seg = purchases.groupby(purchases["customer_id"].map(seg))["value"]
    for name, values in by_seg:
        expected = gg.loc[name, "mean_order_value"]
        assert abs(values.mean() / expected - 1) < 0.12, name
    truth = company.truth["customers"].set_index("customer_id")
    cv = purchases.groupby("customer_id")["value"].agg(["mean", "std", "size"])
    cv = cv[cv["size"] >= 10]
    within = (cv["std"] / truth.loc[cv.index, "mean_order_value"]).groupby(
        seg.loc[cv.index]).median()
    for name, value in within.items():
        assert abs(value - 1 / np.sqrt(gg.loc[name, "p"])) < 0.12, name


def test_planted_affinities_have_high_lift(company: DemoCompany) -> None:
    o = company.tables["orders"]
    o = o[o["status"] == "completed"]
    baskets = o.groupby("order_id")["product_id"].agg(frozenset)
    n = len(baskets)
    counts = o.drop_duplicates(["order_id", "product_id"])["product_id"].value_counts()
    aff = company.truth["product_affinities"]
    pair_sets = set(zip(aff["antecedent"], aff["consequent"], strict=True))
    together = {pair: 0 for pair in pair_sets}
    ante_set = set(aff["antecedent"])
    for items in baskets[baskets.map(lambda b: bool(b & ante_set))]:
        for a, c in pair_sets:
            if a in items and c in items:
                together[(a, c)] += 1
    checked = 0
    for row in aff.itertuples():
        n_a = counts.get(row.antecedent, 0)
        if n_a < 25:
            continue
        checked += 1
        conf = together[(row.antecedent, row.consequent)] / n_a
        lift = conf / (counts.get(row.consequent, 0) / n)
        assert lift > 2, row
        assert abs(conf - row.probability) < 4 * np.sqrt(row.probability / n_a) + 0.05, row
    assert checked >= 10


# --- campaigns ------------------------------------------------------------------------------


def test_observed_uplift_matches_true_ate(company: DemoCompany) -> None:
    a = company.tables["campaign_assignments"]
    truth = company.truth["uplift"].set_index("campaign_id")
    rates = a.groupby(["campaign_id", "group"])["responded"].agg(["mean", "size"]).unstack()
    with_control = rates.dropna()
    assert len(with_control) >= 15
    diff = with_control[("mean", "treatment")] - with_control[("mean", "control")]
    var = sum(with_control[("mean", g)] * (1 - with_control[("mean", g)])
              / with_control[("size", g)] for g in ("treatment", "control"))
    z = (diff - truth.loc[diff.index, "true_ate"]) / np.sqrt(var.clip(lower=1e-6))
    assert (z.abs() < 4).all()
    # Pooled over campaigns the estimate is tight: within 3 SE of the pooled truth.
    pooled = (diff.mean() - truth.loc[diff.index, "true_ate"].mean()) / np.sqrt(var.sum()) * len(
        diff)
    assert abs(pooled) < 3
    assert truth["true_ate"].min() > 0


def test_uplift_is_heterogeneous_as_planted(company: DemoCompany) -> None:
    cu = company.truth["customer_uplift"]
    c = company.tables["customers"].set_index("customer_id")
    seg = _segment(company)
    cu = cu.assign(segment=cu["customer_id"].map(seg), age=cu["customer_id"].map(c["age"]))
    old_premium = cu[(cu["segment"] == "premium") & (cu["age"] >= 30)]
    assert (old_premium["true_uplift"] == 0).all()  # buys anyway
    sleeping = cu[(cu["segment"] == "loyal_regular") & (cu["age"] >= 55)]
    assert len(sleeping) > 0 and (sleeping["true_uplift"] < 0).all()
    # In the data: discount seekers respond far more to treatment than without it, premium
    # customers about the same either way.
    a = company.tables["campaign_assignments"]
    a = a.assign(segment=a["customer_id"].map(seg))
    stats = a.groupby(["segment", "group"])["responded"].agg(["mean", "size"]).unstack()
    lift = stats[("mean", "treatment")] - stats[("mean", "control")]
    se = np.sqrt(sum(stats[("mean", g)] * (1 - stats[("mean", g)]) / stats[("size", g)]
                     for g in ("treatment", "control")))
    true_lift = cu.groupby("segment")["true_uplift"].mean()
    assert true_lift["discount_seeker"] > 0.03 and true_lift["premium"] < 0.005
    assert lift["discount_seeker"] > lift["premium"] + 0.02
    assert ((lift - true_lift).abs() < 4 * se).all()


def test_channels_best_roi_and_best_conversion(company: DemoCompany) -> None:
    ch = company.truth["channels"].set_index("channel")
    assert ch["is_best_roi"].sum() == 1 and ch["is_best_conversion"].sum() == 1
    best_roi, best_conv = ch["true_roi"].idxmax(), ch["true_conversion_rate"].idxmax()
    assert best_roi != best_conv
    assert ch["true_roi"].sort_values().iloc[-1] > 1.4 * ch["true_roi"].sort_values().iloc[-2]
    # Observed in the data: conversions per treated contact by channel.
    a = company.tables["campaign_assignments"].merge(
        company.tables["campaigns"][["campaign_id", "channel", "cost"]], on="campaign_id")
    t = a[a["group"] == "treatment"]
    conv = t.groupby("channel")["responded"].mean()
    assert conv.idxmax() == best_conv
    n_t = t.groupby("channel").size()
    se = np.sqrt(ch["true_conversion_rate"] * (1 - ch["true_conversion_rate"]) / n_t)
    assert ((conv - ch["true_conversion_rate"]).abs() < 4 * se).all()
    cost = company.tables["campaigns"].groupby("channel")["cost"].sum()
    roi = (t.groupby("channel")["revenue"].sum() - cost) / cost
    assert roi.idxmax() == best_roi


def test_diminishing_returns_curve(company: DemoCompany) -> None:
    u = company.truth["uplift"].merge(company.truth["channels"][["channel", "curve_a", "curve_b"]],
                                      on="channel")
    curve = u["curve_a"] * (1 - np.exp(-u["curve_b"] * u["spend"]))
    assert np.allclose(u["expected_conversions"], curve, rtol=1e-6)
    for _, g in u.sort_values("spend").groupby("channel"):
        per_contact = (g["expected_conversions"] / g["n_treatment"]).to_numpy()
        assert (np.diff(per_contact) < 0).all()  # each extra contact converts less
    camp = company.tables["campaigns"].set_index("campaign_id")
    assert np.allclose(camp.loc[u["campaign_id"], "cost"].to_numpy(), u["spend"].to_numpy())


def test_funnel_rates_and_leak(company: DemoCompany) -> None:
    e = company.tables["events"].dropna(subset=["stage"])
    counts = e.groupby(["channel", "stage"]).size()
    truth = company.truth["funnel"]
    for row in truth.itertuples():
        prev = counts.get((row.channel, row.previous_stage), 0)
        got = counts.get((row.channel, row.stage), 0) / prev
        se = np.sqrt(row.true_rate_from_previous * (1 - row.true_rate_from_previous) / prev)
        assert abs(got - row.true_rate_from_previous) < 4 * se + 1e-9, row
    leak = truth[truth["is_leak"]]
    assert len(leak) == 1
    same_stage = truth[truth["stage"] == leak["stage"].iloc[0]]
    assert leak["true_rate_from_previous"].iloc[0] < 0.5 * same_stage[
        ~same_stage["is_leak"]]["true_rate_from_previous"].min()
    # Converters reach "convert" exactly when their assignment says they responded.
    a = company.tables["campaign_assignments"]
    conv = e[e["stage"] == "convert"].groupby("campaign_id").size()
    resp = a[(a["group"] == "treatment") & a["responded"]].groupby("campaign_id").size()
    pd.testing.assert_series_equal(conv, resp, check_names=False)
    # Multi-touch paths: most conversions have an ad touch in the two weeks before.
    assert (company.tables["events"]["event_type"] == "ad_touch").sum() > len(conv)


# --- service, churn, surveys --------------------------------------------------------------


def test_tickets_look_real(company: DemoCompany) -> None:
    t = company.tables["tickets"]
    assert set(t["category"]) == {"billing", "delivery", "product_quality", "technical",
                                  "account", "cancellation"}
    assert t["text"].str.len().gt(15).all() and t["text"].nunique() > 100
    assert set(t["csat"].dropna()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    mean_csat = t.groupby("is_complaint")["csat"].mean()
    assert mean_csat[True] < mean_csat[False] - 1


def test_churn_driven_by_planted_factors(company: DemoCompany) -> None:
    s = company.tables["subscriptions"]
    c = company.tables["customers"].set_index("customer_id")
    assert 0.5 < len(s) / N < 0.75
    assert 0.18 < s["churned"].mean() < 0.32
    rate = s.groupby("contract_type")["churned"].mean()
    assert rate["month-to-month"] > rate["one_year"] > rate["two_year"]
    assert rate["month-to-month"] > 2 * rate["two_year"]
    hi = s["monthly_charge"] > s["monthly_charge"].median()
    assert s.loc[hi, "churned"].mean() > s.loc[~hi, "churned"].mean()
    # Complaints in the 90 days before the end (churn date or observation end).
    t = company.tables["tickets"]
    comp = t[t["is_complaint"]]
    end = s["end_date"].fillna(company.observation_end)
    m = s.assign(end=end).merge(comp[["customer_id", "opened_ts"]], on="customer_id")
    m = m[(m["opened_ts"] <= m["end"]) & (m["opened_ts"] > m["end"] - pd.Timedelta(days=90))]
    recent = m.groupby("subscription_id").size().reindex(s["subscription_id"], fill_value=0)
    churned = s.set_index("subscription_id")["churned"]
    assert recent[churned.to_numpy()].mean() > 1.5 * recent[~churned.to_numpy()].mean()
    # Non-drivers: churn rates by gender and payment method within sampling noise.
    for col in ("gender", "payment_method"):
        values = s["customer_id"].map(c["gender"]) if col == "gender" else s[col]
        g = s.groupby(values)["churned"].agg(["mean", "size"])
        p = s["churned"].mean()
        z = (g["mean"] - p) / np.sqrt(p * (1 - p) / g["size"])
        assert (z.abs() < 3.5).all(), col
    drivers = company.truth["churn_drivers"].set_index("feature")
    assert set(drivers.index) == {"contract_type", "n_complaints", "monthly_charge",
                                  "tenure_months", "gender", "payment_method"}
    assert (drivers.loc[["gender", "payment_method"], "effect"] == 0).all()


def test_surveys_nps_follows_complaints(company: DemoCompany) -> None:
    sv = company.tables["surveys"]
    assert sv["nps"].between(0, 10).all() and sv["csat"].between(1, 5).all()
    assert 0.2 < sv["customer_id"].nunique() / N < 0.3
    t = company.tables["tickets"]
    complained = set(t.loc[t["is_complaint"], "customer_id"])
    has = sv["customer_id"].isin(complained)
    assert sv.loc[has, "nps"].mean() < sv.loc[~has, "nps"].mean() - 0.5
    seg = sv["customer_id"].map(_segment(company))
    by_seg = sv.groupby(seg)["nps"].mean()
    assert by_seg["loyal_regular"] > by_seg["discount_seeker"] + 1
