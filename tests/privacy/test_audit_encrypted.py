"""The REST API's log in an encrypted workspace: route templates and keyed pseudonyms only (a
byte scan of ``audit/`` finds no customer value), "was customer X read?" answered with the
key, both logs hash-chained and checked by ``crmine privacy audit --verify``."""

from __future__ import annotations

import json

import pytest

KEY = "test-audit-encryption-key-7"
CUSTOMERS = ("customer_id,name,email,city\n"
             "C7001,Zed Quux,zed.audit@example.com,Quuxville\n"
             "C7002,Amy Roe,amy.audit@example.com,Roeburgh\n")  # fmt: skip
ORDERS = ("order_id,customer_id,order_ts,product_id,quantity,unit_price\n"
          "1,C7001,2024-01-01 10:00:00,P1,1,10\n2,C7002,2024-01-02 10:00:00,P1,2,10\n")
# what the requests below name: none of it may reach a file of the workspace in plaintext
VALUES = ("C7001", "C7002", "zed.audit", "amy.audit", "Zed Quux", "Quuxville", "Roeburgh")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An encrypted workspace after the API served: an analyst read C7001 twice and C7002
    once, a viewer C7001 once; customer lists filtered by city, a mistyped path naming C7001
    and a filtered export."""
    from fastapi.testclient import TestClient

    from crmine.api import add_user, create_app
    from crmine.privacy import encrypt_workspace
    from crmine.warehouse import Workspace, ingest

    mp = pytest.MonkeyPatch()
    mp.setenv("CRMINE_ENCRYPTION_KEY", KEY)
    folder = tmp_path_factory.mktemp("audit_enc")
    (folder / "customers.csv").write_text(CUSTOMERS)
    (folder / "orders.csv").write_text(ORDERS)
    root = folder / "ws"
    with Workspace.init(root) as ws:
        ingest(ws, "customers", folder / "customers.csv")
        ingest(ws, "orders", folder / "orders.csv")
        encrypt_workspace(ws)
        _, analyst = add_user(ws, "ana", "analyst")
        _, viewer = add_user(ws, "vic", "viewer")
    (folder / "customers.csv").unlink()
    (folder / "orders.csv").unlink()
    app = create_app(root)
    client = TestClient(app)

    def get(token: str, path: str) -> int:
        return client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code

    try:
        for token, cid in ((analyst, "C7001"), (analyst, "C7001"), (viewer, "C7001"),
                           (analyst, "C7002")):  # fmt: skip
            assert get(token, f"/api/v1/customers/{cid}") == 200
        assert get(analyst, "/api/v1/customers?where=city=Quuxville") == 200
        assert get(analyst, "/api/v1/cube/export?where=city=Roeburgh,Quuxville") == 200
        assert get(viewer, "/api/v1/customerz/C7001") == 404  # matches no route
    finally:
        app.state.crmine.close()
    yield root
    mp.undo()


def _audit_bytes(root) -> bytes:
    files = sorted(p for p in (root / "audit").rglob("*") if p.is_file())
    assert files
    return b"".join(p.read_bytes() for p in files)


def _invoke(*args: str):
    from typer.testing import CliRunner

    from crmine.cli import app

    return CliRunner().invoke(app, list(args))


def test_api_log_holds_routes_and_pseudonyms_only(served, monkeypatch):
    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", KEY)
    assert _invoke("privacy", "audit", "-w", str(served), "--json").exit_code == 0  # chained
    raw = _audit_bytes(served)
    for value in VALUES:
        for encoding in ("utf-8", "utf-16-le"):
            assert value.encode(encoding) not in raw, value
    lines = [json.loads(x) for x in (served / "audit" / "api.jsonl").read_text().splitlines()]
    paths = [line["path"] for line in lines]
    assert paths.count("/api/v1/customers/{customer_id}") == 4
    assert "/api/v1/cube/export" in paths and "/api/v1/customers" in paths
    assert sum(p.startswith("s") for p in paths) == 1  # the mistyped path: its pseudonym
    export = next(line for line in lines if line["operation"] == "cube_export")
    detail = json.loads(export["detail"])
    assert detail["rows"] == 2 and detail["where"][0].startswith("city=s")  # what, not which
    # the customer read has the same name in every line reading them, another for another
    reads = [json.loads(line["detail"])["subjects"] for line in lines
             if line["operation"] == "customer_get"]
    assert reads[0] == reads[1] == reads[2] != reads[3]


def test_with_the_key_an_admin_finds_who_read_a_customer(served, monkeypatch):
    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", KEY)
    got = _invoke("privacy", "audit", "--api", "--customer", "C7001", "-w", str(served), "--json")
    assert got.exit_code == 0, got.output
    assert [r["user_name"] for r in json.loads(got.output)] == ["ana", "ana", "vic"]
    got = _invoke("privacy", "audit", "--customer", "C7002", "-w", str(served), "--json")
    assert [e["detail"]["user"] for e in json.loads(got.output)] == ["ana"]  # the chained trail
    nobody = _invoke("privacy", "audit", "--api", "--customer", "C9999", "-w", str(served),
                     "--json")  # fmt: skip
    assert json.loads(nobody.output) == []
    from crmine.privacy import subject_access
    from crmine.warehouse import Workspace

    with Workspace.open(served, read_only=True) as ws:
        assert [r["user"] for r in subject_access(ws, ["C7001"])["api_reads"]] == \
            ["ana", "ana", "vic"]


def test_verify_detects_an_edited_api_line(served, monkeypatch, tmp_path):
    import shutil

    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", KEY)
    root = tmp_path / "ws"
    shutil.copytree(served, root)
    assert _invoke("privacy", "audit", "--verify", "-w", str(root)).exit_code == 0
    path = root / "audit" / "api.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    n = next(i for i, line in enumerate(lines) if '"vic"' in line)
    lines[n] = lines[n].replace('"vic"', '"someone-else"')  # hide who read the record
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = _invoke("privacy", "audit", "--verify", "-w", str(root), "--json")
    assert got.exit_code == 1
    report = json.loads(got.output)
    assert report["logs"]["api"]["broken_at"] == n + 1 and report["logs"]["privacy"]["ok"]
