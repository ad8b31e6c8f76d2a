"""The cross-sell verdict: rules vs best-sellers on held-out baskets, and what a run that
cannot beat the best-sellers leaves behind (nothing to act on)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from typer.testing import CliRunner

from crmine.basket import (
    ANALYSIS,
    ProductPropensity,
    RuleRecommender,
    judge_recommendations,
    run_basket,
)
from crmine.contract import verdict_of
from crmine.exceptions import ConfigError
from crmine.warehouse import Workspace, ingest, run_checks
from tests.basket._data import no_signal_orders


@pytest.fixture(scope="module")
def no_signal(tmp_path_factory) -> Workspace:
    """1,500 customers whose orders are independent draws from one product popularity, with
    an earlier run's offers and next-best products left in the marts."""
    ws = Workspace.init(tmp_path_factory.mktemp("no_signal"))
    ingest(ws, "orders", no_signal_orders())
    ws.write_mart("basket_offers", pd.DataFrame({"customer_id": ["C00001"], "rank": [1],
                                                 "product_id": ["P001"]}))  # fmt: skip
    ws.upsert_customer_scores(
        pd.DataFrame({"customer_id": ["C00001", "C00002"],
                      "next_best_products": [["P001", "P002"], ["P003"]],
                      "next_best_product": ["P001", "P003"]}),
        model="basket", model_version="stale",
    )  # fmt: skip
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def no_signal_run(no_signal):
    return run_basket(no_signal)


def test_independent_baskets_are_not_informative(no_signal_run):
    run = no_signal_run
    v = run.verdict
    assert v.status == "not_informative" and v.metric == "held-out hit-rate@10"
    s = run.summary()
    json.dumps(s)
    assert s["customers_evaluated"] > 1300
    # rules were found (chance co-occurrences at the automatic support), yet reach no more
    # held-out baskets than the best-sellers: the paired interval of the gain reaches 0
    assert s["rules"]["product"] > 100
    assert v.value is not None and v.baseline is not None and v.interval is not None
    assert v.value <= v.baseline + 0.005 and v.interval[0] <= v.baseline
    assert "nothing to recommend beyond best-sellers" in v.why
    assert "bought together about as often as their popularity" in v.what_to_try
    assert s["verdict"] == "not_informative"
    assert s["note"].startswith("Nothing to recommend beyond best-sellers")
    assert s["offers"] == 0 and s["customers_with_offers"] == 0


def test_not_informative_writes_empty_actionable_marts(no_signal, no_signal_run):
    ws = no_signal
    run = no_signal_run
    assert run.offers.empty and run.recommendations.empty and run.to_frame().empty
    for mart in ANALYSIS.marts:
        if mart.name == "product_propensity":
            continue
        assert ws.has_table(mart.table), mart.table
        assert set(mart.columns) <= set(ws.columns(mart.table)), mart.table
        rows = len(ws.read(mart.table))
        assert (rows == 0) == mart.actionable, (mart.table, rows)  # the stale offer is gone
    scores = ws.read("marts.customer_scores")
    assert scores["next_best_product"].isna().all()
    assert scores["next_best_products"].isna().all()
    assert verdict_of(ws, "basket") == run.verdict
    results = [r for r in run_checks(ws, [m.as_core_table() for m in ANALYSIS.marts])
               if r.table.startswith("marts.")]
    assert results and all(r.passed for r in results)


def test_zero_rules_say_the_lists_are_the_best_sellers(no_signal):
    """The issue's real case: no rule at all, so rules and popularity recommend the same."""
    run = run_basket(no_signal, min_support=0.5, write=False)
    v = run.verdict
    assert run.summary()["rules"] == {"product": 0}
    assert v.status == "not_informative" and v.value == v.baseline
    assert v.interval == (v.baseline, v.baseline)
    assert "no association rule at support 0.5" in v.why
    assert "no rule was found, so the lists are the best-sellers" in v.why.lower()
    assert "lower basket_min_support" in v.what_to_try
    assert run.marts == ()  # write=False


