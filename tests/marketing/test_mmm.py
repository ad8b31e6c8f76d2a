"""The marketing-mix model recovers planted adstock, saturation and ROI (PyMC-Marketing's
test_model_convergence habit), ranks the planted best channel first, and its budget shift
raises the true outcome; with no media effect it beats no baseline."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

import crmine.marketing._mmm as mmm_module
from crmine.demo._marketing_spend import MAX_LAG, make_marketing_spend
from crmine.exceptions import ConfigError, DataError, NotFittedError
from crmine.marketing import (
    MarketingMix,
    backtest_mix,
    choose_adstock,
    geometric_adstock,
    hill_saturation,
    weibull_adstock,
)


def _weekly(signal: bool, seed: int = 0):
    media = make_marketing_spend(
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(9,))), signal=signal)
    spend = media.spend.groupby(["date", "channel"])["spend"].sum().unstack(fill_value=0.0)
    spend.index = pd.DatetimeIndex(spend.index)
    out = media.outcomes.set_index(pd.DatetimeIndex(media.outcomes["date"]))
    return spend, out["revenue"], out[["price", "promotion", "holiday"]], media.truth


@pytest.fixture(scope="module")
def planted():
    spend, y, controls, truth = _weekly(True)
    model = MarketingMix(n_bootstrap=100).fit(spend, y, controls)
    return model, spend, y, controls, truth["mmm_channels"].set_index("channel")


def test_adstock_and_hill_are_the_documented_curves():
    assert doctest.testmod(mmm_module).failed == 0
    x = np.zeros(20)
    x[0] = 100.0
    carried = geometric_adstock(x, 0.5, max_lag=MAX_LAG)
    assert carried.sum() == pytest.approx(100.0)  # weights sum to 1: spend is not created
    assert carried[1] / carried[0] == pytest.approx(0.5)
    assert geometric_adstock(np.full(30, 7.0), 0.6)[MAX_LAG:] == pytest.approx(7.0)
    assert hill_saturation(np.array([0.0, 3.0, 1e9]), 3.0, 2.0).tolist() == pytest.approx(
        [0.0, 0.5, 1.0])


def test_planted_roi_inside_every_channels_interval(planted):
    model, *_, truth = planted
    found = model.channel_summary().set_index("channel")
    for ch, row in found.iterrows():
        assert row["roi_ci_low"] <= truth.loc[ch, "roi"] <= row["roi_ci_high"], (
            ch, truth.loc[ch, "roi"], row["roi_ci_low"], row["roi_ci_high"])
        # Informative, not merely wide: social's truth sits at the priors' centre, so a prior
        # weighed too strongly once made its interval look tight while others missed theirs.
        assert row["roi_ci_high"] - row["roi_ci_low"] < 1.5 * truth.loc[ch, "roi"] + 0.5, ch
    assert found["rank"].idxmin() == truth["rank"].idxmin() == "affiliate"
    # Rank correlation of the ROIs (the two middle channels may swap, the ends may not).
    assert found["roi"].rank().corr(truth["roi"].rank()) >= 0.8
    # Carry-over is found where it was planted (video long, search short).
    assert found.loc["video", "decay"] > found.loc["search", "decay"] + 0.2


@pytest.mark.slow
def test_roi_intervals_cover_at_their_nominal_level_over_many_demos():
    """Nominal 90% ROI intervals hold ~90% of planted ROIs over 10 independent demo
    companies (50 channels), for every channel: 98% measured, each channel 9 or 10 of 10.
    The residual bootstrap held search's ROI 8 of 10 here (72% over 40 seeds), the priors
    weighed against the media-free spread with basic intervals 76% overall: this fails if
    either returns. 40 seeds and per-channel figures: ``bench/coverage_mmm.py``."""
    inside = total = 0
    per_channel: dict[str, int] = {}
    for seed in range(10):
        spend, y, controls, truth = _weekly(True, seed)
        planted_roi = truth["mmm_channels"].set_index("channel")["roi"]
        found = MarketingMix(n_bootstrap=100).fit(spend, y, controls).channel_summary()
        truth_roi = planted_roi.loc[found["channel"]].to_numpy()
        hit = (found["roi_ci_low"] <= truth_roi) & (truth_roi <= found["roi_ci_high"])
        for ch, ok in zip(found["channel"], hit, strict=True):
            per_channel[ch] = per_channel.get(ch, 0) + int(ok)
        inside += int(hit.sum())
        total += len(found)
    assert total == 50
    assert inside / total >= 0.9, (inside, total)
    assert min(per_channel.values()) >= 9, per_channel


def test_budget_shift_raises_the_true_outcome(planted):
    model, *_, truth = planted
    alloc = model.optimize_budget(max_change=0.5)
    table = alloc.table.set_index("channel")
    assert table["optimal_spend"].sum() == pytest.approx(table["current_spend"].sum())
    assert (table["optimal_spend"] >= table["min_spend"] - 1e-6).all()
    assert (table["optimal_spend"] <= table["max_spend"] + 1e-6).all()

    def true_weekly(weekly: pd.Series) -> float:
        t = truth.loc[weekly.index]
        return float((t["beta"] * hill_saturation(weekly, t["half_saturation"], t["shape"])).sum())

    gain = true_weekly(table["optimal_spend"]) - true_weekly(table["current_spend"])
    assert gain > 0.02 * true_weekly(table["current_spend"])
    assert alloc.gain_ci_low > 0 and alloc.prob_gain_positive > 0.95
    assert alloc.gain_ci_low <= gain <= alloc.gain_ci_high * 1.5
    # Money leaves the planted worst channel and goes to the best.
    assert table.loc["display", "change"] < 0 < table.loc["affiliate", "change"]


def test_backtest_beats_the_media_free_baseline_only_with_signal():
    spend, y, controls, _ = _weekly(True)
    with_media = backtest_mix(spend, y, controls, holdout=13)
    assert with_media.verdict.status == "informative"
    assert with_media.mape < 0.5 * with_media.baseline_mape
    spend0, y0, controls0, truth0 = _weekly(False)
    assert (truth0["mmm_channels"]["roi"] == 0).all()
    flat = backtest_mix(spend0, y0, controls0, holdout=13)
    assert flat.verdict.status == "not_informative"


def _delayed_peak() -> tuple[pd.DataFrame, pd.Series]:
    """The demo's spend with sales whose video effect peaks two weeks after the spend
    (Weibull scale 3, shape 3), the other channels geometric-like."""
    spend, _y, _controls, _ = _weekly(True)
    rng = np.random.default_rng(1)
    n = len(spend)
    y = 500_000 * (1 + 0.1 * np.arange(n) / n) + rng.normal(0, 6_000, n)
    planted = {"affiliate": (1.0, 1.0, 5.0), "display": (1.0, 1.0, 1.0),
               "search": (0.7, 1.0, 3.0), "social": (1.5, 1.0, 2.0), "video": (3.0, 3.0, 1.5)}
    for ch, (scale, shape, roi) in planted.items():
        x = spend[ch].to_numpy(float)
        sat = hill_saturation(weibull_adstock(x, scale, shape), x.mean(), 1.2)
        y = y + roi * x.sum() / sat.sum() * sat
    return spend, pd.Series(y, index=spend.index)


def test_auto_adstock_chooses_by_held_out_error():
    """Weibull where the planted peak is delayed, geometric where the demo's carry-over is
    geometric; the held-out weeks that judge the model take no part in the choice."""
    spend, outcome = _delayed_peak()
    none = pd.DataFrame(index=spend.index)
    form, errors = choose_adstock(spend, outcome, none, holdout=13)
    assert form == "weibull" and errors["weibull"] < 0.9 * errors["geometric"], errors
    back = backtest_mix(spend, outcome, none, holdout=13, adstock="auto")
    assert back.adstock == "weibull" and back.verdict.status == "informative"
    spend, y, controls, _ = _weekly(True)
    form, errors = choose_adstock(spend, y, controls, holdout=13)
    assert form == "geometric", errors
    with pytest.raises(ConfigError, match="mmm_adstock must be one of"):
        backtest_mix(spend, y, controls, adstock="delayed")


def test_weibull_adstock_finds_a_planted_delayed_peak():
    """Video's effect planted to peak two weeks after the spend (Weibull scale 3, shape 3),
    the other channels geometric-like: the Weibull option recovers the lag, fits closer than
    geometric adstock can, and holds video's planted ROI."""
    impulse = np.zeros(12)
    impulse[0] = 1.0
    assert weibull_adstock(impulse, 2.0, 1.5).sum() == pytest.approx(1.0)
    assert int(np.argmax(weibull_adstock(impulse, 3.0, 3.0))) == 2
    spend, outcome = _delayed_peak()
    model = MarketingMix(adstock="weibull", n_bootstrap=30).fit(spend, outcome)
    video = model.params_.loc["video"]
    assert np.isnan(video["decay"])
    assert video["lag_scale"] == pytest.approx(3.0, abs=0.5)
    assert video["lag_shape"] == pytest.approx(3.0, abs=1.0)
    assert int(np.argmax(weibull_adstock(impulse, video["lag_scale"], video["lag_shape"]))) == 2
    geometric = MarketingMix(n_bootstrap=0).fit(spend, outcome)
    assert model.residual_sd_ < 0.85 * geometric.residual_sd_
    found = model.channel_summary().set_index("channel")
    assert found.loc["video", "roi_ci_low"] <= 1.5 <= found.loc["video", "roi_ci_high"]
    assert found["rank"].idxmin() == "affiliate"
    with pytest.raises(ConfigError, match="adstock must be one of"):
        MarketingMix(adstock="delayed").fit(spend, outcome)


def test_bad_input_is_refused():
    spend, y, _controls, _ = _weekly(True)
    with pytest.raises(DataError, match="at least 26 weeks"):
        MarketingMix(n_bootstrap=0).fit(spend.iloc[:10], y.iloc[:10])
    with pytest.raises(DataError, match="missing weeks"):
        MarketingMix(n_bootstrap=0).fit(spend, y.iloc[:-5])
    with pytest.raises(NotFittedError):
        MarketingMix().channel_summary()
