"""``crmine erase`` / ``crmine privacy …`` / ``crmine export``: JSON out, clear errors (exit 2)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from crmine.cli import app
from tests.warehouse.test_ingest import ORDERS_CSV

runner = CliRunner()
CUSTOMERS = ("customer_id,name,email,phone,age,gender,city\n"
             "C1,Ann Lee,ann.lee@example.com,+44 20 7946 0001,34,F,Leeds\n"
             "C2,Bo Wu,bo.wu@example.cn,13812345678,51,M,Wuhan\n")  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _workspace(tmp_path):
    ws = tmp_path / "ws"
    assert run("init", str(ws))[0] == 0
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "orders.csv").write_text(ORDERS_CSV)
    for entity in ("customers", "orders"):
        assert run("ingest", entity, str(tmp_path / f"{entity}.csv"), "-w", str(ws))[0] == 0
    return ws


def test_erase_access_scan_audit_from_the_command_line(tmp_path, monkeypatch):
    ws = _workspace(tmp_path)
    code, out, _ = run("privacy", "access", "--email", "BO.WU@example.cn", "-w", str(ws))
    assert code == 0 and json.loads(out)["person"]["customer_ids"] == ["C2"]
    code, out, _ = run("privacy", "scan", "-w", str(ws), "--json")
    tags = {(r["table"], r["column"]): r["tag"] for r in json.loads(out)}
    assert tags[("core.dim_customer", "email")] == "direct_identifier"
    assert tags[("core.dim_customer", "age")] == "quasi_identifier"
    code, out, _ = run("erase", "--phone", "138 1234 5678", "-w", str(ws), "--json")
    receipt = json.loads(out)
    assert code == 0 and receipt["verified"] and receipt["records"] == 1
    assert "bo.wu" not in out.lower()
    raw = b"".join(p.read_bytes() for p in ws.rglob("*") if p.is_file())
    assert b"bo.wu@example.cn" not in raw and b"C2," not in raw
    code, out, _ = run("privacy", "audit", "--verify", "-w", str(ws), "--json")
    assert code == 0 and json.loads(out)["ok"]
    monkeypatch.setenv("CRMINE_PSEUDONYM_KEY", "a-long-enough-secret-key")
    code, out, _ = run(
        "export",
        "core.dim_customer",
        "--pseudonymise",
        "--quasi",
        "age",
        "--k",
        "1",
        "-o",
        str(tmp_path / "share.csv"),
        "-w",
        str(ws),
        "--json",
    )
    assert code == 0 and json.loads(out)["rows"] == 1
    assert "ann.lee" not in (tmp_path / "share.csv").read_text()


def test_errors_are_clear_and_exit_2(tmp_path, monkeypatch):
    ws = _workspace(tmp_path)
    code, _, err = run("erase", "--email", "nobody@example.org", "-w", str(ws))
    assert code == 2 and "no customer in core.dim_customer has email" in err
    code, _, err = run("erase", "-w", str(ws))
    assert code == 2 and "name at least one customer" in err
    monkeypatch.delenv("CRMINE_PSEUDONYM_KEY", raising=False)
    code, _, err = run("export", "core.dim_customer", "--pseudonymise", "-o",
                       str(tmp_path / "x.csv"), "-w", str(ws))  # fmt: skip
    assert code == 2 and "CRMINE_PSEUDONYM_KEY" in err
    assert not (tmp_path / "x.csv").exists()
    code, _, err = run("export", "core.dim_customer", "-o", str(tmp_path / "x.csv"),
                       "-w", str(ws))  # fmt: skip
    assert code == 2 and "--pseudonymise" in err
