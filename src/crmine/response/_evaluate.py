"""Held-out evidence for response and uplift models, and the flat-file workflows built on it.

A response model is judged by its held-out ROC AUC against 0.5 (random targeting) with the
Hanley-McNeil interval (a bootstrap over customers when they repeat across campaigns),
plus its top-decile lift against 1; an uplift model by its held-out
Qini coefficient against 0 (random targeting) with a bootstrap interval over customers.
:func:`train_response` and :func:`evaluate_uplift` are what ``crmine response train --data``
and ``crmine response uplift --data`` run, so a notebook gets every figure the CLI shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from crmine.contract import Verdict, auc_interval, judge, recorded_warnings
from crmine.exceptions import ConfigError, DataError, MissingColumnError
from crmine.marketing._effects import match_value
from crmine.response._model import ResponseModel, _binary_target, gains_table
from crmine.response._uplift import (
    ClassTransformationUplift,
    QiniResult,
    TwoModelUplift,
    persuadables,
    qini_curve,
    uplift_at_k,
)

__all__ = [
    "AUC_MIN_GAIN",
    "LIFT_MIN_GAIN",
    "QINI_MIN_GAIN",
    "TrainResult",
    "UpliftEvaluation",
    "evaluate_uplift",
    "match_value",
    "qini_coefficient",
    "response_verdict",
    "train_response",
    "uplift_verdict",
]

# What "matters", for response/uplift data in general (not tuned to one data set):
# - an AUC 0.05 above chance is where a ranking starts to change who gets contacted;
# - a top decile responding 1.5x the average (lift 1 + 0.5) is the least that pays for the
#   effort of targeting in most direct-marketing cost structures;
# - a Qini coefficient of 0.01 (1% of the perfect ranking's area over random) is about the
#   smallest that survives a new campaign: published e-mail tests (Hillstrom) sit near it.
AUC_MIN_GAIN = 0.05
LIFT_MIN_GAIN = 0.5
QINI_MIN_GAIN = 0.01

_RESPONSE_ADVICE = (
    "add customer attributes that relate to responding (age, income, region, acquisition "
    "channel), build the RFM history first (`crmine run --only features`), or train on more "
    "past campaigns"
)
_UPLIFT_ADVICE = (
    "keep a random control group in every campaign and in more of them (uplift needs both "
    "groups per customer type), or add the attributes that make customers react differently"
)


# --------------------------------------------------------------------------- verdicts


_REPEATS = 200


def _unit_codes(groups: ArrayLike | None, n: int) -> tuple[np.ndarray, int]:
    """Each row's unit (customer) code and the number of units: rows when ``groups`` is None."""
    if groups is None:
        return np.arange(n), n
    codes, uniques = pd.factorize(pd.Series(np.asarray(groups)))
    return np.asarray(codes), len(uniques)


def _weighted_bootstrap(statistic: Any, codes: np.ndarray, n_units: int, *,
                        repeats: int = _REPEATS, level: float = 0.95,
                        random_state: int = 0) -> tuple[float, float]:
    """Percentile bootstrap resampling whole units (customers): each resample draws
    ``n_units`` units with replacement, which is row weights = how often its unit was drawn.
    ``statistic(weights)`` works on rows in a fixed (pre-sorted) order, so no resample needs
    sorting again: O(rows) each."""
    rng = np.random.default_rng(random_state)
    stats = np.empty(repeats)
    for r in range(repeats):
        drawn = np.bincount(rng.integers(0, n_units, n_units), minlength=n_units)
        stats[r] = statistic(drawn[codes].astype(float))
    stats = stats[np.isfinite(stats)]
    if not len(stats):
        return (math.nan, math.nan)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return (float(lo), float(hi))


def _lift_weighted(ys: np.ndarray, weight: np.ndarray) -> float:
    """Top-decile lift of rows already sorted best score first, with row weights."""
    total = weight.sum()
    # rows that start within the first tenth of the (weighted) list, as gains_table's bin 1
    top = (np.cumsum(weight) - weight < total / 10) & (weight > 0)
    rate = (ys * weight).sum() / total if total > 0 else 0.0
    if rate == 0 or not top.any():
        return math.nan
    return float((ys[top] * weight[top]).sum() / weight[top].sum() / rate)


