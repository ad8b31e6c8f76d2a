"""Shared machinery of the buy-till-you-die models: distinct histories and the estimator base.

Every model's likelihood depends on a customer only through the history ``(frequency, recency,
T)``. Identical histories are aggregated into one row with a weight (the number of customers
sharing it), so the cost of one likelihood evaluation depends on the number of *distinct*
histories, not on the number of customers: on daily data a million customers typically collapse
to a small fraction of that. Parameters are optimised on the log scale (they are all positive) by
BFGS with analytic gradients where the model supplies them, then polished by a few Newton steps;
standard errors come from the observed information (the Hessian of the log-likelihood at the
optimum). The input checks live in :mod:`crmine.clv._validate`, the optimiser in
:mod:`crmine.clv._optimise`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, stats
from sklearn.base import BaseEstimator

from crmine._format import fmt_number
from crmine.clv._optimise import _hessian, bfgs_search, newton_polish
from crmine.clv._validate import check_summary
from crmine.exceptions import ConvergenceWarning, DataError, NotFittedError

__all__ = ["BaseModel", "Histories", "aggregate_histories", "check_summary", "group_rows"]

FloatArray = NDArray[np.float64]
LogLikFn = Callable[[FloatArray, "Histories"], FloatArray]
GradFn = Callable[[FloatArray, "Histories"], FloatArray]


def _integer_codes(columns: tuple[FloatArray, ...]) -> NDArray[np.int64] | None:
    """One int64 key per row when every column holds small whole numbers >= 0, else None."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for col in columns:
        if len(col) and (col.min() < 0 or not np.array_equal(col, np.floor(col))):
            return None
        top = int(col.max()) + 1 if len(col) else 1
        if span * top >= 2**62:
            return None
        key = key * top + col.astype(np.int64)
        span *= top
    return key


