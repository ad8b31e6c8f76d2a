"""Churn under the analysis contract: verdicts, adaptive window, empty lists when uninformative,
non-monotonic drivers, Excel sheets, clonable estimator."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from typer.testing import CliRunner

from crmine.churn import (
    NO_LIST,
    ChurnModel,
    churn_verdict,
    churn_window,
    purchase_cycle,
    run_churn,
)
from crmine.contract import analysis, verdict_of
from crmine.warehouse import ingest, run_checks


def _orders(n: int, rate_per_year: float, years: float, seed: int) -> pd.DataFrame:
    """Every customer buys at one Poisson rate from a uniform start: nothing predicts churn."""
    rng = np.random.default_rng(seed)
    start, days = pd.Timestamp("2021-01-01"), int(365 * years)
    rows = []
    for i in range(n):
        t = float(rng.uniform(0, 365))
        while t < days:
            rows.append({"order_id": f"O{len(rows)}", "customer_id": f"C{i:04d}",
                         "order_ts": start + pd.Timedelta(days=t), "product_id": "P1",
                         "quantity": 1, "amount": round(float(rng.gamma(2, 25)), 2)})  # fmt: skip
            t += float(rng.exponential(365 / rate_per_year))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def no_signal(tmp_path_factory):
    """The issue's real case, without signal: 800 customers, ~6 orders each over 4 years."""
    from crmine.warehouse import Workspace

    ws = Workspace.init(tmp_path_factory.mktemp("nosignal") / "ws")
    ingest(ws, "orders", _orders(800, 1.5, 4.0, seed=3), source_name="test:orders")
    # A stale list from an earlier (pretend) run: it must disappear.
    ws.write_mart("retention_list", pd.DataFrame({"rank": [1], "customer_id": ["C0001"]}))
    run = run_churn(ws, method="logistic", cv=5)
    yield ws, run
    ws.close()


def test_no_signal_is_not_informative_and_writes_no_list(no_signal) -> None:
    ws, run = no_signal
    v = run.verdict
    assert v.status == "not_informative", v.why
    assert v.interval is not None and v.interval[0] <= 0.5 <= v.interval[1]
    assert abs(v.value - 0.5) < 0.08 and v.what_to_try
    assert v.checks and v.checks[0].metric == "top-decile lift"
    s = run.summary()
    json.dumps(s)
    assert s["retention"] == NO_LIST == "no retention list: the model does no better than chance"
    assert s["status"] == "not_informative" and s["retention_targets"] == 0
    for mart in ("retention_list", "churn_profit_curve", "churn_risk_value"):
        frame = ws.read(f"marts.{mart}")
        assert frame.empty, mart
    assert {"rank", "customer_id", "churn_risk", "expected_profit", "target"} <= set(
        ws.read("marts.retention_list").columns)  # same columns, no rows
    scores = ws.read("marts.customer_scores")
    assert len(scores) > 100 and scores["churn_risk"].isna().all()
    assert verdict_of(ws, "churn").status == "not_informative"  # recorded for the report


def test_window_adapts_to_the_purchase_cycle(no_signal) -> None:
    ws, run = no_signal
    s = run.summary()
    # one Poisson rate of 1.5 a year: gaps ~ Exponential(243 days), p90 = 243 ln 10 ≈ 560
    p90, n_gaps = purchase_cycle(ws.read("core.fct_order_lines"))
    assert 480 < p90 < 640 and n_gaps > 2_000
    assert s["window_source"] == f"purchase cycle p90 = {p90:,.0f} days"
    assert s["window_days"] % 90 == 0 and p90 <= s["window_days"] < p90 + 90
    # the window fully observed after each cut-off, with a year of history before the first
    assert s["snapshots"] == 1
    # churned now means gone, not between two purchases: far from the 90-day window's rate
    assert s["churn_rate"] < 0.25
    ws.config.settings["churn_window_days"] = 120
    try:
        assert churn_window(ws) == (120, "setting churn_window_days")
        assert churn_window(ws, 45) == (45, "given")
    finally:
        del ws.config.settings["churn_window_days"]


