"""Verdicts end to end: on a company without signal the analyses that would drive action say
they have nothing to tell and write nothing to act on; on the demo (planted signal) every
analysis that fits something is informative."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from crmine.cli import app
from crmine.contract import declared_marts, read_verdicts
from crmine.warehouse import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def no_signal(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nosignal") / "flat"
    result = CliRunner().invoke(app, ["demo", str(folder), "--customers", "3000", "--seed", "4",
                                      "--no-signal", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    return folder, {s["step"]: s for s in json.loads(result.stdout)["steps"]}


@pytest.mark.parametrize("name", ["churn", "response", "basket"])
def test_no_signal_analyses_are_not_informative(no_signal, name):
    _folder, steps = no_signal
    step = steps[name]
    assert step["ok"] and step["skipped"] is None, step["error"]
    verdict = step["verdict"]
    assert verdict["status"] == "not_informative", verdict
    assert verdict["why"] and verdict["what_to_try"]
    assert set(verdict) >= {"status", "metric", "value", "baseline", "interval", "why",
                            "what_to_try"}  # fmt: skip


def test_no_signal_uplift_is_not_informative(no_signal):
    _folder, steps = no_signal
    verdict = steps["response"]["verdict"]
    uplift = [c for c in [verdict, *verdict.get("checks", [])] if "qini" in c["metric"].lower()]
    assert uplift and all(c["status"] == "not_informative" for c in uplift), verdict


def test_no_signal_writes_nothing_to_act_on(no_signal):
    folder, _steps = no_signal
    with Workspace.open(folder, read_only=True) as ws:
        verdicts = read_verdicts(ws).set_index("analysis")["status"]
        for table, (owner, mart) in declared_marts().items():
            if owner is None or not mart.actionable or not ws.has_table(table):
                continue
            if verdicts.get(owner.name) == "not_informative":
                n = ws.duck.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                assert n == 0, f"{table} holds {n} rows although {owner.name} is not informative"
        report = (folder / "reports" / "index.html").read_text(encoding="utf-8")
        assert "Not informative" in report and "What the analyses can tell" in report
