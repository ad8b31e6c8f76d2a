"""ChurnModel on simulated customers with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.churn import ChurnModel, LeakageWarning
from crmine.exceptions import ConfigError, DataError, MissingColumnError, NotFittedError


def simulate(n: int = 3000, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Churn from a known logistic model: contract, tenure and complaints drive it."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(["monthly", "one year", "two year"], n, p=[0.5, 0.3, 0.2])
    tenure = rng.integers(1, 72, n).astype(float)
    complaints = rng.poisson(0.8, n)
    charge = rng.normal(70, 20, n).round(2)
    gender = rng.choice(["F", "M"], n)
    logit = (-1.2 + 1.0 * (contract == "monthly") - 1.0 * (contract == "two year")
             - 0.03 * tenure + 0.6 * complaints)
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < p).astype(int)
    charge_text = charge.astype(str).astype(object)
    charge_text[:15] = " "  # blanks, as in real exports
    X = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)], "contract": contract,
        "tenure": tenure, "complaints": complaints, "monthly_charge": charge_text,
        "gender": gender,
    })
    return X, y, p


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    return simulate()


@pytest.mark.parametrize("method", ["tree", "logistic", "boosting"])
def test_each_method_gets_close_to_the_true_model(data, method: str) -> None:
    from sklearn.metrics import roc_auc_score

    X, y, p = data
    model = ChurnModel(method=method, cv=3).fit(X, y)
    oracle = roc_auc_score(y, p)
    assert model.method_ == method
    cv_auc = model.comparison_.loc[0, "roc_auc"]
    assert cv_auc > oracle - (0.06 if method == "tree" else 0.03)
    assert cv_auc < oracle + 0.02  # cross-validated, so it cannot beat the truth by much
    top = set(model.drivers_["feature"].head(3))
    assert top == {"contract", "tenure", "complaints"}
    drivers = model.drivers_.set_index("feature")
    assert drivers.loc["complaints", "direction"] == "higher → more churn"
    assert drivers.loc["tenure", "direction"] == "higher → less churn"
    assert drivers.loc["contract", "riskiest_level"] == "monthly"


def test_logistic_scorecard_recovers_odds_ratios(data) -> None:
    X, y, _ = data
    model = ChurnModel(method="logistic", cv=0, C=10.0).fit(X, y)
    card = model.scorecard_
    assert card is not None
    contract = card[card["feature"] == "contract"].set_index("level")["coefficient"]
    # True log-odds gap between monthly and two-year contracts is 2.0.
    assert contract["monthly"] - contract["two year"] == pytest.approx(2.0, abs=0.35)
    tenure = card[card["feature"] == "tenure"]["coefficient"].to_numpy()
    assert tenure[0] > tenure[-1]  # short tenure bins carry more risk
    assert {"feature", "level", "odds_ratio", "points"} <= set(card.columns)


def test_boosting_probabilities_are_calibrated(data) -> None:
    X, y, p = data
    model = ChurnModel(method="boosting", cv=0).fit(X, y)
    risk = model.predict_risk(X)
    assert risk.mean() == pytest.approx(y.mean(), abs=0.02)
    # Against the true probabilities, by quintile of predicted risk.
    q = pd.qcut(risk, 5, labels=False, duplicates="drop")
    by_bin = pd.DataFrame({"pred": risk, "true": p, "q": q}).groupby("q").mean()
    assert np.abs(by_bin["pred"] - by_bin["true"]).max() < 0.08


def test_tree_rules_recover_a_planted_rule() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    plan = rng.choice(["basic", "plus", "premium"], n)
    tenure = rng.integers(0, 48, n)
    risky = (plan == "basic") & (tenure < 12)
    y = np.where(risky, rng.random(n) < 0.9, rng.random(n) < 0.05).astype(int)
    X = pd.DataFrame({"plan": plan, "tenure": tenure, "noise": rng.normal(size=n)})
    model = ChurnModel(method="tree", cv=0, max_depth=2).fit(X, y)
    top = model.rules_.iloc[0]
    assert top["conditions"] in ("plan = basic and tenure ≤ 11", "tenure ≤ 11 and plan = basic")
    assert top["churn_rate"] == pytest.approx(0.9, abs=0.04)
    assert top["customers"] == int(risky.sum())
    nodes = model.tree_nodes_
    assert nodes.loc[0, "customers"] == n and nodes["is_leaf"].sum() == len(model.rules_)


def test_column_equal_to_label_is_excluded_as_leakage(data) -> None:
    X, y, _ = data
    leaky = X.assign(
        churn_flag_copy=np.where(y == 1, "Yes", "No"),
        # Only filled in for customers who left: missingness gives the label away.
        cancel_days=np.where(y == 1, 10.0, np.nan),
        refund_amount=y * 25.0 + 1.0,
    )
    with pytest.warns(LeakageWarning) as record:
        model = ChurnModel(method="logistic", cv=3).fit(leaky, y)
    warned = " ".join(str(w.message) for w in record)
    assert all(c in warned for c in ("churn_flag_copy", "cancel_days", "refund_amount"))
    for col in ("churn_flag_copy", "cancel_days", "refund_amount"):
        assert col not in model.plan_.features
        assert model.plan_.excluded[col].startswith("leakage")
    assert model.comparison_.loc[0, "roc_auc"] < 0.85  # honest accuracy, not a perfect 1.0


def test_auto_on_a_sample_fits_winner_on_everyone(data) -> None:
    X, y, _ = data
    model = ChurnModel(method="auto", cv=3, selection_rows=1500).fit(X, y)
    assert len(model.comparison_) == 3 and model.comparison_["selected"].sum() == 1
    assert any("stratified sample of 1,500" in note for note in model.notes_)
    assert model.evaluation_ is not None and model.evaluation_.metric("n") == 1500
    assert model.n_customers_ == len(X)
    s = model.summary()
    assert s["method"] == model.method_ and "roc_auc" in s["metrics"]


def test_errors_name_the_problem(data) -> None:
    X, y, _ = data
    with pytest.raises(NotFittedError, match="not fitted"):
        ChurnModel().predict_risk(X)
    with pytest.raises(ConfigError, match="method must be one of"):
        ChurnModel(method="forest").fit(X, y)  # type: ignore[arg-type]
    bad = np.array(["Yes"] * (len(y) - 1) + ["maybe"], dtype=object)
    with pytest.raises(DataError, match=r"rows \[2999\] hold \['maybe'\]"):
        ChurnModel(cv=0, method="tree").fit(X, bad)
    with pytest.raises(DataError, match="only one class"):
        ChurnModel(cv=0, method="tree").fit(X, np.zeros(len(y)))
    with pytest.raises(MissingColumnError, match="target column 'Churn' not found"):
        ChurnModel().fit(X, "Churn")
    model = ChurnModel(method="tree", cv=0).fit(X, y)
    with pytest.raises(MissingColumnError, match=r"lacks feature column\(s\) \['tenure'\]"):
        model.predict_risk(X.drop(columns=["tenure"]))


def test_unseen_levels_and_missing_values_at_scoring(data) -> None:
    X, y, _ = data
    model = ChurnModel(method="auto", cv=2).fit(X, y)
    new = X.head(4).copy()
    new["contract"] = ["monthly", "lifetime", None, "two year"]
    new.loc[1, "tenure"] = np.nan
    risk = model.predict_risk(new)
    assert np.all(np.isfinite(risk)) and risk.shape == (4,)
    assert model.predict(new).dtype.kind == "i"


def test_groups_keep_a_customer_in_one_fold() -> None:
    """Pure-noise features, each customer seen at two cut-offs: a tree that memorises rows
    looks good when a customer's twin row sits in the training fold, not with groups."""
    rng = np.random.default_rng(2)
    n = 600
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = rng.integers(0, 2, n)
    X2, y2 = pd.concat([X, X], ignore_index=True), np.r_[y, y]
    ids = np.r_[np.arange(n), np.arange(n)]
    deep = {"method": "tree", "cv": 5, "max_depth": 30, "min_samples_leaf": 1}
    naive = ChurnModel(**deep).fit(X2, y2)
    grouped = ChurnModel(**deep).fit(X2, y2, groups=ids)
    assert naive.comparison_.loc[0, "roc_auc"] > 0.7
    assert grouped.comparison_.loc[0, "roc_auc"] == pytest.approx(0.5, abs=0.06)
    with pytest.raises(DataError, match="groups has 3 values"):
        ChurnModel(**deep).fit(X2, y2, groups=[1, 2, 3])
