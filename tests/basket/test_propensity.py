"""Product propensity on a workspace: a planted cross-sell driver is found out of sample."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crmine.basket import workspace_propensity
from crmine.exceptions import DataError
from crmine.warehouse import Workspace, ingest

END = pd.Timestamp("2024-12-31")


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Workspace:
    """2,000 customers buy common items for a year. Owners of A buy B in the last 90 days
    with probability 0.6, everyone else with 0.04; C is bought by 5 customers only. Owners of
    I0 buy D in the last 90 days with probability 0.5, others with 0.03; N is bought in the last
    90 days by a tenth of the customers, drawn independently of everything (no signal)."""
    rng = np.random.default_rng(11)
    rows = []
    order = 0

    def buy(customer: int, day: pd.Timestamp, items: list[str]) -> None:
        nonlocal order
        order += 1
        rows.extend((f"O{order}", f"C{customer}", day, item, 1, 5.0) for item in items)

    start = END - pd.Timedelta(days=365)
    owns_i0 = []
    for c in range(2000):
        owns_a = rng.random() < 0.3
        owned: set[str] = set()
        for _ in range(rng.integers(1, 5)):
            day = start + pd.Timedelta(days=int(rng.integers(0, 270)))
            items = [f"I{i}" for i in rng.choice(30, size=rng.integers(1, 4), replace=False)]
            owned.update(items)
            buy(c, day, items)
        owns_i0.append("I0" in owned)
        if owns_a:
            buy(c, start + pd.Timedelta(days=int(rng.integers(0, 270))), ["A"])
        if rng.random() < (0.6 if owns_a else 0.04):
            buy(c, END - pd.Timedelta(days=int(rng.integers(0, 89))), ["B"])
        if c < 5:
            buy(c, END - pd.Timedelta(days=3), ["C"])
    other = np.random.default_rng(12)  # its own stream: the draws above stay as they were
    for c in range(2000):
        if other.random() < (0.5 if owns_i0[c] else 0.03):
            buy(c, END - pd.Timedelta(days=int(other.integers(0, 89))), ["D"])
        if other.random() < 0.1:
            buy(c, END - pd.Timedelta(days=int(other.integers(0, 89))), ["N"])
    frame = pd.DataFrame(
        rows,
        columns=["order_id", "customer_id", "order_ts", "product_id", "quantity", "unit_price"],
    )
    ws = Workspace.init(tmp_path_factory.mktemp("propensity"))
    ingest(ws, "orders", frame)
    yield ws
    ws.close()


def test_planted_driver_found_out_of_sample(planted):
    result = workspace_propensity(planted, "B", horizon_days=90)
    s = result.summary()
    assert s["cutoff"] == "2024-10-02" and s["customers_learnt"] == 2000
    assert 0.15 < s["base_rate"] < 0.3
    # The best possible AUC here is 0.857: owning A is the only signal (P(B) 0.6 vs 0.04, 30%
    # own A); positives are A owners 86.5% of the time, negatives 15.2%.
    assert s["holdout_auc"] > 0.8
    assert s["holdout_top_decile_lift"] > 2.5
    assert result.coefficients.index[0] == "owns_A" and result.coefficients.iloc[0] > 0
    # cross-sell: customers who already bought B are not scored
    bought_b = set(workspace_lines_of(planted, "B"))
    assert bought_b and not bought_b & set(result.scores["customer_id"])
    assert len(result.scores) == 2000 - len(bought_b)
    # ranked and in deciles; owners of A (without B) are the likely buyers
    scores = result.scores.set_index("customer_id")
    owners = set(workspace_lines_of(planted, "A")) - bought_b
    top = scores[scores["decile"] == 1].index
    assert len(set(top) & owners) / len(top) > 0.9
    assert scores["rank"].is_monotonic_increasing and scores["propensity"].between(0, 1).all()


def workspace_lines_of(ws: Workspace, product: str) -> list[str]:
    rows = ws.duck.execute(
        "SELECT DISTINCT customer_id FROM core.fct_order_lines WHERE product_id = ?", [product]
    ).fetchall()
    return [r[0] for r in rows]


def test_mart_keeps_other_products(planted):
    workspace_propensity(planted, "B")
    workspace_propensity(planted, "D", new_buyers_only=False)
    mart = planted.read("marts.product_propensity")
    assert set(mart["product"]) == {"B", "D"}
    assert not mart.duplicated(["product", "customer_id"]).any()
    assert len(mart[mart["product"] == "D"]) == 2000  # repeat purchase: everyone scored
    workspace_propensity(planted, "B", horizon_days=60)  # replaces B's rows only
    mart = planted.read("marts.product_propensity")
    assert set(mart.loc[mart["product"] == "B", "horizon_days"]) == {60}
    assert len(mart[mart["product"] == "D"]) == 2000


def test_verdict_informative_for_a_planted_driver(planted):
    result = workspace_propensity(planted, "D", write=False)
    v = result.verdict
    assert v is not None and v.status == "informative" and v.metric == "held-out AUC"
    assert v.baseline == 0.5 and v.value == result.summary()["holdout_auc"]
    lo, hi = v.interval
    assert 0.6 < lo < v.value < hi < 1
    assert len(result.scores) > 1500 and result.summary()["verdict"] == "informative"


def test_no_target_list_for_a_product_bought_at_random(planted):
    """N's buyers are drawn independently of every feature: the held-out AUC is about 0.5,
    the verdict not informative, and no target list is returned or left in the mart."""
    workspace_propensity(planted, "B")
    result = workspace_propensity(planted, "N")
    v = result.verdict
    assert v is not None and v.status == "not_informative"
    assert v.interval[0] <= 0.5 and abs(v.value - 0.5) < 0.08
    assert result.summary()["buyers_learnt"] > 150  # enough buyers: the model had its chance
    assert result.scores.empty and list(result.scores.columns) == [
        "customer_id", "propensity", "rank", "decile"]
    assert "No target list" in result.summary()["note"]
    assert result.summary()["expected_buyers"] is None
    mart = planted.read("marts.product_propensity")
    assert "N" not in set(mart["product"]) and "B" in set(mart["product"])
    from crmine.cli import app

    res = CliRunner().invoke(app, ["basket", "propensity", "N", "-w", str(planted.root)])
    assert res.exit_code == 0, res.output
    assert "not informative" in res.output and "No target list" in res.output
    res = CliRunner().invoke(app, ["basket", "propensity", "N", "-w", str(planted.root),
                                   "--json"])  # fmt: skip
    data = json.loads(res.stdout)
    assert data["verdict"]["status"] == "not_informative" and data["top"] == []


def test_clear_errors(planted):
    with pytest.raises(DataError, match="at least 20"):
        workspace_propensity(planted, "C")
    with pytest.raises(DataError, match=r"never bought.*common product values"):
        workspace_propensity(planted, "NO-SUCH")
    with pytest.raises(DataError, match="shorten --horizon-days"):
        workspace_propensity(planted, "B", horizon_days=400)


def test_cli(planted):
    from crmine.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["basket", "propensity", "B", "-w", str(planted.root), "--json",
                              "--top", "5"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["summary"]["holdout_auc"] > 0.8 and len(out["top"]) == 5
    assert out["verdict"]["status"] == "informative" and out["verdict"]["baseline"] == 0.5
    assert out["drivers"][0]["feature"] == "owns_A"
    res = runner.invoke(app, ["basket", "propensity", "C", "-w", str(planted.root), "--json"])
    assert res.exit_code == 2 and "at least 20" in json.loads(res.stdout)["error"]["message"]
