"""Published CDNOW results (Fader, Hardie & Lee 2005a/b) on the 2,357-customer sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.clv import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    calibration_holdout_split,
    cumulative_tracking,
    frequency_histogram,
    holdout_evaluation,
)

pytestmark = pytest.mark.data


def test_bgnbd_matches_fader_hardie_lee_2005(cdnow_summary):
    model = BetaGeoModel().fit(cdnow_summary)
    assert model.fit(cdnow_summary) is model
    expected = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in expected.items():
        assert model.params_[name] == pytest.approx(value, abs=1.5e-3)
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    # lifetimes' Quickstart quotes the estimates to 6 digits
    assert model.params_["r"] == pytest.approx(0.242593, rel=1e-4)
    assert model.params_["b"] == pytest.approx(2.425752, rel=1e-4)
    assert model.converged_ and model.n_customers_ == 2357
    se = model.standard_errors_
    assert np.all(np.isfinite(se)) and (se > 0).all()
    ci = model.confidence_intervals()
    assert (ci["lower"] < pd.Series(model.params_)).all()
    assert (ci["upper"] > pd.Series(model.params_)).all()
    # log-scale intervals: positive, estimate at the geometric centre, and close to the plain
    # Wald interval (lifetimes' r: 0.2426 ± 1.96 · 0.0126) when the estimate is precise
    est = pd.Series(model.params_)
    assert (ci["lower"] > 0).all()
    np.testing.assert_allclose(ci["lower"] * ci["upper"], est**2, rtol=1e-12)
    assert ci.loc["r", "lower"] == pytest.approx(est["r"] - 1.96 * se["r"], rel=0.01)
    assert ci.loc["r", "upper"] == pytest.approx(est["r"] + 1.96 * se["r"], rel=0.01)


def test_paretonbd_matches_published(cdnow_summary):
    model = ParetoNBDModel().fit(cdnow_summary)
    expected = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    for name, value in expected.items():
        assert model.params_[name] == pytest.approx(value, rel=2e-3)
    assert model.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)


def test_mbgnbd_matches_btydplus(cdnow_summary):
    model = ModifiedBetaGeoModel().fit(cdnow_summary)
    expected = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
    for name, value in expected.items():
        assert model.params_[name] == pytest.approx(value, rel=2e-3)


def test_gamma_gamma_matches_fader_hardie_lee_2005b(cdnow_spend):
    model = GammaGammaModel().fit(cdnow_spend)
    assert model.n_customers_ == 946  # repeat buyers only
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert model.params_[name] == pytest.approx(value, abs=0.011)
    assert model.log_likelihood_ == pytest.approx(-4055.92, abs=0.01)


def test_gamma_gamma_conditional_spend_hardie_spreadsheet(cdnow_spend):
    # the spreadsheet uses the full-precision estimates, so fit rather than use rounded values
    model = GammaGammaModel().fit(cdnow_spend)
    spend = model.expected_spend(cdnow_spend.head(10))
    published = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    np.testing.assert_allclose(spend.to_numpy(), published, atol=0.011)


def test_bgnbd_point_predictions_published():
    model = BetaGeoModel.from_params(r=0.242593, alpha=4.413532, a=0.792886, b=2.425752)
    t = np.array([0.1429, 1, 3, 31.8571, 32, 78])
    np.testing.assert_allclose(
        model.expected_purchases(t), [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576], atol=1.5e-3
    )
    # ... to 4 decimals up to week 32 (the 78-week value in the sheet is rounded differently)
    np.testing.assert_allclose(
        model.expected_purchases(t[:5]), [0.0078, 0.0532, 0.1506, 1.0405, 1.0437], atol=6e-5
    )
    one = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    assert model.expected_purchases(39, one).iloc[0] == pytest.approx(1.226, abs=5e-4)
    # R BTYD documentation values, computed with the rounded estimates
    btyd = BetaGeoModel.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert btyd.probability_of_purchases(0, 39)[0] == pytest.approx(0.5737864, rel=1e-6)
    assert btyd.probability_of_purchases(10, 2)[0] == pytest.approx(1.07869e-07, rel=1e-4)


def test_paretonbd_conditional_expectation_btyd_walkthrough():
    model = ParetoNBDModel.from_params(r=0.5534, alpha=10.5802, s=0.6061, beta=11.6562)
    one = pd.DataFrame({"frequency": [26], "recency": [30.86], "T": [31.0]})
    assert model.expected_purchases(52, one).iloc[0] == pytest.approx(25.46, abs=0.01)


def test_summary_from_sample_matches_published_summary(cdnow_sample_tx, cdnow_summary):
    split = calibration_holdout_split(
        cdnow_sample_tx,
        "customer_id",
        "date",
        "1997-09-30",
        "1998-06-30",
        "value",
        freq_multiplier=7,
    )
    assert len(split) == 2357
    assert (split["frequency_cal"].to_numpy() == cdnow_summary["frequency"].to_numpy()).all()
    # the published file rounds recency and T to 2 decimals
    np.testing.assert_allclose(split["recency_cal"], cdnow_summary["recency"], atol=0.005)
    np.testing.assert_allclose(split["T_cal"], cdnow_summary["T"], atol=0.005)
    assert split["duration_holdout"].iloc[0] == pytest.approx(39.0)
    assert split["frequency_holdout"].sum() == 1882


@pytest.fixture(scope="module")
def sample_fit(cdnow_sample_tx):
    split = calibration_holdout_split(
        cdnow_sample_tx,
        "customer_id",
        "date",
        "1997-09-30",
        "1998-06-30",
        "value",
        freq_multiplier=7,
    )
    cal = split.rename(
        columns={"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"}
    )
    return split, cal, BetaGeoModel().fit(cal)


def test_cumulative_tracking_within_5_percent(sample_fit, cdnow_sample_tx):
    _, _, model = sample_fit
    track = cumulative_tracking(
        model, cdnow_sample_tx, "customer_id", "date", "1997-09-30", "1998-06-30", freq_multiplier=7
    )
    end = track.iloc[-1]
    assert end["actual"] == 4339  # repeat purchase days over weeks 1-78
    assert abs(end["predicted"] / end["actual"] - 1) < 0.05
    cal_end = track.loc[~track["in_holdout"]].iloc[-1]
    assert cal_end["actual"] == 2457
    assert abs(cal_end["predicted"] / cal_end["actual"] - 1) < 0.03


def test_conditional_expectations_close_to_paper(sample_fit):
    split, _, model = sample_fit
    evaluation = holdout_evaluation(model, split)
    cond = evaluation.conditional_expectations.set_index("frequency_cal")
    # FHL 2005 Figure 3: x=0 actual 0.24 vs model 0.23; the model tracks the actual means
    assert cond.loc["0", "actual"] == pytest.approx(0.237, abs=1e-3)
    assert cond.loc["0", "predicted"] == pytest.approx(0.225, abs=2e-3)
    assert (abs(cond["predicted"] - cond["actual"]) < 0.4).all()
    metrics = evaluation.metrics.set_index("forecaster")
    assert metrics.loc["model", "correlation"] > 0.6
    assert metrics.loc["model", "total_actual"] == 1882


def test_conditional_expectations_agree_with_lifetimes(sample_fit):
    lifetimes = pytest.importorskip("lifetimes")
    _, cal, model = sample_fit
    ref = lifetimes.BetaGeoFitter()
    ref.params_ = pd.Series(model.params_)
    expected = ref.conditional_expected_number_of_purchases_up_to_time(
        39, cal["frequency"], cal["recency"], cal["T"]
    )
    np.testing.assert_allclose(model.expected_purchases(39, cal), expected, rtol=1e-8)
    np.testing.assert_allclose(
        model.p_alive(cal),
        ref.conditional_probability_alive(cal["frequency"], cal["recency"], cal["T"]),
        rtol=1e-8,
    )


def test_frequency_histogram_matches_actual(sample_fit):
    _, cal, model = sample_fit
    hist = frequency_histogram(model, cal)
    assert hist["actual"].sum() == 2357
    assert hist["expected"].sum() == pytest.approx(2357, rel=1e-6)
    np.testing.assert_allclose(hist["expected"], hist["actual"], rtol=0.15, atol=10)


@pytest.mark.parametrize("cls", [BetaGeoModel, ParetoNBDModel])
def test_standard_errors_from_forward_differences_match_central(cdnow_summary, cls):
    """Standard errors use a forward-difference Hessian of the analytic gradient (half the
    gradients of central differences); they agree with the central one to 1e-4."""
    from crmine.clv._base import _hessian

    model = cls().fit(cdnow_summary)
    data = model._histories(cdnow_summary, None)
    params = np.array([model.params_[n] for n in model._param_names])

    def value(p):
        return model._total(p, data, False)[0]

    def grad(p):
        return model._total(p, data, True)[1]

    central = np.linalg.inv(-_hessian(value, grad, params))
    np.testing.assert_allclose(model.standard_errors_, np.sqrt(np.diag(central)), rtol=1e-4)
