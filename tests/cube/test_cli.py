"""``crmine cube`` on the terminal: fits 80 columns, grouped digits, a light process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from crmine.cli import app
from crmine.segment import run_segment
from crmine.warehouse import Workspace
from tests.segment._synth import load_company, simple_rfm


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("cube_cli") / "ws"
    ws = Workspace.init(root)
    load_company(ws, 300, seed=7)
    simple_rfm(ws)
    run_segment(ws)
    ws.close()
    return root


def _run(folder, *args: str, columns: int = 80):
    res = CliRunner().invoke(app, ["cube", *args, "--workspace", str(folder)],
                             env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.output
    return res.stdout


def test_list_fits_80_columns_with_the_key_columns(folder):
    out = _run(folder, "--where", "gender=F", "--list", "--page-size", "8")
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    header = next(line for line in lines if "customer_id" in line)
    for col in ("customer_id", "segment", "value_tier"):
        assert col in header
    assert "gender" not in header.split()  # not every column: they would be empty slivers
    listed = json.loads(CliRunner().invoke(app, [
        "cube", "--where", "gender=F", "--list", "--page-size", "8", "--json",
        "--workspace", str(folder)]).stdout)["customers"]
    for row in listed:  # every key cell printed whole
        assert row["customer_id"] in out and row["value_tier"] in out
    assert re.search(r"\d+ more columns not shown \(.*gender", out.replace("\n", " "))


def test_list_uses_a_wide_terminal_and_chosen_columns(folder):
    wide = _run(folder, "--list", "--page-size", "3", columns=250)
    narrow = _run(folder, "--list", "--page-size", "3", columns=80)
    header = next(line for line in wide.splitlines() if "customer_id" in line)
    assert len(header.split("┃")) > len(next(
        line for line in narrow.splitlines() if "customer_id" in line).split("┃"))
    chosen = _run(folder, "--list", "--page-size", "3", "--column", "city", "--column", "age")
    header = next(line for line in chosen.splitlines() if "customer_id" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == ["customer_id", "city", "age"]
    assert "not shown" not in chosen


def test_counts_and_money_print_grouped_digits(folder):
    out = _run(folder, "--by", "value_tier")
    assert "e+" not in out
    with Workspace.open(folder) as ws:
        total = float(ws.read("marts.customer_rfm")["total_spend"].sum())
    assert total > 10_000
    assert re.search(r"\d{1,3},\d{3}", out), out
    assert f"{300:,} customers" in _run(folder)


def test_a_cube_count_imports_neither_pandas_nor_the_analyses(folder):
    code = ("import sys\nfrom crmine.cli import main\n"
            f"sys.argv = ['crmine', 'cube', '-w', {str(folder)!r}, '--where', 'gender=F', "
            "'--json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('pandas', 'numpy', 'ibis', 'sklearn', 'pyarrow', 'scipy') "
            "if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)\n")
    env = {**os.environ, "CRMINE_PROGRESS": "0"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    assert json.loads(done.stdout)["count"] > 0
    assert "HEAVY []" in done.stderr, done.stderr
