"""Tokens: made once, kept hashed with argon2, revoked at once; the CLI around them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from crmine.cli import app as cli_app
from tests.api.conftest import auth


@pytest.fixture
def small_ws(tmp_path):  # type: ignore[no-untyped-def]
    from crmine.warehouse import Workspace

    Workspace.init(tmp_path / "ws").close()
    return tmp_path / "ws"


def test_cli_add_list_revoke(small_ws):
    runner = CliRunner()
    r = runner.invoke(cli_app, ["users", "add", "ana", "--role", "analyst", "-w",
                                str(small_ws), "--json"])
    assert r.exit_code == 0, r.output
    token = json.loads(r.stdout)["token"]
    assert token.startswith("crm_") and len(token) > 40
    listed = json.loads(runner.invoke(cli_app, ["users", "list", "-w", str(small_ws),
                                                "--json"]).stdout)
    assert [(u["name"], u["role"], u["active"]) for u in listed] == [("ana", "analyst", True)]
    assert token not in json.dumps(listed)
    # the warehouse keeps an argon2 hash, never the token or its secret
    from crmine.warehouse import Workspace

    with Workspace.open(small_ws) as ws:
        stored = ws.duck.execute("SELECT token_hash FROM meta.api_users").fetchone()[0]
        from crmine.api import authenticate

        assert authenticate(ws.duck, token).name == "ana"
        assert authenticate(ws.duck, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert stored.startswith("$argon2id$") and token.split("_", 2)[2] not in stored
    r = runner.invoke(cli_app, ["users", "revoke", "ana", "-w", str(small_ws)])
    assert r.exit_code == 0 and "revoked" in r.stdout
    with Workspace.open(small_ws) as ws:
        assert authenticate(ws.duck, token) is None


def test_cli_errors_are_clear(small_ws):
    runner = CliRunner()
    r = runner.invoke(cli_app, ["users", "add", "bob", "--role", "root", "-w", str(small_ws)])
    assert r.exit_code == 2 and "unknown role 'root'" in r.stderr and "viewer" in r.stderr
    r = runner.invoke(cli_app, ["users", "revoke", "nobody", "-w", str(small_ws)])
    assert r.exit_code == 2 and "no active API user" in r.stderr
    runner.invoke(cli_app, ["users", "add", "bob", "-w", str(small_ws)])
    r = runner.invoke(cli_app, ["users", "add", "bob", "-w", str(small_ws)])
    assert r.exit_code == 2 and "exists and is active" in r.stderr


def test_api_user_management_and_immediate_revocation(client, tokens):
    admin = auth(tokens["admin"])
    made = client.post("/api/v1/users", json={"name": "temp-user", "role": "viewer"},
                       headers=admin)
    assert made.status_code == 201
    token = made.json()["token"]
    assert client.get("/api/v1/me", headers=auth(token)).json()["role"] == "viewer"
    assert client.delete("/api/v1/users/temp-user", headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401
    listed = client.get("/api/v1/users", headers=admin).json()["rows"]
    assert not next(u for u in listed if u["name"] == "temp-user")["active"]
    assert token not in client.get("/api/v1/users", headers=admin).text
