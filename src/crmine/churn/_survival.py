"""Time to churn: Kaplan–Meier curves by group, a Cox model, expected remaining tenure."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from crmine.churn._prep import MISSING_LEVEL, plan_columns
from crmine.exceptions import ConvergenceWarning, DataError, NotFittedError

__all__ = ["KaplanMeierResult", "TenureModel", "kaplan_meier"]


def _check_durations(durations: np.ndarray, events: np.ndarray) -> None:
    bad = ~np.isfinite(durations) | (durations < 0)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise DataError(
            f"durations must be non-negative numbers; rows {rows} hold {durations[bad][:5]}"
        )
    if not np.isin(events, (0, 1)).all():
        raise DataError("events must be 0 (still a customer / censored) or 1 (churned)")


@dataclass(frozen=True, slots=True)
class KaplanMeierResult:
    """Survival (still a customer) over tenure, per group.

    Attributes
    ----------
    curves : DataFrame
        ``group``, ``time``, ``survival``, ``ci_lower``, ``ci_upper``, ``at_risk``.
    medians : DataFrame
        ``group``, ``customers``, ``churned``, ``median_tenure`` (inf when more than half
        never churn within the data).
    """

    curves: pd.DataFrame
    medians: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.curves.copy()

    def survival_at(self, group: str, time: float) -> float:
        c = self.curves[self.curves["group"] == group]
        before = c[c["time"] <= time]
        return float(before["survival"].iloc[-1]) if len(before) else 1.0


def kaplan_meier(
    durations: pd.Series | np.ndarray,
    events: pd.Series | np.ndarray,
    groups: pd.Series | np.ndarray | None = None,
    *,
    max_groups: int = 8,
) -> KaplanMeierResult:
    """Kaplan–Meier survival curves, one per group (e.g. contract type or segment).

    Parameters
    ----------
    durations : array-like
        Tenure at churn, or so far for customers still active (censored).
    events : array-like
        1 = churned, 0 = still a customer.
    groups : array-like, optional
        Group label per customer; the ``max_groups`` largest are kept, the rest pooled as
        "other".

    References
    ----------
    Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete observations.
    *JASA* 53(282), 457–481.

    Examples
    --------
    >>> km = kaplan_meier([1, 2, 3, 4], [1, 0, 1, 0])
    >>> round(km.survival_at("all", 3), 3)
    0.375
    """
    from lifelines import KaplanMeierFitter

    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=int)
    _check_durations(d, e)
    if groups is None:
        g = pd.Series(["all"] * len(d))
    else:
        g = pd.Series(groups).astype(object).fillna(MISSING_LEVEL).astype(str)
        g = g.reset_index(drop=True)
    top = g.value_counts().index[:max_groups]
    g = g.where(g.isin(top), "other")
    curves, medians = [], []
    for name in sorted(g.unique()):
        mask = (g == name).to_numpy()
        kmf = KaplanMeierFitter().fit(d[mask], e[mask], label=name)
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_
        curves.append(pd.DataFrame({
            "group": name, "time": sf.index.to_numpy(dtype=float), "survival": sf.to_numpy(),
            "ci_lower": ci.iloc[:, 0].to_numpy(), "ci_upper": ci.iloc[:, 1].to_numpy(),
            "at_risk": kmf.event_table["at_risk"].reindex(sf.index).to_numpy(),
        }))  # fmt: skip
        medians.append({"group": name, "customers": int(mask.sum()),
                        "churned": int(e[mask].sum()),
                        "median_tenure": float(kmf.median_survival_time_)})  # fmt: skip
    return KaplanMeierResult(pd.concat(curves, ignore_index=True), pd.DataFrame(medians))


class TenureModel(BaseEstimator):
    """Cox proportional-hazards model of time to churn, with expected remaining tenure.

    Parameters
    ----------
    penalizer : float
        L2 penalty (lifelines' ``penalizer``) that keeps the fit stable with many dummies.
    horizon : float, optional
        Remaining tenure is the *restricted* mean up to this tenure (default: the longest
        tenure observed), because the baseline hazard is unknown beyond the data.

    Attributes
    ----------
    hazard_ratios_ : DataFrame
        ``covariate``, ``hazard_ratio``, ``ci_lower``, ``ci_upper``, ``p`` — a hazard ratio of
        3 for ``contract_type = Month-to-month`` means three times the churn rate at every
        tenure, versus the baseline level (``baseline_levels_``).
    concordance_ : float
        Harrell's C on the training data.

    References
    ----------
    Cox, D. R. (1972). Regression models and life-tables. *J. R. Stat. Soc. B* 34(2),
    187–220. Davidson-Pilon, C. (2019). lifelines: survival analysis in Python. *JOSS* 4(40).
    """

    def __init__(self, *, penalizer: float = 0.01, horizon: float | None = None) -> None:
        self.penalizer = penalizer
        self.horizon = horizon

    def _encode(self, X: pd.DataFrame) -> pd.DataFrame:
        Xt = self.plan_.transform(X)
        out = pd.DataFrame(index=X.index)
        for col in self.plan_.numeric:
            out[col] = Xt[col].fillna(self.medians_[col]).to_numpy()
        for col in self.plan_.categorical:
            levels = Xt[col].fillna(MISSING_LEVEL).astype(str).to_numpy()
            for level in self.levels_[col]:
                out[f"{col} = {level}"] = (levels == level).astype(float)
        return out

    def fit(
        self, X: pd.DataFrame, durations: pd.Series | np.ndarray, events: pd.Series | np.ndarray
    ) -> TenureModel:
        """Fit on customer attributes, tenure (at churn or so far) and the churn flag."""
        from lifelines import CoxPHFitter

        d = np.asarray(durations, dtype=float)
        e = np.asarray(events, dtype=int)
        _check_durations(d, e)
        if len(d) != len(X):
            raise DataError(f"X has {len(X)} rows but durations has {len(d)}")
        self.plan_ = plan_columns(X)
        Xt = self.plan_.transform(X)
        self.medians_ = {c: float(Xt[c].median()) for c in self.plan_.numeric}
        self.levels_: dict[str, list[str]] = {}
        self.baseline_levels_: dict[str, str] = {}
        for col in self.plan_.categorical:
            counts = Xt[col].fillna(MISSING_LEVEL).astype(str).value_counts()
            counts = counts[counts >= max(10, 0.01 * len(X))]
            # The most common level is the baseline; rare levels pool with it.
            self.baseline_levels_[col] = str(counts.index[0])
            self.levels_[col] = [str(v) for v in counts.index[1:20]]
        frame = self._encode(X.reset_index(drop=True))
        frame = frame.loc[:, frame.std() > 0]
        self.covariates_ = list(frame.columns)
        frame["_duration"] = np.maximum(d, 1e-6)
        frame["_event"] = e
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cph = CoxPHFitter(penalizer=self.penalizer)
            cph.fit(frame, duration_col="_duration", event_col="_event")
        for w in caught:
            if "converge" in str(w.message).lower():
                warnings.warn(f"Cox model: {w.message}", ConvergenceWarning, stacklevel=2)
        self.cph_ = cph
        s = cph.summary
        self.hazard_ratios_ = pd.DataFrame({
            "covariate": s.index.to_numpy(), "hazard_ratio": s["exp(coef)"].to_numpy(),
            "ci_lower": s["exp(coef) lower 95%"].to_numpy(),
            "ci_upper": s["exp(coef) upper 95%"].to_numpy(), "p": s["p"].to_numpy(),
        })  # fmt: skip
        self.hazard_ratios_ = self.hazard_ratios_.sort_values(
            "hazard_ratio", ascending=False, key=lambda v: np.abs(np.log(v))
        )
        self.hazard_ratios_ = self.hazard_ratios_.reset_index(drop=True)
        self.concordance_ = float(cph.concordance_index_)
        self.horizon_ = float(self.horizon if self.horizon is not None else d.max())
        return self

    def _check(self) -> None:
        if not hasattr(self, "cph_"):
            raise NotFittedError(
                "this TenureModel is not fitted yet; call fit(X, durations, events)"
            )

    def survival_function(self, X: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        """P(still a customer at each of ``times``) — array (len(times), len(X))."""
        self._check()
        enc = self._encode(X.reset_index(drop=True))[self.covariates_]
        return np.asarray(self.cph_.predict_survival_function(enc, times=times), dtype=float)

    def expected_remaining_tenure(
        self, X: pd.DataFrame, current_tenure: pd.Series | np.ndarray, *, chunk: int = 50_000
    ) -> np.ndarray:
        """Expected further tenure of customers still active at ``current_tenure``.

        ``∫ S(u | x) du / S(t0 | x)`` from the current tenure ``t0`` to the horizon: the mean
        residual life, restricted to the horizon.
        """
        self._check()
        t0 = np.asarray(current_tenure, dtype=float)
        if len(t0) != len(X):
            raise DataError(f"X has {len(X)} rows but current_tenure has {len(t0)}")
        grid = np.linspace(0.0, self.horizon_, 241)
        out = np.empty(len(X))
        for start in range(0, len(X), chunk):
            part = X.iloc[start:start + chunk]
            sf = self.survival_function(part, grid)  # (G, n)
            cum = np.concatenate([np.zeros((1, sf.shape[1])),
                                  np.cumsum((sf[1:] + sf[:-1]) / 2 * np.diff(grid)[:, None],
                                            axis=0)])  # fmt: skip
            tt = np.clip(t0[start:start + chunk], 0, self.horizon_)
            cols = np.arange(sf.shape[1])
            # Linear interpolation of S and of its integral at each customer's tenure.
            pos = np.clip(np.searchsorted(grid, tt, side="right") - 1, 0, len(grid) - 2)
            w = (tt - grid[pos]) / (grid[pos + 1] - grid[pos])
            s_t = sf[pos, cols] * (1 - w) + sf[pos + 1, cols] * w
            c_t = cum[pos, cols] * (1 - w) + cum[pos + 1, cols] * w
            out[start:start + chunk] = (cum[-1] - c_t) / np.maximum(s_t, 1e-12)
        return out
