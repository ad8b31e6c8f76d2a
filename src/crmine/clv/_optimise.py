"""The optimiser of the buy-till-you-die models: quasi-Newton search, Newton polish, Hessian.

Kept apart from validation (:mod:`crmine.clv._validate`) and from the models' likelihoods.
Parameters are searched on the log scale (they are all positive) by BFGS with the models'
analytic gradients (forward differences when a model has none); a few chord-Newton steps then
polish the optimum, and the observed information (the Hessian of the log-likelihood) gives the
standard errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

__all__ = ["bfgs_search", "newton_polish"]

FloatArray = NDArray[np.float64]
Objective = Callable[[FloatArray], float]
ValueAndGrad = Callable[[FloatArray], tuple[float, FloatArray]]


def _numeric_gradient(
    fn: Callable[[FloatArray], float], theta: FloatArray, h: float = 1e-6
) -> FloatArray:
    grad = np.empty_like(theta)
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = h * max(1.0, abs(theta[i]))
        grad[i] = (fn(theta + step) - fn(theta - step)) / (2 * step[i])
    return grad


def _hessian(
    fn: Callable[[FloatArray], float],
    grad: Callable[[FloatArray], FloatArray] | None,
    theta: FloatArray,
    *,
    grad_at_theta: FloatArray | None = None,
) -> FloatArray:
    """Hessian of ``fn`` at ``theta`` by finite differences (of the gradient when known).

    Given the gradient at ``theta``, forward differences need k gradients instead of 2k; with
    an analytic gradient their O(h) error (h = 1e-6 relative) is far below what standard
    errors or Newton steps notice, and the fit of a large summary is mostly gradients.
    """
    k = len(theta)
    hess = np.empty((k, k))
    if grad is not None:
        for i in range(k):
            e = np.zeros(k)
            if grad_at_theta is not None:
                e[i] = h = 1e-6 * max(1.0, abs(theta[i]))
                hess[:, i] = (grad(theta + e) - grad_at_theta) / h
            else:
                e[i] = h = 1e-5 * max(1.0, abs(theta[i]))
                hess[:, i] = (grad(theta + e) - grad(theta - e)) / (2 * h)
        return (hess + hess.T) / 2
    hs = np.array([1e-4 * max(1.0, abs(t)) for t in theta])
    f0 = fn(theta)
    for i in range(k):
        for j in range(i, k):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i] = hs[i]
            ej[j] = hs[j]
            if i == j:
                val = (fn(theta + ei) - 2 * f0 + fn(theta - ei)) / hs[i] ** 2
            else:
                val = (
                    fn(theta + ei + ej)
                    - fn(theta + ei - ej)
                    - fn(theta - ei + ej)
                    + fn(theta - ei - ej)
                ) / (4 * hs[i] * hs[j])
            hess[i, j] = hess[j, i] = val
    return hess


def bfgs_search(
    negll: Objective,
    value_and_grad: ValueAndGrad | None,
    start: FloatArray,
    *,
    max_iter: int,
    ftol: float = 1e-15,
) -> tuple[Any, ValueAndGrad]:
    """BFGS on the mean negative log-likelihood (log scale); returns the result and the
    value-and-gradient function it used."""
    fun: ValueAndGrad
    if value_and_grad is None:

        def forward(lt: FloatArray) -> tuple[float, FloatArray]:
            # forward differences while searching (k+1 evaluations instead of 2k); the final
            # Newton polish uses central differences for full accuracy
            f0 = negll(lt)
            grad = np.empty_like(lt)
            for i in range(len(lt)):
                step = np.zeros_like(lt)
                step[i] = 1e-7
                grad[i] = (negll(lt + step) - f0) / 1e-7
            return f0, grad

        fun = forward
    else:
        fun = value_and_grad
    # BFGS on the log scale: with four parameters its Python overhead per step is far below
    # L-BFGS-B's, and the log scale needs no bounds (the objective clips extreme values)
    res = optimize.minimize(
        fun,
        start,
        jac=True,
        method="BFGS",
        options={"maxiter": max_iter, "gtol": 1e-9 if ftol < 1e-12 else 1e-6},
    )
    return res, fun


def newton_polish(
    log_theta: FloatArray,
    negll: Callable[[FloatArray], float],
    negll_grad: Callable[[FloatArray], FloatArray] | None,
) -> FloatArray:
    """A few chord-Newton steps from ``log_theta``: the quasi-Newton search stops a hair away
    from the optimum; these make the estimates exact to many digits."""
    grad = negll_grad if negll_grad is not None else (lambda lt: _numeric_gradient(negll, lt))
    best, fbest = log_theta, negll(log_theta)
    # Newton steps with the Hessian of the starting point (a chord method): one Hessian
    # (2k gradients) instead of one per step; near the optimum it converges just as well
    g = grad(best)
    try:
        hess = _hessian(negll, negll_grad, best, grad_at_theta=g)
    except (FloatingPointError, ValueError):
        return best
    for _ in range(16):  # linear convergence from a stale Hessian: allow enough steps
        if not np.all(np.isfinite(g)) or np.max(np.abs(g)) < 1e-12:
            break
        try:
            step = np.linalg.solve(hess, g)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        cand = best - step
        fc, gc = negll(cand), grad(cand)
        # At the optimum the objective changes by less than its rounding noise: a step
        # that shrinks the gradient is progress even if the value does not visibly drop.
        if not (fc <= fbest or np.max(np.abs(gc)) < np.max(np.abs(g))):
            break
        best, fbest, g = cand, min(fc, fbest), gc
        if np.max(np.abs(step)) < 1e-8 and np.max(np.abs(g)) < 1e-10:
            break
    return best
