"""Parameter recovery from each model's simulator (known truth, several seeds)."""

from __future__ import annotations

import numpy as np
import pytest

from crmine.clv import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
)

CASES = [
    (BetaGeoModel, {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}, 39.0),
    (ModifiedBetaGeoModel, {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}, 39.0),
    (ParetoNBDModel, {"r": 0.55, "alpha": 10.0, "s": 0.6, "beta": 12.0}, 52.0),
    (BetaGeoBetaBinomModel, {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.78}, 6),
]


@pytest.mark.parametrize(
    ("cls", "truth", "horizon"), CASES, ids=lambda c: getattr(c, "__name__", "")
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_simulated_parameters(cls, truth, horizon, seed):
    rng = np.random.default_rng(100 + seed)
    n = 6000
    # customers acquired at different times, as in a real cohort (BG/BB: fixed opportunities)
    T = horizon if cls is BetaGeoBetaBinomModel else rng.uniform(horizon / 2, horizon, n)
    data = cls.from_params(**truth).simulate(n, T, seed=seed)
    model = cls().fit(data)
    se = model.standard_errors_
    for name, value in truth.items():
        # within 4 standard errors: the SEs are part of what is checked
        assert abs(model.params_[name] - value) < 4 * se[name], (name, model.params_, se.to_dict())
        assert se[name] < 0.5 * value
    # the truth is not a better optimum than the estimate
    assert model.log_likelihood_ >= cls.from_params(**truth).log_likelihood(data).sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gamma_gamma_recovers_parameters(seed):
    truth = {"p": 6.0, "q": 4.0, "v": 15.0}
    freq = np.random.default_rng(seed).integers(1, 8, 4000)
    data = GammaGammaModel.from_params(**truth).simulate(freq, seed=seed)
    model = GammaGammaModel().fit(data)
    for name, value in truth.items():
        assert abs(model.params_[name] - value) < 4 * model.standard_errors_[name], name


def test_simulators_match_model_expectations():
    """Simulated means equal the closed-form E[X(t)] and P(X(t)=0) of each model."""
    for cls, truth, horizon in CASES:
        model = cls.from_params(**truth)
        data = model.simulate(200_000, horizon, seed=7)
        expected = float(np.asarray(model.expected_purchases(np.array([float(horizon)])))[0])
        assert data["frequency"].mean() == pytest.approx(expected, rel=0.02), cls.__name__
        p0 = float(model.probability_of_purchases(0, horizon)[0])
        assert (data["frequency"] == 0).mean() == pytest.approx(p0, abs=0.005), cls.__name__
        pmf = model.probability_of_purchases(np.arange(400), horizon)
        assert pmf.sum() == pytest.approx(1.0, abs=1e-6)
        assert (np.arange(400) * pmf).sum() == pytest.approx(expected, rel=1e-3)


def test_predictions_stay_finite_near_the_poisson_limit():
    """Data with little rate heterogeneity drive r and alpha to huge values (r/alpha = lambda
    fixed), where scipy's hyp2f1 returns NaN. In that limit every customer buys at rate lambda,
    so an active customer's expected purchases are the mean of (1 - exp(-lambda p t)) / p over
    the Beta(a, b + x) posterior of p: checked by quadrature."""
    import numpy as np
    from scipy.integrate import quad
    from scipy.special import beta as beta_fn
    from scipy.special import exprel

    from crmine.clv import BetaGeoModel, ModifiedBetaGeoModel

    summary = BetaGeoModel.from_params(r=2.0, alpha=20.0, a=0.5, b=3.0).simulate(300, 52.0, seed=3)
    # a few purchases per horizon (summed series) and 73 of them (Kummer's limit)
    for rate, t, a, b, rel in ((0.11, 30.0, 0.4, 25.0, 1e-6), (0.2, 365.0, 2.5, 3.0, 1e-5)):
        bg = BetaGeoModel.from_params(r=2.2e8, alpha=2.2e8 / rate, a=a, b=b)
        got = np.asarray(bg.expected_purchases(t, summary)) / np.asarray(bg.p_alive(summary))
        for i in np.unique(summary["frequency"].to_numpy(), return_index=True)[1][:6]:
            x = summary["frequency"].iloc[i]
            # (1 - exp(-c p)) / p = c exprel(-c p), finite at p = 0
            want = quad(lambda p, c=rate * t: c * exprel(-c * p), 0, 1, weight="alg",
                        wvar=(a - 1, b + x - 1))[0] / beta_fn(a, b + x)  # fmt: skip
            assert got[i] == pytest.approx(want, rel=rel), (rate, x)
    for cls in (BetaGeoModel, ModifiedBetaGeoModel):
        extreme = cls.from_params(r=2.2e8, alpha=2.45e10, a=0.0027, b=2654.0)
        assert np.isfinite(np.asarray(extreme.expected_purchases(30.0, summary))).all()
        assert np.isfinite(extreme.expected_purchases(np.array([10.0, 30.0]))).all()
