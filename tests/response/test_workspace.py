"""Workspace mode on the demo company: the planted uplift is found; CLI and report work."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from crmine.cli import app
from crmine.response._workspace import load_models, run_response
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def result(demo_workspace):
    return run_response(demo_workspace)


def test_planted_uplift_is_found(result, demo_workspace):
    ws = demo_workspace
    true = ws.read("truth.customer_uplift").groupby("customer_id")["true_uplift"].mean()
    scores = result.scores.set_index("customer_id").join(true, how="inner")
    rho = stats.spearmanr(scores["uplift"], scores["true_uplift"]).statistic
    assert rho > 0.5
    cust = ws.read("core.dim_customer").set_index("customer_id")
    seg = ws.read("truth.customers").set_index("customer_id")["segment"]
    scores = scores.join(cust[["age"]]).join(seg)
    # Planted: under-30s and discount seekers are persuadable, premium customers buy anyway.
    young = scores.loc[scores["age"] < 30, "uplift"].mean()
    older = scores.loc[scores["age"] >= 30, "uplift"].mean()
    assert young > older + 0.02
    by_seg = scores.groupby("segment")["uplift"].mean()
    assert by_seg.idxmax() == "discount_seeker"
    assert by_seg["premium"] < by_seg["discount_seeker"] - 0.03
    # Held out: targeting by predicted uplift beats random targeting.
    assert result.metrics["qini_area"] > 0
    assert result.metrics["uplift_at_30pct"] > result.metrics["average_uplift"]
    # Counting only the responses contacts cause, fewer customers are worth a contact than
    # the response model (which also counts premium customers who buy anyway) suggests.
    m = result.metrics
    assert 0 < m["incremental_best_depth"] < m["best_depth"]
    assert 0 < m["incremental_profit_per_1000_at_best_depth"] < m["profit_per_1000_at_best_depth"]


def test_demo_verdicts_are_informative_and_drive_the_target_list(result, demo_workspace):
    """The demo plants both signals: uplift (headline: the campaigns kept control groups)
    and response, each judged on held-out customers."""
    from crmine.contract import verdict_of
    from crmine.response import ANALYSIS
    from crmine.warehouse import run_checks

    v = result.verdict
    assert v.status == "informative" and v.metric == "held-out Qini coefficient"
    assert v.interval[0] > 0 and v.value == pytest.approx(result.metrics["qini_coefficient"])
    (resp,) = v.checks
    assert resp.metric == "held-out AUC" and resp.status == "informative"
    assert resp.interval[0] > 0.5
    assert verdict_of(demo_workspace, "response") == v
    targets = demo_workspace.read("marts.response_targets")
    assert len(targets) == len(result.targets) > 100
    assert (targets["basis"] == "uplift").all() and targets["uplift"].is_monotonic_decreasing
    assert (targets["uplift"] > 0.01).all()  # setting uplift_threshold's default
    for mart in ANALYSIS.marts:
        assert mart.table in result.marts and set(mart.columns) <= set(
            demo_workspace.columns(mart.table)), mart.name
    failed = [r for r in run_checks(demo_workspace, [m.as_core_table() for m in ANALYSIS.marts])
              if not r.passed]
    assert not failed, failed
    assert {s.key for s in ANALYSIS.settings} == {"uplift_threshold", "response_margin",
                                                 "response_cost_per_contact", "gross_margin"}


def test_scores_written_to_marts_and_customer_scores(result, demo_workspace):
    ws = demo_workspace
    cs = ws.read("marts.customer_scores")
    assert {"response_score", "uplift", "uplift_class", "response_model_version"} <= set(cs)
    assert cs["response_score"].between(0, 1).all()
    assert len(ws.read("marts.uplift_scores")) == ws.read("core.dim_customer")[
        "customer_id"].nunique()
    assert ws.has_table("marts.response_gains") and ws.has_table("marts.uplift_curves")
    saved = load_models(ws.models_dir)
    assert set(saved) >= {"response", "uplift", "features"}
    json.dumps(result.summary())


def test_pipeline_step_and_report_section(result, demo_workspace):
    from crmine.contract import all_analyses
    from crmine.report.sections.response import build

    assert "response" in all_analyses()
    sec = build(demo_workspace)
    assert sec is not None and "sleeping dogs" in sec.summary
    assert "counting only the responses the contact causes" in sec.html
    assert sec.html.count("incremental responses (uplift model)") >= 1
    assert 'class="chart"' in sec.html


runner = CliRunner()


def _json(args):
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.data
def test_cli_train_and_score_flat_file(tmp_path):
    path = shared_file("bank_marketing/bank-additional.csv")
    model = tmp_path / "bank.pkl"
    info = _json(["response", "train", "--data", str(path), "--target", "y", "--exclude",
                  "duration", "--model", str(model)])
    assert "duration" not in info["features"] and info["rows"] == 4119
    assert info["verdict"]["status"] == "informative"
    assert info["verdict"]["value"] == pytest.approx(info["cv_roc_auc"])
    assert info["base_rate"] == pytest.approx(451 / 4119)
    # held out (5-fold): on the 4,119-row sample the full file's 0.80 AUC drops a little
    assert 0.75 < info["cv_roc_auc"] < 0.85 and info["cv_top_decile_lift"] > 3
    assert len(info["cv_gains"]) == 10
    human = runner.invoke(app, ["response", "train", "--data", str(path), "--target", "y",
                                "--exclude", "duration", "--model", str(model), "--cv", "0"])
    assert human.exit_code == 0 and "4,119 rows, 19 features, base rate 10.9%" in human.stdout
    assert "Verdict" not in human.stdout  # --cv 0: nothing held out, nothing to judge
    assert "{" not in human.stdout  # a summary, not a JSON dump
    out = tmp_path / "scores.csv"
    res = _json(["response", "score", "--data", str(path), "--model", str(model), "--out",
                 str(out)])
    assert res["rows"] == 4119
    scores = pd.read_csv(out)
    assert scores["response_score"].between(0, 1).all()
    bad = runner.invoke(app, ["response", "train", "--data", str(path), "--json"])
    assert bad.exit_code == 2 and "--target" in bad.stdout


@pytest.mark.data
def test_cli_uplift_flat_file_hillstrom_logistic():
    path = shared_file("hillstrom/hillstrom.csv")
    info = _json(["response", "uplift", "--data", str(path), "-t", "segment", "-y", "visit",
                  "-c", "No E-Mail", "--treated", "Mens E-Mail", "--exclude", "conversion",
                  "--exclude", "spend", "--response-model", "logistic", "--top", "3"])
    assert info["response_model"] == "logistic"
    # the effect estimate does not depend on the model: the same held-out split
    assert info["holdout_average_uplift"] == pytest.approx(0.0766, abs=0.01)
    # The men's e-mail lifts visits by about the same for everyone: on held-out customers the
    # uplift ranking is no better than random (Qini interval around 0), so nobody is listed.
    v = info["verdict"]
    assert v["status"] == "not_informative" and v["metric"] == "held-out Qini coefficient"
    assert v["interval"][0] < 0 < v["interval"][1] and v["what_to_try"]
    assert info["persuadables"] == [] and info["persuadables_listed"] == 0


@pytest.mark.data
def test_cli_uplift_flat_file_hillstrom():
    path = shared_file("hillstrom/hillstrom.csv")
    args = ["response", "uplift", "--data", str(path), "-t", "segment", "-y", "visit", "-c",
            "No E-Mail", "--exclude", "conversion", "--exclude", "spend", "--top", "5"]
    info = _json([*args, "--treated", "Womens E-Mail"])
    assert info["holdout_qini_area"] > 0 and info["response_model"] == "boosting"
    assert info["holdout_average_uplift"] == pytest.approx(0.045, abs=0.01)  # +4.5 pp
    # The women's e-mail works on past buyers of women's items: a ranking that holds out.
    v = info["verdict"]
    assert v["status"] == "informative" and v["interval"][0] > 0.01
    assert info["holdout_uplift_at_30pct"] > info["holdout_average_uplift"]
    assert len(info["persuadables"]) == 5
    human = runner.invoke(app, [*args, "--treated", "Womens E-Mail"])
    assert human.exit_code == 0 and "Verdict: informative" in human.stdout


def test_cli_workspace_mode(result, demo_workspace):
    ws = str(demo_workspace.root)
    up = _json(["response", "uplift", "-w", ws, "--top", "3"])
    assert up["qini_area"] == pytest.approx(result.metrics["qini_area"])
    assert up["verdict"]["status"] == "informative"
    assert len(up["persuadables"]) == 3
    sc = _json(["response", "score", "-w", ws, "--top", "4"])
    assert len(sc) == 4 and sc[0]["response_score"] >= sc[-1]["response_score"]