class _SortedAUC:
    """Rows sorted once by score (ties grouped), so that the ROC AUC of any bootstrap
    weighting costs a few weighted sums: each responder counts the non-responders scored
    below it, plus half those tied with it."""

    def __init__(self, y: np.ndarray, score: np.ndarray, codes: np.ndarray) -> None:
        order = np.argsort(score, kind="stable")
        s = score[order]
        self.y, self.codes = y[order].astype(float), codes[order]
        self.tie = np.concatenate([[0], np.cumsum(s[1:] != s[:-1])])
        self.n_ties = int(self.tie[-1]) + 1 if len(s) else 0

    def auc(self, weight: np.ndarray) -> float:
        wp, wn = weight * self.y, weight * (1 - self.y)
        total_p, total_n = wp.sum(), wn.sum()
        if total_p <= 0 or total_n <= 0:
            return math.nan
        neg = np.bincount(self.tie, weights=wn, minlength=self.n_ties)
        below = np.cumsum(neg) - neg
        return float((wp * (below[self.tie] + 0.5 * neg[self.tie])).sum() / (total_p * total_n))


def response_verdict(
    y: ArrayLike, score: ArrayLike, *, groups: ArrayLike | None = None, repeats: int = _REPEATS,
    random_state: int = 0,
) -> Verdict:
    """Is a response model's ranking better than random targeting, on held-out rows?

    The headline is the held-out ROC AUC against 0.5 with the Hanley & McNeil (1982) interval,
    or, when ``groups`` (customers) repeat across rows, the wider of it and a percentile
    bootstrap interval resampling customers (rows of one customer are not independent); the
    top-decile lift against 1 (the same bootstrap) is its check. ``not_informative`` when
    the AUC interval reaches 0.5.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> response_verdict(y, rng.random(400)).status
    'not_informative'
    >>> response_verdict(y, y + rng.normal(0, 0.5, 400)).status
    'informative'
    """
    from sklearn.metrics import roc_auc_score

    yy = _binary_target(y)
    sc = np.asarray(score, dtype=float)
    n_pos, n_neg = int(yy.sum()), int(len(yy) - yy.sum())
    if n_pos == 0 or n_neg == 0:
        return Verdict("not_informative", "held-out AUC", None, 0.5,
                       why=f"The {len(yy):,} held-out rows hold only one class, so the model "
                           "cannot be judged.", what_to_try=_RESPONSE_ADVICE)  # fmt: skip
    auc = float(roc_auc_score(yy, sc))
    lo, hi = auc_interval(auc, n_pos, n_neg)
    codes, units = _unit_codes(groups, len(yy))
    interval_kind = "Hanley-McNeil interval"
    if units < len(yy):
        # Customers repeat across campaigns and respond alike: rows are not independent, so
        # the interval resamples customers (and is never narrower than Hanley-McNeil's).
        ranked = _SortedAUC(yy, sc, codes)
        b_lo, b_hi = _weighted_bootstrap(ranked.auc, ranked.codes, units, repeats=repeats,
                                         random_state=random_state)  # fmt: skip
        if math.isfinite(b_lo):
            lo, hi = min(lo, b_lo), max(hi, b_hi)
            interval_kind = f"bootstrap interval over {units:,} customers"
    order = np.argsort(-sc, kind="stable")
    ys, cs = yy[order].astype(float), codes[order]
    lift = _lift_weighted(ys, np.ones(len(ys)))
    lift_ci = _weighted_bootstrap(lambda wt: _lift_weighted(ys, wt), cs, units,
                                  repeats=repeats, random_state=random_state)  # fmt: skip
    lift_check = judge(
        "held-out top-decile lift", lift, 1.0, lift_ci if math.isfinite(lift_ci[0]) else None,
        min_gain=LIFT_MIN_GAIN,
        why=f"The 10% best-scored held-out rows respond {lift:.2f}x the average rate "
            f"(95% bootstrap interval {lift_ci[0]:.2f} to {lift_ci[1]:.2f}); random "
            "targeting gives 1.",
        what_to_try=_RESPONSE_ADVICE,
    )  # fmt: skip
    head = judge(
        "held-out AUC", auc, 0.5, (lo, hi), min_gain=AUC_MIN_GAIN,
        why=f"Held-out AUC {auc:.3f} (95% {interval_kind} {lo:.3f} to {hi:.3f}; random targeting "
            f"0.5) on {len(yy):,} rows with {n_pos:,} responders; the top decile responds "
            f"{lift:.2f}x the average rate.",
        what_to_try=_RESPONSE_ADVICE,
    )  # fmt: skip
    return Verdict(head.status, head.metric, head.value, head.baseline, head.interval,
                   head.why, head.what_to_try, checks=(lift_check,))  # fmt: skip


