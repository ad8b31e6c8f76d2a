"""BG/BB: beta-geometric / beta-Bernoulli model for discrete transaction opportunities."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import betaln, digamma, gammaln

from crmine.clv._base import Histories, TransactionModel
from crmine.exceptions import DataError

__all__ = ["BetaGeoBetaBinomModel"]

FloatArray = NDArray[np.float64]


class BetaGeoBetaBinomModel(TransactionModel):
    """BG/BB model for discrete-time (e.g. yearly, per-event) repeat transactions.

    At each of ``T`` transaction opportunities an active customer transacts with probability
    ``p ~ Beta(alpha, beta)``; before each opportunity an active customer drops out with
    probability ``theta ~ Beta(gamma, delta)``. The summary columns are ``frequency`` (number of
    transactions after the first), ``recency`` (the opportunity of the last one, 0 if none) and
    ``T`` (number of opportunities); all whole numbers.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis in a discrete-time
    noncontractual setting. Marketing Science 29(6), 1086-1108.

    Examples
    --------
    >>> from crmine.clv import BetaGeoBetaBinomModel
    >>> truth = BetaGeoBetaBinomModel.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
    >>> model = BetaGeoBetaBinomModel().fit(truth.simulate(5000, T=6, seed=0))
    >>> round(model.params_["alpha"])
    1
    """

    _param_names = ("alpha", "beta", "gamma", "delta")
    _has_gradient = True

    def _histories(self, summary: pd.DataFrame, weights: FloatArray | None) -> Histories:
        data = super()._histories(summary, weights)
        for col, values in (("recency", data.recency), ("T", data.T)):
            if (values != np.round(values)).any():
                raise DataError(
                    f"BG/BB needs whole numbers of transaction opportunities; column {col!r} has "
                    f"{values[values != np.round(values)][0]!r}. "
                    "Use rfm_summary(..., time_unit=...) "
                    "with the period of one opportunity."
                )
        if (data.frequency > data.recency).any():
            raise DataError(
                "BG/BB summary has frequency > recency: at most one transaction per opportunity"
            )
        return data

    def _loglik(self, params: FloatArray, data: Histories) -> FloatArray:
        alpha, beta, gamma, delta = params
        x, tx, n = data.frequency, data.recency, data.T
        b_ab = betaln(alpha, beta)
        b_gd = betaln(gamma, delta)
        alive = betaln(alpha + x, beta + n - x) - b_ab + betaln(gamma, delta + n) - b_gd
        # the customer dropped out before opportunity tx+i+1 (i = 0 .. n-tx-1)
        gaps = (n - tx).astype(np.int64)
        total = alive.copy()
        for i in range(int(gaps.max(initial=0))):
            m = gaps > i
            term = (
                betaln(alpha + x[m], beta + tx[m] - x[m] + i)
                - b_ab
                + betaln(gamma + 1, delta + tx[m] + i)
                - b_gd
            )
            total[m] = np.logaddexp(total[m], term)
        return np.asarray(total)

    def _grad(self, params: FloatArray, data: Histories) -> FloatArray:
        """Gradient: the likelihood is a sum of beta-function ratios, so the gradient of its log
        is the softmax-weighted sum of their digamma derivatives."""
        alpha, beta, gamma, delta = params
        x, tx, n = data.frequency, data.recency, data.T
        total = self._loglik(params, data)
        base = np.array(
            [
                digamma(alpha) - digamma(alpha + beta),
                digamma(beta) - digamma(alpha + beta),
                digamma(gamma) - digamma(gamma + delta),
                digamma(delta) - digamma(gamma + delta),
            ]
        )

        def term_grad(m: NDArray[np.bool_], pb: FloatArray, g: float, q: FloatArray) -> FloatArray:
            # term = B(alpha+x, beta+pb)/B(alpha,beta) * B(g, delta+q)/B(gamma,delta)
            xa = alpha + x[m]
            d_ab = digamma(xa + beta + pb)
            d_gd = digamma(g + delta + q)
            return np.vstack(
                [
                    digamma(xa) - d_ab - base[0],
                    digamma(beta + pb) - d_ab - base[1],
                    digamma(g) - d_gd - base[2],
                    digamma(delta + q) - d_gd - base[3],
                ]
            )

        every = np.ones(len(x), dtype=bool)
        alive = (
            betaln(alpha + x, beta + n - x)
            - betaln(alpha, beta)
            + betaln(gamma, delta + n)
            - betaln(gamma, delta)
        )
        grad = np.exp(alive - total) * term_grad(every, n - x, gamma, n)
        gaps = (n - tx).astype(np.int64)
        for i in range(int(gaps.max(initial=0))):
            m = gaps > i
            term = (
                betaln(alpha + x[m], beta + tx[m] - x[m] + i)
                - betaln(alpha, beta)
                + betaln(gamma + 1, delta + tx[m] + i)
                - betaln(gamma, delta)
            )
            grad[:, m] += np.exp(term - total[m]) * term_grad(
                m, tx[m] - x[m] + i, gamma + 1, tx[m] + i
            )
        return np.asarray(grad)

    def _p_alive(self, f: FloatArray, r_: FloatArray, T: FloatArray) -> FloatArray:
        """P(alive at opportunity T+1 | history)."""
        alpha, beta, gamma, delta = self._p()
        ll = self._loglik(np.array(self._p()), Histories(f, r_, T, np.ones(len(f))))
        num = (
            betaln(alpha + f, beta + T - f)
            - betaln(alpha, beta)
            + betaln(gamma, delta + T + 1)
            - betaln(gamma, delta)
        )
        return np.asarray(np.exp(num - ll))

    # expected transactions in the next t opportunities (FHS 2010, eq. 13) factor into a part
    # that depends on the whole history and one that depends on (n, t) only
    def _cond_weight(self, f: FloatArray, r_: FloatArray, T: FloatArray) -> FloatArray:
        alpha, beta, _, _ = self._p()
        ll = self._loglik(np.array(self._p()), Histories(f, r_, T, np.ones(len(f))))
        return np.asarray(np.exp(betaln(alpha + f + 1, beta + T - f) - betaln(alpha, beta) - ll))

    def _alive_expected(self, t: float, f: FloatArray, T: FloatArray) -> FloatArray:
        return self._future_sum(T, t)

    def _future_sum(self, n: FloatArray | float, t: float) -> FloatArray:
        """delta/(gamma-1) Γ(γ+δ)/Γ(1+δ) [Γ(1+δ+n)/Γ(γ+δ+n) - Γ(1+δ+n+t)/Γ(γ+δ+n+t)]."""
        _, _, gamma, delta = self._p()
        n = np.asarray(n, dtype=np.float64)
        lead = np.log(delta) + gammaln(gamma + delta) - gammaln(1 + delta)
        a = gammaln(1 + delta + n) - gammaln(gamma + delta + n)
        b = gammaln(1 + delta + n + t) - gammaln(gamma + delta + n + t)
        if abs(gamma - 1) < 1e-10:
            return np.asarray(np.exp(lead) * (np.log(delta + n + t) - np.log(delta + n)))
        return np.asarray(np.exp(lead) * (np.exp(a) - np.exp(b)) / (gamma - 1))

    def _unconditional_expected(self, t: FloatArray) -> FloatArray:
        alpha, beta, _, _ = self._p()
        return np.asarray(alpha / (alpha + beta) * self._expected_first(t))

    def _expected_first(self, t: FloatArray) -> FloatArray:
        _, _, gamma, delta = self._p()
        t = np.asarray(t, dtype=np.float64)
        if abs(gamma - 1) < 1e-10:
            return np.asarray(delta * (np.log(delta + t) - np.log(delta)))
        lead = delta / (gamma - 1)
        ratio = np.exp(
            gammaln(gamma + delta)
            - gammaln(1 + delta)
            + gammaln(1 + delta + t)
            - gammaln(gamma + delta + t)
        )
        return np.asarray(lead * (1 - ratio))

    def probability_of_purchases(self, n: int | NDArray[np.int64], t: float) -> FloatArray:
        """P(X(t) = n): ``n`` transactions in ``t`` opportunities (FHS 2010, eq. 8)."""
        alpha, beta, gamma, delta = self._p()
        t = int(t)
        out = []
        for x in np.atleast_1d(np.asarray(n)):
            x = int(x)
            if x > t:
                out.append(0.0)
                continue
            val = np.exp(
                gammaln(t + 1)
                - gammaln(x + 1)
                - gammaln(t - x + 1)
                + betaln(alpha + x, beta + t - x)
                - betaln(alpha, beta)
                + betaln(gamma, delta + t)
                - betaln(gamma, delta)
            )
            for i in range(x, t):
                val += np.exp(
                    gammaln(i + 1)
                    - gammaln(x + 1)
                    - gammaln(i - x + 1)
                    + betaln(alpha + x, beta + i - x)
                    - betaln(alpha, beta)
                    + betaln(gamma + 1, delta + i)
                    - betaln(gamma, delta)
                )
            out.append(float(val))
        return np.asarray(out)

    def simulate(
        self, n_customers: int, T: int | NDArray[np.int64], *, seed: int | None = None
    ) -> pd.DataFrame:
        """Draw summaries of ``n_customers`` customers with ``T`` opportunities each."""
        alpha, beta, gamma, delta = self._p()
        rng = np.random.default_rng(seed)
        n = np.broadcast_to(np.asarray(T, dtype=np.int64), (n_customers,))
        if (n < 1).any():
            raise DataError("T (number of opportunities) must be >= 1")
        p = rng.beta(alpha, beta, n_customers)
        theta = rng.beta(gamma, delta, n_customers)
        alive_periods = np.minimum(rng.geometric(theta) - 1, n)
        horizon = int(n.max())
        periods = np.arange(1, horizon + 1)
        buys = (rng.random((n_customers, horizon)) < p[:, None]) & (
            periods[None, :] <= alive_periods[:, None]
        )
        x = buys.sum(axis=1)
        last = np.where(x > 0, horizon - np.argmax(buys[:, ::-1], axis=1), 0)
        return pd.DataFrame(
            {
                "frequency": x.astype(np.float64),
                "recency": last.astype(np.float64),
                "T": n.astype(np.float64),
            }
        )