def group_rows(*columns: FloatArray) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Group identical rows of ``columns``: ``(codes, representatives)``.

    ``codes[i]`` is the group of row ``i``; ``representatives[g]`` is one row of group ``g``.
    Linear in the number of rows (no sort): whole-number data (periods, counts) is packed into
    one integer key, other data is hashed column by column with pandas' factorize.
    """
    n = len(columns[0])
    key = _integer_codes(columns)
    if key is not None and int(key.max(initial=0)) < 8 * n + 1_000_000:
        # dense key space: a presence table is faster than hashing
        seen = np.zeros(int(key.max(initial=0)) + 1, dtype=np.intp)
        seen[key] = 1
        ids = np.cumsum(seen) - 1
        codes = ids[key]
    elif key is not None:
        codes = pd.factorize(key)[0]
    else:
        codes = pd.factorize(columns[0])[0].astype(np.int64)
        for col in columns[1:]:
            col_codes, col_uniques = pd.factorize(col)
            # pairwise re-factorising keeps the combined key far below int64 overflow
            codes = pd.factorize(codes * len(col_uniques) + col_codes)[0].astype(np.int64)
    codes = np.asarray(codes, dtype=np.intp)
    n_groups = int(codes.max()) + 1 if n else 0
    representatives = np.empty(n_groups, dtype=np.intp)
    # every row of a group holds the same values, so whichever row lands here is fine
    representatives[codes] = np.arange(n, dtype=np.intp)
    return codes, representatives


class Histories:
    """Distinct customer histories with weights (number of customers sharing each)."""

    __slots__ = (
        "T",
        "_levels",
        "extra",
        "frequency",
        "inverse",
        "n_customers",
        "recency",
        "weights",
    )

    def __init__(
        self,
        frequency: FloatArray,
        recency: FloatArray,
        T: FloatArray,
        weights: FloatArray,
        inverse: NDArray[np.intp] | None = None,
        extra: dict[str, FloatArray] | None = None,
    ) -> None:
        self.frequency = frequency
        self.recency = recency
        self.T = T
        self.weights = weights
        self.inverse = inverse
        self.n_customers = float(weights.sum())
        self.extra = extra or {}
        self._levels: dict[str, tuple[FloatArray, NDArray[np.intp]]] = {}

    def __len__(self) -> int:
        return len(self.frequency)

    def levels(self, name: str) -> tuple[FloatArray, NDArray[np.intp]]:
        """Distinct values of one column and, per history, the index of its value (cached).

        Special functions of ``frequency`` alone (gammaln, digamma) or of ``T`` alone are then
        computed once per distinct value: a few hundred instead of one per history.
        """
        if name not in self._levels:
            values = {"frequency": self.frequency, "recency": self.recency, "T": self.T}[name]
            codes, uniques = pd.factorize(values)
            self._levels[name] = (np.asarray(uniques, dtype=np.float64), codes.astype(np.intp))
        return self._levels[name]


def aggregate_histories(
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,
    weights: FloatArray | None = None,
) -> Histories:
    """Collapse identical ``(frequency, recency, T)`` rows into weighted distinct histories.

    ``inverse`` maps every input row to its distinct history, so per-customer predictions can be
    computed once per history and broadcast back.
    """
    n = len(frequency)
    if weights is None:
        weights = np.ones(n)
    if n == 0:
        return Histories(frequency, recency, T, weights, np.zeros(0, dtype=np.intp))
    codes, reps = group_rows(frequency, recency, T)
    w = np.bincount(codes, weights=weights, minlength=len(reps)).astype(np.float64)
    return Histories(frequency[reps], recency[reps], T[reps], w, codes)


class BaseModel(BaseEstimator):
    """Common behaviour of the crmine CLV estimators (scikit-learn conventions).

    Subclasses define ``_param_names``, ``_columns`` (summary columns used), ``_loglik`` (per
    distinct history log-likelihood, vectorised) and optionally ``_grad`` (gradient of the
    per-history log-likelihood with respect to the natural parameters, shape ``(k, n)``).
    """

    _param_names: tuple[str, ...] = ()
    _columns: tuple[str, ...] = ("frequency", "recency", "T")
    _integer_frequency = True
    _has_gradient = False

    params_: dict[str, float]
    log_likelihood_: float
    n_customers_: int
    n_histories_: int
    converged_: bool
    n_iterations_: int
    _hessian_: FloatArray

    def __init__(
        self,
        *,
        penalizer: float = 0.0,
        initial_params: Mapping[str, float] | None = None,
        max_iter: int = 2000,
    ) -> None:
        self.penalizer = penalizer
        self.initial_params = initial_params
        self.max_iter = max_iter

    # -- to override -------------------------------------------------------------------------
    def _loglik(self, params: FloatArray, data: Histories) -> FloatArray:  # pragma: no cover
        raise NotImplementedError

    def _grad(self, params: FloatArray, data: Histories) -> FloatArray:  # pragma: no cover
        raise NotImplementedError

    def _histories(self, summary: pd.DataFrame, weights: FloatArray | None) -> Histories:
        cols = check_summary(summary, self._columns, integer_frequency=self._integer_frequency)
        return aggregate_histories(cols["frequency"], cols["recency"], cols["T"], weights)

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, summary: pd.DataFrame, *, weights: FloatArray | pd.Series | None = None) -> Self:
        """Fit by maximum likelihood; returns ``self``.

        Parameters
        ----------
        summary : DataFrame
            One row per customer with the model's RFM columns (see :func:`rfm_summary`).
        weights : array-like, optional
            Number of customers each row stands for (when the summary is already aggregated).
        """
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        if w is not None and (
            len(w) != len(summary) or not np.all(np.isfinite(w)) or (w < 0).any()
        ):
            raise DataError("weights must be finite, >= 0 and have one value per summary row")
        data = self._histories(summary, w)
        if data.n_customers <= 0:
            raise DataError("cannot fit a model on an empty summary (no customers)")
        self._fit_histories(data)
        return self

    def _total(
        self, params: FloatArray, data: Histories, need_grad: bool
    ) -> tuple[float, FloatArray | None]:
        """Weighted total log-likelihood (and its gradient in the natural parameters).

        Models override this to share work between the value and the gradient.
        """
        with np.errstate(all="ignore"):
            # (u * v).sum() rather than BLAS dot products: BLAS threads stall on a busy machine
            ll = float((data.weights * self._loglik(params, data)).sum())
            grad = (self._grad(params, data) * data.weights).sum(axis=1) if need_grad else None
        return ll, grad

    def _objective(
        self, data: Histories
    ) -> tuple[
        Callable[[FloatArray], float],
        Callable[[FloatArray], FloatArray] | None,
        Callable[[FloatArray], tuple[float, FloatArray]] | None,
    ]:
        """Mean negative log-likelihood on the log-parameter scale: value, gradient, both."""
        total = data.n_customers
        pen = self.penalizer

        def negll(log_theta: FloatArray) -> float:
            params = np.exp(np.clip(log_theta, -25.0, 25.0))
            ll = self._total(params, data, False)[0]
            if not np.isfinite(ll):
                return 1e300
            return -ll / total + pen * float(np.sum(params**2))

        if not self._has_gradient:
            return negll, None, None

        def value_and_grad(log_theta: FloatArray) -> tuple[float, FloatArray]:
            params = np.exp(np.clip(log_theta, -25.0, 25.0))
            ll, g = self._total(params, data, True)
            assert g is not None
            value = -ll / total + pen * float(np.sum(params**2)) if np.isfinite(ll) else 1e300
            grad = (-g / total + 2 * pen * params) * params  # chain rule for the log scale
            return value, np.where(np.isfinite(grad), grad, 0.0)

        def negll_grad(log_theta: FloatArray) -> FloatArray:
            return value_and_grad(log_theta)[1]

        return negll, negll_grad, value_and_grad

    def _start(self) -> FloatArray:
        if self.initial_params is not None:
            missing = [p for p in self._param_names if p not in self.initial_params]
            if missing:
                raise DataError(f"initial_params lacks {missing}; give all of {self._param_names}")
            return np.log([float(self.initial_params[p]) for p in self._param_names])
        return np.zeros(len(self._param_names))

    def _search(
        self, data: Histories, start: FloatArray, ftol: float = 1e-15
    ) -> tuple[Any, Callable[[FloatArray], tuple[float, FloatArray]]]:
        """The optimiser's search on the mean negative log-likelihood of ``data``."""
        negll, _, value_and_grad = self._objective(data)
        return bfgs_search(negll, value_and_grad, start, max_iter=self.max_iter, ftol=ftol)

    def _fit_histories(self, data: Histories) -> None:
        negll, negll_grad, _ = self._objective(data)
        start = self._start()
        warm = False
        if self.initial_params is None and len(data) > 50_000:
            # warm start from a weighted subsample of histories: the full-data search then
            # needs a handful of iterations instead of dozens
            rng = np.random.default_rng(0)
            pick = rng.choice(len(data), size=20_000, p=data.weights / data.weights.sum())
            counts = np.bincount(pick, minlength=len(data)).astype(np.float64)
            keep = np.flatnonzero(counts)
            sub = Histories(data.frequency[keep], data.recency[keep], data.T[keep], counts[keep])
            sub.extra.update({k: v[keep] for k, v in data.extra.items() if len(v) == len(data)})
            with np.errstate(all="ignore"):
                start = self._search(sub, start, ftol=1e-10)[0].x
            if negll_grad is not None:
                # from there Newton steps on the full data converge in a few gradients
                polished = self._polish(start, negll, negll_grad)
                if np.max(np.abs(negll_grad(polished))) < 1e-9:
                    start, warm = polished, True
        if warm:
            res, fun = (
                optimize.OptimizeResult(x=start, nit=0, message="Newton from warm start"),
                None,
            )
        else:
            res, fun = self._search(data, start)
        log_theta = res.x
        if not warm:
            # the quasi-Newton search stops a hair away from the optimum; a few Newton steps on
            # the analytic gradient make the estimates exact to many digits
            log_theta = self._polish(log_theta, negll, negll_grad)
        params = np.exp(log_theta)
        value = negll(log_theta)
        final_grad = negll_grad(log_theta) if negll_grad is not None else None
        if final_grad is None:
            assert fun is not None
            final_grad = fun(log_theta)[1]
        gnorm = float(np.max(np.abs(final_grad)))
        self.converged_ = bool(np.isfinite(value) and value < 1e299 and gnorm < 1e-4)
        self.n_iterations_ = int(res.nit)
        if not self.converged_:
            warnings.warn(
                f"{type(self).__name__} did not converge ({res.message!s}; gradient norm "
                f"{gnorm:.2e} after {res.nit} iterations). Estimates {self._fmt(params)} may be "
                "unreliable: try initial_params=..., a small penalizer, or check the summary for "
                "extreme histories.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self.params_ = {n: float(v) for n, v in zip(self._param_names, params, strict=True)}
        self.n_customers_ = round(data.n_customers)
        self.n_histories_ = len(data)
        self.log_likelihood_ = self._total(params, data, False)[0]

        def ll_natural(p: FloatArray) -> float:
            return self._total(p, data, False)[0]

        grad_natural = None
        if self._has_gradient:

            def grad_natural(p: FloatArray) -> FloatArray:
                g = self._total(p, data, True)[1]
                assert g is not None
                return g

        self._hessian_ = _hessian(
            ll_natural,
            grad_natural,
            params,
            grad_at_theta=grad_natural(params) if grad_natural is not None else None,
        )

    def _polish(
        self,
        log_theta: FloatArray,
        negll: Callable[[FloatArray], float],
        negll_grad: Callable[[FloatArray], FloatArray] | None,
    ) -> FloatArray:
        return newton_polish(log_theta, negll, negll_grad)

    @staticmethod
    def _fmt(params: FloatArray) -> str:
        return "[" + ", ".join(fmt_number(p, digits=4) for p in params) + "]"

    # -- inference ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(summary) first"
            )

    def _p(self) -> list[float]:
        self._check_fitted()
        return [self.params_[n] for n in self._param_names]

    @property
    def covariance_(self) -> pd.DataFrame:
        """Asymptotic covariance of the parameters (inverse observed information)."""
        self._check_fitted()
        try:
            cov = np.linalg.inv(-self._hessian_)
        except np.linalg.LinAlgError:
            cov = np.full_like(self._hessian_, np.nan)
        names = list(self._param_names)
        return pd.DataFrame(cov, index=names, columns=names)

    @property
    def standard_errors_(self) -> pd.Series:
        """Standard errors from the Hessian of the log-likelihood at the optimum."""
        var = np.diag(self.covariance_.to_numpy())
        with np.errstate(invalid="ignore"):
            se = np.where(var > 0, np.sqrt(np.abs(var)), np.nan)
        return pd.Series(se, index=list(self._param_names), name="standard_error")

    def confidence_intervals(self, level: float = 0.95) -> pd.DataFrame:
        """Wald confidence intervals for every parameter, on the log scale.

        Every parameter of these models is positive, and ``estimate ± z·se`` (lifetimes' choice)
        reaches below zero for a poorly determined one (e.g. BG/NBD's ``a`` near 0). The
        interval ``estimate · exp(± z·se / estimate)`` (the delta method for log θ) stays
        positive and agrees with it when ``se`` is small relative to the estimate.
        """
        se = self.standard_errors_
        z = float(stats.norm.ppf(0.5 + level / 2))
        est = pd.Series(self.params_)
        with np.errstate(over="ignore"):  # an unidentified parameter: bounds 0 and inf
            spread = np.exp(z * se / est)
        return pd.DataFrame({"lower": est / spread, "upper": est * spread})

    def summary_frame(self, level: float = 0.95) -> pd.DataFrame:
        """Tidy table: parameter, estimate, standard error, confidence bounds."""
        ci = self.confidence_intervals(level)
        return pd.DataFrame(
            {
                "parameter": list(self._param_names),
                "estimate": [self.params_[n] for n in self._param_names],
                "standard_error": self.standard_errors_.to_numpy(),
                "lower": ci["lower"].to_numpy(),
                "upper": ci["upper"].to_numpy(),
            }
        )

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={fmt_number(v, digits=4)}" for k, v in self.params_.items())
            return f"{type(self).__name__}({inner}, log_likelihood={self.log_likelihood_:.2f})"
        return f"{type(self).__name__}()"

    def _set_params(self, params: Mapping[str, float]) -> None:
        """Use known parameters (e.g. from a stored model) without fitting."""
        missing = [p for p in self._param_names if p not in params]
        if missing:
            raise DataError(f"parameters lack {missing}; give all of {self._param_names}")
        self.params_ = {n: float(params[n]) for n in self._param_names}


