"""Uplift models: who responds *because of* the campaign.

Two learners estimate the conditional average treatment effect ``P(y=1 | x, treated) -
P(y=1 | x, control)`` from a randomised campaign (treatment and control groups): the
two-model approach (T-learner) and the class-transformation approach. Qini and uplift curves,
uplift@k and the persuadables list evaluate and use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from crmine.exceptions import DataError, NotFittedError
from crmine.response._model import ProfitCurve, ResponseModel, _binary_target, _prepare

__all__ = [
    "ClassTransformationUplift",
    "QiniResult",
    "TwoModelUplift",
    "incremental_profit",
    "persuadables",
    "qini_curve",
    "uplift_at_k",
    "uplift_classes",
    "uplift_curve",
]


def _leaf(min_samples_leaf: int | None, n: int) -> int:
    return min_samples_leaf if min_samples_leaf is not None else max(20, n // 50)


def _treatment(treatment: ArrayLike, n: int) -> np.ndarray:
    w = _binary_target(treatment)
    if len(w) != n:
        raise DataError(f"treatment has {len(w)} values but X has {n} rows; they must match")
    if w.min() == w.max():
        raise DataError("treatment has only one group; uplift needs treated and control customers")
    return w


class _BoostedLearner(BaseEstimator):
    """Hyper-parameters shared by the uplift learners: each fits small, early-stopped
    gradient-boosting response models."""

    def __init__(self, *, learning_rate: float = 0.05, max_iter: int = 100,
                 min_samples_leaf: int | None = None, max_leaf_nodes: int = 4,
                 random_state: int | None = 0) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.min_samples_leaf = min_samples_leaf
        self.max_leaf_nodes = max_leaf_nodes
        self.random_state = random_state

    def _model(self, n: int) -> ResponseModel:
        return ResponseModel(learning_rate=self.learning_rate, max_iter=self.max_iter,
                             min_samples_leaf=_leaf(self.min_samples_leaf, n),
                             max_leaf_nodes=self.max_leaf_nodes, early_stopping=True,
                             random_state=self.random_state)


class _LogisticResponse(BaseEstimator):
    """A response model that is linear in the features: one-hot text columns, standardised
    numbers (missing ones at the training median), L2-regularised logistic regression."""

    def __init__(self, *, C: float = 1.0) -> None:
        self.C = C

    def _design(self, X: pd.DataFrame) -> np.ndarray:
        frame, _ = _prepare(X, self.categories_)
        parts = []
        for col in frame.columns:
            if col in self.categories_:
                parts.append(pd.get_dummies(frame[col], dtype=float).to_numpy())
            else:
                v = frame[col].fillna(self.medians_[col]).to_numpy(dtype=float)
                parts.append(((v - self.means_[col]) / self.scales_[col])[:, None])
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> _LogisticResponse:
        frame, self.categories_ = _prepare(X)
        numeric = [c for c in frame.columns if c not in self.categories_]
        self.medians_ = {c: float(frame[c].median()) if frame[c].notna().any() else 0.0
                         for c in numeric}
        filled = {c: frame[c].fillna(self.medians_[c]) for c in numeric}
        self.means_ = {c: float(filled[c].mean()) for c in numeric}
        self.scales_ = {c: float(filled[c].std()) or 1.0 for c in numeric}
        self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(self._design(X), y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(self._design(X)))

    def predict_score(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(X)[:, 1]


class TwoModelUplift(_BoostedLearner):
    """Two-model (T-learner) uplift: one response model per group, uplift = difference.

    Parameters
    ----------
    learner : {"boosting", "logistic", "auto"}
        The response models: boosted trees (default; they find interactions), a logistic
        regression (linear effects, fast), or ``"auto"``: the one with the higher Qini
        coefficient in ``cv_folds``-fold cross-validation on the training data. On
        Hillstrom's e-mail test no learner is reliably better (held-out Qini coefficients
        over three splits: boosting 0.012, logistic 0.010, auto 0.012 on average), so the
        default stays the cheaper single fit.
    learning_rate, max_iter, max_leaf_nodes : see :class:`ResponseModel`.
    min_samples_leaf : int or None
        Smallest leaf; ``None`` uses 2% of the rows (at least 20). Uplift is a small
        difference of two noisy rates, so leaves must be large and trees shallow.
    cv_folds : int
        Folds for ``learner="auto"``.
    random_state : int or None
        Seed.

    Attributes
    ----------
    learner_ : str
        The learner used.
    cv_qini_ : dict
        Mean cross-validated Qini coefficient per learner (``learner="auto"`` only; empty,
        and boosting used, when a group has too few responders to cross-validate).
    model_treated_, model_control_ :
        Response models fitted on each group.

    References
    ----------
    Radcliffe, N. J. & Surry, P. D. (2011). Real-world uplift modelling with
    significance-based uplift trees. Stochastic Solutions white paper.
    Kunzel, S. R. et al. (2019). Metalearners for estimating heterogeneous treatment effects
    using machine learning. *PNAS* 116, 4156-4165.
    """

    def __init__(self, *, learner: str = "boosting", learning_rate: float = 0.05,
                 max_iter: int = 100, min_samples_leaf: int | None = None,
                 max_leaf_nodes: int = 4, cv_folds: int = 3,
                 random_state: int | None = 0) -> None:
        super().__init__(learning_rate=learning_rate, max_iter=max_iter,
                         min_samples_leaf=min_samples_leaf, max_leaf_nodes=max_leaf_nodes,
                         random_state=random_state)
        self.learner = learner
        self.cv_folds = cv_folds

    def _response(self, learner: str, n: int) -> ResponseModel | _LogisticResponse:
        return _LogisticResponse() if learner == "logistic" else self._model(n)

    def _fit_pair(self, learner: str, X: pd.DataFrame, w: np.ndarray, y: np.ndarray
                  ) -> tuple[Any, Any]:
        return (self._response(learner, len(X)).fit(X[w == 1], y[w == 1]),
                self._response(learner, len(X)).fit(X[w == 0], y[w == 0]))

    def fit(self, X: pd.DataFrame, treatment: ArrayLike, y: ArrayLike) -> TwoModelUplift:
        """Fit on features, 0/1 treatment flags and 0/1 responses."""
        if self.learner not in ("auto", "boosting", "logistic"):
            raise DataError(
                f"learner must be 'auto', 'boosting' or 'logistic', not {self.learner!r}")
        w = _treatment(treatment, len(X))
        yy = _binary_target(y)
        Xr = X.reset_index(drop=True)
        learner = self.learner
        if learner == "auto":
            self.cv_qini_ = self._cross_validate(Xr, w, yy)
            learner = (max(self.cv_qini_, key=lambda k: self.cv_qini_[k]) if self.cv_qini_
                       else "boosting")  # fmt: skip
        self.learner_ = learner
        self.model_treated_, self.model_control_ = self._fit_pair(learner, Xr, w, yy)
        return self

    def _cross_validate(self, X: pd.DataFrame, w: np.ndarray, y: np.ndarray
                        ) -> dict[str, float]:
        """Mean held-out Qini coefficient of each learner (folds stratified on group and
        response, so every fold keeps both groups' response rates)."""
        strata = w * 2 + y
        if np.bincount(strata, minlength=4).min() < 2 * self.cv_folds:
            return {}  # too few responders in a group to compare learners: boosting it is
        folds = StratifiedKFold(self.cv_folds, shuffle=True, random_state=self.random_state)
        scores: dict[str, list[float]] = {"boosting": [], "logistic": []}
        for train, test in folds.split(X, strata):
            for learner, results in scores.items():
                try:
                    treated, control = self._fit_pair(learner, X.iloc[train], w[train],
                                                      y[train])  # fmt: skip
                except ValueError:  # a fold too thin for this learner: it is not chosen
                    results.append(-np.inf)
                    continue
                uplift = treated.predict_score(X.iloc[test]) - control.predict_score(X.iloc[test])
                results.append(qini_curve(y[test], w[test], uplift).coefficient)
        return {k: float(np.mean(v)) for k, v in scores.items()}

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        """Estimated uplift (treated minus control response probability) per row."""
        if not hasattr(self, "model_treated_"):
            raise NotFittedError("this TwoModelUplift is not fitted yet; call fit(X, treatment, y)")
        return self.model_treated_.predict_score(X) - self.model_control_.predict_score(X)

    def predict_response(self, X: pd.DataFrame) -> pd.DataFrame:
        """Response probability if treated and if not, per row."""
        if not hasattr(self, "model_treated_"):
            raise NotFittedError("this TwoModelUplift is not fitted yet; call fit(X, treatment, y)")
        return pd.DataFrame({"p_treated": self.model_treated_.predict_score(X),
                             "p_control": self.model_control_.predict_score(X)}, index=X.index)


class ClassTransformationUplift(_BoostedLearner):
    """Class-transformation uplift: one classifier on ``z = y*w + (1-y)*(1-w)``.

    With a treatment share of one half, ``uplift(x) = 2 P(z=1 | x) - 1``. Other shares are
    made equivalent by weighting each group to half the total weight.

    References
    ----------
    Jaskowski, M. & Jaroszewicz, S. (2012). Uplift modeling for clinical trial data.
    *ICML Workshop on Clinical Data Analysis*.
    """


    def fit(self, X: pd.DataFrame, treatment: ArrayLike, y: ArrayLike) -> ClassTransformationUplift:
        w = _treatment(treatment, len(X))
        yy = _binary_target(y)
        z = (yy * w + (1 - yy) * (1 - w)).astype(int)
        share = w.mean()
        weight = np.where(w == 1, 0.5 / share, 0.5 / (1 - share))
        self.model_ = self._model(len(X)).fit(X.reset_index(drop=True), z, sample_weight=weight)
        self.treatment_share_ = float(share)
        return self

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "this ClassTransformationUplift is not fitted yet; call fit(X, treatment, y)")
        return 2 * self.model_.predict_score(X) - 1


