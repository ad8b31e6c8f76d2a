"""The full CDNOW master file (23,570 customers) against lifetimes, the reference implementation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crmine.clv import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    calibration_holdout_split,
    customer_lifetime_value,
    rfm_summary,
)

lifetimes = pytest.importorskip("lifetimes")
pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def master_summary(cdnow_master_tx) -> pd.DataFrame:
    return rfm_summary(
        cdnow_master_tx,
        "customer_id",
        "date",
        "dollar_value",
        observation_period_end="1997-09-30",
        freq_multiplier=7,
    )


@pytest.mark.parametrize("unit", ["D", "W"])
def test_rfm_summary_equals_lifetimes(cdnow_master_tx, unit):
    ours = rfm_summary(cdnow_master_tx, "customer_id", "date", "dollar_value", time_unit=unit)
    ref = lifetimes.utils.summary_data_from_transaction_data(
        cdnow_master_tx, "customer_id", "date", "dollar_value", freq=unit
    ).sort_index()
    assert list(ours.index) == list(ref.index) and len(ours) == 23570
    for col in ("frequency", "recency", "T"):
        assert (ours[col].to_numpy() == ref[col].to_numpy()).all(), col
    np.testing.assert_allclose(ours["monetary_value"], ref["monetary_value"], rtol=1e-12)


def test_rfm_summary_with_cutoff_and_multiplier_equals_lifetimes(cdnow_master_tx, master_summary):
    ref = lifetimes.utils.summary_data_from_transaction_data(
        cdnow_master_tx,
        "customer_id",
        "date",
        "dollar_value",
        observation_period_end="1997-09-30",
        freq_multiplier=7,
    ).sort_index()
    for col in ("frequency", "recency", "T"):
        np.testing.assert_allclose(master_summary[col], ref[col], rtol=1e-12)


def test_calibration_holdout_equals_lifetimes(cdnow_master_tx):
    ours = calibration_holdout_split(
        cdnow_master_tx, "customer_id", "date", "1997-09-30", "1998-06-30", "dollar_value"
    )
    ref = lifetimes.utils.calibration_and_holdout_data(
        cdnow_master_tx,
        "customer_id",
        "date",
        "1997-09-30",
        "1998-06-30",
        monetary_value_col="dollar_value",
    ).sort_index()
    assert list(ours.columns) == list(ref.columns)
    np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (BetaGeoModel, "BetaGeoFitter"),
        (ModifiedBetaGeoModel, "ModifiedBetaGeoFitter"),
        pytest.param(ParetoNBDModel, "ParetoNBDFitter", marks=pytest.mark.slow),
    ],
)
def test_parameters_agree_with_lifetimes(master_summary, ours, theirs):
    model = ours().fit(master_summary)
    # lifetimes' own `weights` argument on the distinct histories: the same likelihood, and a
    # fraction of lifetimes' run time on the full customer list (23,570 -> ~8,700 rows)
    distinct = (
        master_summary.groupby(["frequency", "recency", "T"]).size().rename("weight").reset_index()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(lifetimes, theirs)().fit(
            distinct["frequency"], distinct["recency"], distinct["T"], weights=distinct["weight"]
        )
    for name, value in model.params_.items():
        assert value == pytest.approx(float(ref.params_[name]), rel=1e-3), name
    # and ours is at least as good an optimum
    ref_model = ours.from_params(**{k: float(v) for k, v in ref.params_.items()})
    assert model.log_likelihood_ >= ref_model.log_likelihood(master_summary).sum() - 1e-6


def test_gamma_gamma_and_clv_agree_with_lifetimes(master_summary):
    repeat = master_summary[
        (master_summary["frequency"] > 0) & (master_summary["monetary_value"] > 0)
    ]
    spend = GammaGammaModel().fit(repeat)
    ref = lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    for name, value in spend.params_.items():
        assert value == pytest.approx(float(ref.params_[name]), rel=1e-3), name
    np.testing.assert_allclose(
        spend.expected_spend(repeat),
        ref.conditional_expected_average_profit(repeat["frequency"], repeat["monetary_value"]),
        rtol=1e-3,
    )
    # CLV with identical parameters: lifetimes' monthly steps are 4.345 weeks
    bg = BetaGeoModel().fit(master_summary)
    ref_bg = lifetimes.BetaGeoFitter()
    ref_bg.params_ = pd.Series(bg.params_)
    ref_bg.predict = ref_bg.conditional_expected_number_of_purchases_up_to_time  # set by its fit
    ref.params_ = pd.Series(spend.params_)
    head = repeat.head(500)
    expected = ref.customer_lifetime_value(
        ref_bg,
        head["frequency"],
        head["recency"],
        head["T"],
        head["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq="W",
    )
    result = customer_lifetime_value(
        bg, head, spend=spend, horizon=12, step=4.345, discount_rate=0.01
    )
    np.testing.assert_allclose(result.customers["clv"], expected, rtol=1e-8)
