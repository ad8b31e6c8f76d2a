"""The shifted-beta-geometric model against Fader & Hardie (2007)'s published fits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from crmine.exceptions import DataError, NotFittedError
from crmine.lifecycle import ShiftedBetaGeometric, sbg_survival

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
# years 8-12, as the paper reports them
REGULAR_LATER = [223, 207, 194, 183, 173]
HIGH_END_LATER = [468, 445, 427, 409, 394]


@pytest.mark.parametrize(
    ("counts", "alpha", "beta", "ll"),
    [(REGULAR, 0.704, 1.182, -1680.27), (HIGH_END, 0.668, 3.806, -1611.16)],
)
def test_published_parameters_and_log_likelihood(counts, alpha, beta, ll):
    m = ShiftedBetaGeometric().fit_survivors(counts)
    assert round(m.params_["alpha"], 3) == alpha
    assert round(m.params_["beta"], 3) == beta
    assert round(m.log_likelihood_, 2) == ll


@pytest.mark.parametrize(
    ("counts", "later", "projected"),
    [
        (REGULAR, REGULAR_LATER, [220, 204, 191, 180, 170]),
        (HIGH_END, HIGH_END_LATER, [460, 436, 414, 395, 378]),
    ],
)
def test_projection_of_years_8_to_12(counts, later, projected):
    """Fitted on years 0-7, the sBG projects years 8-12 within 4.1% of what happened (the
    paper's figure 5: the projection tracks the actual survivors closely)."""
    m = ShiftedBetaGeometric().fit_survivors(counts)
    survivors = m.predict_survivors(12)
    assert survivors[0] == 1000 and len(survivors) == 13
    assert np.round(survivors[8:]).astype(int).tolist() == projected
    error = np.abs(survivors[8:] - np.array(later)) / np.array(later)
    assert error.max() < 0.041
    # in-sample the fit is close too
    assert np.abs(survivors[:8] - np.array(counts)).max() < 20


def test_retention_rises_with_tenure_and_matches_survival():
    m = ShiftedBetaGeometric().fit_survivors(REGULAR)
    r = m.predict_retention(12)
    s = m.predict_survival(12)
    assert np.all(np.diff(r) > 0)
    assert np.allclose(r, s[1:] / s[:-1])
    assert r[0] == pytest.approx(1 - 0.704 / (0.704 + 1.182), abs=1e-3)


@pytest.mark.parametrize("renewals", [0, 1, 5, 20])
def test_derl_equals_the_discounted_sum_of_survival(renewals):
    """Fader & Hardie (2010) eq. 6 against the brute-force sum of discounted survival."""
    m = ShiftedBetaGeometric(discount_rate=0.10).fit_survivors(HIGH_END)
    a, b = m.params_["alpha"], m.params_["beta"]
    s = sbg_survival(a, b, 4000)
    k = renewals
    brute = sum(s[k + j] / s[k] / 1.1 ** (j - 1) for j in range(1, 3000))
    assert float(m.discounted_residual_lifetime(k)) == pytest.approx(brute, rel=1e-9)
    # a customer who renewed more often is expected to stay longer (heterogeneity)
    assert m.discounted_residual_lifetime([0, 5]).tolist()[1] > float(
        m.discounted_residual_lifetime(0)
    )


def test_not_fitted_clone_and_bad_counts():
    m = ShiftedBetaGeometric(discount_rate=0.2)
    with pytest.raises(NotFittedError, match="fit_survivors"):
        m.predict_survivors(3)
    m.fit(REGULAR)
    twin = clone(m)
    assert twin.get_params() == {"discount_rate": 0.2, "max_iter": 1000}
    with pytest.raises(NotFittedError):
        twin.predict_retention(2)
    with pytest.raises(DataError, match="must not rise: period 2 has 700 survivors after 600"):
        ShiftedBetaGeometric().fit_survivors([1000, 600, 700])
    with pytest.raises(DataError, match="at least two periods"):
        ShiftedBetaGeometric().fit_survivors([1000])
    with pytest.raises(DataError, match="cohort size"):
        ShiftedBetaGeometric().fit_survivors([0, 0])


def test_individual_durations_give_the_cohort_fit():
    lost = -np.diff(REGULAR)
    periods = np.concatenate([np.repeat(np.arange(1, 8), lost), np.repeat(7, REGULAR[-1])])
    cancelled = np.arange(len(periods)) < lost.sum()
    m = ShiftedBetaGeometric().fit_durations(periods, cancelled)
    assert round(m.params_["alpha"], 3) == 0.704 and round(m.params_["beta"], 3) == 1.182
    assert round(m.log_likelihood_, 2) == -1680.27
    assert m.counts_.tolist() == REGULAR


def test_censored_contracts_of_different_ages_recover_the_parameters():
    """Customers joining over 36 months, each churning with its own beta(1, 4) probability:
    fitted on what is seen at the end (most still active, i.e. censored)."""
    rng = np.random.default_rng(7)
    n = 6000
    theta = rng.beta(1.0, 4.0, n)
    lifetime = rng.geometric(theta)  # the period in which each cancels
    age = rng.integers(1, 37, n)  # periods observed so far
    cancelled = lifetime <= age
    periods = np.where(cancelled, lifetime, age)
    m = ShiftedBetaGeometric().fit_durations(periods, cancelled)
    assert m.params_["alpha"] == pytest.approx(1.0, rel=0.15)
    assert m.params_["beta"] == pytest.approx(4.0, rel=0.15)
    with pytest.raises(DataError, match="whole numbers of periods >= 1; found 0"):
        ShiftedBetaGeometric().fit_durations([0, 2], [True, False])