def _sorted(y: ArrayLike, treatment: ArrayLike, uplift: ArrayLike
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yy = np.asarray(y, dtype=float)
    w = _binary_target(treatment)
    u = np.asarray(uplift, dtype=float)
    if not len(yy) == len(w) == len(u):
        raise DataError(f"y, treatment and uplift must have equal length; got {len(yy)}, "
                        f"{len(w)}, {len(u)}")
    order = np.argsort(-u, kind="stable")
    return yy[order], w[order], u[order]


@dataclass(frozen=True, slots=True)
class QiniResult:
    """A Qini or uplift curve and its area over the random-targeting line.

    Attributes
    ----------
    curve : DataFrame
        ``n`` (customers targeted, best uplift first), ``depth`` (share), ``model`` (the
        model's curve value), ``random`` (the straight line of random targeting) and
        ``perfect`` (Qini only: the best achievable curve).
    area : float
        Area between the model curve and the random line, per customer (depth in [0, 1]).
        Positive means better than random targeting.
    coefficient : float
        Qini only: ``area`` divided by the perfect model's area (1 = perfect).
    kind : str
        ``"qini"`` or ``"uplift"``.
    """

    curve: pd.DataFrame
    area: float
    coefficient: float
    kind: str

    def to_frame(self) -> pd.DataFrame:
        return self.curve.copy()


def _points(n: int, n_points: int) -> np.ndarray:
    return np.unique(np.linspace(0, n, min(n, n_points) + 1).round().astype(int))


def _cumulative(y: ArrayLike, treatment: ArrayLike, uplift: ArrayLike) -> tuple[np.ndarray, ...]:
    """Outcomes and groups best predicted uplift first, with the running counts of treated
    and control customers and of their responders over the top k (k = 0..n)."""
    ys, ws, _ = _sorted(y, treatment, uplift)

    def running(v: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(v)])

    return ys, ws, running(ws), running(1 - ws), running(ys * ws), running(ys * (1 - ws))