def _qini_area(ys: np.ndarray, ws: np.ndarray, weight: np.ndarray) -> float:
    """Area between the Qini curve of rows in this order (with row weights) and random."""
    nt = np.concatenate([[0.0], np.cumsum(weight * ws)])
    nc = np.concatenate([[0.0], np.cumsum(weight * (1 - ws))])
    rt = np.concatenate([[0.0], np.cumsum(weight * ys * ws)])
    rc = np.concatenate([[0.0], np.cumsum(weight * ys * (1 - ws))])
    x = np.concatenate([[0.0], np.cumsum(weight)])
    if x[-1] <= 0:
        return math.nan
    x = x / x[-1]
    q = rt - np.where(nc > 0, rc * nt / np.where(nc > 0, nc, 1), 0.0)
    return float(np.trapezoid(q - q[-1] * x, x))


class _SortedQini:
    """Rows sorted once by predicted uplift and once in the perfect model's order, so that
    the Qini coefficient of any bootstrap weighting costs a few cumulative sums."""

    def __init__(self, y: np.ndarray, w: np.ndarray, u: np.ndarray, codes: np.ndarray) -> None:
        order = np.argsort(-u, kind="stable")
        self.y, self.w, self.codes = y[order], w[order], codes[order]
        key = np.where((self.w == 1) & (self.y > 0), 0,
                       np.where((self.w == 0) & (self.y > 0), 2, 1))
        self.perfect = np.argsort(key, kind="stable")

    def coefficient(self, weight: np.ndarray) -> float:
        if (weight * self.w).sum() == 0 or (weight * (1 - self.w)).sum() == 0:
            return math.nan
        model = _qini_area(self.y, self.w, weight)
        p = self.perfect
        perfect = _qini_area(self.y[p], self.w[p], weight[p])
        return model / perfect if perfect > 0 else math.nan


def _qini_coef(y: np.ndarray, w: np.ndarray, u: np.ndarray) -> float:
    """The Qini coefficient alone (no curve frame)."""
    if w.min() == w.max():
        return math.nan
    return _SortedQini(y, w, u, np.arange(len(y))).coefficient(np.ones(len(y)))


def qini_coefficient(y: ArrayLike, treatment: ArrayLike, uplift: ArrayLike) -> float:
    """The Qini coefficient of ``uplift`` (area over random / the perfect model's area), as
    :func:`crmine.response.qini_curve` computes it, without building the curve.

    Examples
    --------
    >>> y, w = [1, 0, 1, 0, 1, 0], [1, 1, 0, 0, 1, 0]
    >>> round(qini_coefficient(y, w, [0.9, 0.1, 0.2, 0.0, 0.8, 0.3]), 3)
    0.615
    """
    yy = np.asarray(y, dtype=float)
    w = _binary_target(treatment).astype(float)
    u = np.asarray(uplift, dtype=float)
    if not len(yy) == len(w) == len(u):
        raise DataError(f"y, treatment and uplift must have equal length; got {len(yy)}, "
                        f"{len(w)}, {len(u)}")  # fmt: skip
    return _qini_coef(yy, w, u)


