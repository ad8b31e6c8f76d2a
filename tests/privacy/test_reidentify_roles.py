"""Re-identification is gated by role, not only by holding the key: once a workspace has
users only admin and analyst turn pseudonyms back into ids, and every attempt is audited."""

from __future__ import annotations

import json

import pytest

from tests.warehouse.test_ingest import ORDERS_CSV

KEY = "analysis-pseudonym-key-0123"


@pytest.fixture
def with_users(workspace, tmp_path, monkeypatch):
    """A pseudonymised RFM mart in a workspace with one user of each role: (ws, tokens)."""
    from crmine.api import add_user
    from crmine.features import build_customer_rfm
    from crmine.warehouse import ingest

    (tmp_path / "orders.csv").write_text(ORDERS_CSV)
    ingest(workspace, "orders", tmp_path / "orders.csv")
    workspace.config.extra["privacy"] = {"pseudonymise_analyses": True}
    workspace.save_config()
    monkeypatch.setenv("CRMINE_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("CRMINE_API_TOKEN", raising=False)
    build_customer_rfm(workspace)
    tokens = {role: add_user(workspace, f"u-{role}", role)[1]
              for role in ("viewer", "marketer", "analyst", "admin")}
    return workspace, tokens


def _ids(ws) -> set[str]:
    return {r[0] for r in ws.duck.execute(
        "SELECT DISTINCT customer_id FROM core.fct_order_lines WHERE customer_id IS NOT NULL"
    ).fetchall()}  # fmt: skip


def test_only_admin_and_analyst_reidentify_and_every_attempt_is_audited(with_users):
    from crmine.privacy import audit_entries, reidentify
    from crmine.privacy._reidentify import ReidentifyRefused, user_of_token

    ws, tokens = with_users
    mart = ws.read("marts.customer_rfm")
    for role in ("viewer", "marketer"):
        with pytest.raises(ReidentifyRefused, match=rf"u-{role}.*only admin and analyst"):
            reidentify(ws, mart, user=user_of_token(ws, tokens[role]), table="marts.customer_rfm")
    with pytest.raises(ReidentifyRefused, match=r"has users.*--token"):
        reidentify(ws, mart)  # holding the key is not enough once there are users
    for role in ("analyst", "admin"):
        back = reidentify(ws, mart, user=user_of_token(ws, tokens[role]), table="marts.x")
        assert set(back["customer_id"]) == _ids(ws)
    with pytest.raises(ReidentifyRefused, match="unknown or revoked"):
        user_of_token(ws, tokens["admin"][:-3] + "xyz")
    lines = [e for e in audit_entries(ws) if e["action"].startswith("reidentify")]
    assert [(e["action"], e["detail"].get("role")) for e in lines] == [
        ("reidentify_refused", "viewer"), ("reidentify_refused", "marketer"),
        ("reidentify_refused", None), ("reidentify", "analyst"), ("reidentify", "admin")]
    assert lines[3]["detail"]["rows"] == len(mart) and lines[3]["detail"]["unmatched"] == 0
    text = (ws.root / "audit" / "privacy.jsonl").read_text()
    assert not any(i in text for i in _ids(ws))  # counts and who, never an id


def test_command_needs_an_allowed_token(with_users, tmp_path):
    from typer.testing import CliRunner

    from crmine.cli import app

    ws, tokens = with_users
    ids = _ids(ws)
    ws.close()
    runner = CliRunner()
    out = tmp_path / "list.csv"
    base = ["privacy", "reidentify", "marts.customer_rfm", "-o", str(out), "-w", str(ws.root),
            "--json"]  # fmt: skip
    refused = runner.invoke(app, [*base, "--token", tokens["marketer"]])
    assert refused.exit_code == 2 and "only admin and analyst" in refused.output
    assert runner.invoke(app, base).exit_code == 2  # no token where users exist
    assert not out.exists()  # nothing written when refused
    allowed = runner.invoke(app, base, env={"CRMINE_API_TOKEN": tokens["analyst"]})
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["unmatched"] == 0
    assert {line.split(",")[0] for line in out.read_text().splitlines()[1:]} == ids
