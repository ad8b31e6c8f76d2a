"""Issue 5's demo check at the demo's default size (10,000 customers): every planted churn
driver is among the top drivers the pipeline finds, and the non-drivers are not.

At 2,000 customers (the shared fixture) complaints are too rare for their effect to be
ranked reliably, so this runs on its own, larger company."""

from __future__ import annotations

import pytest

from crmine.churn import run_churn
from crmine.demo._workspace import build_demo_workspace


@pytest.mark.slow
def test_planted_churn_drivers_lead_the_drivers_found(tmp_path):
    ws, _ = build_demo_workspace(tmp_path / "demo10k", n_customers=10_000, seed=0)
    with ws:
        run_churn(ws)
        truth = ws.read("truth.churn_drivers")
        found = ws.read("marts.churn_drivers")["feature"].tolist()
    planted = set(truth.loc[truth["direction"] != 0, "feature"])
    non_drivers = set(truth.loc[truth["direction"] == 0, "feature"])
    assert planted == {"contract_type", "n_complaints", "monthly_charge", "tenure_months"}
    top = set(found[:6])
    assert planted <= top, found[:8]
    assert not non_drivers & top