def qini_curve(y: ArrayLike, treatment: ArrayLike, uplift: ArrayLike, *,
               n_points: int = 100) -> QiniResult:
    """Qini curve: incremental responders when the top-``k`` customers are targeted.

    ``Q(k) = R_t(k) - R_c(k) N_t(k) / N_c(k)`` where ``R`` are responders and ``N`` group
    sizes among the top ``k`` by predicted uplift.

    References
    ----------
    Radcliffe, N. J. (2007). Using control groups to target on predicted lift. *Direct
    Marketing Analytics Journal* 1, 14-21.

    Examples
    --------
    >>> y, w = [1, 0, 1, 0], [1, 1, 0, 0]
    >>> q = qini_curve(y, w, uplift=[0.9, 0.1, 0.2, 0.0])
    >>> q.curve["model"].round(2).tolist()
    [0.0, 1.0, 0.0, -1.0, 0.0]
    """
    ys, ws, nt, nc, rt, rc = _cumulative(y, treatment, uplift)
    n = len(ys)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = rt - np.where(nc > 0, rc * nt / np.where(nc > 0, nc, 1), 0.0)
    total = q[-1]
    k = np.arange(n + 1)
    random = total * k / n
    # Perfect model (binary outcome): treated responders first, control responders last.
    perfect = _perfect_qini(ys, ws)
    area = float(np.trapezoid(q - random, k / n))
    perfect_area = float(np.trapezoid(perfect - random, k / n))
    pts = _points(n, n_points)
    curve = pd.DataFrame({"n": pts, "depth": pts / n, "model": q[pts], "random": random[pts],
                          "perfect": perfect[pts]})
    coef = area / perfect_area if perfect_area > 0 else np.nan
    return QiniResult(curve, area / max(nt[-1], 1), float(coef), "qini")