def test_cli_recommend_says_nothing_beyond_best_sellers(no_signal):
    from crmine.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["basket", "recommend", "-w", str(no_signal.root)])
    assert out.exit_code == 0, out.output
    assert "not informative" in out.output
    assert "Nothing to recommend beyond best-sellers" in out.output
    out = runner.invoke(app, ["basket", "recommend", "-w", str(no_signal.root), "--json"])
    data = json.loads(out.stdout)
    assert data["verdict"]["status"] == "not_informative" and data["recommendations"] == []
    out = runner.invoke(app, ["basket", "evaluate", "-w", str(no_signal.root), "--json"])
    assert json.loads(out.stdout)["verdict"]["status"] == "not_informative"


def _per_customer(rules: np.ndarray, popular: np.ndarray) -> pd.DataFrame:
    ids = np.arange(len(rules))
    return pd.DataFrame({"customer_id": np.r_[ids, ids],
                         "method": ["rules"] * len(ids) + ["popularity"] * len(ids),
                         "hits": np.r_[rules, popular]})  # fmt: skip


def test_judge_grades_the_paired_gain():
    rng = np.random.default_rng(0)
    n = 4000
    popular = (rng.random(n) < 0.30).astype(int)
    # rules hit wherever popularity does, plus 10 points of customers more (a 33 % gain)
    better = np.maximum(popular, (rng.random(n) < 0.10).astype(int) * 2)
    v = judge_recommendations(_per_customer(better, popular), k=10, n_rules=50)
    assert v.status == "informative"
    assert v.interval[0] > v.baseline and v.value - v.baseline > 0.06
    # 1.5 points more: beyond chance (paired) but less than 10 % of popularity's 30 %
    slight = np.maximum(popular, (rng.random(n) < 0.02).astype(int))
    w = judge_recommendations(_per_customer(slight, popular), k=10, n_rules=50)
    assert w.status == "weak" and "use the offers with care" in w.why
    # rules that miss where popularity hits
    worse = popular * (rng.random(n) < 0.9)
    assert judge_recommendations(_per_customer(worse, popular), k=10,
                                 n_rules=50).status == "not_informative"  # fmt: skip
    none = judge_recommendations(_per_customer(popular[:0], popular[:0]), k=10, n_rules=0)
    assert none.status == "not_informative" and none.value is None


def test_settings_are_declared_and_checked():
    from crmine.contract import validate_settings

    keys = {s.key for s in ANALYSIS.settings}
    assert keys == {"basket_min_support", "basket_min_confidence", "basket_max_gap_days"}
    assert validate_settings({"basket_min_support": "auto"}) == {"basket_min_support": "auto"}
    assert validate_settings({"basket_min_support": 0.01, "basket_max_gap_days": 30})
    with pytest.raises(ConfigError, match=r"basket_min_support.*auto"):
        validate_settings({"basket_min_support": "often"})
    with pytest.raises(ConfigError, match="basket_min_confidence"):
        validate_settings({"basket_min_confidence": 5})
    with pytest.raises(ConfigError, match="did you mean 'basket_min_support'"):
        validate_settings({"basket_min_suport": 0.01})


def test_estimators_are_clonable():
    rec = RuleRecommender(min_support=0.2, n=3, exclude_owned=False)
    copy = clone(rec)
    assert copy is not rec and copy.get_params() == rec.get_params()
    prop = ProductPropensity(product="tent", C=0.5, class_weight="balanced")
    assert clone(prop).get_params() == {"product": "tent", "C": 0.5,
                                        "class_weight": "balanced"}  # fmt: skip
    fitted = RuleRecommender(min_support=0.3, min_confidence=0.5, n=1).fit(
        [["a", "b"], ["a", "b"], ["a", "c"], ["c"]])
    assert not hasattr(clone(fitted), "rules_")
