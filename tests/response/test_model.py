"""Response model: Bank Marketing benchmark, gains/lift, expected profit, target list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from crmine.exceptions import DataError, NotFittedError, SchemaError
from crmine.response import ResponseModel, expected_profit, gains_table, target_list
from tests.conftest import shared_file


@pytest.mark.data
@pytest.mark.slow
def test_bank_marketing_cv_auc_and_top_decile_lift():
    """Moro et al. (2014) data without the leaking ``duration``: AUC >= 0.80, lift >= 4.5."""
    df = pd.read_csv(shared_file("bank_marketing/bank-additional-full.csv.gz"), sep=";")
    y = df.pop("y")
    X = df.drop(columns="duration")
    y01 = (y == "yes").to_numpy(int)
    oof = np.zeros(len(y01))
    aucs = []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y01):
        model = ResponseModel().fit(X.iloc[train], y.iloc[train])  # yes/no accepted as is
        oof[test] = model.predict_score(X.iloc[test])
        aucs.append(roc_auc_score(y01[test], oof[test]))
    assert np.mean(aucs) >= 0.80
    gains = gains_table(y01, oof)
    assert gains.loc[0, "lift"] >= 4.5
    assert gains["gain"].iloc[-1] == pytest.approx(1.0)
    assert gains["gain"].is_monotonic_increasing


def _synthetic(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "plan": rng.choice(["basic", "gold", "platinum"], n),
        "visits": rng.poisson(3, n).astype(float),
    })
    X.loc[rng.random(n) < 0.1, "visits"] = np.nan  # missing values are fine
    logit = -3 + 1.5 * (X["plan"] == "platinum") + 0.3 * X["visits"].fillna(0) - 0.01 * X["age"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y, 1 / (1 + np.exp(-logit))


def test_model_learns_planted_signal_with_categoricals_and_missing():
    X, y, p_true = _synthetic(n=14_000)
    m = ResponseModel().fit(X.iloc[:12_000], y[:12_000])
    score = m.predict_score(X.iloc[12_000:])
    assert score.shape == (2000,) and ((score >= 0) & (score <= 1)).all()
    # Close to the AUC of the true probabilities on the same rows.
    auc_true = roc_auc_score(y[12_000:], p_true[12_000:])
    assert roc_auc_score(y[12_000:], score) > auc_true - 0.03
    # Calibrated: mean score matches the held-out response rate.
    assert score.mean() == pytest.approx(y[12_000:].mean(), abs=0.01)
    assert m.categories_["plan"].tolist() == ["basic", "gold", "platinum"]
    # An unseen category is treated as missing instead of failing.
    new = X.iloc[:3].assign(plan=["diamond", "gold", "basic"])
    assert np.isfinite(m.predict_score(new)).all()
    assert m.predict_proba(X.iloc[:5]).sum(axis=1) == pytest.approx(np.ones(5))


def test_a_text_column_with_hundreds_of_values_keeps_the_frequent_ones():
    rng = np.random.default_rng(3)
    n = 6000
    # 400 cities: "Big" (a third of the customers) responds far more; the rest are rare
    city = np.where(rng.random(n) < 0.33, "Big", [f"town{i}" for i in rng.integers(0, 400, n)])
    y = (rng.random(n) < np.where(city == "Big", 0.5, 0.1)).astype(int)
    X = pd.DataFrame({"city": city, "age": rng.normal(40, 10, n)})
    m = ResponseModel().fit(X, y)
    cats = m.categories_["city"]
    assert len(cats) == 254 and "(other)" in cats and "Big" in cats
    score = m.predict_score(pd.DataFrame({"city": ["Big", "town9999", None], "age": 40.0}))
    assert score[0] > 0.35 and score[1] < 0.2  # a town never seen counts as a rare one
    assert roc_auc_score(y, m.predict_score(X)) > 0.65


def test_model_errors():
    X, y, _ = _synthetic(200)
    with pytest.raises(NotFittedError):
        ResponseModel().predict_score(X)
    with pytest.raises(DataError, match="only one class"):
        ResponseModel().fit(X, np.zeros(200))
    with pytest.raises(DataError, match="value 'maybe' at row 1"):
        ResponseModel().fit(X.iloc[:3], ["yes", "maybe", "no"])
    m = ResponseModel(max_iter=5).fit(X, y)
    with pytest.raises(SchemaError, match="'visits'"):
        m.predict_score(X.drop(columns="visits"))
    with pytest.raises(DataError, match="'lots' at row 0"):
        m.predict_score(X.iloc[:2].astype({"visits": object}).assign(visits=["lots", 1]))


def test_gains_table_by_hand():
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    score = np.arange(10)[::-1] / 10  # perfectly ordered except the third
    g = gains_table(y, score, n_bins=5)
    assert g["responders"].tolist() == [2, 1, 0, 0, 0]
    assert g.loc[0, "lift"] == pytest.approx(1.0 / 0.3)
    assert g["gain"].tolist() == pytest.approx([2 / 3, 1, 1, 1, 1])
    assert g["depth"].tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_expected_profit_and_target_list():
    score = np.array([0.5, 0.05, 0.3, 0.1, 0.01])
    pc = expected_profit(score, cost_per_contact=1.0, margin=10.0)
    # Contact those with 10 * p > 1: scores 0.5, 0.3 (p=0.1 breaks even, adds nothing).
    assert pc.best_contacted in (2, 3)
    assert pc.best_profit == pytest.approx(10 * 0.8 - 2)
    assert pc.curve["profit"].iloc[0] == 0
    tl = target_list(["a", "b", "c", "d", "e"], score, cost_per_contact=1.0, margin=10.0)
    assert tl["customer_id"].tolist()[:2] == ["a", "c"]
    assert tl["expected_profit"].iloc[0] == pytest.approx(4.0)
    assert target_list(list("abcde"), score, depth=0.4)["customer_id"].tolist() == ["a", "c"]
    realised = expected_profit(score, cost_per_contact=1.0, margin=10.0, y=[0, 0, 1, 0, 0])
    assert realised.best_profit == pytest.approx(10 - 2)
    with pytest.raises(DataError, match="depth"):
        target_list(["a"], [0.1])
