"""BG/NBD and MBG/NBD: beta-geometric / negative binomial models of repeat purchasing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import betaln, digamma, gammaln, hyp1f1, hyp2f1

from crmine.clv._base import Histories, TransactionModel
from crmine.exceptions import DataError

__all__ = ["BetaGeoModel", "ModifiedBetaGeoModel"]

FloatArray = NDArray[np.float64]


def _as_T(n_customers: int, T: float | FloatArray) -> FloatArray:
    arr = np.broadcast_to(np.asarray(T, dtype=np.float64), (n_customers,)).copy()
    if not np.all(np.isfinite(arr)) or (arr <= 0).any():
        raise DataError("T (observation length per simulated customer) must be finite and > 0")
    return arr


def _hyp2f1(A: float, B: float, C: FloatArray | float, z: FloatArray) -> FloatArray:
    """Gauss's 2F1, also where scipy's returns NaN: a fit near the Poisson limit (r and alpha
    huge, r/alpha = lambda finite) makes ``A`` about -r and ``z`` about t/alpha.

    There the series terms behave like (A z)^k / k!: summed directly while |A z| <= 20 (the
    alternating terms cancel to about 1e-8 relative at worst); beyond, 2F1 tends to Kummer's
    1F1(B; C; A z) with a relative error of order |A z| / |A|, below 1e-5 where scipy fails.
    """
    C_arr = np.broadcast_to(np.asarray(C, dtype=np.float64), np.shape(z))
    out = np.asarray(hyp2f1(A, B, C_arr, z), dtype=np.float64)
    bad = ~np.isfinite(out)
    if not bad.any():
        return out
    out = out.copy()
    zb, cb = np.asarray(z, dtype=np.float64)[bad], C_arr[bad]
    small = np.abs(A * zb) <= 20.0
    term, total = np.ones_like(zb), np.ones_like(zb)
    converged = np.zeros(len(zb), dtype=bool)
    for k in range(1, 400):
        term = term * (A + k - 1) * (B + k - 1) / ((cb + k - 1) * k) * zb
        total = total + term
        converged = np.abs(term) <= 1e-16 * np.abs(total)
        if np.all(converged | ~small):
            break
    series = small & converged
    result = np.where(series, total, hyp1f1(B, cb, A * zb))
    out[bad] = result
    return out


def _nbd_log_pmf(r: float, alpha: float, t: float) -> Callable[[FloatArray], FloatArray]:
    """log P(j purchases in (0, t]) of the NBD (Poisson rate ~ Gamma(r, alpha)), as a function
    of j: the purchasing part both beta-geometric models share."""
    log_q = np.log(t / (alpha + t))
    log_p0 = r * np.log(alpha / (alpha + t))

    def log_nb(j: FloatArray) -> FloatArray:
        return np.asarray(gammaln(r + j) - gammaln(r) - gammaln(j + 1) + log_p0 + j * log_q)

    return log_nb


def _simulate_counts(
    lam: FloatArray, T: FloatArray, deaths: FloatArray, rng: np.random.Generator
) -> pd.DataFrame:
    """Observed repeat purchases when the customer stops after ``deaths`` purchases.

    With ``n`` Poisson events in ``(0, T]`` the customer shows ``x = min(deaths, n)``, and the
    time of the x-th event is ``T`` times the x-th order statistic of ``n`` uniforms, which is
    ``Beta(x, n - x + 1)`` distributed: no per-customer loop is needed.
    """
    n = rng.poisson(lam * T)
    x = np.minimum(deaths, n)
    tx = np.zeros_like(T)
    pos = x > 0
    tx[pos] = T[pos] * rng.beta(x[pos], n[pos] - x[pos] + 1)
    return pd.DataFrame({"frequency": x.astype(np.float64), "recency": tx, "T": T})


def _simulate_bg(
    params: Sequence[float],
    n_customers: int,
    T: float | FloatArray,
    seed: int | None,
    *,
    first_death: int,
) -> pd.DataFrame:
    """Beta-geometric dropout on Poisson purchasing: a customer drops out after the J-th
    repeat purchase, ``J ~ Geometric(p) - 1 + first_death`` (BG/NBD: 1, MBG/NBD: 0)."""
    r, alpha, a, b = params
    rng = np.random.default_rng(seed)
    Tarr = _as_T(n_customers, T)
    lam = rng.gamma(r, 1 / alpha, n_customers)
    p = rng.beta(a, b, n_customers)
    deaths = rng.geometric(p) - 1 + first_death
    return _simulate_counts(lam, Tarr, deaths.astype(np.float64), rng)


class BetaGeoModel(TransactionModel):
    """BG/NBD model of repeat purchasing in non-contractual settings.

    Purchases follow a Poisson process with rate ``lambda ~ Gamma(r, alpha)`` while the customer
    is active; after each repeat purchase the customer becomes inactive with probability
    ``p ~ Beta(a, b)``.

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty on the parameters (0 gives the exact maximum-likelihood estimates).
    initial_params : mapping, optional
        Starting values ``{"r", "alpha", "a", "b"}`` (default all 1).
    max_iter : int, default 2000
        Maximum optimiser iterations.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : float
        Maximised log-likelihood.
    standard_errors_ : Series
        From the observed information matrix.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way:
    an alternative to the Pareto/NBD model. Marketing Science 24(2), 275-284.

    Examples
    --------
    >>> from crmine.clv import BetaGeoModel
    >>> truth = BetaGeoModel.from_params(r=0.25, alpha=4.0, a=0.8, b=2.5)
    >>> data = truth.simulate(2000, T=39.0, seed=1)
    >>> model = BetaGeoModel().fit(data)
    >>> 0.15 < model.params_["r"] < 0.35
    True
    """

    _param_names = ("r", "alpha", "a", "b")
    _has_gradient = True

    def _loglik(self, params: FloatArray, data: Histories) -> FloatArray:
        r, alpha, a, b = params
        x, tx, T = data.frequency, data.recency, data.T
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = betaln(a, b + x) - betaln(a, b)
        a3 = -(r + x) * np.log(alpha + T)
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) - (r + x) * np.log(alpha + tx),
            -np.inf,
        )
        return np.asarray(a1 + a2 + np.logaddexp(a3, a4))

    def _grad(self, params: FloatArray, data: Histories) -> FloatArray:
        r, alpha, a, b = params
        x, tx, T = data.frequency, data.recency, data.T
        pos = x > 0
        a3 = -(r + x) * np.log(alpha + T)
        bx1 = np.where(pos, b + x - 1, 1.0)
        a4 = np.where(pos, np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + tx), -np.inf)
        w4 = np.exp(a4 - np.logaddexp(a3, a4))  # share of the "dropped out" term
        w3 = 1 - w4
        d_r = (
            digamma(r + x)
            - digamma(r)
            + np.log(alpha)
            - w3 * np.log(alpha + T)
            - w4 * np.log(alpha + tx)
        )
        d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + tx)
        d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
        d_b = (
            digamma(a + b)
            + digamma(b + x)
            - digamma(b)
            - digamma(a + b + x)
            - np.where(pos, w4 / bx1, 0.0)
        )
        return np.vstack([d_r, d_alpha, d_a, d_b])

    def _total(
        self, params: FloatArray, data: Histories, need_grad: bool
    ) -> tuple[float, FloatArray | None]:
        """Value and gradient together, with special functions once per distinct value.

        Terms of the frequency alone (gammaln, digamma) are summed per distinct frequency with
        the aggregated weights, and logs of ``alpha + T`` / ``alpha + recency`` are taken per
        distinct T / recency: the per-history work is a few multiply-adds.
        """
        r, alpha, a, b = params
        pre = self._precompute(data)
        xu, wx, Tu, WT, XWT, tu = pre["xu"], pre["wx"], pre["Tu"], pre["WT"], pre["XWT"], pre["tu"]
        xi_p, Ti_p, ti_p, wp, xp = pre["xi_p"], pre["Ti_p"], pre["ti_p"], pre["wp"], pre["xp"]
        with np.errstate(all="ignore"):
            const_x = (
                gammaln(r + xu) - gammaln(r) + r * np.log(alpha) + betaln(a, b + xu) - betaln(a, b)
            )
            log_aTu = np.log(alpha + Tu)
            # the "alive at T" term -(r+x) log(alpha+T) needs only per-T sums of weights
            alive = -(log_aTu * (r * WT + XWT)).sum()
            # only repeat buyers have the "dropped out after the last purchase" term:
            # log(e^a3 + e^a4) = a3 + softplus(a4 - a3) (np.logaddexp is several times slower)
            log_aT = log_aTu[Ti_p]
            log_at = np.log(alpha + tu)[ti_p]
            log_bx1 = np.log(b + xu - 1)[xi_p]
            rx = r + xp
            diff = np.log(a) - log_bx1 + rx * (log_aT - log_at)
            soft = np.maximum(diff, 0.0) + np.log1p(np.exp(-np.abs(diff)))
            # (u * v).sum() rather than u @ v: BLAS threads stall on a busy machine
            ll = float((wx * const_x).sum() + alive + (wp * soft).sum())
            if not need_grad:
                return ll, None
            ww4 = wp * np.exp(diff - soft)  # weight of the dropped-out term per repeat history
            dig_ab = digamma(a + b)
            dig_abx = digamma(a + b + xu)
            d_r = (
                (wx * (digamma(r + xu) - digamma(r) + np.log(alpha))).sum()
                - (log_aTu * WT).sum()
                + (ww4 * (log_aT - log_at)).sum()
            )
            d_alpha = (
                r / alpha * wx.sum()
                - ((r * WT + XWT) / (alpha + Tu)).sum()
                + (ww4 * rx * (np.exp(-log_aT) - np.exp(-log_at))).sum()
            )
            d_a = (wx * (dig_ab - dig_abx)).sum() + ww4.sum() / a
            d_b = (wx * (dig_ab + digamma(b + xu) - digamma(b) - dig_abx)).sum() - (
                ww4 * np.exp(-log_bx1)
            ).sum()
        return ll, np.array([d_r, d_alpha, d_a, d_b])

    @staticmethod
    def _precompute(data: Histories) -> dict[str, Any]:
        """Parameter-free aggregates of the histories, computed once per fit."""
        cached = data.extra.get("_bgnbd")
        if isinstance(cached, dict):
            return cached
        w, x = data.weights, data.frequency
        xu, xi = data.levels("frequency")
        tu, ti = data.levels("recency")
        Tu, Ti = data.levels("T")
        pos = np.flatnonzero(x > 0)
        pre = {
            "xu": xu,
            "wx": np.bincount(xi, weights=w, minlength=len(xu)),
            "Tu": Tu,
            "WT": np.bincount(Ti, weights=w, minlength=len(Tu)),
            "XWT": np.bincount(Ti, weights=w * x, minlength=len(Tu)),
            "tu": tu,
            "xi_p": xi[pos],
            "Ti_p": Ti[pos],
            "ti_p": ti[pos],
            "wp": w[pos],
            "xp": x[pos],
        }
        data.extra["_bgnbd"] = pre  # type: ignore[assignment]
        return pre

    # -- predictions -------------------------------------------------------------------------
    def _p_alive(self, f: FloatArray, r_: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, a, b = self._p()
        log_odds = (
            np.log(a)
            - np.log(np.where(f > 0, b + f - 1, 1.0))
            + (r + f) * (np.log(alpha + T) - np.log(alpha + r_))
        )
        return np.where(f > 0, 1 / (1 + np.exp(log_odds)), 1.0)

    def _alive_expected(self, t: float, f: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, a, b = self._p()
        z = t / (alpha + T + t)
        # Euler's transformation keeps the hypergeometric term bounded for large frequencies:
        # (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)
        scaled = np.exp((a - 1) * np.log1p(-z)) * _hyp2f1(a + b - 1 - r, a - 1, a + b + f - 1, z)
        return np.asarray((a + b + f - 1) / (a - 1) * (1 - scaled))

    def _unconditional_expected(self, t: FloatArray) -> FloatArray:
        r, alpha, a, b = self._p()
        z = t / (alpha + t)
        scaled = np.exp((a - 1) * np.log1p(-z)) * _hyp2f1(a + b - 1 - r, a - 1, a + b - 1, z)
        return np.asarray((a + b - 1) / (a - 1) * (1 - scaled))

    def probability_of_purchases(self, n: int | NDArray[np.int64], t: float) -> FloatArray:
        """P(X(t) = n): probability that a new customer makes ``n`` repeat purchases by ``t``.

        Equation (8) of Fader, Hardie & Lee (2005).
        """
        r, alpha, a, b = self._p()
        n_arr = np.atleast_1d(np.asarray(n, dtype=np.float64))
        log_nb = _nbd_log_pmf(r, alpha, t)

        out = np.empty_like(n_arr)
        for i, x in enumerate(n_arr):
            first = np.exp(betaln(a, b + x) - betaln(a, b) + log_nb(np.array(x)))
            second = 0.0
            if x > 0:
                cdf = float(np.exp(log_nb(np.arange(x))).sum())
                second = float(np.exp(betaln(a + 1, b + x - 1) - betaln(a, b))) * (1 - cdf)
            out[i] = first + second
        return out

    def simulate(
        self, n_customers: int, T: float | FloatArray, *, seed: int | None = None
    ) -> pd.DataFrame:
        """Draw RFM summaries of ``n_customers`` customers observed for ``T`` time units each."""
        # dies right after the J-th repeat purchase, J >= 1
        return _simulate_bg(self._p(), n_customers, T, seed, first_death=1)


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD: BG/NBD in which a customer may also drop out right after the first purchase.

    Same parameters as :class:`BetaGeoModel` (``r, alpha, a, b``); customers with no repeat
    purchase are no longer certain to be alive.

    References
    ----------
    Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and comparison of
    models for customer base analysis. International Journal of Research in Marketing 24(3).
    """

    def _loglik(self, params: FloatArray, data: Histories) -> FloatArray:
        r, alpha, a, b = params
        x, tx, T = data.frequency, data.recency, data.T
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = betaln(a, b + x + 1) - betaln(a, b)
        a3 = -(r + x) * np.log(alpha + T)
        a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.asarray(a1 + a2 + a3 + np.logaddexp(0.0, a4))

    def _grad(self, params: FloatArray, data: Histories) -> FloatArray:
        r, alpha, a, b = params
        x, tx, T = data.frequency, data.recency, data.T
        a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        w = np.exp(a4 - np.logaddexp(0.0, a4))
        d_r = (
            digamma(r + x)
            - digamma(r)
            + np.log(alpha)
            - np.log(alpha + T)
            + w * (np.log(alpha + T) - np.log(alpha + tx))
        )
        d_alpha = (
            r / alpha - (r + x) / (alpha + T) + w * (r + x) * (1 / (alpha + T) - 1 / (alpha + tx))
        )
        d_a = digamma(a + b) - digamma(a + b + x + 1) + w / a
        d_b = (
            digamma(a + b) + digamma(b + x + 1) - digamma(b) - digamma(a + b + x + 1) - w / (b + x)
        )
        return np.vstack([d_r, d_alpha, d_a, d_b])

    def _total(
        self, params: FloatArray, data: Histories, need_grad: bool
    ) -> tuple[float, FloatArray | None]:
        return TransactionModel._total(self, params, data, need_grad)

    def _p_alive(self, f: FloatArray, r_: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, a, b = self._p()
        log_odds = np.log(a) - np.log(b + f) + (r + f) * (np.log(alpha + T) - np.log(alpha + r_))
        return np.asarray(1 / (1 + np.exp(log_odds)))

    def _alive_expected(self, t: float, f: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, a, b = self._p()
        z = t / (alpha + T + t)
        # (1-z)^(r+x) 2F1(r+x, b+x+1; a+b+x; z) = (1-z)^(a-1) 2F1(a+b-r, a-1; a+b+x; z)
        scaled = np.exp((a - 1) * np.log1p(-z)) * _hyp2f1(a + b - r, a - 1, a + b + f, z)
        return np.asarray((a + b + f) / (a - 1) * (1 - scaled))

    def _unconditional_expected(self, t: FloatArray) -> FloatArray:
        r, alpha, a, b = self._p()
        z = t / (alpha + t)
        scaled = np.exp((a - 1) * np.log1p(-z)) * _hyp2f1(a + b - r, a - 1, a + b, z)
        return np.asarray(b / (a - 1) * (1 - scaled))

    def probability_of_purchases(self, n: int | NDArray[np.int64], t: float) -> FloatArray:
        """P(X(t) = n) for a new customer (MBG/NBD analogue of FHL 2005 eq. 8)."""
        r, alpha, a, b = self._p()
        n_arr = np.atleast_1d(np.asarray(n, dtype=np.float64))
        log_nb = _nbd_log_pmf(r, alpha, t)

        out = np.empty_like(n_arr)
        for i, x in enumerate(n_arr):
            first = np.exp(betaln(a, b + x + 1) - betaln(a, b) + log_nb(np.array(x)))
            cdf = float(np.exp(log_nb(np.arange(x))).sum()) if x > 0 else 0.0
            out[i] = first + float(np.exp(betaln(a + 1, b + x) - betaln(a, b))) * (1 - cdf)
        return out

    def simulate(
        self, n_customers: int, T: float | FloatArray, *, seed: int | None = None
    ) -> pd.DataFrame:
        # may drop out right after the first purchase (J >= 0)
        return _simulate_bg(self._p(), n_customers, T, seed, first_death=0)
