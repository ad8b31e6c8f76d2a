"""Workspace integration: marts write-back, per-segment recovery on the demo, CLI, report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crmine.clv import BetaGeoModel, fit_by_group, rfm_from_mart, run_clv

pytest.importorskip("crmine.demo")


@pytest.fixture(scope="module")
def clv_ws(demo_workspace):
    """The shared demo company (2,000 customers), scored once for every test of this module."""
    run = run_clv(demo_workspace)
    return demo_workspace, run


def test_scores_written_to_customer_scores(clv_ws):
    ws, run = clv_ws
    scores = ws.read("marts.customer_scores")
    for col in (
        "p_alive",
        "expected_purchases_90d",
        "predicted_clv_12m",
        "clv_tier",
        "clv_model_version",
        "clv_scored_at",
    ):
        assert col in scores.columns
    rfm = ws.read("marts.customer_rfm")
    assert len(scores) == len(rfm) == run.summary()["customers"]
    assert scores["p_alive"].between(0, 1).all()
    assert (scores["predicted_clv_12m"] >= 0).all()
    assert set(scores["clv_tier"]) == {"low", "medium", "high", "top"}
    assert scores["clv_model_version"].iloc[0] == "bgnbd+gg-1"
    # the scores are the fitted model's: recompute p_alive for a few customers
    summary = rfm_from_mart(rfm)
    model = BetaGeoModel.from_params(**run.summary()["params"])
    head = summary.head(20)
    merged = scores.set_index("customer_id").loc[head.index, "p_alive"]
    np.testing.assert_allclose(merged, model.p_alive(head), rtol=1e-4)
    from crmine.models import load_model

    fitted, meta = load_model(ws.models_dir, "clv")
    assert meta["model"] == "bgnbd" and meta["kind"] == "bgnbd"
    assert fitted["transactions"].params_ == pytest.approx(meta["params"])
    assert meta["metrics"]["holdout_model_mae"] < meta["metrics"]["holdout_naive_mae"]


def test_report_marts_written(clv_ws):
    ws, run = clv_ws
    for name in (
        "clv_params",
        "clv_holdout_tracking",
        "clv_conditional_expectations",
        "clv_holdout_metrics",
        "clv_frequency_histogram",
        "clv_sensitivity",
        "clv_break_even",
    ):
        assert ws.has_table(f"marts.{name}"), name
    metrics = run.metrics.set_index("forecaster")
    # on BG/NBD-generated data the model must beat the naive baseline on the holdout
    assert metrics.loc["model", "mae"] < metrics.loc["naive", "mae"]
    # one BG/NBD on a mixture of four planted segments: the total is only roughly right
    assert abs(metrics.loc["model", "total_error_pct"]) < 25
    track = ws.read("marts.clv_holdout_tracking")
    assert track["actual"].is_monotonic_increasing and track["predicted"].is_monotonic_increasing


def test_per_segment_fits_recover_planted_bgnbd(clv_ws):
    ws, _ = clv_ws
    summary = rfm_from_mart(ws.read("marts.customer_rfm"))
    truth = ws.read("truth.customers").set_index("customer_id")["segment"]
    fits = fit_by_group(summary, truth).set_index("group")
    planted = ws.read("truth.bgnbd_params").set_index("segment")
    for segment, row in planted.iterrows():
        est = fits.loc[segment]
        # mean purchase rate r/alpha and mean dropout a/(a+b): the identified quantities
        assert est["r"] / est["alpha"] == pytest.approx(row["r"] / row["alpha"], rel=0.15), segment
        assert est["a"] / (est["a"] + est["b"]) == pytest.approx(
            row["a"] / (row["a"] + row["b"]), abs=0.06
        ), segment


def test_cli_fit_score_evaluate(clv_ws):
    from crmine.cli import app

    ws, _ = clv_ws
    runner = CliRunner()
    folder = str(ws.root)
    res = runner.invoke(app, ["clv", "fit", "--workspace", folder, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {p["parameter"] for p in out["params"]} == {"r", "alpha", "a", "b", "p", "q", "v"}
    res = runner.invoke(app, ["clv", "fit", "--workspace", folder, "--model", "nope", "--json"])
    assert res.exit_code == 2 and "unknown" in res.output
    res = runner.invoke(app, ["clv", "score", "--workspace", folder, "--no-eval", "--json"])
    assert res.exit_code == 0, res.output
    scored = json.loads(res.output)
    assert scored["customers"] == len(ws.read("marts.customer_rfm"))
    assert scored["verdict"]["status"] == "informative" and scored["verdict"]["interval"]
    res = runner.invoke(
        app, ["clv", "evaluate", "--workspace", folder, "--holdout-days", "90", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert [m["forecaster"] for m in out["metrics"]] == ["model", "naive"]
    assert len(out["conditional_expectations"]) == 8
    assert out["verdict"]["status"] == "informative"
    assert {r["forecaster"] for r in out["selection"]} == {"bgnbd", "mbgnbd", "paretonbd", "naive"}
    res = runner.invoke(app, ["clv", "score", "--workspace", folder, "--no-eval"])
    assert res.exit_code == 0, res.output
    assert "Verdict: informative" in res.output and "12-month CLV total" in res.output
    assert "e+0" not in res.output  # grouped digits, never scientific notation
    res = runner.invoke(app, ["clv", "score", "--workspace", str(ws.root / "nowhere")])
    assert res.exit_code == 2


def test_pipeline_step_runs(clv_ws):
    from crmine.pipeline import run_pipeline

    ws, _ = clv_ws
    results = run_pipeline(ws, only=["clv"], strict=True)
    (result,) = [r for r in results if r.name == "clv"]
    assert result.ok and result.summary["model"] == "bgnbd"
    assert result.verdict is not None and result.verdict.status == "informative"
    assert set(result.summary["tiers"]) == {"low", "medium", "high", "top"}


def test_report_section_renders(clv_ws):
    from crmine.report import all_sections

    ws, _ = clv_ws
    spec = next(s for s in all_sections() if s.key == "clv")
    result = spec.fn(ws)
    assert result is not None and "Break-even" in result.html
    assert "top 5%" in result.summary
    assert "barely determine" not in result.html  # the demo's dropout is well identified


def test_step_registered():
    from crmine.pipeline import plan

    names = [a.name for a in plan(["churn"])]
    assert names.index("features") < names.index("clv") < names.index("churn")


def test_missing_mart_falls_back_to_order_lines(workspace):
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4"],
            "line_number": [1, 1, 1, 1],
            "customer_id": ["a", "a", "b", None],
            "order_ts": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-15", "2024-01-20"]),
            "amount": [10.0, 20.0, 5.0, 7.0],
            "status": ["completed"] * 4,
            "is_return": [False] * 4,
        }
    )
    workspace.write_table("core.fct_order_lines", orders)
    from crmine.clv._workspace import _summary_from_ws, load_purchases

    assert len(load_purchases(workspace)) == 3  # the anonymous line is not a purchase
    summary, unit, _ = _summary_from_ws(workspace)
    assert unit == "D" and summary.loc["a", "frequency"] == 1 and summary.loc["a", "recency"] == 31


def test_orders_without_costs_value_revenue_not_zero(workspace, tmp_path):
    """An orders file without unit costs (Online Retail, CDNOW) still has a unit_cost column in
    core, all NULL: the margin is 1 (CLV is revenue), never 0."""
    from crmine.clv._workspace import _margin
    from crmine.warehouse import ingest

    rng = np.random.default_rng(3)
    rows = [
        (f"o{c}-{k}", f"c{c}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d)), 10.0)
        for c in range(200)
        for k, d in enumerate(np.sort(rng.integers(0, 300, rng.integers(1, 6))))
    ]
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_ts", "amount"])
    ingest(workspace, "orders", frame)
    assert "unit_cost" in workspace.columns("core.fct_order_lines")
    assert _margin(workspace) == (1.0, "no product costs: CLV is revenue")
    result = run_clv(workspace)
    summary = result.summary()
    assert summary["margin"] == 1.0
    # 200 customers buying at random: the verdict may withhold the scores, never value them at 0
    assert summary.get("total_clv_12m", 1.0) > 0


def test_segment_fits_recover_two_planted_segments(workspace):
    from crmine.clv._workspace import _segment_fits

    fast = BetaGeoModel.from_params(r=2.0, alpha=40.0, a=0.5, b=8.0).simulate(1500, 365.0, seed=1)
    slow = BetaGeoModel.from_params(r=0.8, alpha=110.0, a=1.5, b=3.5).simulate(1500, 365.0, seed=2)
    summary = pd.concat([fast, slow], ignore_index=True)
    summary.index = [f"c{i}" for i in range(len(summary))]
    cluster = pd.DataFrame({"customer_id": summary.index, "cluster": [0] * 1500 + [1] * 1500})
    workspace.upsert_customer_scores(cluster, model="segment", model_version="test")
    scores = pd.DataFrame(
        {
            "customer_id": summary.index,
            "p_alive": 0.5,
            "expected_purchases_90d": 1.0,
            "predicted_clv_12m": 10.0,
        }
    )
    fits = _segment_fits(workspace, "bgnbd", summary, scores, 1.0).set_index("segment")
    assert fits.loc["0", "purchases_per_30_days"] == pytest.approx(2.0 / 40 * 30, rel=0.15)
    assert fits.loc["1", "purchases_per_30_days"] == pytest.approx(0.8 / 110 * 30, rel=0.15)
    assert fits.loc["1", "dropout_probability"] == pytest.approx(1.5 / 5.0, abs=0.08)


def test_distinct_histories_on_the_engine_give_the_same_fit(clv_ws):
    from crmine.clv import distinct_histories

    ws, run = clv_ws
    hist = distinct_histories(ws.table("marts.customer_rfm"))
    assert hist["weight"].sum() == len(ws.read("marts.customer_rfm"))
    assert len(hist) < hist["weight"].sum()
    model = BetaGeoModel().fit(hist, weights=hist["weight"])
    assert model.params_ == pytest.approx(run.summary()["params"], rel=1e-5)