def test_demo_is_informative_out_of_time(demo_workspace) -> None:
    churn = analysis("churn")
    run = churn.run(demo_workspace)
    v = run.verdict
    assert v.status == "informative", v.why
    assert v.value > 0.6 and v.interval[0] > 0.5
    assert v.checks[0].status in ("informative", "weak") and v.checks[0].value > 1.5
    assert run.model.evaluated_on_.startswith("out-of-time holdout")
    s = run.summary()
    assert s["window_days"] == 90 and s["window_source"].startswith("default for contracts")
    assert s["retention_targets"] > 0 and "retention" not in s
    declared = {m.table for m in churn.marts}
    written = set(run.marts)
    assert written <= declared | {"marts.customer_scores"}
    assert declared <= written  # the demo has subscriptions, so survival marts too
    for mart in churn.marts:
        frame = demo_workspace.read(mart.table)
        assert set(mart.columns) <= set(frame.columns), (mart.name, set(mart.columns) - set(frame))
    results = run_checks(demo_workspace, [m.as_core_table() for m in churn.marts])
    ran = {r.table for r in results}
    assert {m.table for m in churn.marts if m.checks} <= ran
    failed = [r for r in results if not r.passed and r.table in declared]
    assert not failed, failed
    assert len(demo_workspace.read("marts.retention_list")) > 100


def test_verdict_grades_chance_weak_and_clear_signal() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=n)
    for strength, expected in ((0.0, "not_informative"), (0.25, "weak"), (1.5, "informative")):
        y = (rng.random(n) < 1 / (1 + np.exp(-(strength * x - 1)))).astype(int)
        assert churn_verdict(y, 1 / (1 + np.exp(-x)), evaluated_on="t").status == expected
    # repeated customers: the interval widens with the rows per customer
    y = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    one = churn_verdict(y, x / 10 + 0.5, evaluated_on="t").interval
    twice = churn_verdict(np.r_[y, y], np.r_[x, x] / 10 + 0.5, evaluated_on="t",
                          groups=np.r_[np.arange(n), np.arange(n)]).interval  # fmt: skip
    assert one is not None and twice is not None
    assert twice[1] - twice[0] == pytest.approx(one[1] - one[0], rel=0.02)


def test_u_shaped_driver_is_by_level_not_higher_less() -> None:
    rng = np.random.default_rng(5)
    n = 4000
    products = rng.choice([1, 2, 3, 4], n, p=[0.35, 0.4, 0.15, 0.1])
    rate = np.select([products == 1, products == 2], [0.35, 0.08], 0.45)
    y = (rng.random(n) < rate).astype(int)
    X = pd.DataFrame({"num_products": products, "age": rng.normal(40, 10, n).round(),
                      "balance": rng.gamma(2, 500, n)})  # fmt: skip
    for method in ("boosting", "logistic"):
        drivers = ChurnModel(method=method, cv=3).fit(X, y).drivers_.set_index("feature")
        row = drivers.loc["num_products"]
        assert row["direction"] == "by level", (method, row["detail"])
        assert "safest at 2" in row["detail"] and "not monotonic" in row["detail"]
        assert drivers.index[0] == "num_products"
    # a monotonic effect keeps its direction
    y2 = (rng.random(n) < np.array([0.4, 0.3, 0.2, 0.1])[products - 1]).astype(int)
    d2 = ChurnModel(method="logistic", cv=3).fit(X, y2).drivers_.set_index("feature")
    assert d2.loc["num_products", "direction"] == "higher → less churn"


def test_clone_predict_proba_and_split_fit_steps() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.choice(["x", "y"], 600)})
    y = (rng.random(600) < 1 / (1 + np.exp(-2 * X["a"]))).astype(int)
    model = ChurnModel(method="logistic", cv=3, C=0.3, exclude=None)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    model.fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (600, 2) and np.allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:, 1], model.predict_risk(X))
    assert list(model.classes_) == [0, 1]
    assert model.verdict_ is not None and model.verdict_.status == "informative"
    assert "out-of-fold" in model.evaluated_on_
    assert not hasattr(clone(model), "estimator_")