def uplift_verdict(
    y: ArrayLike, treatment: ArrayLike, uplift: ArrayLike, *, groups: ArrayLike | None = None,
    repeats: int = _REPEATS, random_state: int = 0,
) -> Verdict:
    """Does ranking by predicted uplift beat random targeting, on held-out customers?

    The held-out Qini coefficient (Radcliffe 2007) against 0, the coefficient of random
    targeting, with a percentile bootstrap interval that resamples ``groups`` (customers;
    rows when None). ``not_informative`` when the interval reaches 0.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> w, y = rng.integers(0, 2, 2000), rng.integers(0, 2, 2000)
    >>> uplift_verdict(y, w, rng.random(2000)).status
    'not_informative'
    """
    yy = np.asarray(y, dtype=float)
    w = _binary_target(treatment).astype(float)
    u = np.asarray(uplift, dtype=float)
    coef = qini_coefficient(yy, w, u)
    n_t, n_c = int(w.sum()), int(len(w) - w.sum())
    if not math.isfinite(coef):
        return Verdict("not_informative", "held-out Qini coefficient", None, 0.0,
                       why=f"The {len(w):,} held-out rows ({n_t:,} treated, {n_c:,} control) "
                           "lack a group or responders, so uplift cannot be judged.",
                       what_to_try=_UPLIFT_ADVICE)  # fmt: skip
    codes, units = _unit_codes(groups, len(yy))
    sorted_rows = _SortedQini(yy, w, u, codes)
    lo, hi = _weighted_bootstrap(lambda wt: sorted_rows.coefficient(wt), sorted_rows.codes,
                                 units, repeats=repeats, random_state=random_state)
    at30 = _uplift_at(yy, w, u, 0.3)
    ate = float(yy[w == 1].mean() - yy[w == 0].mean())
    unit = "customers" if groups is not None else "rows"
    return judge(
        "held-out Qini coefficient", coef, 0.0, (lo, hi), min_gain=QINI_MIN_GAIN,
        why=f"Held-out Qini coefficient {coef:.3f} (95% bootstrap interval over {unit} "
            f"{lo:.3f} to {hi:.3f}; random targeting 0) on {len(w):,} rows ({n_t:,} treated, "
            f"{n_c:,} control). The top 30% by predicted uplift show an uplift of "
            f"{at30:+.1%} against {ate:+.1%} on average.",
        what_to_try=_UPLIFT_ADVICE,
    )  # fmt: skip


def _uplift_at(y: np.ndarray, w: np.ndarray, u: np.ndarray, k: float) -> float:
    try:
        return uplift_at_k(y, w, u, k=k)
    except DataError:
        return math.nan


