"""Labels and features at a cut-off: no information from after it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.churn import (
    ChurnModel,
    customer_features,
    order_features,
    subscription_features,
    subscription_labels,
    ticket_features,
    transactional_labels,
)
from crmine.exceptions import DataError, MissingColumnError

CUT = "2024-01-01"


def subs() -> pd.DataFrame:
    return pd.DataFrame({
        "subscription_id": ["s1", "s2", "s3", "s4", "s5", "s6"],
        "customer_id": ["a", "b", "c", "d", "e", "e"],
        "start_date": ["2022-01-01", "2023-06-01", "2023-01-01", "2024-02-01", "2021-01-01",
                       "2024-01-20"],
        # a ends inside the window, b runs on, c left before the cut-off, d starts after,
        # e switches plan inside the window (not churn).
        "end_date": ["2024-02-15", None, "2023-12-01", None, "2024-01-20", None],
        "contract_type": ["monthly", "annual", "monthly", "monthly", "annual", "monthly"],
        "monthly_charge": [50.0, 30.0, 20.0, 40.0, 60.0, 65.0],
        "churned": [True, False, True, False, False, False],
        "total_charges": [1200.0, 210.0, 220.0, 0.0, 2200.0, 0.0],
    })  # fmt: skip


def test_subscription_labels_by_hand() -> None:
    lab = subscription_labels(subs(), cutoff=CUT, window_days=90)
    frame = lab.frame.set_index("customer_id")
    assert list(frame.index) == ["a", "b", "e"]  # c already gone, d not yet a customer
    assert frame["churned"].to_dict() == {"a": 1, "b": 0, "e": 0}
    assert frame.loc["a", "churn_date"] == pd.Timestamp("2024-02-15")
    assert lab.cutoff == pd.Timestamp(CUT) and lab.window_days == 90
    assert lab.window_end == pd.Timestamp("2024-03-31")
    assert "within 90 days" in lab.describe()
    # A shorter window does not see a's end.
    short = subscription_labels(subs(), cutoff=CUT, window_days=30).frame
    assert short.set_index("customer_id")["churned"].to_dict() == {"a": 0, "b": 0, "e": 0}
    assert set(lab.to_frame().columns) >= {"cutoff", "window_days"}


def test_subscription_features_use_only_the_past() -> None:
    feats = subscription_features(subs(), cutoff=CUT).set_index("customer_id")
    assert list(feats.index) == ["a", "b", "e"]
    # Known only later: the end date, the churn flag and the lifetime total.
    assert not {"end_date", "churned", "total_charges"} & set(feats.columns)
    # e's plan change happens after the cut-off: the old contract is the feature.
    assert feats.loc["e", "contract_type"] == "annual"
    assert feats.loc["e", "monthly_charge"] == 60.0
    assert feats.loc["a", "tenure_months"] == pytest.approx(24.0, abs=0.1)
    assert feats.loc["b", "tenure_months"] == pytest.approx(7.0, abs=0.1)


def test_tickets_after_the_cutoff_are_not_features() -> None:
    tickets = pd.DataFrame({
        "ticket_id": range(6),
        "customer_id": ["a", "a", "b", "a", "a", "b"],
        "opened_ts": ["2023-10-01", "2023-12-31 23:59", "2023-11-15", "2024-01-01",
                      "2024-01-05", "2022-01-01"],
        "is_complaint": [True, False, True, True, True, True],
    })  # fmt: skip
    feats = ticket_features(tickets, cutoff=CUT, lookback_days=180).set_index("customer_id")
    assert feats.loc["a", "n_tickets"] == 2  # the ticket at the cut-off itself is after it
    assert feats.loc["a", "n_complaints"] == 1
    assert feats.loc["b", "n_tickets"] == 1  # the 2022 ticket is outside the look-back
    assert feats.loc["a", "days_since_last_ticket"] == 0


def test_leakage_from_after_the_cutoff_is_excluded_end_to_end() -> None:
    """Churners call to cancel *after* the cut-off. Counting those calls would predict churn
    perfectly; the labelling code counts only calls before the cut-off, so the model's
    accuracy stays honest (no better than chance on that feature)."""
    rng = np.random.default_rng(0)
    n = 1500
    ids = [f"c{i}" for i in range(n)]
    churn_day = np.where(rng.random(n) < 0.3, rng.integers(1, 80, n), -1)
    sub = pd.DataFrame({
        "customer_id": ids, "start_date": "2022-01-01",
        "end_date": [pd.Timestamp(CUT) + pd.Timedelta(days=int(d)) if d > 0 else pd.NaT
                     for d in churn_day],
        "contract_type": rng.choice(["monthly", "annual"], n),
        "monthly_charge": rng.normal(50, 10, n).round(2),
    })  # fmt: skip
    # Everyone calls at random before the cut-off; churners also call to cancel after it.
    before = pd.DataFrame({"customer_id": rng.choice(ids, 600),
                           "opened_ts": pd.Timestamp(CUT) - pd.to_timedelta(
                               rng.integers(1, 170, 600), unit="D")})  # fmt: skip
    churners = [c for c, d in zip(ids, churn_day, strict=True) if d > 0]
    after = pd.DataFrame({"customer_id": churners,
                          "opened_ts": [pd.Timestamp(CUT) + pd.Timedelta(days=int(d) - 1)
                                        for d in churn_day[churn_day > 0]]})  # fmt: skip
    tickets = pd.concat([before, after], ignore_index=True)
    tickets["ticket_id"] = range(len(tickets))
    labels = subscription_labels(sub, cutoff=CUT, window_days=90)
    X = (labels.frame[["customer_id"]]
         .merge(subscription_features(sub, cutoff=CUT), on="customer_id", how="left")
         .merge(ticket_features(tickets, cutoff=CUT), on="customer_id", how="left"))  # fmt: skip
    X["n_tickets"] = X["n_tickets"].fillna(0)
    assert X["n_tickets"].sum() == 600  # none of the cancellation calls
    y = labels.frame["churned"].to_numpy()
    assert y.sum() == len(churners)
    model = ChurnModel(method="logistic", cv=3).fit(X, y)
    assert model.comparison_.loc[0, "roc_auc"] < 0.6  # nothing real to learn: no leak
    # The same features computed carelessly over all tickets leak the label.
    leaky = tickets.groupby("customer_id").size()
    X_leaky = X.assign(n_tickets=X["customer_id"].map(leaky).fillna(0))
    careless = ChurnModel(method="logistic", cv=3, leakage_check=False).fit(X_leaky, y)
    assert careless.comparison_.loc[0, "roc_auc"] > 0.9


def test_transactional_labels_and_features() -> None:
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5", "o6", "o7"],
        "customer_id": ["a", "a", "b", "c", "a", "d", "z"],
        "order_ts": ["2023-11-01", "2023-12-20", "2023-06-01", "2020-01-01", "2024-02-01",
                     "2024-01-10", "2024-04-15"],
        "amount": [10.0, 20.0, 5.0, 7.0, 30.0, 8.0, 1.0],
    })  # fmt: skip
    lab = transactional_labels(orders, cutoff=CUT, window_days=90, active_days=365)
    frame = lab.frame.set_index("customer_id")
    # c has been silent for years (already gone), d only starts after the cut-off.
    assert frame["churned"].to_dict() == {"a": 0, "b": 1}
    feats = order_features(orders, cutoff=CUT).set_index("customer_id")
    assert feats.loc["a", "orders_last_year"] == 2 and feats.loc["a", "spend_last_year"] == 30.0
    assert feats.loc["a", "days_since_last_order"] == 12
    with pytest.raises(DataError, match="move the cut-off back to"):
        transactional_labels(orders, cutoff="2024-03-01", window_days=90)


def test_customer_attributes_as_of_the_cutoff() -> None:
    dim = pd.DataFrame({
        "customer_id": ["a", "a", "b"], "email": ["x@y", "x@y", "b@y"],
        "segment": ["loyal", "lost", "new"], "income": [50.0, 50.0, 20.0],
        "birth_date": ["1990-01-01", "1990-01-01", "2000-01-01"],
        "valid_from": ["2020-01-01", "2024-02-01", "2021-01-01"],
        "valid_to": ["2024-02-01", None, None], "is_current": [False, True, True],
    })  # fmt: skip
    feats = customer_features(dim, cutoff=CUT).set_index("customer_id")
    assert feats.loc["a", "segment"] == "loyal"  # "lost" was recorded after the cut-off
    assert feats.loc["a", "age"] == pytest.approx(34.0, abs=0.01)
    assert not {"email", "valid_from", "valid_to", "is_current"} & set(feats.columns)


def test_label_errors_name_the_problem() -> None:
    with pytest.raises(MissingColumnError, match=r"lacks column\(s\) \['end_date'\]"):
        subscription_labels(subs().drop(columns=["end_date"]), cutoff=CUT)
    with pytest.raises(DataError, match="no subscription is active on the cut-off 2010-01-01"):
        subscription_labels(subs(), cutoff="2010-01-01")
    with pytest.raises(DataError, match="is not a date"):
        subscription_labels(subs(), cutoff="yesterday-ish")


def test_service_measures_use_only_what_was_known_at_the_cutoff() -> None:
    """Repeat contacts, slow resolutions and open tickets, by hand, at CUT (2024-01-01)."""
    ts = pd.Timestamp
    tickets = pd.DataFrame({
        "ticket_id": range(8),
        "customer_id": ["a", "a", "a", "b", "b", "c", "d", "d"],
        "opened_ts": [ts("2023-12-01"), ts("2023-12-05"), ts("2023-12-31 12:00"),
                      ts("2023-06-01"), ts("2023-12-20"), ts("2023-12-30 23:00"),
                      ts("2023-12-30"), ts("2024-01-02")],
        # a: closed in 10 h, in 60 h (slow), opened 12 h before the cut-off and closed
        # after it (not yet known to be slow, but open at the cut-off);
        # b: an old ticket still open, a fast recent one; c: closed 3 days after the
        # cut-off, opened an hour before it; d: a repeat after the cut-off does not count.
        "closed_ts": [ts("2023-12-01 10:00"), ts("2023-12-07 12:00"), ts("2024-01-05"),
                      pd.NaT, ts("2023-12-20 05:00"), ts("2024-01-03"),
                      ts("2023-12-30 02:00"), ts("2024-01-02 01:00")],
        "is_complaint": [True, True, False, False, True, True, False, True],
    })  # fmt: skip
    f = ticket_features(tickets, cutoff=CUT, lookback_days=90, repeat_days=7,
                        sla_hours=48).set_index("customer_id")
    assert f.loc["a", "n_repeat_contacts"] == 1  # 12-05 after 12-01; 12-31 is 26 days on
    assert f.loc["a", "n_slow_resolutions"] == 1 and f.loc["a", "n_open_tickets"] == 1
    assert f.loc["a", "slow_share"] == pytest.approx(1 / 2)  # the 12-31 ticket is not due
    assert f.loc["b", "n_tickets"] == 1 and f.loc["b", "n_open_tickets"] == 1
    assert f.loc["b", "n_slow_resolutions"] == 0  # the old open one is outside the look-back
    assert f.loc["c", "n_slow_resolutions"] == 0 and f.loc["c", "n_open_tickets"] == 1
    assert np.isnan(f.loc["c", "slow_share"])  # nothing was due yet
    assert f.loc["d", "n_repeat_contacts"] == 0 and f.loc["d", "n_complaints"] == 0
    # A longer repeat window and a shorter SLA are the service settings' to choose.
    g = ticket_features(tickets, cutoff=CUT, lookback_days=90, repeat_days=30,
                        sla_hours=1).set_index("customer_id")
    assert g.loc["a", "n_repeat_contacts"] == 2 and g.loc["a", "n_slow_resolutions"] == 3
    # Whatever happens after the cut-off changes nothing.
    later = tickets.copy()
    later.loc[later["opened_ts"] < pd.Timestamp(CUT), "closed_ts"] = later["closed_ts"].where(
        later["closed_ts"] < pd.Timestamp(CUT), pd.Timestamp("2030-01-01"))
    later = pd.concat([later, tickets.assign(opened_ts=pd.Timestamp("2024-01-03"),
                                             ticket_id=range(100, 108))])
    h = ticket_features(later, cutoff=CUT, lookback_days=90, repeat_days=7,
                        sla_hours=48).set_index("customer_id")
    pd.testing.assert_frame_equal(h, f)