class TransactionModel(BaseModel):
    """A model of purchase counts: conditional predictions per customer, simulation."""

    # E[Y(t) | history] = weight(x, tx, T) * g(t; x, T) for every model here (weight = P(alive)
    # except for BG/BB). g holds the expensive special functions and depends on (x, T) only, so
    # it is computed once per distinct (x, T) pair: a few thousand on daily data.
    def _alive_expected(self, t: float, f: FloatArray, T: FloatArray) -> FloatArray:
        raise NotImplementedError  # pragma: no cover

    def _cond_weight(self, f: FloatArray, r: FloatArray, T: FloatArray) -> FloatArray:
        return self._p_alive(f, r, T)

    def _conditional_expected(
        self, t: float, f: FloatArray, r: FloatArray, T: FloatArray
    ) -> FloatArray:
        return np.asarray(self._cond_weight(f, r, T) * self._alive_expected(t, f, T))

    def _expected_parts(
        self, ts: list[float], f: FloatArray, r: FloatArray, T: FloatArray
    ) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
        """``E[Y(ts[j]) | row i] = weight[i] * g[pair[i], j]``: returns ``(weight, g, pair)``."""
        pair, reps = group_rows(f, T)
        f_u, T_u = f[reps], T[reps]
        with np.errstate(all="ignore"):
            weight = self._cond_weight(f, r, T)
            g = np.empty((len(reps), len(ts)))
            for j, t in enumerate(ts):
                g[:, j] = self._alive_expected(float(t), f_u, T_u)
        return np.asarray(weight), g, pair

    def _p_alive(self, f: FloatArray, r: FloatArray, T: FloatArray) -> FloatArray:
        raise NotImplementedError  # pragma: no cover

    def _unconditional_expected(self, t: FloatArray) -> FloatArray:
        raise NotImplementedError  # pragma: no cover

    def probability_of_purchases(self, n: int | NDArray[np.int64], t: float) -> FloatArray:
        """P(X(t) = n) for a newly acquired customer."""
        raise NotImplementedError  # pragma: no cover

    # every model also has simulate(n_customers, T, seed=...): T's type is the model's own
    # (continuous time for BG/NBD and Pareto/NBD, whole periods for BG/BB)

    @classmethod
    def from_params(cls, **params: float) -> Self:
        """A model with known parameters (for prediction or simulation) without fitting."""
        model = cls()
        model._set_params(params)
        return model

    def _by_history(
        self,
        summary: pd.DataFrame,
        fn: Callable[[FloatArray, FloatArray, FloatArray], FloatArray],
        name: str,
    ) -> pd.Series:
        # predictions are elementwise per customer; the expensive special functions inside
        # are computed per distinct (frequency, T) pair by the models themselves
        self._check_fitted()
        cols = check_summary(summary, self._columns, integer_frequency=self._integer_frequency)
        with np.errstate(all="ignore"):
            values = fn(cols["frequency"], cols["recency"], cols["T"])
        return pd.Series(values, index=summary.index, name=name)

    def expected_purchases(
        self, t: float, summary: pd.DataFrame | None = None
    ) -> pd.Series | FloatArray:
        """Expected number of purchases in the next ``t`` time units.

        With ``summary``: conditional on each customer's history (one value per row, as a Series
        aligned to ``summary``). Without: for a newly acquired customer, ``E[X(t)]`` (``t`` may be
        an array).
        """
        self._check_fitted()
        if summary is None:
            with np.errstate(all="ignore"):
                return np.asarray(self._unconditional_expected(np.asarray(t, dtype=np.float64)))
        if (
            not isinstance(t, (int, float, np.integer, np.floating))
            or isinstance(t, bool)
            or not np.isfinite(t)
            or t < 0
        ):
            raise DataError(
                f"t must be a number >= 0 (a horizon in the summary's time unit), not {t!r}"
            )
        horizon = float(t)

        def expected(f: FloatArray, r: FloatArray, T: FloatArray) -> FloatArray:
            weight, g, pair = self._expected_parts([horizon], f, r, T)
            return np.asarray(weight * g[pair, 0])

        return self._by_history(summary, expected, "expected_purchases")

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """Probability that each customer is still active at the end of observation."""
        return self._by_history(summary, self._p_alive, "p_alive")

    def log_likelihood(self, summary: pd.DataFrame) -> pd.Series:
        """Per-customer log-likelihood under the fitted parameters."""
        params = np.asarray(self._p())

        def ll(f: FloatArray, r: FloatArray, T: FloatArray) -> FloatArray:
            return self._loglik(params, Histories(f, r, T, np.ones(len(f))))

        return self._by_history(summary, ll, "log_likelihood")
