"""Runs are all-or-nothing: an interrupted or killed run leaves the previous complete run's
marts and model pointers as they were; the report names the run it shows."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from crmine.contract import _analysis
from crmine.demo import generate
from crmine.pipeline import run_pipeline
from crmine.warehouse import Workspace, ingest, last_run

pytestmark = pytest.mark.slow


def _snapshot(ws: Workspace) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    marts = {t: ws.read(f"marts.{t}").drop(columns=["scored_at"], errors="ignore")
             for (t,) in ws.duck.execute("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = 'marts'").fetchall()}  # fmt: skip
    pointers = {p.parent.name: p.read_text() for p in ws.models_dir.glob("*/latest")}
    return marts, pointers


def _same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_like=True, obj=name)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A shop with customers and orders, one complete run done."""
    root = tmp_path_factory.mktemp("runs") / "shop"
    company = generate(n_customers=500, seed=8)
    with Workspace.init(root) as ws:
        for entity in ("customers", "products", "orders"):
            ingest(ws, entity, company.tables[entity])
        results = run_pipeline(ws)
    assert all(r.ok for r in results), {r.name: r.error for r in results}
    return root


def test_a_complete_run_is_recorded_and_named_in_the_report(shop):
    from crmine.report import build_report

    with Workspace.open(shop) as ws:
        run = last_run(ws)
        assert run is not None and run["run_id"].startswith("run-")
        assert {s["step"] for s in run["steps"]} >= {"features", "clv", "churn", "segment"}
        page = build_report(ws).read_text(encoding="utf-8")
    assert f"Results of {run['run_id']}, finished" in page


def test_an_interrupted_run_changes_nothing(shop, monkeypatch):
    with Workspace.open(shop) as ws:
        before = _snapshot(ws)
        runs_before = ws.duck.execute("SELECT count(*) FROM meta.runs").fetchone()
        churn = _analysis._CACHE["churn"]

        def interrupted(ws_: Workspace):  # writes everything churn writes, then Ctrl-C
            churn.run(ws_)
            raise KeyboardInterrupt

        monkeypatch.setitem(_analysis._CACHE, "churn", dataclasses.replace(churn, run=interrupted))
        with pytest.raises(KeyboardInterrupt):
            run_pipeline(ws)
        after = _snapshot(ws)
        assert ws.duck.execute("SELECT count(*) FROM meta.runs").fetchone() == runs_before
    _same(before[0], after[0])
    assert before[1] == after[1], "a model pointer moved although the run did not complete"
    assert not (shop / "models" / ".run-journal.json").exists()


def test_a_run_killed_with_sigkill_leaves_the_previous_results(shop):
    with Workspace.open(shop, read_only=True) as ws:
        before = _snapshot(ws)
    script = textwrap.dedent(f"""
        import dataclasses, os, signal
        from crmine.contract import _analysis, all_analyses
        from crmine.pipeline import run_pipeline
        from crmine.warehouse import Workspace

        all_analyses()
        churn = _analysis._CACHE["churn"]
        def killed(ws):
            churn.run(ws)                       # marts written, model saved, pointer held
            os.kill(os.getpid(), signal.SIGKILL)
        _analysis._CACHE["churn"] = dataclasses.replace(churn, run=killed)
        with Workspace.open({str(shop)!r}) as ws:
            run_pipeline(ws)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "CRMINE_PROGRESS": "0"})  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    with Workspace.open(shop) as ws:
        after = _snapshot(ws)
    _same(before[0], after[0])
    assert before[1] == after[1]


def test_pointers_of_a_run_killed_after_its_commit_are_finished_on_open(shop):
    """The window between the commit and the pointer writes: the journal finishes them."""
    with Workspace.open(shop) as ws:
        run = last_run(ws)
        base = next(ws.models_dir.glob("*/latest")).parent
        versions = sorted(p.name for p in base.iterdir() if p.is_dir())
        current = (base / "latest").read_text()
        other = next(v for v in versions if v != current) if len(versions) > 1 else current
        journal = {"run_id": run["run_id"], "new": {str(base): other},
                   "previous": {str(base): current}}  # fmt: skip
        (ws.models_dir / ".run-journal.json").write_text(json.dumps(journal))
    with Workspace.open(shop):
        pass
    assert (base / "latest").read_text() == other  # the committed run's pointer was written
    assert not (Path(shop) / "models" / ".run-journal.json").exists()
    (base / "latest").write_text(current)


def test_a_failing_analysis_is_withheld_and_the_others_are_published(shop, monkeypatch):
    """DuckDB has no savepoints: what a failing analysis half-wrote cannot be undone, so its
    lists are emptied, its models are not made the latest and its verdict says it failed."""
    from crmine.contract import verdict_of

    with Workspace.open(shop) as ws:
        _marts, pointers = _snapshot(ws)
        churn = _analysis._CACHE["churn"]

        def failing(ws_: Workspace):
            churn.run(ws_)  # wrote its marts and saved a model, then fails
            raise ValueError("a bug")

        monkeypatch.setitem(_analysis._CACHE, "churn", dataclasses.replace(churn, run=failing))
        results = {r.name: r for r in run_pipeline(ws)}
        assert not results["churn"].ok and results["clv"].ok
        assert ws.duck.execute("SELECT count(*) FROM marts.retention_list").fetchone() == (0,)
        verdict = verdict_of(ws, "churn")
        assert verdict is not None and verdict.status == "not_informative"
        assert "failed in this run (ValueError: a bug)" in verdict.why
        assert {s["step"]: s["ok"] for s in last_run(ws)["steps"]}["churn"] is False
    after = {p.parent.name: p.read_text() for p in (shop / "models").glob("*/latest")}
    assert after["churn"] == pointers["churn"]  # the failed step's model is not the latest
    assert after["clv"] != pointers["clv"]  # the others' are


def test_a_warehouse_error_stops_the_run_and_publishes_nothing(shop, monkeypatch):
    from crmine.exceptions import WorkspaceError

    with Workspace.open(shop) as ws:
        before = _snapshot(ws)
        clv = _analysis._CACHE["clv"]

        def broken(ws_: Workspace):
            ws_.duck.execute("SELECT CAST('x' AS INTEGER)")  # aborts the transaction

        monkeypatch.setitem(_analysis._CACHE, "clv", dataclasses.replace(clv, run=broken))
        with pytest.raises(WorkspaceError, match="the run stopped in clv: the warehouse refused"):
            run_pipeline(ws)
        after = _snapshot(ws)
    _same(before[0], after[0])
    assert before[1] == after[1]


def test_a_run_cannot_start_inside_an_open_transaction(shop):
    from crmine.exceptions import WorkspaceError

    with (
        Workspace.open(shop) as ws,
        ws.transaction(),
        pytest.raises(WorkspaceError, match="inside an open warehouse transaction"),
    ):
        run_pipeline(ws)
