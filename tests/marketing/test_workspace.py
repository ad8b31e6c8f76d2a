"""Workspace mode on the demo company: the planted best channel, leak and curves are found."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from crmine.cli import app
from crmine.marketing._workspace import run_marketing
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def result(demo_workspace):
    return run_marketing(demo_workspace)


def test_planted_best_channel_is_found(result, demo_workspace):
    truth = demo_workspace.read("truth.channels").set_index("channel")
    eff = result.channel_effects.set_index("channel")
    assert eff["prob_best_roi"].idxmax() == truth["is_best_roi"].idxmax()  # e-mail
    assert eff["prob_best_roi"].max() > 0.9
    assert eff["prob_best_conversion"].idxmax() == truth["is_best_conversion"].idxmax()  # search
    # Measured ROI agrees with the planted one for every channel (within sampling noise).
    for ch, row in eff.iterrows():
        assert row["roi_ci_low"] * 0.8 < truth.loc[ch, "true_roi"] < row["roi_ci_high"] * 1.2, ch
    # Uplift intervals cover the planted incremental rate.
    covered = [(row["uplift_ci_low"] <= truth.loc[ch, "true_incremental_rate"]
                <= row["uplift_ci_high"]) for ch, row in eff.iterrows()]
    assert sum(covered) >= 4


def test_planted_funnel_leak_is_found(result, demo_workspace):
    truth = demo_workspace.read("truth.funnel")
    leak = truth[truth["is_leak"]].iloc[0]
    found = result.funnel.leak
    assert (found["group"], found["stage"]) == (leak["channel"], leak["stage"])  # social, visit
    social = result.funnel.stages.query("group == 'social' and stage == 'visit'").iloc[0]
    assert social["conversion"] == pytest.approx(leak["true_rate_from_previous"], abs=0.07)


def test_budget_moves_money_to_the_efficient_channels(result):
    alloc = result.budget.allocation.set_index("channel")
    assert alloc["optimal_spend"].sum() == pytest.approx(result.budget.budget)
    # E-mail has the steepest planted curve at current spend; display the flattest.
    assert alloc.loc["email", "change"] > 0
    assert alloc.loc["display", "change"] < 0
    assert result.budget.gain_ci_low > 0
    assert result.budget.prob_gain_positive > 0.95


def test_kpis_attribution_and_marts(result, demo_workspace):
    ws = demo_workspace
    for mart in ("campaign_kpis", "channel_effects", "channel_comparisons", "budget_allocation",
                 "funnel", "attribution", "response_curves", "funnel_leaks"):
        assert ws.has_table(f"marts.{mart}"), mart
    k = ws.read("marts.campaign_kpis")
    assert set(k["level"]) == {"campaign", "channel", "segment", "period"}
    truth = ws.read("truth.uplift").set_index("campaign_id")
    camp = k[k["level"] == "campaign"].set_index("key")
    assert camp["cost"].to_dict() == pytest.approx(truth["spend"].to_dict(), rel=1e-6)
    assert (camp["contacts"] == truth["n_treatment"]).all()
    att = result.attribution
    for _, g in att.groupby("model"):
        assert g["share"].sum() == pytest.approx(1.0)
    summary = result.summary()
    json.dumps(summary)
    assert summary["best_roi_channel"] == "email"
    assert summary["funnel_leak"] == "social: click -> visit"


def test_pipeline_step_and_report_section(result, demo_workspace):
    from crmine.contract import all_analyses
    from crmine.report.sections.marketing import build

    assert "marketing" in all_analyses()
    sec = build(demo_workspace)
    assert sec is not None and "email" in sec.summary and "social" in sec.summary
    assert sec.html.count('class="chart"') >= 4


runner = CliRunner()


def _json(args):
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.data
def test_cli_effect_on_a_flat_file():
    path = shared_file("hillstrom/hillstrom.csv")
    rows = _json(["campaigns", "effect", "--data", str(path), "-t", "segment", "-y",
                  "conversion", "-c", "No E-Mail"])
    mens = next(r for r in rows if r["segment"] == "Mens E-Mail")
    assert mens["treatment_mean"] == pytest.approx(0.012531, abs=1e-6)
    res = runner.invoke(app, ["campaigns", "effect", "--data", str(path), "-t", "segment",
                              "-y", "conversion", "-c", "nobody", "--json"])
    assert res.exit_code == 2 and "control value 'nobody' not found" in res.stdout


def test_cli_workspace_commands(result, demo_workspace):
    ws = str(demo_workspace.root)
    k = _json(["campaigns", "kpis", "--by", "channel", "-w", ws])
    assert {r["channel"] for r in k} == {"email", "sms", "social", "search", "display"}
    eff = _json(["campaigns", "effect", "-w", ws])
    assert max(eff["channels"], key=lambda r: r["prob_best_roi"])["channel"] == "email"
    assert eff["verdict"]["status"] == "informative" and eff["effects_significant"] >= 1
    human = runner.invoke(app, ["campaigns", "effect", "-w", ws])
    assert human.exit_code == 0 and "Verdict: informative" in human.stdout
    b = _json(["campaigns", "budget", "-w", ws])
    assert b["expected_gain"] > 0 and len(b["allocation"]) == 5
    f = _json(["campaigns", "funnel", "-w", ws])
    assert f["leaks"][0]["group"] == "social"
    a = _json(["campaigns", "attribution", "-w", ws])
    assert {r["model"] for r in a} >= {"markov", "shapley", "linear"}
    bad = runner.invoke(app, ["campaigns", "kpis", "--by", "planet", "-w", ws])
    assert bad.exit_code == 2
    assert np.isfinite(b["gain_interval"]).all()


def test_campaign_level_effects_cover_the_planted_ate(demo_workspace):
    from crmine.marketing import channel_effects
    from crmine.marketing._workspace import load_contacts

    eff = channel_effects(load_contacts(demo_workspace), by="campaign_id").set_index(
        "campaign_id")
    truth = demo_workspace.read("truth.uplift").set_index("campaign_id")
    with_control = truth[truth["has_control_group"]].index
    assert eff.loc[with_control, "uplift"].notna().all()
    covered = [(eff.loc[c, "uplift_ci_low"] <= truth.loc[c, "true_ate"]
                <= eff.loc[c, "uplift_ci_high"]) for c in with_control]
    # 95% intervals: expect about 18 of 19 (the binomial 1% tail is 15).
    assert sum(covered) >= 0.8 * len(covered)
    no_control = truth[~truth["has_control_group"]].index
    assert eff.loc[no_control, "uplift"].isna().all()