def test_excel_picks_the_sheet_with_the_target(tmp_path) -> None:
    from crmine.cli import app
    from tests.churn.test_model import simulate

    X, y, _ = simulate(n=800, seed=4)
    book = tmp_path / "book.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as xl:
        pd.DataFrame({"column": [*X.columns, "Churn"],
                      "meaning": ["…"] * (X.shape[1] + 1)}).to_excel(
            xl, sheet_name="Dictionary", index=False)  # fmt: skip
        X.assign(Churn=np.where(y == 1, "Yes", "No")).to_excel(xl, sheet_name="Customers",
                                                               index=False)  # fmt: skip
    runner = CliRunner()
    ws = tmp_path / "ws"
    args = ["churn", "train", "--data", str(book), "--target", "Churn", "--method", "logistic",
            "--cv", "3", "--workspace", str(ws), "--json"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["customers"] == 800 and out["verdict"]["status"] == "informative"
    res = runner.invoke(app, [*args, "--sheet", "Customers"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, [*args[:5], "Left", *args[6:]])
    assert res.exit_code == 2
    msg = json.loads(res.stdout)["error"]["message"]
    assert "'Left'" in msg and "'Dictionary'" in msg and "'Customers'" in msg
    res = runner.invoke(app, [*args, "--sheet", "Sheet9"])
    assert res.exit_code == 2
    assert "Dictionary, Customers" in json.loads(res.stdout)["error"]["message"]


def test_no_signal_demo_company_is_not_informative(tmp_path) -> None:
    """``crmine demo --no-signal``: churn independent of every feature -> no list."""
    from crmine.demo._workspace import build_demo_workspace

    ws, _ = build_demo_workspace(tmp_path / "demo", n_customers=1_500, seed=1, signal=False)
    try:
        run = analysis("churn").run(ws)
        assert run.verdict.status == "not_informative", run.verdict.why
        assert ws.read("marts.retention_list").empty
        assert ws.read("marts.customer_scores")["churn_risk"].isna().all()
        assert run.summary()["retention"] == NO_LIST
    finally:
        ws.close()


def test_cli_says_there_is_no_list(no_signal) -> None:
    from crmine.cli import app

    ws, _ = no_signal
    runner = CliRunner()
    res = runner.invoke(app, ["churn", "score", "--workspace", str(ws.root)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "Verdict: not informative" in text and NO_LIST in text and "What to try" in text
    assert "Riskiest customers" not in text
    res = runner.invoke(app, ["churn", "score", "--workspace", str(ws.root), "--json"])
    out = json.loads(res.stdout)
    assert out["verdict"]["status"] == "not_informative" and out["top"] == []
    assert out["retention"] == NO_LIST and out["mean_risk"] is None


def test_verdict_agrees_with_an_independent_out_of_time_check(workspace) -> None:
    """Orders with signal (lapsing customers slow down first): our verdict and a plain
    scikit-learn model fitted on the earlier cut-off, tested on later customers, agree."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from crmine.churn import build_churn_dataset

    rng = np.random.default_rng(8)
    rows, start, end = [], pd.Timestamp("2021-01-01"), 4 * 365
    for i in range(900):
        rate = rng.choice([3.0, 12.0])  # orders a year
        stop = rng.uniform(200, end * 1.6)  # lapse day (after the data end for many)
        t = float(rng.uniform(0, 200))
        while t < min(stop, end):
            rows.append({"order_id": f"O{len(rows)}", "customer_id": f"C{i:04d}",
                         "order_ts": start + pd.Timedelta(days=t), "product_id": "P1",
                         "quantity": 1, "amount": 30.0})  # fmt: skip
            t += float(rng.exponential(365 / (rate if stop - t > 120 else rate / 4)))
    ingest(workspace, "orders", pd.DataFrame(rows), source_name="test:orders")
    run = run_churn(workspace, method="logistic", cv=3)
    data = build_churn_dataset(workspace, window_days=run.dataset.window_days)
    assert len(data.cutoffs) >= 2 and run.model.evaluated_on_.startswith("out-of-time")
    late = (data.X["cutoff"] == data.cutoffs[0]).to_numpy()
    early = (data.X["cutoff"] == data.cutoffs[1]).to_numpy()
    test_ids = set(data.X.loc[late, "customer_id"].iloc[::2])
    fit = early & ~data.X["customer_id"].isin(test_ids).to_numpy()
    test = late & data.X["customer_id"].isin(test_ids).to_numpy()
    cols = ["days_since_last_order", "orders_last_year", "spend_last_year"]
    ref = LogisticRegression(max_iter=1000).fit(data.X.loc[fit, cols], data.y[fit])
    independent = roc_auc_score(data.y[test], ref.predict_proba(data.X.loc[test, cols])[:, 1])
    assert run.verdict.status == "informative" and independent > 0.6
    assert run.verdict.value == pytest.approx(independent, abs=0.08)
