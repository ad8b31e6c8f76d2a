"""Uplift learners recover a planted uplift; Hillstrom's held-out Qini beats random."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from crmine.exceptions import DataError, NotFittedError
from crmine.response import (
    ClassTransformationUplift,
    TwoModelUplift,
    expected_profit,
    incremental_profit,
    persuadables,
    qini_curve,
    uplift_at_k,
    uplift_curve,
)
from tests.conftest import shared_file


def _planted(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"age": rng.uniform(18, 80, n), "region": rng.choice(["n", "s"], n),
                      "spend": rng.gamma(2, 50, n)})
    base = 0.05 + 0.05 * (X["region"] == "n")
    # Young customers respond because of the campaign; old ones are put off (sleeping dogs).
    tau = np.where(X["age"] < 35, 0.15, np.where(X["age"] > 65, -0.04, 0.0))
    w = rng.integers(0, 2, n)
    y = (rng.random(n) < base + w * tau).astype(int)
    return X, w, y, tau


@pytest.mark.parametrize("learner", [TwoModelUplift, ClassTransformationUplift])
def test_learners_recover_planted_uplift(learner):
    X, w, y, tau = _planted()
    Xtr, Xte, wtr, wte, ytr, yte, _, tau_te = train_test_split(X, w, y, tau, test_size=0.5,
                                                               random_state=0)
    m = learner().fit(Xtr, wtr, ytr)
    u = m.predict_uplift(Xte)
    assert np.corrcoef(u, tau_te)[0, 1] > 0.8
    young, old = (Xte["age"] < 30).to_numpy(), (Xte["age"] > 70).to_numpy()
    if learner is TwoModelUplift:
        assert u[young].mean() == pytest.approx(0.15, abs=0.03)
        assert u[old].mean() == pytest.approx(-0.04, abs=0.03)
    else:
        # The transformed-class model estimates uplift through a noisier label and is
        # shrunk towards zero by early stopping; its ranking is what is used.
        assert 0.08 < u[young].mean() < 0.18
        assert u[old].mean() < 0
    q = qini_curve(yte, wte, u)
    assert q.area > 0 and q.coefficient > 0.05
    assert uplift_at_k(yte, wte, u, k=0.2) > 0.1
    uc = uplift_curve(yte, wte, u)
    assert uc.area > 0


def test_logistic_learner_and_auto_selection():
    # A correctly specified logistic T-learner: the effect is linear on the logit scale.
    rng = np.random.default_rng(5)
    n = 20_000
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                      "plan": rng.choice(["a", "b", "c"], n)})
    w = rng.integers(0, 2, n)

    def p(treated: np.ndarray) -> np.ndarray:
        logit = -1.5 + 0.6 * X["x1"] + 0.3 * (X["plan"] == "b") + treated * (0.3 + 0.7 * X["x2"])
        return 1 / (1 + np.exp(-logit.to_numpy()))

    tau = p(np.ones(n)) - p(np.zeros(n))
    y = (rng.random(n) < p(w)).astype(int)
    logit = TwoModelUplift(learner="logistic").fit(X.iloc[:15_000], w[:15_000], y[:15_000])
    assert logit.learner_ == "logistic"
    assert np.corrcoef(logit.predict_uplift(X.iloc[15_000:]), tau[15_000:])[0, 1] > 0.95
    # auto compares both by cross-validated Qini. Uplift only in middle age is a bump no
    # model linear in age can rank (a monotone step, as in _planted, it can): trees win.
    rng = np.random.default_rng(6)
    Xs = pd.DataFrame({"age": rng.uniform(18, 80, 12_000), "spend": rng.gamma(2, 50, 12_000)})
    ws = rng.integers(0, 2, 12_000)
    bump = np.where((Xs["age"] > 35) & (Xs["age"] < 55), 0.15, -0.03)
    ys = (rng.random(12_000) < 0.08 + ws * bump).astype(int)
    auto = TwoModelUplift(learner="auto").fit(Xs, ws, ys)
    assert set(auto.cv_qini_) == {"boosting", "logistic"}
    assert auto.learner_ == max(auto.cv_qini_, key=auto.cv_qini_.get) == "boosting"
    with pytest.raises(DataError, match="learner must be"):
        TwoModelUplift(learner="forest").fit(Xs, ws, ys)
    # two control responders: nothing to cross-validate on, boosting is used
    few = ys.copy()
    few[(ws == 0) & (few == 1)] = 0
    few[np.flatnonzero(ws == 0)[:2]] = 1
    thin = TwoModelUplift(learner="auto").fit(Xs, ws, few)
    assert thin.cv_qini_ == {} and thin.learner_ == "boosting"


def test_incremental_profit_counts_only_caused_responses():
    rng = np.random.default_rng(8)
    n = 40_000
    caused = rng.random(n) < 0.3  # the contact lifts these from 5% to 25%
    loyal = ~caused & (rng.random(n) < 0.3)  # these buy (60%) contacted or not
    w = rng.integers(0, 2, n)
    p = np.where(caused, 0.05 + 0.20 * w, np.where(loyal, 0.60, 0.02))
    y = (rng.random(n) < p).astype(int)
    uplift = np.where(caused, 0.20, 0.0) + rng.normal(0, 0.01, n)
    curve = incremental_profit(y, w, uplift, cost_per_contact=2.0, margin=20.0)
    # contacting the caused 30% earns about 0.20 * 20 - 2 = 2 per customer; more costs money
    assert curve.best_depth == pytest.approx(0.30, abs=0.02)
    assert curve.best_profit / curve.best_contacted == pytest.approx(2.0, abs=0.35)
    full = curve.curve.iloc[-1]
    effect = y[w == 1].mean() - y[w == 0].mean()
    assert full["incremental_responders"] == pytest.approx(effect * n)
    assert full["profit"] == pytest.approx(20.0 * effect * n - 2.0 * n)
    # a response model (probability to respond when contacted) also targets the loyal 21%
    # who buy anyway: everyone with a 10% chance or more, about half the list
    if_contacted = np.where(loyal, 0.60, np.where(caused, 0.25, 0.02))
    gross = expected_profit(if_contacted, cost_per_contact=2.0, margin=20.0)
    assert gross.best_depth == pytest.approx(0.51, abs=0.02)
    with pytest.raises(DataError, match="must be >= 0"):
        incremental_profit(y, w, uplift, cost_per_contact=-1.0, margin=20.0)


def test_qini_of_true_uplift_beats_random_and_perfect_is_one():
    _, w, y, tau = _planted(seed=1)
    truth = qini_curve(y, w, tau)
    rnd = qini_curve(y, w, np.random.default_rng(0).random(len(y)))
    assert truth.area > 10 * abs(rnd.area)
    # Ranking by the outcome itself (treated responders first, control responders last)
    # is the perfect Qini curve.
    perfect_score = np.where((w == 1) & (y == 1), 2, np.where((w == 0) & (y == 1), 0, 1))
    assert qini_curve(y, w, perfect_score).coefficient == pytest.approx(1.0)
    assert truth.curve["model"].iloc[-1] == pytest.approx(truth.curve["random"].iloc[-1])


@pytest.mark.data
def test_hillstrom_uplift_qini_above_random_on_held_out():
    df = pd.read_csv(shared_file("hillstrom/hillstrom.csv"))
    df = df[df["segment"] != "Womens E-Mail"]
    w = (df["segment"] == "Mens E-Mail").to_numpy(int)
    y = df["visit"].to_numpy()
    X = df[["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]]
    Xtr, Xte, wtr, wte, ytr, yte = train_test_split(X, w, y, test_size=0.3, random_state=0,
                                                    stratify=w * 2 + y)
    ate = yte[wte == 1].mean() - yte[wte == 0].mean()
    assert ate == pytest.approx(0.0766, abs=0.01)  # published visit effect +7.66 pp
    for learner in (TwoModelUplift(), ClassTransformationUplift()):
        u = learner.fit(Xtr, wtr, ytr).predict_uplift(Xte)
        q = qini_curve(yte, wte, u)
        assert q.area > 0, type(learner).__name__
        # Targeting the top 30% by predicted uplift beats the average effect.
        assert uplift_at_k(yte, wte, u, k=0.3) > ate


def test_persuadables_list_and_errors():
    p = persuadables(["a", "b", "c", "d"], [0.2, -0.1, 0.05, 0.0],
                     p_treated=[0.5, 0.1, 0.9, 0.0], p_control=[0.3, 0.2, 0.85, 0.0])
    assert p["customer_id"].tolist() == ["a", "c"]
    assert p["rank"].tolist() == [1, 2]
    assert set(p["uplift_class"]) == {"persuadable"}
    with pytest.raises(NotFittedError):
        TwoModelUplift().predict_uplift(pd.DataFrame({"x": [1]}))
    with pytest.raises(DataError, match="only one group"):
        TwoModelUplift().fit(pd.DataFrame({"x": [1, 2]}), [1, 1], [0, 1])
    with pytest.raises(DataError, match="equal length"):
        qini_curve([0, 1], [0, 1], [0.1])
