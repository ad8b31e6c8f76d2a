"""One contract over every estimator (scikit-learn's test_common idea) and bad-input errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crmine.clv import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    rfm_from_mart,
    rfm_summary,
)
from crmine.exceptions import (
    ConvergenceWarning,
    CrmineError,
    DataError,
    MissingColumnError,
    NotFittedError,
)

TRANSACTION_MODELS = [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, BetaGeoBetaBinomModel]
PARAMS = {
    BetaGeoModel: ("r", "alpha", "a", "b"),
    ModifiedBetaGeoModel: ("r", "alpha", "a", "b"),
    ParetoNBDModel: ("r", "alpha", "s", "beta"),
    BetaGeoBetaBinomModel: ("alpha", "beta", "gamma", "delta"),
    GammaGammaModel: ("p", "q", "v"),
}


def _data(cls):
    if cls is GammaGammaModel:
        return pd.DataFrame(
            {
                "frequency": [1, 2, 3, 1, 4, 2, 5, 1] * 20,
                "monetary_value": [10.0, 20, 15, 30, 12, 18, 25, 40] * 20,
            }
        )
    if cls is BetaGeoBetaBinomModel:
        return cls.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.78).simulate(
            500, 6, seed=0
        )
    return BetaGeoModel.from_params(r=0.3, alpha=4, a=0.8, b=2.5).simulate(500, 39.0, seed=0)


@pytest.mark.parametrize("cls", [*TRANSACTION_MODELS, GammaGammaModel])
def test_estimator_contract(cls):
    model = cls(penalizer=0.0)
    assert model.get_params()["penalizer"] == 0.0
    data = _data(cls)
    with pytest.raises(NotFittedError, match="not fitted"):
        _ = model.params_ if hasattr(model, "params_") else model.standard_errors_
    assert model.fit(data) is model
    assert tuple(model.params_) == PARAMS[cls]
    assert all(v > 0 for v in model.params_.values())
    assert np.isfinite(model.log_likelihood_) and model.log_likelihood_ < 0
    assert model.summary_frame()["standard_error"].notna().all()
    assert "log_likelihood" in repr(model)
    # fitting is deterministic and depends only on the data
    again = cls().fit(data)
    assert again.params_ == pytest.approx(model.params_, rel=1e-9)
    # weights are equivalent to repeated rows
    doubled = cls().fit(data, weights=np.full(len(data), 2.0))
    stacked = cls().fit(pd.concat([data, data], ignore_index=True))
    assert doubled.params_ == pytest.approx(stacked.params_, rel=1e-6)


@pytest.mark.parametrize("cls", TRANSACTION_MODELS)
def test_predictions_are_aligned_and_bounded(cls):
    data = _data(cls).set_index(pd.Index([f"c{i}" for i in range(500)]))
    model = cls().fit(data)
    alive = model.p_alive(data)
    assert list(alive.index) == list(data.index)
    assert ((alive > 0) & (alive <= 1)).all()
    e10 = model.expected_purchases(10, data)
    e20 = model.expected_purchases(20, data)
    assert (e10 >= 0).all() and (e20 >= e10 - 1e-12).all()
    with pytest.raises(NotFittedError):
        cls().p_alive(data)


def test_no_overflow_on_extreme_frequencies():
    extreme = pd.DataFrame(
        {
            "frequency": [0, 500, 2000, 5000],
            "recency": [0, 300, 364, 100.0],
            "T": [365, 365, 365, 365.0],
        }
    )
    for cls in (BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel):
        model = cls.from_params(**dict(zip(PARAMS[cls], [0.5, 8.0, 0.7, 3.0], strict=True)))
        ll = model.log_likelihood(extreme)
        assert np.isfinite(ll).all(), cls.__name__
        for values in (model.p_alive(extreme), model.expected_purchases(90, extreme)):
            assert np.isfinite(values).all(), cls.__name__
        # a very frequent buyer who stopped long ago is almost surely gone
        assert model.p_alive(extreme).iloc[3] < 1e-6


def test_pareto_alpha_below_beta_branch_is_continuous():
    data = pd.DataFrame({"frequency": [0, 3, 10], "recency": [0, 20.0, 35.0], "T": [40.0] * 3})
    lo = ParetoNBDModel.from_params(r=0.5, alpha=10.0, s=0.6, beta=10.0 - 1e-7)
    hi = ParetoNBDModel.from_params(r=0.5, alpha=10.0, s=0.6, beta=10.0 + 1e-7)
    np.testing.assert_allclose(lo.log_likelihood(data), hi.log_likelihood(data), rtol=1e-7)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame(
                {"frequency": [1, 2], "recency": [5.0, 50.0], "T": [10.0, 20.0]},
                index=["ok", "late"],
            ),
            r"recency > T in row\(s\) 'late'",
        ),
        (
            pd.DataFrame(
                {"frequency": [1, -2], "recency": [5.0, 5.0], "T": [10.0, 20.0]}, index=["a", "neg"]
            ),
            r"'frequency' has negative values in row\(s\) 'neg'",
        ),
        (
            pd.DataFrame({"frequency": [1, np.nan], "recency": [5.0, 5.0], "T": [10.0, 20.0]}),
            r"'frequency' has NaN/infinite values in row\(s\) 1",
        ),
        (pd.DataFrame({"frequency": [1.5], "recency": [5.0], "T": [10.0]}), "whole numbers"),
        (pd.DataFrame({"frequency": [0], "recency": [5.0], "T": [10.0]}), "recency 0"),
    ],
)
def test_bad_input_names_rows(frame, message):
    with pytest.raises(DataError, match=message):
        BetaGeoModel().fit(frame)


def test_missing_column_lists_found_columns():
    with pytest.raises(MissingColumnError, match=r"no column\(s\) \['T'\].*columns found"):
        BetaGeoModel().fit(pd.DataFrame({"frequency": [1], "recency": [1.0]}))
    with pytest.raises(CrmineError):
        GammaGammaModel().fit(pd.DataFrame({"frequency": [0, 0], "monetary_value": [1.0, 2.0]}))


def test_non_convergence_warns_clearly():
    data = _data(BetaGeoModel)
    with pytest.warns(ConvergenceWarning, match="did not converge.*initial_params"):
        BetaGeoModel(max_iter=1).fit(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        BetaGeoModel().fit(data)


def test_rfm_summary_bad_input():
    tx = pd.DataFrame({"id": [1, 2, None], "ts": ["2024-01-01", "2024-01-02", "2024-01-03"]})
    with pytest.raises(DataError, match=r"'id' is empty in row\(s\) \[2\]"):
        rfm_summary(tx, "id", "ts")
    with pytest.raises(MissingColumnError, match="amount"):
        rfm_summary(tx, "id", "ts", "amount")
    with pytest.raises(DataError, match="time_unit 'Q'"):
        rfm_summary(tx.dropna(), "id", "ts", time_unit="Q")


def test_rfm_summary_conventions_small():
    tx = pd.DataFrame(
        {
            "id": ["a", "a", "a", "a", "b", "c"],
            "ts": pd.to_datetime(
                [
                    "2024-01-01 10:00",
                    "2024-01-01 18:00",
                    "2024-01-04 00:00",
                    "2024-01-11 00:00",
                    "2024-01-02 00:00",
                    "2024-01-20 00:00",
                ]
            ),
            "amount": [5.0, 5.0, 4.0, 8.0, 3.0, 9.0],
        }
    )
    s = rfm_summary(tx, "id", "ts", "amount", observation_period_end="2024-01-15")
    assert list(s.index) == ["a", "b"]  # c bought after the end of observation
    assert s.loc["a"].tolist() == [2.0, 10.0, 14.0, 6.0]  # same-day purchases collapse
    assert s.loc["b"].tolist() == [0.0, 0.0, 13.0, 0.0]


def test_rfm_from_mart_validates():
    mart = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "frequency": [1, 0],
            "recency": [3.0, 0.0],
            "T": [10.0, 5.0],
            "monetary_value": [12.0, None],
        }
    )
    out = rfm_from_mart(mart)
    assert list(out.index) == ["1", "2"] and out.loc["2", "monetary_value"] == 0.0
    with pytest.raises(DataError, match="recency > T"):
        rfm_from_mart(mart.assign(recency=[30.0, 0.0]))
