"""One contract over every estimator crmine exports (scikit-learn's ``test_common`` idea).

Every concrete class with ``fit`` in an analysis package's ``__all__`` must:
- take only keyword-only hyper-parameters, each with a default, and store exactly those;
- raise ``NotFittedError`` from its prediction method before ``fit``;
- return ``self`` from ``fit``, add only public attributes ending in ``_`` (private helpers
  starting with ``_`` are allowed, as in scikit-learn), leave hyper-parameters
  unchanged and never rebind methods on the instance;
- predict one finite value per row after ``fit``.

A new estimator without an entry in ``CASES`` fails ``test_every_estimator_has_a_case``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crmine.exceptions import NotFittedError

PACKAGES = (
    "clv", "churn", "basket", "segment", "cube", "marketing", "response", "lifecycle",
    "service", "sales",
)


def _estimators() -> dict[str, type]:
    found = {}
    for pkg in PACKAGES:
        module = importlib.import_module(f"crmine.{pkg}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            # BaseModel and TransactionModel are the CLV models' shared bases, not estimators
            if (
                inspect.isclass(obj)
                and callable(getattr(obj, "fit", None))
                and name not in ("BaseModel", "TransactionModel")
            ):
                found[name] = obj
    return found


def _tabular(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, n).astype(float),
            "charge": rng.normal(70, 20, n),
            "contract": rng.choice(["monthly", "one_year", "two_year"], n),
            "gender": rng.choice(["F", "M"], n),
        }
    )
    X.loc[::17, "charge"] = np.nan  # missing values are handled for the user
    logit = -1 + 1.5 * (X["contract"] == "monthly") - 0.03 * X["tenure"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, np.asarray(y)


def _bgnbd_summary() -> pd.DataFrame:
    from crmine.clv import BetaGeoModel

    return BetaGeoModel.from_params(r=0.3, alpha=4.0, a=0.8, b=2.5).simulate(400, 39.0, seed=0)


# name -> (hyper-parameters, fit arguments, prediction on the fitted estimator, rows predicted)
Case = tuple[dict[str, Any], Callable[[], tuple[Any, ...]], Callable[[Any, tuple[Any, ...]], Any]]


def _clv_case() -> Case:
    return ({}, lambda: (_bgnbd_summary(),), lambda m, a: m.p_alive(a[0]))


def _bgbb_args() -> tuple[Any, ...]:
    from crmine.clv import BetaGeoBetaBinomModel

    model = BetaGeoBetaBinomModel.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.78)
    return (model.simulate(400, 6, seed=0),)


def _gamma_gamma_args() -> tuple[Any, ...]:
    rng = np.random.default_rng(1)
    frequency = rng.integers(1, 8, 300)
    return (
        pd.DataFrame({"frequency": frequency, "monetary_value": rng.gamma(3.0, 10.0, 300) + 1}),
    )


def _uplift_args() -> tuple[Any, ...]:
    X, y = _tabular(600)
    treatment = np.random.default_rng(2).integers(0, 2, len(X))
    return X, treatment, y


def _tenure_args() -> tuple[Any, ...]:
    X, y = _tabular()
    return X[["tenure", "charge"]].fillna(70.0), X["tenure"].to_numpy(), y


def _baskets() -> list[list[str]]:
    rng = np.random.default_rng(3)
    return [
        list({*rng.choice(list("abcdefg"), rng.integers(1, 5)), *("xy" if i % 3 else "")})
        for i in range(200)
    ]


def _weekly_media() -> tuple[Any, ...]:
    """Two channels' weekly spend and an outcome they drive (carry-over and saturation)."""
    rng = np.random.default_rng(4)
    weeks = pd.date_range("2023-01-02", periods=104, freq="W-MON")
    spend = pd.DataFrame({"tv": rng.gamma(2.0, 500.0, 104), "search": rng.gamma(2.0, 200.0, 104)},
                         index=weeks)  # fmt: skip
    outcome = 5_000 + 0.8 * spend["tv"].ewm(alpha=0.5).mean() + 1.5 * spend["search"] \
        + rng.normal(0, 100, 104)
    return spend, outcome


def _tickets() -> tuple[Any, ...]:
    rng = np.random.default_rng(5)
    words = {"billing": "charged refund invoice card payment", "delivery": "parcel late courier "
             "address tracking", "app": "crash login password update screen"}  # fmt: skip
    labels = rng.choice(list(words), 240)
    texts = [" ".join(rng.choice(words[lab].split(), 4)) + " please help" for lab in labels]
    return texts, labels


