"""The pipeline on a workspace holding only customers and orders: what can run runs, the
rest is skipped with what to load — nothing fails."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from crmine.cli import app
from crmine.demo import generate
from crmine.pipeline import run_pipeline
from crmine.warehouse import Workspace, ingest


def test_orders_only_workspace_runs_or_skips_every_step(tmp_path):
    company = generate(n_customers=600, seed=5)
    with Workspace.init(tmp_path / "shop") as ws:
        for entity in ("customers", "products", "orders"):
            ingest(ws, entity, company.tables[entity])
    result = CliRunner().invoke(app, ["run", "-w", str(tmp_path / "shop"), "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    steps = {s["step"]: s for s in json.loads(result.stdout)["steps"]}
    assert all(s["ok"] for s in steps.values()), {k: s["error"] for k, s in steps.items()}
    assert steps["marketing"]["skipped"].startswith("needs core.fct_events or ")
    assert "crmine ingest campaign_assignments FILE" in steps["response"]["skipped"]
    for name in ("segment", "clv"):
        assert steps[name]["skipped"] is None and steps[name]["summary"]
    with Workspace.open(tmp_path / "shop", read_only=True) as ws:
        scores = ws.read("marts.customer_scores")
        assert {"p_alive", "cluster"} <= set(scores.columns)


def test_orders_without_products_skip_cross_sell(tmp_path):
    """CDNOW-like orders (customer, date, amount; no product): cross-sell is skipped with
    what to load, not failed; the rest runs."""
    rng = np.random.default_rng(2)
    n = 3000
    frame = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": [f"c{i}" for i in rng.integers(0, 400, n)],
            "order_ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 360, n), "D"),
            "amount": rng.gamma(2.0, 20.0, n).round(2),
        }
    )
    with Workspace.init(tmp_path / "cd") as ws:
        ingest(ws, "orders", frame)
        results = {r.name: r for r in run_pipeline(ws)}
    basket = results["basket"]
    assert basket.ok and basket.skipped == (
        "needs core.fct_order_lines.product_id: load it with `crmine ingest orders FILE` "
        "with a column mapped to product_id"
    )
    assert results["clv"].ok and results["clv"].skipped is None


def test_a_step_with_nothing_to_do_is_skipped(tmp_path):
    with Workspace.init(tmp_path / "empty") as ws:
        features, drift = run_pipeline(ws, only=["drift"], strict=True)
    assert features.skipped.startswith("needs core.fct_order_lines.customer_id")
    assert drift.ok and drift.skipped == "no saved models yet (the analyses below fit them)"
