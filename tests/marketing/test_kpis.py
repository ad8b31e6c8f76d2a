"""Campaign KPIs on a hand-built campaign where every number can be counted by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from crmine.exceptions import DataError, MissingColumnError
from crmine.marketing import campaign_contacts, campaign_kpis


@pytest.fixture
def tiny():
    campaigns = pd.DataFrame({"campaign_id": ["c1", "c2"], "channel": ["email", "sms"],
                              "cost": [100.0, 30.0], "start_date": ["2024-01-05", "2024-02-10"]})
    assignments = pd.DataFrame({
        "campaign_id": ["c1"] * 5 + ["c2"] * 3,
        "customer_id": ["a", "b", "c", "d", "e", "a", "b", "f"],
        "group": ["treatment"] * 4 + ["control"] + ["treatment"] * 2 + ["control"],
        "responded": [True, False, True, False, True, True, False, False],
        "revenue": [50.0, 0, 30.0, 0, 20.0, 10.0, 0, 0],
    })
    ts = pd.Timestamp("2024-01-06")
    events = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "a", "c", "a", "c", "a", "b"],
        "event_ts": [ts] * 10,
        "event_type": "campaign",
        "campaign_id": ["c1"] * 8 + ["c2"] * 2,
        "stage": ["sent", "sent", "sent", "sent", "open", "open", "click", "click", "sent",
                  "sent"],
        "cost": [0.1] * 4 + [0.0] * 4 + [0.2, 0.2],
    })
    customers = pd.DataFrame({"customer_id": list("abcdef"),
                              "segment": ["young", "old", "young", "old", "young", "old"]})
    return campaigns, assignments, events, customers


def test_contacts_and_kpis_by_campaign(tiny):
    campaigns, assignments, events, customers = tiny
    contacts = campaign_contacts(events, campaigns=campaigns, assignments=assignments,
                                 customers=customers)
    assert len(contacts) == 8  # one row per (campaign, customer) assignment
    k = campaign_kpis(contacts, by="campaign_id").set_index("campaign_id")
    c1 = k.loc["c1"]
    assert c1["contacts"] == 4 and c1["control"] == 1
    assert c1["sends"] == 4 and c1["opens"] == 2 and c1["clicks"] == 2
    assert c1["conversions"] == 2 and c1["revenue"] == pytest.approx(80.0)
    # The campaign's recorded cost (100) is its total: the per-send costs in the events are
    # the same money itemised and are not added again.
    assert c1["cost"] == pytest.approx(100.0)
    assert c1["ctr"] == pytest.approx(0.5)  # no deliveries tracked: clicks per send
    assert c1["conversion_rate"] == pytest.approx(0.5)
    assert c1["control_conversion_rate"] == pytest.approx(1.0)
    assert c1["incremental_conversions"] == pytest.approx(2 - 4)
    assert c1["roi"] == pytest.approx((80 - 100.0) / 100.0)
    assert c1["roas"] == pytest.approx(80 / 100.0)
    assert c1["cpa"] == pytest.approx(100.0 / 2)
    c2 = k.loc["c2"]
    assert c2["cost"] == pytest.approx(30.0) and c2["conversions"] == 1


def test_kpis_by_channel_segment_and_period(tiny):
    campaigns, assignments, events, customers = tiny
    contacts = campaign_contacts(events, campaigns=campaigns, assignments=assignments,
                                 customers=customers)
    k = campaign_kpis(contacts, by=["channel", "segment"]).set_index(["channel", "segment"])
    assert k.loc[("email", "young"), "contacts"] == 2
    assert k.loc[("email", "young"), "conversions"] == 2
    assert k.loc[("email", "old"), "conversions"] == 0
    per = campaign_kpis(contacts, by="period", period="M").set_index("period")
    assert per.loc["2024-01", "contacts"] == 4
    assert per.loc["2024-02", "contacts"] == 2  # by campaign start, not by touch date


def test_events_only_mode_counts_convert_stage():
    ev = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "campaign_id": "x",
                       "event_ts": pd.Timestamp("2024-03-01"),
                       "stage": ["sent", "convert", "sent", "sent"],
                       "value": [0, 25.0, 0, 0], "cost": [1.0, 0, 1.0, 1.0]})
    k = campaign_kpis(campaign_contacts(ev)).iloc[0]
    assert k["contacts"] == 3 and k["conversions"] == 1 and k["revenue"] == 25.0
    assert k["roas"] == pytest.approx(25 / 3)


def test_kpi_errors():
    with pytest.raises(DataError, match="need events"):
        campaign_contacts()
    with pytest.raises(MissingColumnError, match="campaign_id"):
        campaign_contacts(pd.DataFrame({"customer_id": ["a"]}))
    dup = pd.DataFrame({"campaign_id": ["x", "x"], "customer_id": ["a", "a"]})
    with pytest.raises(DataError, match="twice"):
        campaign_contacts(assignments=dup)
