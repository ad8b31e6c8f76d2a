"""The command line through Typer's runner: JSON on every command, clear errors, exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from crmine.cli import app
from tests.warehouse.test_ingest import ORDERS_CSV

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_init_ingest_rfm_quality_check_tables_report_as_json(tmp_path):
    ws = tmp_path / "ws"
    code, out, _ = run("init", str(ws), "--json")
    assert code == 0 and json.loads(out)["warehouse"].endswith("warehouse.duckdb")
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS_CSV + "1005,C2,not-a-date,P1,1,10.0\n")
    code, out, _ = run("ingest", "orders", str(orders), "-w", str(ws), "--json")
    load = json.loads(out)
    assert code == 0
    assert (load["rows_read"], load["rows_staged"], load["rows_quarantined"]) == (6, 5, 1)
    assert load["rejects_by_reason"] == {"unparseable date": 1}

    code, out, _ = run("rfm", "-w", str(ws), "--json", "--end", "2024-01-31")
    assert code == 0 and json.loads(out)["customers"] == 2

    code, out, _ = run("quality", "-w", str(ws), "--json")
    quality = json.loads(out)
    assert code == 0
    assert {"tables", "columns", "rejects", "loads", "checks"} <= set(quality)
    assert quality["rejects"][0]["reason"] == "unparseable date"

    code, out, _ = run("check", "-w", str(ws), "--json")
    assert code == 0 and json.loads(out)["failed"] == 0

    code, out, _ = run("tables", "-w", str(ws), "--json")
    tables = {t["table"]: t["rows"] for t in json.loads(out)}
    assert tables["core.fct_order_lines"] == 5 and tables["quarantine.rejects"] == 1

    code, out, _ = run("report", "-w", str(ws), "--json")
    report = json.loads(out)
    assert code == 0 and report["report"].endswith("reports/index.html")
    html = (ws / "reports" / "index.html").read_text()
    assert "Data overview" in html and "Data quality" in html and "Plotly" in html


def test_mapping_on_the_command_line_and_saved(tmp_path):
    ws = tmp_path / "ws"
    run("init", str(ws))
    src = tmp_path / "sales.csv"
    src.write_text("Beleg,Kunde,Datum,Betrag\nB1,K1,2024-05-01,12.5\nB2,K2,2024-05-02,7\n")
    code, out, err = run("ingest", "orders", str(src), "-w", str(ws), "--json")
    assert code == 2
    assert json.loads(out)["error"]["type"] == "IngestError"
    assert "Columns found: Beleg, Kunde, Datum, Betrag" in " ".join(err.split())
    code, out, _ = run(
        "ingest",
        "orders",
        str(src),
        "-w",
        str(ws),
        "--json",
        "--save-mapping",
        "--map",
        "Beleg=order_id",
        "--map",
        "Kunde=customer_id",
        "--map",
        "Datum=order_ts",
        "--map",
        "Betrag=amount",
    )
    assert code == 0 and json.loads(out)["rows_staged"] == 2
    assert 'Beleg = "order_id"' in (ws / "crmine.toml").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ingest", "orders", "{tmp}/nope.csv"), "does not exist"),
        (("ingest", "widgets", "{tmp}/orders.csv"), "unknown entity 'widgets'"),
        (
            ("ingest", "orders", "{tmp}/orders.csv", "--map", "oops"),
            "SOURCE_COLUMN=canonical_column",
        ),
        (("quality", "-w", "{tmp}/not-a-workspace"), "not a crmine workspace"),
        (("rfm",), "core.fct_order_lines does not exist"),
    ],
)
def test_bad_input_gives_clear_error_exit_2_and_writes_nothing(
    tmp_path, monkeypatch, args, message
):
    ws = tmp_path / "ws"
    run("init", str(ws))
    (tmp_path / "orders.csv").write_text(ORDERS_CSV)
    argv = [a.format(tmp=tmp_path) for a in args]
    if "-w" not in argv:
        argv += ["-w", str(ws)]
    code, out, err = run(*argv, "--json")
    assert code == 2, (out, err)
    payload = json.loads(out)
    assert set(payload) == {"error"} and set(payload["error"]) == {"type", "message"}
    assert message in " ".join(err.split())
    from crmine.warehouse import Workspace

    with Workspace.open(ws) as w:
        assert w.tables("core") == [] and w.tables("raw") == []


def test_help_lists_every_command():
    code, out, _ = run("--help")
    assert code == 0
    for command in ("init", "ingest", "quality", "check", "tables", "rfm", "report", "demo", "run"):
        assert command in out


def test_demo_refuses_to_overwrite_a_real_workspace(tmp_path):
    ws = tmp_path / "real"
    run("init", str(ws))
    (tmp_path / "orders.csv").write_text(ORDERS_CSV)
    run("ingest", "orders", str(tmp_path / "orders.csv"), "-w", str(ws))
    for where in ([str(ws)], ["--workspace", str(ws)]):
        code, out, _ = run("demo", *where, "--customers", "200", "--json")
        assert code == 2
        assert "not a demo" in json.loads(out)["error"]["message"]
    from crmine.warehouse import Workspace

    with Workspace.open(ws, read_only=True) as w:
        assert w.read("core.fct_order_lines").shape[0] == 5


def test_crmine_warnings_are_one_line_notes(capsys):
    from crmine.cli._app import _show_warning
    from crmine.exceptions import CrmineWarning

    _show_warning(CrmineWarning("golden customers: " + "x" * 120), CrmineWarning, "f.py", 3)
    err = capsys.readouterr().err
    assert err.startswith("note: golden customers:") and err.count("\n") == 1
    assert "f.py" not in err


def test_ingest_date_range_flags_quarantine_dates_outside_it(tmp_path):
    ws = tmp_path / "ws"
    run("init", str(ws), "--json")
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS_CSV)
    code, out, _ = run("ingest", "orders", str(orders), "-w", str(ws), "--json",
                       "--min-date", "2024-01-06", "--max-date", "2024-01-08")  # fmt: skip
    load = json.loads(out)
    # the two lines of 01-05 before the range, the one of 01-09 after it (01-08 is in)
    assert code == 0 and load["rejects_by_reason"] == {"implausible date": 3}, load
    assert load["rows_staged"] + load["rows_quarantined"] == load["rows_read"]
    code, out, _ = run("ingest", "orders", str(orders), "-w", str(ws), "--json",
                       "--max-date", "soon")  # fmt: skip
    assert code == 2 and "not a date" in json.loads(out)["error"]["message"]
