"""Funnel with a planted leak; attribution models against hand-computed credit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.exceptions import DataError, MissingColumnError
from crmine.marketing import attribution, build_journeys, funnel, markov_removal_effects

STAGES = ["sent", "open", "click", "visit", "convert"]


def _funnel_events(seed: int = 0, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rates = {"email": [0.5, 0.4, 0.8, 0.3], "social": [0.5, 0.4, 0.2, 0.3]}  # social leaks
    rows = []
    for ch, r in rates.items():
        for i in range(n):
            cid = f"{ch}{i}"
            ts = pd.Timestamp("2024-01-01")
            rows.append((cid, "sent", ts, ch))
            for stage, p in zip(STAGES[1:], r, strict=True):
                if rng.random() >= p:
                    break
                ts = ts + pd.Timedelta(days=2)
                rows.append((cid, stage, ts, ch))
    return pd.DataFrame(rows, columns=["customer_id", "stage", "event_ts", "channel"])


def test_funnel_counts_timing_and_planted_leak():
    res = funnel(_funnel_events(), by="channel")
    overall = res.stages[res.stages["group"] == "all"].set_index("stage")
    assert list(overall.index) == STAGES
    assert overall.loc["sent", "customers"] == 6000
    assert overall["customers"].is_monotonic_decreasing
    assert overall.loc["open", "conversion"] == pytest.approx(0.5, abs=0.02)
    assert overall.loc["open", "median_days_from_previous"] == pytest.approx(2.0)
    assert overall.loc["click", "drop_off"] == overall.loc["open", "customers"] - overall.loc[
        "click", "customers"]
    social = res.stages[res.stages["group"] == "social"].set_index("stage")
    assert social.loc["visit", "conversion"] == pytest.approx(0.2, abs=0.04)
    leak = res.leak
    assert (leak["group"], leak["stage"], leak["from_stage"]) == ("social", "visit", "click")
    assert leak["lost_customers"] > 0
    assert res.worst_step["stage"] in ("visit", "convert")


def test_funnel_with_purchase_from_orders_and_errors():
    ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "stage": ["sent", "click", "sent"],
                       "event_ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"])})
    orders = pd.DataFrame({"customer_id": ["a", "b", "z"],
                           "order_ts": pd.to_datetime(["2024-01-05", "2023-12-01", "2024-01-05"])})
    res = funnel(ev, orders=orders)
    s = res.stages.set_index("stage")
    assert list(s.index) == ["sent", "click", "purchase"]
    assert s["customers"].tolist() == [2, 1, 1]  # b's order came before the campaign
    assert s.loc["purchase", "median_days_from_previous"] == pytest.approx(3.0)
    with pytest.raises(MissingColumnError, match="'stage'"):
        funnel(ev.drop(columns="stage"))
    with pytest.raises(DataError, match="at least 2 stages"):
        funnel(ev[ev["stage"] == "sent"])


def _journeys():
    return pd.DataFrame({"path": [["a", "b"], ["a"], ["b"]], "converted": [True, False, True],
                         "value": [10.0, 0.0, 30.0]})


def test_markov_removal_effect_by_hand():
    # start->a 2/3, start->b 1/3; a->b 1/2, a->null 1/2; b->conv 1. P(conv) = 2/3.
    # Without a: 1/3 -> effect 1/2. Without b: 0 -> effect 1.
    eff = markov_removal_effects(*zip(*[(p, c) for p, c in zip(
        _journeys()["path"], _journeys()["converted"], strict=True)], strict=True))
    assert eff.to_dict() == pytest.approx({"a": 0.5, "b": 1.0})
    a = attribution(_journeys(), models=["markov"]).set_index("channel")
    assert a["conversions"].to_dict() == pytest.approx({"a": 2 / 3, "b": 4 / 3})
    assert a["value"].sum() == pytest.approx(40.0)


def test_rule_based_and_shapley_by_hand():
    a = attribution(_journeys()).set_index(["model", "channel"])
    assert a.loc[("first_touch", "a"), "conversions"] == 1.0
    assert a.loc[("last_touch", "b"), "conversions"] == 2.0
    assert a.loc[("linear", "a"), "value"] == pytest.approx(5.0)
    assert a.loc[("linear", "b"), "value"] == pytest.approx(35.0)
    # Shapley: v(a)=0, v(b)=1, v(ab)=2 -> phi_a = 0.5, phi_b = 1.5.
    assert a.loc[("shapley", "a"), "conversions"] == pytest.approx(0.5)
    assert a.loc[("shapley", "b"), "conversions"] == pytest.approx(1.5)
    for _, g in a.groupby(level="model"):
        assert g["conversions"].sum() == pytest.approx(2.0)
        assert g["share"].sum() == pytest.approx(1.0)


def test_time_decay_and_position_based_weights():
    touches = pd.DataFrame({
        "customer_id": ["x"] * 4, "channel": ["a", "b", "c", "d"],
        "event_ts": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-10", "2024-01-15"]),
    })
    conv = pd.DataFrame({"customer_id": ["x"], "conversion_ts": pd.to_datetime(["2024-01-15"]),
                         "value": [100.0]})
    j = build_journeys(touches, conv, lookback_days=10)
    assert j.loc[0, "path"] == ["b", "c", "d"]  # a is outside the 10-day lookback
    a = attribution(j, models=["time_decay", "position_based"], half_life_days=7)
    td = a[a["model"] == "time_decay"].set_index("channel")["conversions"]
    w = np.array([0.5, 0.5 ** (5 / 7), 1.0])
    assert td.to_numpy() == pytest.approx(w / w.sum())
    pb = a[a["model"] == "position_based"].set_index("channel")["conversions"]
    assert pb.to_dict() == pytest.approx({"b": 0.4, "c": 0.2, "d": 0.4})


def test_data_driven_models_credit_the_channel_that_matters():
    rng = np.random.default_rng(0)
    paths, conv = [], []
    for _ in range(4000):
        path = list(rng.choice(["display", "email", "social"], size=rng.integers(1, 4)))
        # Only journeys that include e-mail convert (30%); display is just noise.
        paths.append(path)
        conv.append(bool("email" in path and rng.random() < 0.3))
    j = pd.DataFrame({"path": paths, "converted": conv, "value": np.array(conv, float)})
    a = attribution(j, models=["markov", "shapley", "last_touch"])
    share = a.pivot(index="channel", columns="model", values="share")
    # A first-order chain spreads credit along paths (display -> email -> conversion), so it
    # favours e-mail less sharply than Shapley does; both must rank it far ahead.
    assert share.loc["email", "markov"] > 1.5 * share.drop("email")["markov"].max()
    assert share.loc["email", "shapley"] > 0.6
    assert share.loc["display", "shapley"] < 0.2
    with pytest.raises(DataError, match="unknown attribution model"):
        attribution(j, models=["magic"])