CASES: dict[str, Case] = {
    "BetaGeoModel": _clv_case(),
    "ModifiedBetaGeoModel": _clv_case(),
    "ParetoNBDModel": _clv_case(),
    "BetaGeoBetaBinomModel": ({}, _bgbb_args, lambda m, a: m.p_alive(a[0])),
    "GammaGammaModel": ({}, _gamma_gamma_args, lambda m, a: m.expected_spend(a[0])),
    "ChurnModel": (
        {"method": "tree", "cv": 3},
        lambda: _tabular(),
        lambda m, a: m.predict_risk(a[0]),
    ),
    "TenureModel": ({}, _tenure_args, lambda m, a: m.expected_remaining_tenure(a[0], a[1])),
    "ProductPropensity": (
        {"product": "x"},
        lambda: (_tabular()[0][["tenure", "charge"]].fillna(0), _tabular()[1]),
        lambda m, a: m.predict_proba(a[0]),
    ),
    "RuleRecommender": (
        {"min_support": 0.05},
        lambda: (_baskets(),),
        lambda m, a: m.recommend({"c1": ["x"], "c2": ["a", "b"]}),
    ),
    "CustomerSegmenter": (
        {"method": "kmeans", "n_clusters": 3},
        lambda: (_tabular()[0][["tenure", "charge"]],),
        lambda m, a: m.predict(a[0]),
    ),
    "ResponseCurves": (
        {"n_draws": 50},
        lambda: (
            pd.DataFrame(
                {
                    "channel": ["email"] * 8 + ["sms"] * 8,
                    "cost": [100, 200, 400, 800, 1600, 3200, 6400, 12800] * 2,
                    "conversions": [9, 17, 30, 50, 75, 95, 108, 114, 3, 6, 11, 19, 30, 41, 48, 52],
                }
            ),
        ),
        lambda m, a: m.predict("email", [500.0, 1000.0]),
    ),
    "ResponseModel": ({}, lambda: _tabular(600), lambda m, a: m.predict_score(a[0])),
    "TwoModelUplift": ({}, _uplift_args, lambda m, a: m.predict_uplift(a[0])),
    "ClassTransformationUplift": ({}, _uplift_args, lambda m, a: m.predict_uplift(a[0])),
    "MarketingMix": ({"n_bootstrap": 5}, _weekly_media, lambda m, a: m.predict(a[0])),
    "TicketTopics": ({"n_topics": 3}, lambda: (_tickets()[0],),
                     lambda m, a: m.transform(a[0])),
    "TicketClassifier": ({}, _tickets, lambda m, a: m.predict_proba(a[0])),
    # survivors of one cohort by period (Fader & Hardie 2007, "regular"); 12 periods projected
    "ShiftedBetaGeometric": (
        {},
        lambda: ([1000, 631, 468, 382, 326, 289, 262, 241],),
        lambda m, a: m.predict_survivors(12),
    ),
}

ESTIMATORS = _estimators()


def test_every_estimator_has_a_case():
    assert sorted(ESTIMATORS) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_init_takes_keyword_only_defaults_and_stores_them(name):
    cls = ESTIMATORS[name]
    params = {k: p for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"}
    assert params, f"{name} has no hyper-parameters"
    for key, p in params.items():
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}.{key} is not keyword-only"
        assert p.default is not inspect.Parameter.empty, f"{name}.{key} has no default"
    est = cls()
    stored = {k for k in vars(est)} if hasattr(est, "__dict__") else set()
    assert stored == set(params), f"{name}.__init__ stores {stored ^ set(params)} beyond its params"
    assert not any(k.endswith("_") for k in stored)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_contract(name):
    cls = ESTIMATORS[name]
    hyper, make_args, predict = CASES[name]
    est = cls(**hyper)
    args = make_args()
    with pytest.raises(NotFittedError):
        predict(est, args)
    before = dict(vars(est))
    with np.errstate(all="ignore"):
        assert est.fit(*args) is est
    added = {k for k in set(vars(est)) - set(before) if not k.startswith("_")}  # private is fine
    assert added and all(k.endswith("_") for k in added), f"{name} added {added}"
    for key, value in before.items():  # hyper-parameters untouched
        assert vars(est)[key] is value or vars(est)[key] == value, f"{name}.{key} changed in fit"
    # lifetimes does ``self.predict = ...`` in fit; an instance attribute must never shadow
    # anything the class defines
    rebound = [k for k in vars(est) if k in dir(cls) and not isinstance(getattr(cls, k), property)]
    assert rebound == [], f"{name}.fit rebinds {rebound} on the instance"
    out = predict(est, args)
    values = out.to_numpy() if isinstance(out, (pd.DataFrame, pd.Series)) else np.asarray(out)
    assert values.size > 0
    if values.dtype.kind == "f":
        assert np.isfinite(values).all(), f"{name} predicted non-finite values"


@pytest.mark.parametrize("name", sorted(CASES))
def test_clonable_with_sklearn(name):
    """``sklearn.base.clone`` gives an unfitted twin with equal hyper-parameters (so every
    estimator works in scikit-learn's model selection and pipelines)."""
    from sklearn.base import clone

    cls = ESTIMATORS[name]
    hyper, make_args, predict = CASES[name]
    est = cls(**hyper)
    with np.errstate(all="ignore"):
        est.fit(*make_args())
    twin = clone(est)
    assert type(twin) is cls and twin is not est
    assert twin.get_params() == est.get_params() or all(
        repr(v) == repr(est.get_params()[k]) for k, v in twin.get_params().items()
    )
    with pytest.raises(NotFittedError):
        predict(twin, make_args())
