"""Once identities are resolved the analyses count one customer per person: a shop account's
orders and the CRM customer's are one purchase history (features, CLV, the cube, churn)."""

from __future__ import annotations

import pandas as pd
import pytest

from crmine.identity import resolve_identities, resolved_table
from crmine.warehouse import ingest


def _orders(customer: str, days: list[int], start: str = "2024-01-01") -> list[dict]:
    return [{"order_id": f"{customer}-{d}", "customer_id": customer,
             "order_ts": pd.Timestamp(start) + pd.Timedelta(days=d), "amount": 10.0 + d % 7}
            for d in days]  # fmt: skip


@pytest.fixture
def two_sources(workspace):
    """CRM customers C1..C3 and shop accounts A1, A2 (A1 is C1: same e-mail, other case), each
    with orders of its own; A3 is a person only the shop knows."""
    ingest(workspace, "customers", pd.DataFrame({
        "customer_id": ["C1", "C2", "C3"], "name": ["Ann Lee", "Bo Chen", "Cy Wu"],
        "email": ["ann@x.cc", "bo@x.cc", "cy@x.cc"], "city": ["Leeds", "York", "Hull"]}),
        source_name="crm")  # fmt: skip
    ingest(workspace, "customers", pd.DataFrame({
        "customer_id": ["A1", "A3"], "name": ["Ann Lee", "Di Ng"],
        "email": ["ANN@x.cc", "di@x.cc"], "city": ["Leeds", "Bath"]}), source_name="shop")
    lines = (_orders("C1", [0, 40, 80]) + _orders("A1", [120, 160]) + _orders("C2", [10, 300])
             + _orders("C3", [5]) + _orders("A3", [50, 90, 200]))  # fmt: skip
    ingest(workspace, "orders", pd.DataFrame(lines))
    return workspace


def test_features_and_cube_see_one_customer_per_person(two_sources):
    from crmine.cube import query
    from crmine.features import build_customer_rfm

    ws = two_sources
    build_customer_rfm(ws)
    before = ws.read("marts.customer_rfm").set_index("customer_id")
    assert len(before) == 5 and before.loc["C1", "frequency"] == 2  # 3 orders: 2 repeats
    assert query(ws).count == 5

    run = resolve_identities(ws, probabilistic=False)
    assert run.resolution.n_customers == 4
    build_customer_rfm(ws)
    after = ws.read("marts.customer_rfm").set_index("customer_id")
    # C1's three orders and the shop account's two are one history of five orders
    assert sorted(after.index) == ["A3", "C1", "C2", "C3"]
    assert after.loc["C1", "frequency"] == 4
    assert after.loc["C1", "recency"] == 160  # first order day 0, last (the shop's) day 160
    assert after.loc["C2", "frequency"] == 1 and after.loc["A3", "frequency"] == 2
    assert query(ws).count == 4
    assert query(ws, where=["city=Leeds"]).count == 1


def test_resolved_views_keep_every_fact_row(two_sources):
    ws = two_sources
    resolve_identities(ws, probabilistic=False)
    lines = resolved_table(ws).to_pandas()
    assert len(lines) == len(ws.read("core.fct_order_lines")) == 11
    assert set(lines.loc[lines["source_customer_id"] == "A1", "customer_id"]) == {"C1"}
    customers = ws.read(ws.resolved("core.dim_customer"))
    assert sorted(customers.loc[customers["is_current"], "customer_id"]) == ["A3", "C1", "C2",
                                                                             "C3"]
    # a table first loaded after the resolve is read resolved too
    ingest(ws, "tickets", pd.DataFrame({"ticket_id": ["t1"], "customer_id": ["A1"],
                                        "opened_ts": [pd.Timestamp("2024-03-01")]}))  # fmt: skip
    assert ws.resolved("core.fct_tickets") == "resolved.fct_tickets"
    assert ws.read(ws.resolved("core.fct_tickets"))["customer_id"].tolist() == ["C1"]


def test_without_a_resolve_every_name_reads_the_core_table(two_sources):
    ws = two_sources
    assert ws.resolved("core.fct_order_lines") == "core.fct_order_lines"
    assert ws.resolved("marts.customer_rfm") == "marts.customer_rfm"
    assert not ws.has_table("resolved.fct_order_lines")
