"""The pipeline on a workspace holding only customers and orders: what can run runs, the
rest is skipped with what to load — nothing fails."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from crmine.cli import app
from crmine.demo import generate
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
