"""Sales on the demo workspace: figures that match the order lines, the whale curve, the
drivers of change, run_sales's marts and verdict, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crmine.cli import app
from crmine.exceptions import DataError, SchemaError
from crmine.sales import period_change, run_sales, sales_by, whale_curve, whale_summary


def _scalar(ws, sql: str) -> float:
    return float(ws.duck.execute(sql).fetchone()[0])


def test_sales_by_matches_the_order_lines(demo_workspace):
    ws = demo_workspace
    t = sales_by(ws, ("category", "channel"))
    completed = "FROM core.fct_order_lines WHERE status = 'completed'"
    assert t["revenue"].sum() == pytest.approx(_scalar(ws, f"SELECT sum(amount) {completed}"))
    assert t["units"].sum() == pytest.approx(_scalar(ws, f"SELECT sum(quantity) {completed}"))
    assert len(t) == 7 * 4 and set(t["channel"]) == {"web", "app", "store", "phone"}
    # the demo's returns are 2 % of lines, planted in truth.returns
    returned = _scalar(ws, "SELECT count(*) FROM truth.returns")
    lines = _scalar(ws, f"SELECT count(*) {completed} AND customer_id IS NOT NULL")
    overall = sales_by(ws, ())
    assert float(overall["return_rate"].iloc[0]) == pytest.approx(returned / lines, rel=0.5)
    # margins come from the unit costs: the demo's categories differ (electronics ~18 %)
    m = sales_by(ws, ("category",)).set_index("category")["margin"]
    assert m["electronics"] < 0.3 < m["beauty"]
    by_region = sales_by(ws, ("region",), period="month")
    assert {"period", "region"} <= set(by_region.columns)
    with pytest.raises(SchemaError, match="not a column"):
        sales_by(ws, ("colour",))


def test_sales_counts_exact_or_none(demo_workspace):
    ws = demo_workspace
    completed = "FROM core.fct_order_lines WHERE status = 'completed'"
    exact = sales_by(ws, ())
    assert exact.attrs["counts"] == "exact"
    assert float(exact["orders"].iloc[0]) == _scalar(
        ws, f"SELECT count(DISTINCT order_id) {completed}"
    )
    none = sales_by(ws, (), counts="none")
    assert none.attrs["counts"] == "none" and none["orders"].isna().all()
    assert float(none["revenue"].iloc[0]) == float(exact["revenue"].iloc[0])
    with pytest.raises(DataError, match="use exact"):
        sales_by(ws, (), counts="approx")


def test_period_change_contributions_add_up(demo_workspace):
    c = period_change(demo_workspace, "channel")
    assert c["contribution"].sum() == pytest.approx(1.0)
    assert (c["current"] - c["previous"]).sum() == pytest.approx(c["change"].sum())
    assert str(c["period"].iloc[0]) == "2026-05-01"  # June is incomplete in the data


def test_whale_curve_counts_cost_to_serve(demo_workspace):
    plain = whale_curve(demo_workspace)
    served = whale_curve(demo_workspace, cost_per_order=50.0)
    assert plain["cumulative_profit"].iloc[-1] == pytest.approx(plain["profit"].sum())
    assert plain["profit"].is_monotonic_decreasing
    orders = served["orders"].sum()
    assert served["profit"].sum() == pytest.approx(plain["profit"].sum() - 50.0 * orders)
    s, p = whale_summary(served), whale_summary(plain)
    assert s["unprofitable_customers"] > p["unprofitable_customers"]
    assert s["peak_profit_share"] > 1.0  # the unprofitable ones give some profit back


@pytest.mark.slow
def test_run_sales_writes_every_mart_and_judges_the_forecast(demo_workspace):
    from crmine.sales import ANALYSIS

    run = run_sales(demo_workspace)
    assert {m.table for m in ANALYSIS.marts} == set(run.marts)
    for table in run.marts:
        assert demo_workspace.has_table(table)
    v = run.verdict
    assert v.metric == "held-out MASE gain over seasonal naive" and v.interval is not None
    assert v.status in ("informative", "weak")
    fc = demo_workspace.read("marts.sales_forecast")
    assert set(fc["level"]) == {"total", "channel"} and len(fc) == 5 * 8
    first = fc[fc["ds"] == fc["ds"].min()]
    assert first.loc[first["level"] == "total", "yhat"].sum() == pytest.approx(
        first.loc[first["level"] == "channel", "yhat"].sum()
    )
    assert v.checks and v.checks[0].metric.startswith("share of categories")
    # the demo plants prices: the elasticity check is no longer not_informative
    assert v.checks[0].status in ("informative", "weak")
    promotions = demo_workspace.read("marts.sales_promotions")
    assert len(promotions) == 7 and promotions["matched_uplift"].notna().all()
    assert promotions["cannibalisation"].notna().all()  # planted product promotions
    from crmine.report.sections.sales import sales

    section = sales(demo_workspace)
    assert section is not None and "matched clean weeks" in section.html
    json.dumps(run.summary())


def test_cli_summary_and_whatif(demo_workspace):
    runner = CliRunner()
    out = runner.invoke(app, ["sales", "summary", "-w", str(demo_workspace.root), "--by",
                              "channel", "--json"])  # fmt: skip
    assert out.exit_code == 0, out.stdout + out.stderr
    data = json.loads(out.stdout)
    assert {r["channel"] for r in data["sales"]} == {"web", "app", "store", "phone"}
    assert data["whale"]["customers"] > 1000 and data["counts"] == "exact"
    wrong = runner.invoke(app, ["sales", "summary", "-w", str(demo_workspace.root), "--counts",
                                "most"])  # fmt: skip
    assert wrong.exit_code != 0 and "use exact" in wrong.stdout + wrong.stderr
    bad = runner.invoke(app, ["whatif", "price", "-w", str(demo_workspace.root), "--change",
                              "cheaper"])  # fmt: skip
    assert bad.exit_code == 2 and "is not a number" in bad.stderr
    assert "Traceback" not in bad.stderr + bad.stdout
    ok = runner.invoke(app, ["whatif", "price", "-w", str(demo_workspace.root), "--category",
                             "books", "--change", "-5%", "--json"])  # fmt: skip
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    row = json.loads(ok.stdout)["whatif"][0]
    assert row["group"] == "books" and row["change"] == pytest.approx(-0.05)
    e = row["elasticity"]
    assert row["revenue_change"] == pytest.approx(0.95 ** (1 + e) - 1)


def test_cli_forecast_of_a_file(tmp_path):
    ds = pd.date_range("2024-01-01", periods=120, freq="D")
    y = 100 + 25 * (ds.dayofweek >= 5) + np.random.default_rng(0).normal(0, 5, 120)
    path = tmp_path / "series.csv"
    pd.DataFrame({"unique_id": "shop", "ds": ds.strftime("%Y-%m-%d"), "y": y}).to_csv(
        path, index=False
    )
    out = CliRunner().invoke(app, ["forecast", "--input", str(path), "--freq", "D",
                                   "--horizon", "7", "--models", "ets", "--windows", "2",
                                   "--json"])  # fmt: skip
    assert out.exit_code == 0, out.stdout + out.stderr
    data = json.loads(out.stdout)
    assert len(data["forecast"]) == 7 and data["verdict"]["status"] in (
        "informative",
        "weak",
        "not_informative",
    )


@pytest.fixture(scope="module")
def priced_shop(tmp_path_factory):
    """A workspace loaded with the planted priced sales (known elasticities and lifts)."""
    from crmine.demo._sales import simulate_sales
    from crmine.warehouse import Workspace, ingest

    lines, truth = simulate_sales(seed=0, categories=3, weeks=104)
    ws = Workspace.init(tmp_path_factory.mktemp("priced") / "ws")
    ingest(ws, "orders", lines)
    yield ws, truth.set_index("category")
    ws.close()


@pytest.mark.slow
def test_run_sales_recovers_planted_elasticities_and_lifts_through_the_warehouse(priced_shop):
    ws, truth = priced_shop
    run = run_sales(ws)
    fit = ws.read("marts.sales_elasticity").set_index("category")
    e = truth["elasticity"].reindex(fit.index)
    assert ((fit["lower"] < e) & (e < fit["upper"])).all(), fit[["elasticity", "lower", "upper"]]
    lifts = ws.read("marts.sales_promotions").set_index("category")
    t = truth["promotion_lift"].reindex(lifts.index)
    assert ((lifts["promotion_lift_lower"] < t) & (t < lifts["promotion_lift_upper"])).all()
    assert run.verdict.checks[0].status == "informative"
    whatif = ws.read("marts.sales_whatif").set_index("category")
    # elastic electronics (-1.8): 5 % cheaper sells more revenue; inelastic beauty does not
    assert whatif.loc["electronics", "revenue_change"] > 0 > whatif.loc["beauty", "revenue_change"]
    # two years of weekly sales: a backtest exists and every declared mart was written
    assert len(ws.read("marts.sales_forecast_backtest")) >= 1
    assert len(ws.read("marts.sales_break_even")) >= 1