def _perfect_qini(ys: np.ndarray, ws: np.ndarray) -> np.ndarray:
    key = np.where((ws == 1) & (ys > 0), 0, np.where((ws == 0) & (ys > 0), 2, 1))
    order = np.argsort(key, kind="stable")
    y2, w2 = ys[order], ws[order]
    nt = np.concatenate([[0], np.cumsum(w2)])
    nc = np.concatenate([[0], np.cumsum(1 - w2)])
    rt = np.concatenate([[0.0], np.cumsum(y2 * w2)])
    rc = np.concatenate([[0.0], np.cumsum(y2 * (1 - w2))])
    return rt - np.where(nc > 0, rc * nt / np.where(nc > 0, nc, 1), 0.0)


def uplift_curve(y: ArrayLike, treatment: ArrayLike, uplift: ArrayLike, *,
                 n_points: int = 100) -> QiniResult:
    """Uplift curve: ``(mean_t(k) - mean_c(k)) * k`` over the top ``k`` by predicted uplift.

    References
    ----------
    Rzepakowski, P. & Jaroszewicz, S. (2012). Decision trees for uplift modeling with single
    and multiple treatments. *Knowledge and Information Systems* 32, 303-327.
    """
    ys, _ws, nt, nc, rt, rc = _cumulative(y, treatment, uplift)
    n = len(ys)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.where((nt > 0) & (nc > 0), rt / np.maximum(nt, 1) - rc / np.maximum(nc, 1), 0.0)
    k = np.arange(n + 1)
    u = diff * k
    random = u[-1] * k / n
    area = float(np.trapezoid(u - random, k / n)) / n
    pts = _points(n, n_points)
    curve = pd.DataFrame({"n": pts, "depth": pts / n, "model": u[pts], "random": random[pts]})
    return QiniResult(curve, area, np.nan, "uplift")


