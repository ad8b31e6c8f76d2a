"""The marketing_mix analysis on the demo company: planted ROIs, best channel and cheapest
audience are recovered, marts are declared and pass their checks; on the company without
signal the verdict is not informative and no budget shift is written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from crmine.cli import app
from crmine.contract import all_analyses, check_marts, verdict_of
from crmine.demo._marketing_spend import make_marketing_spend
from crmine.marketing import run_marketing_mix
from crmine.warehouse import ingest

# The demo's model fit with 100 bootstrap replicates takes 5-15 s on a shared machine.
pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def run(demo_workspace):
    return run_marketing_mix(demo_workspace)


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """A workspace holding only the no-signal company's media spend and weekly sales."""
    from crmine.warehouse import Workspace

    ws = Workspace.init(tmp_path_factory.mktemp("flat"))
    ws.config.settings["mmm_bootstrap"] = 20  # a verdict does not need the intervals' precision
    ws.save_config()
    media = make_marketing_spend(
        np.random.default_rng(np.random.SeedSequence(0, spawn_key=(9,))), signal=False)
    ingest(ws, "marketing_spend", media.spend)
    ingest(ws, "marketing_outcomes", media.outcomes)
    yield ws, run_marketing_mix(ws)
    ws.close()


def test_demo_recovers_planted_roi_best_channel_and_audience(run, demo_workspace):
    truth = demo_workspace.read("truth.mmm_channels").set_index("channel")
    found = run.channels.set_index("channel")
    assert set(found.index) == set(truth.index)
    for ch, row in found.iterrows():
        assert row["roi_ci_low"] <= truth.loc[ch, "roi"] <= row["roi_ci_high"], ch
    assert found["rank"].idxmin() == truth["rank"].idxmin()
    assert run.verdict is not None and run.verdict.status == "informative"
    assert verdict_of(demo_workspace, "marketing_mix").status == "informative"
    audiences = demo_workspace.read("truth.spend_audiences")
    best = audiences.loc[audiences["cpa_rank"].idxmin()]
    assert run.cheapest.iloc[0]["audience"] == f"{best['age']} / {best['gender']}"
    assert bool(run.cheapest.iloc[0]["cheaper_than_rest"])
    assert run.allocation is not None and run.allocation.gain_ci_low > 0


def test_marts_are_declared_written_and_pass_their_checks(run, demo_workspace):
    declared = {m.table for m in all_analyses()["marketing_mix"].marts}
    assert set(run.marts) == declared
    budget = demo_workspace.read("marts.mmm_budget")
    assert len(budget) == 5 and budget["optimal_spend"].sum() == pytest.approx(
        budget["current_spend"].sum())
    mine = [r for r in check_marts(demo_workspace)
            if r.table in declared | {"core.fct_marketing_spend", "core.fct_marketing_outcomes"}]
    assert mine and all(r.passed for r in mine), [r for r in mine if not r.passed]
    contrib = demo_workspace.read("marts.mmm_contributions")
    weekly = contrib.groupby("week")["contribution"].sum()
    actual = contrib.drop_duplicates("week").set_index("week")["actual"]
    # The components add up to the fit, which tracks the outcome within a few percent.
    assert (abs(weekly - actual) / actual).mean() < 0.03


def test_no_signal_company_is_not_informative_and_gets_no_budget(flat):
    ws, result = flat
    assert result.verdict is not None and result.verdict.status == "not_informative"
    assert result.allocation is None
    assert len(ws.read("marts.mmm_budget")) == 0
    assert "no budget recommendation" in result.summary()["note"]
    perf = ws.read("marts.spend_performance")
    assert not perf.loc[perf["dimension"] == "audience", "significant"].any()


def test_cli_mmm_and_budget_from_mmm(flat):
    ws, _ = flat
    runner = CliRunner()
    res = runner.invoke(app, ["campaigns", "mmm", "--bootstrap", "10", "-w", str(ws.root),
                              "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["verdict"]["status"] == "not_informative" and out["budget"] is None
    res = runner.invoke(app, ["campaigns", "budget", "--from-mmm", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert "judged not informative" in res.output


def test_cli_mmm_adstock_option_and_setting(flat):
    ws, _ = flat
    runner = CliRunner()
    res = runner.invoke(app, ["campaigns", "mmm", "--adstock", "weibull", "--bootstrap", "0",
                              "-w", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["adstock"] == "weibull"
    assert all(ch["lag_scale"] is not None for ch in out["channels"])
    res = runner.invoke(app, ["campaigns", "mmm", "--adstock", "delayed", "-w", str(ws.root)])
    assert res.exit_code == 2 and "mmm_adstock must be one of" in res.output
    assert "adstock" in {s.key.removeprefix("mmm_") for s in
                         all_analyses()["marketing_mix"].settings}
