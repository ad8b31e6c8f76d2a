"""Pareto/NBD's analytic gradient: the integral moments against adaptive quadrature, and the
gradient against central differences of the exact (hypergeometric) log-likelihood."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from crmine.clv import ParetoNBDModel
from crmine.clv._paretonbd import _died_moments, _log_terms

PARAMS = [(0.55, 10.6, 0.6, 11.7), (2.0, 3.0, 0.3, 40.0), (0.2, 50.0, 1.5, 2.0)]
HISTORIES = [(0, 0.0, 39.0), (1, 5.0, 39.0), (3, 38.0, 39.0), (20, 30.0, 39.0),
             (80, 36.0, 39.0), (400, 30.0, 39.0), (2, 0.5, 39.0)]  # fmt: skip


@pytest.mark.parametrize("params", PARAMS)
def test_died_term_and_its_moments_match_adaptive_quadrature(params):
    r, alpha, s, beta = params
    for x, tx, T in HISTORIES:
        # scaled so that heavy buyers do not underflow
        def f(tau, x=x, tx=tx):
            return ((alpha + tx) / (alpha + tau)) ** (r + x) * (beta + tau) ** -(s + 1)

        total = integrate.quad(f, tx, T, epsabs=0, epsrel=1e-13, limit=200)[0]
        arrays = [np.array([float(v)]) for v in (x, tx, T)]
        died = _log_terms(list(params), *arrays)[2][0]
        assert died == pytest.approx(np.log(s * total) - (r + x) * np.log(alpha + tx), abs=1e-12)
        means = _died_moments(r, alpha, s, beta, *arrays)
        for g, mean in zip(
            (
                lambda t: np.log(alpha + t),
                lambda t: 1 / (alpha + t),
                lambda t: np.log(beta + t),
                lambda t: 1 / (beta + t),
            ),
            means,
            strict=True,
        ):
            ref = (
                integrate.quad(
                    lambda t, g=g: g(t) * f(t), tx, T, epsabs=0, epsrel=1e-13, limit=200
                )[0]
                / total
            )
            assert mean[0] == pytest.approx(ref, rel=1e-11)


@pytest.mark.parametrize("params", PARAMS)
def test_gradient_equals_central_differences(params):
    model = ParetoNBDModel()
    summary = ParetoNBDModel.from_params(r=0.55, alpha=10.6, s=0.6, beta=11.7).simulate(
        2000, T=39.0, seed=1
    )
    data = model._histories(summary, None)
    p = np.array(params)
    grad = model._grad(p, data)
    for i in range(4):
        h = np.zeros(4)
        h[i] = 1e-4 * p[i]  # the step where truncation and rounding errors balance
        central = (model._loglik(p + h, data) - model._loglik(p - h, data)) / (2 * h[i])
        np.testing.assert_allclose(grad[i], central, rtol=1e-5, atol=1e-9)
