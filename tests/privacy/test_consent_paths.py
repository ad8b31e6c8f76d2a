"""Every path that writes a list of customers to contact or an export leaves out the demo's
planted opt-outs (``customers.marketing_opt_out``, about 5 %) and says how many: commands
running one analysis alone, the cube's list and export (CLI and API), the pseudonymised
export."""

from __future__ import annotations

import io
import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from crmine.cli import app

pytestmark = pytest.mark.slow  # two analyses and a server on a copy of the demo: ~20 s


@pytest.fixture(scope="module")
def demo_copy(demo_workspace, tmp_path_factory):
    """A copy of the session's demo and its opted-out customers' ids."""
    demo_workspace.duck.execute("CHECKPOINT")
    root = tmp_path_factory.mktemp("consent") / "ws"
    shutil.copytree(demo_workspace.root, root)
    out = {str(r[0]) for r in demo_workspace.duck.execute(
        "SELECT customer_id FROM core.dim_customer WHERE is_current AND marketing_opt_out"
    ).fetchall()}  # fmt: skip
    assert 70 <= len(out) <= 130
    return root, out


def _invoke(*args: str, env: dict[str, str] | None = None) -> dict:
    got = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert got.exit_code == 0, got.output
    return json.loads(got.stdout)


def _listed(root, table: str) -> set[str]:
    from crmine.warehouse import Workspace

    with Workspace.open(root, read_only=True) as ws:
        return {str(r[0]) for r in ws.duck.execute(f"SELECT customer_id FROM {table}").fetchall()}


def test_commands_running_one_analysis_leave_opted_out_customers_off(demo_copy, tmp_path):
    root, out = demo_copy
    basket = _invoke("basket", "recommend", "-w", str(root))
    assert basket["consent_excluded"]["basket_recommendations"] > 0
    assert not {r["customer_id"] for r in basket["recommendations"]} & out  # nor shown
    response = _invoke("response", "train", "-w", str(root))
    for table in ("marts.basket_recommendations", "marts.basket_offers",
                  "marts.response_targets"):  # fmt: skip
        listed = _listed(root, table)
        assert listed and not listed & out, table
    # the targets were ranked among every customer: some who opted out had to be removed
    assert response["consent_excluded"]["response_targets"] > 0
    # the scores exported, and the target list cut from them, among those who may be contacted
    scored = _invoke("response", "score", "-w", str(root), "--out", str(tmp_path / "s.csv"))
    ids = set(pd.read_csv(tmp_path / "s.csv")["customer_id"].astype(str))
    assert not ids & out and scored["consent_excluded"] == len(out)
    targets = _invoke("response", "score", "-w", str(root), "--cost-per-contact", "1",
                      "--margin", "20", "--out", str(tmp_path / "t.csv"))  # fmt: skip
    assert targets["rows"] and targets["consent_excluded"] == len(out)
    assert not set(pd.read_csv(tmp_path / "t.csv")["customer_id"].astype(str)) & out


def test_lifecycle_commands_count_who_they_left_out(demo_copy):
    root, out = demo_copy
    health = _invoke("lifecycle", "health", "-w", str(root))
    assert health["verdict"]["status"] != "not_informative"  # else the lists are empty
    excluded = health["consent_excluded"]
    assert set(excluded) == {"lifecycle_health", "lifecycle_at_risk"}
    assert excluded["lifecycle_health"] > 0 and excluded["lifecycle_at_risk"] > 0
    shown = {r["customer_id"] for r in health["at_risk_list"]}
    assert shown == _listed(root, "marts.lifecycle_at_risk") and not shown & out
    assert health["at_risk"] == len(shown)
    assert not _listed(root, "marts.lifecycle_health") & out
    stages = _invoke("lifecycle", "stages", "-w", str(root))
    assert stages["consent_excluded"] == excluded  # the same run, the same lists


def test_cube_list_and_export_leave_them_off_and_count_them(demo_copy, tmp_path):
    root, out = demo_copy
    women = _invoke("cube", "--where", "gender=F", "-w", str(root))["count"]
    exported = _invoke("cube", "--where", "gender=F", "--export", str(tmp_path / "f.csv"),
                       "-w", str(root))  # fmt: skip
    ids = set(pd.read_csv(tmp_path / "f.csv")["customer_id"].astype(str))
    assert not ids & out and exported["consent_excluded"] > 0
    assert len(ids) + exported["consent_excluded"] == women
    listed = _invoke("cube", "--where", "gender=F", "--list", "--page-size", "10000",
                     "-w", str(root))  # fmt: skip
    assert {c["customer_id"] for c in listed["customers"]} == ids


def test_pseudonymised_export_leaves_them_off(demo_copy, tmp_path):
    root, out = demo_copy
    env = {"CRMINE_PSEUDONYM_KEY": "consent-export-key-0123"}
    got = _invoke("export", "marts.customer_rfm", "--pseudonymise", "-o",
                  str(tmp_path / "rfm.csv"), "-w", str(root), env=env)  # fmt: skip
    assert got["opted_out"] == len(out)  # the mart has no consent column: the warehouse's


def test_api_export_and_segment_lists_leave_them_off(demo_copy):
    from fastapi.testclient import TestClient

    from crmine.api import add_user, create_app
    from crmine.warehouse import Workspace

    root, out = demo_copy
    with Workspace.open(root) as ws:
        _, token = add_user(ws, "mia", "marketer")
    app_ = create_app(root)
    try:
        client = TestClient(app_)
        h = {"Authorization": f"Bearer {token}"}
        got = client.get("/api/v1/cube/export?where=gender=F", headers=h)
        assert got.status_code == 200
        ids = set(pd.read_csv(io.StringIO(got.text))["customer_id"].astype(str))
        assert ids and not ids & out and int(got.headers["X-Consent-Excluded"]) > 0
        page = client.get("/api/v1/cube/list?page_size=500", headers=h).json()
        assert page["count"] + page["consent_excluded"] == 2000
        assert not {c["customer_id"] for c in page["customers"]} & out
    finally:
        app_.state.crmine.close()