# --------------------------------------------------------------------------- flat files


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What :func:`train_response` fitted and measured.

    Attributes
    ----------
    model : ResponseModel
        Fitted on every row.
    features : list of str
    rows : int
    base_rate : float
        Share of responders.
    cv_folds : int
        Folds of the held-out evaluation (0: skipped).
    cv_roc_auc, cv_top_decile_lift : float or None
        Out-of-fold ROC AUC and top-decile lift.
    cv_gains : DataFrame
        Out-of-fold gains by decile (empty when skipped).
    verdict : Verdict or None
        Held-out AUC vs 0.5 (None when ``cv`` < 2: nothing was held out).
    model_location : str
        Where the model was saved ("" when it was not).
    """

    model: ResponseModel
    features: list[str]
    id_columns: list[str]
    rows: int
    base_rate: float
    cv_folds: int
    cv_roc_auc: float | None
    cv_top_decile_lift: float | None
    cv_gains: pd.DataFrame
    verdict: Verdict | None
    model_location: str = ""
    warnings: tuple[str, ...] = ()
    marts: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model_location, "rows": self.rows,
                               "features": list(self.features), "base_rate": self.base_rate}
        if self.cv_folds >= 2:
            out |= {"cv_folds": self.cv_folds, "cv_roc_auc": self.cv_roc_auc,
                    "cv_top_decile_lift": self.cv_top_decile_lift}  # fmt: skip
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.cv_gains.copy()

    def bundle(self) -> dict[str, Any]:
        """What is saved: the model, its features and the id columns kept out of them."""
        return {"response": self.model, "features": list(self.features),
                "id_columns": list(self.id_columns)}  # fmt: skip


def _feature_frame(frame: pd.DataFrame, drop: Sequence[str]) -> pd.DataFrame:
    return frame.drop(columns=[c for c in drop if c in frame.columns])


def train_response(
    frame: pd.DataFrame,
    *,
    target: str,
    id_columns: Sequence[str] = (),
    exclude: Sequence[str] = (),
    cv: int = 5,
    model_path: str | Path | None = None,
    models_dir: str | Path | None = None,
    source: str = "",
    random_state: int = 0,
) -> TrainResult:
    """Fit a response model on a flat table and measure it on held-out rows.

    Every row is scored by a model of the ``cv``-fold cross-validation that did not see it
    (out-of-fold AUC, gains and lift), then the model is refitted on every row and saved to
    ``model_path`` (a file) or as a new version in ``models_dir`` (a workspace's ``models/``).

    Parameters
    ----------
    frame : DataFrame
        One row per customer (prospect) with the features and the ``target`` column.
    target : str
        The response: yes/no, 1/0 or true/false.
    id_columns, exclude : sequence of str
        Columns kept out of the features: identifiers, and columns known only after the
        contact (Bank Marketing's ``duration``).
    cv : int
        Folds for the held-out figures and the verdict (0 or 1: skip them).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"age": rng.integers(20, 70, 600)})
    >>> df["bought"] = (rng.random(600) < np.where(df["age"] < 35, 0.4, 0.05)).astype(int)
    >>> r = train_response(df, target="bought", cv=3)
    >>> r.verdict.status, r.cv_roc_auc > 0.7
    ('informative', True)
    """
    from sklearn.model_selection import StratifiedKFold

    from crmine._progress import track

    if target not in frame.columns:
        raise MissingColumnError(
            f"no target column {target!r}; columns found: {list(frame.columns)}")
    X = _feature_frame(frame, [target, *id_columns, *exclude])
    y = _binary_target(frame[target])
    with recorded_warnings() as caught:
        auc = lift = None
        gains = pd.DataFrame()
        verdict = None
        if cv >= 2:
            scores = np.empty(len(y))
            splits = list(StratifiedKFold(cv, shuffle=True, random_state=random_state)
                          .split(X, y))  # fmt: skip
            for train, test in track(splits, "cross-validating", total=cv):
                fitted = ResponseModel(random_state=random_state).fit(X.iloc[train], y[train])
                scores[test] = fitted.predict_proba(X.iloc[test])[:, 1]
            gains = gains_table(y, scores)
            verdict = response_verdict(y, scores, random_state=random_state)
            auc = verdict.value
            lift = float(gains.loc[0, "lift"])
        model = ResponseModel(random_state=random_state).fit(X, y)
    if verdict is not None:
        verdict = verdict.with_warnings(caught)
    where = ""
    result = TrainResult(model, list(X.columns), list(id_columns), len(frame),
                         model.base_rate_, cv if cv >= 2 else 0, auc, lift, gains, verdict,
                         warnings=tuple(caught))  # fmt: skip
    if model_path is not None:
        from crmine.warehouse._sealed import dump_object, key_for

        path = Path(model_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        dump_object(result.bundle(), path, key_for(path.parent))  # sealed in an encrypted ws
        where = str(path)
    elif models_dir is not None:
        from crmine.warehouse._models import save_model

        metrics = {k: v for k, v in (("cv_roc_auc", auc), ("cv_top_decile_lift", lift))
                   if v is not None}  # fmt: skip
        saved = save_model(result.bundle(), Path(models_dir), "response", kind="boosting",
                           metadata={"source": source, "target": target,
                                     "features": list(X.columns), "metrics": metrics,
                                     "verdict": verdict.to_dict() if verdict else None})
        where = str(saved.folder)
    if where:
        from dataclasses import replace

        result = replace(result, model_location=where)
    return result


@dataclass(frozen=True, slots=True)
class UpliftEvaluation:
    """What :func:`evaluate_uplift` measured on a randomised test.

    Attributes
    ----------
    model : TwoModelUplift or ClassTransformationUplift
        Refitted on every row.
    learner : str
    response_model : str or None
        The two-model learner's response models (``boosting``/``logistic``).
    rows : int
    holdout_qini_area, holdout_qini_coefficient, holdout_uplift_at_30pct,
    holdout_average_uplift : float
        On the held-out share.
    qini : QiniResult
        The held-out Qini curve.
    persuadables : DataFrame
        The ``top`` customers with the highest uplift above 0 (EMPTY when the verdict is
        ``not_informative``: no evidence that the ranking beats random targeting).
    verdict : Verdict
        Held-out Qini coefficient vs 0 with a bootstrap interval.
    """

    model: TwoModelUplift | ClassTransformationUplift
    learner: str
    response_model: str | None
    rows: int
    holdout_qini_area: float
    holdout_qini_coefficient: float
    holdout_uplift_at_30pct: float
    holdout_average_uplift: float
    qini: QiniResult
    persuadables: pd.DataFrame
    verdict: Verdict
    marts: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rows": self.rows, "learner": self.learner, "response_model": self.response_model,
            "holdout_qini_area": self.holdout_qini_area,
            "holdout_qini_coefficient": self.holdout_qini_coefficient,
            "holdout_uplift_at_30pct": self.holdout_uplift_at_30pct,
            "holdout_average_uplift": self.holdout_average_uplift,
            "persuadables_listed": len(self.persuadables),
        }  # fmt: skip
        if not self.verdict.actionable:
            out["note"] = ("no persuadables listed: on held-out customers the uplift ranking "
                           "does not beat random targeting")
        elif self.verdict.status == "weak":
            out["warning"] = "weak evidence: " + self.verdict.why
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.persuadables.copy()


def evaluate_uplift(
    frame: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    control: object,
    treated: object = None,
    learner: str = "two-model",
    response_model: str = "boosting",
    id_column: str | None = None,
    exclude: Sequence[str] = (),
    test_size: float = 0.3,
    top: int | None = 20,
    random_state: int = 0,
) -> UpliftEvaluation:
    """Fit an uplift model on a randomised test, judge it on held-out rows, list persuadables.

    Parameters
    ----------
    frame : DataFrame
        One row per customer: arm, outcome and features.
    treatment, outcome : str
        The arm column and the 0/1 outcome column.
    control : object
        The arm value of the control group (text matches numbers: ``"0"``).
    treated : object, optional
        The arm to model against control (default: every non-control row).
    learner : {"two-model", "class-transformation"}
    response_model : {"boosting", "logistic", "auto"}
        The two-model learner's response models.
    id_column : str, optional
        Identifies the customers in the persuadables list (default: the row index).
    exclude : sequence of str
        Columns left out of the features (other outcomes).
    test_size : float
        Held-out share (stratified on the arm) for the Qini and the verdict.
    top : int or None
        Persuadables to list (None: all).
    """
    from sklearn.model_selection import train_test_split

    if learner not in ("two-model", "class-transformation"):
        raise ConfigError(
            f"learner must be two-model or class-transformation, not {learner!r}")
    for col in (treatment, outcome):
        if col not in frame.columns:
            raise MissingColumnError(f"no column {col!r}; columns found: {list(frame.columns)}")
    arms = frame[treatment]
    ctrl = match_value(arms, control)
    if not (arms == ctrl).any():
        raise DataError(f"control value {control!r} not found in column {treatment!r}; "
                        f"values found: {sorted(map(str, arms.dropna().unique()))[:10]}")
    if treated is not None:
        frame = frame[arms.isin([ctrl, match_value(arms, treated)])]
    w = (frame[treatment] != ctrl).astype(int).to_numpy()
    y = _binary_target(frame[outcome])
    drop = [treatment, outcome, *([id_column] if id_column else []), *exclude]
    X = _feature_frame(frame, drop)

    def make() -> TwoModelUplift | ClassTransformationUplift:
        if learner == "two-model":
            return TwoModelUplift(learner=response_model, random_state=random_state)
        return ClassTransformationUplift(random_state=random_state)

    Xtr, Xte, wtr, wte, ytr, yte = train_test_split(
        X, w, y, test_size=test_size, random_state=random_state, stratify=w)
    with recorded_warnings() as caught:
        u_te = make().fit(Xtr, wtr, ytr).predict_uplift(Xte)
        final = make().fit(X, w, y)
        u = final.predict_uplift(X)
    q = qini_curve(yte, wte, u_te)
    verdict = uplift_verdict(yte, wte, u_te, random_state=random_state).with_warnings(caught)
    ids = (frame[id_column] if id_column else pd.Series(frame.index)).to_numpy()
    pers = persuadables(ids, u, top=top)
    if not verdict.actionable:
        pers = pers.iloc[0:0]
    return UpliftEvaluation(
        final, learner, getattr(final, "learner_", None), len(frame), float(q.area),
        float(q.coefficient), _uplift_at(yte.astype(float), wte.astype(float), u_te, 0.3),
        float(yte[wte == 1].mean() - yte[wte == 0].mean()), q, pers, verdict,
    )  # fmt: skip