def incremental_profit(y: ArrayLike, treatment: ArrayLike, uplift: ArrayLike, *,
                       cost_per_contact: float, margin: float,
                       n_points: int = 100) -> ProfitCurve:
    """Profit of contacting the top customers by predicted uplift, counting only the
    responses the contact causes.

    At depth ``k`` (the ``k`` customers with the highest predicted uplift, in held-out data
    with both groups) the incremental responders are ``(rate_treated - rate_control) * k``
    (the uplift curve), so the profit is ``margin`` x that - ``cost_per_contact`` x ``k``.
    A response model's profit curve counts every responder, including those who would have
    bought anyway, and so overstates what a contact earns. The best depth is chosen on the
    ``n_points`` grid (at least 1/``n_points`` of the list), where the rates rest on enough
    customers of both groups.
    """
    if cost_per_contact < 0 or margin < 0:
        raise DataError(f"cost_per_contact ({cost_per_contact}) and margin ({margin}) must be >= 0")
    curve = uplift_curve(y, treatment, uplift, n_points=n_points).curve
    k = curve["n"].to_numpy()
    inc = curve["model"].to_numpy()
    profit = margin * inc - cost_per_contact * k
    frame = pd.DataFrame({"depth": curve["depth"], "contacted": k,
                          "incremental_responders": inc, "cost": cost_per_contact * k,
                          "revenue": margin * inc, "profit": profit})  # fmt: skip
    best = int(np.argmax(profit))
    return ProfitCurve(frame, float(frame["depth"].iloc[best]), float(profit[best]), int(k[best]))


def uplift_at_k(y: ArrayLike, treatment: ArrayLike, uplift: ArrayLike, *, k: float = 0.3) -> float:
    """Observed uplift among the top ``k`` share by predicted uplift: treated response rate
    minus control response rate in that group."""
    if not 0 < k <= 1:
        raise DataError(f"k must be a share in (0, 1]; got {k}")
    ys, ws, _ = _sorted(y, treatment, uplift)
    top = max(1, round(k * len(ys)))
    yt, wt = ys[:top], ws[:top]
    if wt.sum() == 0 or (1 - wt).sum() == 0:
        raise DataError(f"the top {k:.0%} holds only one group; use a larger k")
    return float(yt[wt == 1].mean() - yt[wt == 0].mean())


def persuadables(ids: ArrayLike, uplift: ArrayLike, *, p_treated: ArrayLike | None = None,
                 p_control: ArrayLike | None = None, threshold: float = 0.0,
                 top: int | None = None) -> pd.DataFrame:
    """Customers who respond because of the campaign, highest uplift first.

    With ``p_treated``/``p_control`` every customer also gets the classic four-way label:
    ``persuadable`` (uplift above ``threshold``), ``sleeping dog`` (negative uplift below
    ``-threshold``), ``sure thing`` (likely to respond either way) and ``lost cause``.

    Returns
    -------
    DataFrame
        ``customer_id``, ``uplift``, ``rank`` (and ``p_treated``, ``p_control``,
        ``uplift_class``), only the persuadables.
    """
    u = np.asarray(uplift, dtype=float)
    frame = pd.DataFrame({"customer_id": np.asarray(ids), "uplift": u})
    if p_treated is not None and p_control is not None:
        frame["p_treated"] = np.asarray(p_treated, float)
        frame["p_control"] = np.asarray(p_control, float)
        frame["uplift_class"] = uplift_classes(u, frame["p_treated"], frame["p_control"],
                                               threshold=threshold)
    frame = frame[frame["uplift"] > threshold].sort_values("uplift", ascending=False)
    frame["rank"] = np.arange(1, len(frame) + 1)
    return (frame.head(top) if top else frame).reset_index(drop=True)


def uplift_classes(uplift: ArrayLike, p_treated: ArrayLike, p_control: ArrayLike, *,
                   threshold: float = 0.0) -> np.ndarray:
    """Persuadable / sure thing / lost cause / sleeping dog per customer."""
    u = np.asarray(uplift, float)
    pt, pc = np.asarray(p_treated, float), np.asarray(p_control, float)
    base = np.where((pt + pc) / 2 >= np.median((pt + pc) / 2), "sure thing", "lost cause")
    return np.where(u > threshold, "persuadable", np.where(u < -threshold, "sleeping dog", base))
