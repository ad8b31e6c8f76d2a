"""The REST API's reads of personal data in the privacy audit trail: chained, naming the
person by a keyed pseudonym only, found again by their id, and tamper-evident."""

from __future__ import annotations

import json

import pytest

CUSTOMERS = ("customer_id,name,email\n"
             "C7001,Zed Quux,zed.audit@example.com\nC7002,Amy Roe,amy.audit@example.com\n")
ORDERS = ("order_id,customer_id,order_ts,product_id,quantity,unit_price\n"
          "1,C7001,2024-01-01 10:00:00,P1,1,10\n2,C7002,2024-01-02 10:00:00,P1,2,10\n")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A small workspace after the API served: an analyst read C7001 twice, a viewer once,
    C7002 once; the list of customers once."""
    from fastapi.testclient import TestClient

    from crmine.api import add_user, create_app
    from crmine.warehouse import Workspace, ingest

    folder = tmp_path_factory.mktemp("audit_api")
    (folder / "customers.csv").write_text(CUSTOMERS)
    (folder / "orders.csv").write_text(ORDERS)
    root = folder / "ws"
    with Workspace.init(root) as ws:
        ingest(ws, "customers", folder / "customers.csv")
        ingest(ws, "orders", folder / "orders.csv")
        _, analyst = add_user(ws, "ana", "analyst")
        _, viewer = add_user(ws, "vic", "viewer")
    app = create_app(root)
    client = TestClient(app)
    try:
        for token, path in ((analyst, "C7001"), (analyst, "C7001"), (viewer, "C7001"),
                            (analyst, "C7002")):  # fmt: skip
            got = client.get(f"/api/v1/customers/{path}",
                             headers={"Authorization": f"Bearer {token}"})
            assert got.status_code == 200, got.text
        assert client.get("/api/v1/customers",
                          headers={"Authorization": f"Bearer {analyst}"}).status_code == 200
        assert client.get("/api/v1/me",  # not personal data: not in the privacy trail
                          headers={"Authorization": f"Bearer {viewer}"}).status_code == 200
    finally:
        app.state.crmine.close()
    return root


def _chain(root):
    return (root / "audit" / "privacy.jsonl").read_text(encoding="utf-8")


def test_api_reads_are_chained_with_pseudonyms_only(served):
    from crmine.privacy import audit_entries, verify
    from crmine.privacy._audit import catch_up, entries_about
    from crmine.warehouse import Workspace

    with Workspace.open(served) as ws:
        added = catch_up(ws)
        assert catch_up(ws) == 0  # each read is chained once
        reads = [e for e in audit_entries(ws) if e["action"] == "api_read"]
        assert [e["detail"]["operation"] for e in reads] == ["customer_get"] * 4 + \
            ["customers_search"]
        assert added >= 5 and verify(ws).ok
        about = entries_about(ws, "C7001")
        assert [(e["detail"]["user"], e["detail"]["personal_data_visible"]) for e in about] == \
            [("ana", True), ("ana", True), ("vic", False)]
        assert [e["detail"]["user"] for e in entries_about(ws, "C7002")] == ["ana"]
        assert entries_about(ws, "C9999") == []
        from crmine.privacy import subject_access

        document = subject_access(ws, ["C7001"])  # a subject access request shows who read
        assert [r["user"] for r in document["api_reads"]] == ["ana", "ana", "vic"]
    text = _chain(served)
    for value in ("C7001", "C7002", "zed.audit", "Zed Quux"):
        assert value not in text  # the trail outlives an erasure: it names no one


def test_cli_lists_a_persons_reads_and_verify_detects_an_edited_line(served):
    from typer.testing import CliRunner

    from crmine.cli import app

    runner = CliRunner()
    got = runner.invoke(app, ["privacy", "audit", "--customer", "C7001", "-w", str(served),
                              "--json"])  # fmt: skip
    assert got.exit_code == 0, got.output
    assert [e["detail"]["user"] for e in json.loads(got.output)] == ["ana", "ana", "vic"]
    assert runner.invoke(app, ["privacy", "audit", "--verify", "-w", str(served)]).exit_code == 0
    path = served / "audit" / "privacy.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    n = next(i for i, line in enumerate(lines) if '"vic"' in line)
    lines[n] = lines[n].replace('"vic"', '"someone-else"')  # hide who read the record
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = runner.invoke(app, ["privacy", "audit", "--verify", "-w", str(served), "--json"])
    assert got.exit_code == 1
    assert json.loads(got.output)["broken_at"] == n + 1
