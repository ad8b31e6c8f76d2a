"""The shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007).

Each customer of a subscription business renews every period with a constant probability
``1 - theta``; ``theta`` varies across customers as a beta(alpha, beta) distribution. The
survivor function is ``S(t) = B(alpha, beta + t) / B(alpha, beta)`` and the retention rate
rises with tenure, ``r(t) = (beta + t - 1) / (alpha + beta + t - 1)``, because the customers
most likely to cancel leave first.

References
----------
Fader, P. S. & Hardie, B. G. S. (2007). How to project customer retention. Journal of
Interactive Marketing 21(1), 76-90.
Fader, P. S. & Hardie, B. G. S. (2010). Customer-base valuation in a contractual setting: the
perils of ignoring heterogeneity. Marketing Science 29(1), 85-93.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, hyp2f1
from sklearn.base import BaseEstimator

from crmine.exceptions import DataError, NotFittedError

__all__ = ["ShiftedBetaGeometric", "sbg_churn_probabilities", "sbg_survival"]


def sbg_churn_probabilities(alpha: float, beta: float, n_periods: int) -> np.ndarray:
    """``P(T = t)`` for ``t = 1..n_periods``: the share of a cohort cancelling in period ``t``.

    Examples
    --------
    >>> [round(float(p), 4) for p in sbg_churn_probabilities(1.0, 1.0, 3)]
    [0.5, 0.1667, 0.0833]
    """
    p = np.empty(n_periods, dtype=float)
    if n_periods == 0:
        return p
    p[0] = alpha / (alpha + beta)
    for t in range(2, n_periods + 1):
        p[t - 1] = p[t - 2] * (beta + t - 2) / (alpha + beta + t - 1)
    return p


def sbg_survival(alpha: float, beta: float, n_periods: int) -> np.ndarray:
    """``S(t)`` for ``t = 0..n_periods`` (``S(0) = 1``).

    Examples
    --------
    >>> [round(float(s), 4) for s in sbg_survival(1.0, 1.0, 3)]
    [1.0, 0.5, 0.3333, 0.25]
    """
    t = np.arange(n_periods + 1, dtype=float)
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


def _check_counts(counts: Sequence[float] | np.ndarray) -> np.ndarray:
    values = np.asarray(counts, dtype=float).ravel()
    if values.size < 2:
        raise DataError(
            f"sBG needs survivor counts for at least two periods (cohort size first), got "
            f"{values.tolist()[:20]}; pass e.g. 1000,631,468"
        )
    if not np.isfinite(values).all() or (values < 0).any():
        bad = next(v for v in values.tolist() if not math.isfinite(v) or v < 0)
        raise DataError(f"sBG survivor counts must be finite numbers >= 0; found {bad!r}")
    if values[0] <= 0:
        raise DataError("sBG survivor counts start with the cohort size, which must be > 0")
    rising = np.flatnonzero(np.diff(values) > 0)
    if rising.size:
        i = int(rising[0]) + 1
        raise DataError(
            f"sBG survivor counts must not rise: period {i} has {values[i]:,.0f} survivors "
            f"after {values[i - 1]:,.0f}; pass the survivors of ONE cohort by period"
        )
    return values


class ShiftedBetaGeometric(BaseEstimator):
    """Shifted-beta-geometric model of contractual retention, fitted to survivor counts.

    Parameters
    ----------
    discount_rate : float, default 0.10
        Per-period discount rate of :meth:`discounted_residual_lifetime`.
    max_iter : int, default 1000
        Iterations of the likelihood maximisation.

    Attributes
    ----------
    params_ : dict
        ``{"alpha": ..., "beta": ...}`` of the beta distribution of the churn probability.
    log_likelihood_ : float
    counts_ : ndarray
        The survivor counts fitted (``counts_[0]`` = cohort size).

    Examples
    --------
    >>> m = ShiftedBetaGeometric().fit_survivors([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> round(m.params_["alpha"], 3), round(m.params_["beta"], 3), round(m.log_likelihood_, 2)
    (0.704, 1.182, -1680.27)
    """

    def __init__(self, *, discount_rate: float = 0.10, max_iter: int = 1000) -> None:
        self.discount_rate = discount_rate
        self.max_iter = max_iter

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, counts: Sequence[float] | np.ndarray, y: Any = None) -> ShiftedBetaGeometric:
        """Alias of :meth:`fit_survivors` (scikit-learn's name)."""
        return self.fit_survivors(counts)

    def fit_survivors(self, counts: Sequence[float] | np.ndarray) -> ShiftedBetaGeometric:
        """Fit alpha and beta by maximum likelihood to one cohort's survivors by period.

        Parameters
        ----------
        counts : sequence of numbers
            ``counts[0]`` = cohort size, ``counts[t]`` = customers still active after ``t``
            renewal periods (non-increasing).
        """
        n = _check_counts(counts)
        lost = n[:-1] - n[1:]
        periods = len(n) - 1

        def loglik(a: float, b: float) -> float:
            p = sbg_churn_probabilities(a, b, periods)
            s_last = math.exp(betaln(a, b + periods) - betaln(a, b))
            return float(np.sum(lost * np.log(p))) + n[-1] * math.log(max(s_last, 1e-300))

        self._optimise(loglik)
        self.counts_ = n
        return self

    def fit_durations(
        self, periods: Sequence[float] | np.ndarray, churned: Sequence[bool] | np.ndarray
    ) -> ShiftedBetaGeometric:
        """Fit to customers' own histories: ``periods`` paid (>= 1) and whether they cancelled.

        A customer who cancelled after ``t`` periods adds ``log P(T = t)``; one still active
        after ``t`` periods adds ``log S(t)`` (right-censored), so cohorts of different ages
        (customers who started at different dates) are fitted together. One cohort observed
        for ``n`` periods gives exactly :meth:`fit_survivors`'s fit.
        """
        t = np.asarray(periods, dtype=float).ravel()
        c = np.asarray(churned, dtype=bool).ravel()
        if t.size == 0 or t.size != c.size:
            raise DataError(
                f"sBG needs one churn flag per duration; got {t.size:,} durations "
                f"and {c.size:,} flags"
            )
        if not np.isfinite(t).all() or (t < 1).any() or (t != np.round(t)).any():
            bad = next(v for v in t.tolist() if not math.isfinite(v) or v < 1 or v != round(v))
            raise DataError(f"sBG durations are whole numbers of periods >= 1; found {bad!r}")
        horizon = int(t.max())
        lost = np.bincount(t[c].astype(int), minlength=horizon + 1)[1:].astype(float)
        alive = np.bincount(t[~c].astype(int), minlength=horizon + 1)[1:].astype(float)
        ts = np.arange(1, horizon + 1, dtype=float)
        self._optimise(
            lambda a, b: float(
                np.sum(lost * np.log(sbg_churn_probabilities(a, b, horizon)))
                + np.sum(alive * (betaln(a, b + ts) - betaln(a, b)))
            )
        )
        # the equivalent cohort table: how many of the customers survived each period
        at_risk = np.concatenate([[len(t)], len(t) - np.cumsum(lost)])
        self.counts_ = at_risk
        return self

    def _optimise(self, loglik: Any) -> None:
        def nll(theta: np.ndarray) -> float:
            with np.errstate(divide="ignore", invalid="ignore"):
                ll = loglik(math.exp(theta[0]), math.exp(theta[1]))
            return -ll if math.isfinite(ll) else 1e300

        best = None
        for start in ((0.0, 0.0), (-1.0, 1.0), (1.0, 2.0)):
            res = minimize(
                nll,
                np.array(start),
                method="Nelder-Mead",
                options={"maxiter": int(self.max_iter), "xatol": 1e-10, "fatol": 1e-10},
            )
            if best is None or res.fun < best.fun:
                best = res
        assert best is not None
        self.params_ = {"alpha": float(math.exp(best.x[0])), "beta": float(math.exp(best.x[1]))}
        self.log_likelihood_ = float(-best.fun)

    def _params(self) -> tuple[float, float]:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                "this ShiftedBetaGeometric is not fitted yet: call fit_survivors(counts) first"
            )
        return self.params_["alpha"], self.params_["beta"]

    # -- predictions ------------------------------------------------------------------------
    def predict_survival(self, n_periods: int) -> np.ndarray:
        """``S(t)`` for ``t = 0..n_periods``: the share of a cohort still active."""
        a, b = self._params()
        return sbg_survival(a, b, int(n_periods))

    def predict_survivors(self, n_periods: int, cohort_size: float | None = None) -> np.ndarray:
        """Expected survivors after ``t = 0..n_periods`` periods (of ``counts_[0]`` by default).

        Examples
        --------
        >>> m = ShiftedBetaGeometric().fit_survivors([1000, 631, 468, 382, 326, 289, 262, 241])
        >>> [round(float(v)) for v in m.predict_survivors(12)[8:]]
        [220, 204, 191, 180, 170]
        """
        size = float(self.counts_[0]) if cohort_size is None and hasattr(self, "counts_") else 0
        surv = self.predict_survival(n_periods)
        return surv * float(cohort_size if cohort_size is not None else size)

    def predict_retention(self, n_periods: int) -> np.ndarray:
        """Retention rates ``r(t) = S(t) / S(t - 1)`` for ``t = 1..n_periods``."""
        a, b = self._params()
        t = np.arange(1, int(n_periods) + 1, dtype=float)
        return (b + t - 1) / (a + b + t - 1)

    def discounted_residual_lifetime(
        self, renewals: int | Sequence[int] | np.ndarray, discount_rate: float | None = None
    ) -> np.ndarray:
        """Discounted expected residual lifetime (DERL) of customers with ``renewals`` renewals.

        The expected number of further discounted payments of a customer who has renewed
        ``n`` times, evaluated just before the next renewal decision (Fader & Hardie 2010,
        eq. 6): ``(beta + n) / (alpha + beta + n) * 2F1(1, beta + n + 1; alpha + beta + n + 1;
        1 / (1 + d))``, i.e. ``sum_j S(n + j) / S(n) / (1 + d) ** (j - 1)``: the payment at the
        coming renewal counts undiscounted. Multiply by the margin per period for the value.
        """
        a, b = self._params()
        d = float(self.discount_rate if discount_rate is None else discount_rate)
        if d <= 0:
            raise DataError(f"the DERL discount rate must be > 0, got {d}")
        n = np.asarray(renewals, dtype=float)
        if (n < 0).any():
            raise DataError("renewal counts must be >= 0")
        out = (b + n) / (a + b + n) * hyp2f1(1.0, b + n + 1.0, a + b + n + 1.0, 1.0 / (1.0 + d))
        return np.asarray(out, dtype=float)

    def summary(self) -> dict[str, Any]:
        """The fit as a JSON-able dict."""
        a, b = self._params()
        return {
            "alpha": a,
            "beta": b,
            "log_likelihood": self.log_likelihood_,
            "cohort_size": float(self.counts_[0]),
            "periods": len(self.counts_) - 1,
            "mean_churn_probability": a / (a + b),
        }
