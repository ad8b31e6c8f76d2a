"""Gamma-Gamma model of average transaction value."""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import digamma, gammaln

from crmine.clv._base import BaseModel, Histories, check_summary
from crmine.exceptions import DataError

__all__ = ["GammaGammaModel"]

FloatArray = NDArray[np.float64]


class GammaGammaModel(BaseModel):
    """Gamma-Gamma spend model: transaction values ``z ~ Gamma(p, nu)``, ``nu ~ Gamma(q, v)``.

    Fitted on repeat buyers (``frequency > 0``) with ``monetary_value`` = mean value of their repeat
    transactions; customers without repeat purchases carry no spend information and are skipped.
    The model assumes spend is independent of purchase frequency (check
    ``summary[["frequency", "monetary_value"]].corr()``: it should be close to 0).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for
    customer base analysis. Journal of Marketing Research 42(4), 415-430.
    Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
    http://brucehardie.com/notes/025/

    Examples
    --------
    >>> from crmine.clv import GammaGammaModel
    >>> truth = GammaGammaModel.from_params(p=6.25, q=3.74, v=15.44)
    >>> spend = truth.simulate([1, 2, 3, 5] * 500, seed=0)
    >>> 4 < GammaGammaModel().fit(spend).params_["p"] < 9
    True
    """

    _param_names = ("p", "q", "v")
    _columns = ("frequency", "monetary_value")
    _has_gradient = True

    @classmethod
    def from_params(cls, **params: float) -> Self:
        model = cls()
        model._set_params(params)
        return model

    def _histories(self, summary: pd.DataFrame, weights: FloatArray | None) -> Histories:
        cols = check_summary(summary, self._columns, integer_frequency=True)
        x, m = cols["frequency"], cols["monetary_value"]
        keep = x > 0
        if not keep.any():
            raise DataError(
                "Gamma-Gamma needs customers with frequency > 0 (repeat buyers); "
                "the summary has none"
            )
        bad = keep & (m <= 0)
        if bad.any():
            rows = list(summary.index[bad][:5])
            raise DataError(
                f"Gamma-Gamma needs monetary_value > 0 for repeat buyers; row(s) {rows} have "
                f"{m[bad][0]!r}. Remove returns-only customers or use net positive spend."
            )
        w = np.ones(len(x)) if weights is None else weights
        frame = pd.DataFrame({"x": x[keep], "m": m[keep], "w": w[keep]})
        grouped = frame.groupby(["x", "m"], sort=False, as_index=False)["w"].sum()
        x_u = grouped["x"].to_numpy(np.float64)
        m_u = grouped["m"].to_numpy(np.float64)
        return Histories(
            x_u,
            np.zeros_like(x_u),
            np.zeros_like(x_u),
            grouped["w"].to_numpy(np.float64),
            extra={"m": m_u},
        )

    def _loglik(self, params: FloatArray, data: Histories) -> FloatArray:
        p, q, v = params
        x, m = data.frequency, data.extra["m"]
        px = p * x
        return np.asarray(
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(x * m + v)
        )

    def _grad(self, params: FloatArray, data: Histories) -> FloatArray:
        p, q, v = params
        x, m = data.frequency, data.extra["m"]
        px = p * x
        log_xmv = np.log(x * m + v)
        d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - log_xmv)
        d_q = digamma(px + q) - digamma(q) + np.log(v) - log_xmv
        d_v = q / v - (px + q) / (x * m + v)
        return np.vstack([d_p, d_q, d_v])

    def expected_spend(self, summary: pd.DataFrame) -> pd.Series:
        """Conditional expected average transaction value of each customer.

        ``E[M | x, m_x] = p (v + x m_x) / (p x + q - 1)``; customers with no repeat purchase get
        the population mean ``p v / (q - 1)``.
        """
        self._check_fitted()
        p, q, v = (self.params_[k] for k in self._param_names)
        cols = check_summary(summary, self._columns)
        x, m = cols["frequency"], cols["monetary_value"]
        m = np.where(x > 0, m, 0.0)
        values = p * (v + x * m) / (p * x + q - 1)
        return pd.Series(values, index=summary.index, name="expected_spend")

    @property
    def mean_spend_(self) -> float:
        """Population mean transaction value ``p v / (q - 1)`` (infinite when ``q <= 1``)."""
        self._check_fitted()
        p, q, v = (self.params_[k] for k in self._param_names)
        return p * v / (q - 1) if q > 1 else float("inf")

    def simulate(
        self, frequency: FloatArray | list[int], *, seed: int | None = None
    ) -> pd.DataFrame:
        """Draw mean repeat-transaction values for customers with the given ``frequency``."""
        self._check_fitted()
        p, q, v = (self.params_[k] for k in self._param_names)
        x = np.asarray(frequency, dtype=np.float64)
        if (x < 1).any():
            raise DataError("simulate needs frequency >= 1 for every customer")
        rng = np.random.default_rng(seed)
        nu = rng.gamma(q, 1 / v, len(x))
        # the sum of x Gamma(p, nu) values is Gamma(p x, nu)
        m = rng.gamma(p * x, 1 / nu) / x
        return pd.DataFrame({"frequency": x, "monetary_value": m})
