"""How good is a churn risk score: ranking, calibration and the decision at a threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from crmine.churn._prep import encode_target
from crmine.contract import Verdict, auc_interval, judge
from crmine.exceptions import DataError

__all__ = ["ChurnEvaluation", "best_f1_threshold", "churn_verdict", "evaluate_churn"]


@dataclass(frozen=True, slots=True)
class ChurnEvaluation:
    """Held-out performance of a churn risk score.

    Attributes
    ----------
    metrics : DataFrame
        One row per metric (``metric``, ``value``): ``roc_auc``, ``pr_auc``, ``brier``,
        ``base_rate``, ``lift_top_decile``, ``capture_top_decile``, ``threshold``,
        ``precision``, ``recall``, ``n``.
    roc : DataFrame
        ``fpr``, ``tpr``, ``threshold`` (thinned to at most ~200 points for plotting).
    pr : DataFrame
        ``recall``, ``precision``.
    lift : DataFrame
        One row per decile of risk (1 = riskiest): ``decile``, ``customers``, ``churners``,
        ``churn_rate``, ``lift``, ``cumulative_capture`` (share of all churners found by
        targeting down to this decile — the gain curve), ``cumulative_lift``.
    calibration : DataFrame
        ``bin``, ``mean_predicted``, ``observed_rate``, ``customers`` (ten quantile bins).
    confusion : DataFrame
        2×2 counts, index ``actual`` (retained/churned), columns ``predicted``.
    """

    metrics: pd.DataFrame
    roc: pd.DataFrame
    pr: pd.DataFrame
    lift: pd.DataFrame
    calibration: pd.DataFrame
    confusion: pd.DataFrame

    def metric(self, name: str) -> float:
        return float(self.metrics.set_index("metric").loc[name, "value"])

    @property
    def roc_auc(self) -> float:
        return self.metric("roc_auc")

    def to_frame(self) -> pd.DataFrame:
        return self.metrics.copy()


def _thin(frame: pd.DataFrame, points: int = 200) -> pd.DataFrame:
    if len(frame) <= points:
        return frame.reset_index(drop=True)
    idx = np.unique(np.linspace(0, len(frame) - 1, points).round().astype(int))
    return frame.iloc[idx].reset_index(drop=True)


def _rank_order(risk: np.ndarray, random_state: int = 0) -> np.ndarray:
    """Indices by descending risk, ties in a random order drawn with a fixed seed."""
    tie_break = np.random.default_rng(random_state).random(len(risk))
    return np.lexsort((tie_break, -np.asarray(risk, dtype=float)))


def best_f1_threshold(y: np.ndarray, risk: np.ndarray) -> float:
    """The risk threshold with the highest F1 (balances finding churners and false alarms)."""
    precision, recall, thresholds = precision_recall_curve(y, risk)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5


def evaluate_churn(
    y_true: pd.Series | np.ndarray | list[object],
    risk: pd.Series | np.ndarray | list[float],
    *,
    threshold: float | None = None,
) -> ChurnEvaluation:
    """Evaluate churn probabilities against what happened.

    Parameters
    ----------
    y_true : array-like
        1/0 (or Yes/No, True/False) — did the customer churn.
    risk : array-like
        Predicted probability of churn per customer.
    threshold : float, optional
        Risk at which a customer is called a churner for the confusion matrix; default the
        threshold with the best F1 on these very rows (optimistic: a model's held-out
        evaluation should pass the threshold chosen on its fitting rows).

    Returns
    -------
    ChurnEvaluation

    References
    ----------
    Provost, F. & Fawcett, T. (2013). *Data Science for Business*, ch. 8 (lift and cumulative
    response curves). Niculescu-Mizil, A. & Caruana, R. (2005). Predicting good probabilities
    with supervised learning. ICML (calibration/reliability curves).

    Examples
    --------
    >>> ev = evaluate_churn([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> round(ev.roc_auc, 2)
    0.75
    """
    y = encode_target(y_true, "y_true")
    p = np.asarray(risk, dtype=float)
    if p.shape != y.shape:
        raise DataError(f"risk has {p.shape[0]} values but y_true has {y.shape[0]}")
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise DataError(f"risk must be probabilities in [0, 1]; rows {rows} hold {p[bad][:5]}")
    n = len(y)
    base = float(y.mean())
    thr = best_f1_threshold(y, p) if threshold is None else float(threshold)

    fpr, tpr, roc_thr = roc_curve(y, p)
    roc = _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(roc_thr, 1.0)}))
    prec, rec, _ = precision_recall_curve(y, p)
    pr = _thin(pd.DataFrame({"recall": rec, "precision": prec}))

    # Deciles by rank so each holds a tenth of the customers; tied risks are ordered at
    # random (fixed seed), not by row order, which would let the data's order set the lift.
    order = _rank_order(p)
    decile = np.empty(n, dtype=int)
    decile[order] = np.arange(n) * 10 // n + 1
    lift = (
        pd.DataFrame({"decile": decile, "churned": y})
        .groupby("decile")["churned"]
        .agg(customers="size", churners="sum")
        .reset_index()
    )
    lift["churn_rate"] = lift["churners"] / lift["customers"]
    lift["lift"] = lift["churn_rate"] / base
    lift["cumulative_capture"] = lift["churners"].cumsum() / y.sum()
    lift["cumulative_lift"] = (lift["churners"].cumsum() / lift["customers"].cumsum()) / base

    bins = pd.qcut(pd.Series(p).rank(method="first"), q=min(10, n), labels=False)
    calibration = (
        pd.DataFrame({"bin": bins + 1, "p": p, "y": y})
        .groupby("bin")
        .agg(mean_predicted=("p", "mean"), observed_rate=("y", "mean"), customers=("y", "size"))
        .reset_index()
    )

    pred = (p >= thr).astype(int)
    confusion = pd.DataFrame(
        [[int(((pred == 0) & (y == 0)).sum()), int(((pred == 1) & (y == 0)).sum())],
         [int(((pred == 0) & (y == 1)).sum()), int(((pred == 1) & (y == 1)).sum())]],
        index=pd.Index(["retained", "churned"], name="actual"),
        columns=pd.Index(["retained", "churned"], name="predicted"),
    )  # fmt: skip
    tp = confusion.loc["churned", "churned"]
    precision = tp / max(int(pred.sum()), 1)
    recall = tp / max(int(y.sum()), 1)
    top = lift.iloc[0]
    metrics = pd.DataFrame(
        {
            "metric": ["roc_auc", "pr_auc", "brier", "base_rate", "lift_top_decile",
                       "capture_top_decile", "threshold", "precision", "recall", "n"],
            "value": [roc_auc_score(y, p), average_precision_score(y, p),
                      brier_score_loss(y, p), base, float(top["lift"]),
                      float(top["cumulative_capture"]), thr, float(precision), float(recall),
                      float(n)],
        }
    )  # fmt: skip
    return ChurnEvaluation(metrics, roc, pr, lift, calibration, confusion)


# What makes a churn score worth acting on, for data in general (not tuned to one dataset):
# an AUC 0.10 above chance ranks churners visibly first (top-decile lift typically 1.7-2.5);
# below that the ranking is real but thin. A top decile holding 1.5x the base rate of churners
# is the least that pays a targeted offer over a random one.
MIN_AUC_GAIN = 0.10
MIN_LIFT_GAIN = 0.5
_TRY = ("a longer churn window (setting churn_window_days, `--window-days`) so that 'churned' "
        "means gone rather than between two purchases; more history (earlier orders) for more "
        "cut-offs; columns that describe the customer (contract or plan, service contacts, "
        "complaints, payment method) mapped into the warehouse")  # fmt: skip


def _top_decile_lift(y: np.ndarray, risk: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Top-decile lift under each row of bootstrap ``weights`` (shape repeats × n)."""
    top = np.zeros(len(y), dtype=bool)
    top[_rank_order(risk)[: max(1, len(y) // 10)]] = True
    w_top = weights[:, top]
    rate_top = (w_top * y[top]).sum(axis=1) / np.maximum(w_top.sum(axis=1), 1e-12)
    base = (weights * y).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-12)
    return np.asarray(rate_top / np.maximum(base, 1e-12))


def churn_verdict(
    y: np.ndarray,
    risk: np.ndarray,
    *,
    evaluated_on: str,
    groups: np.ndarray | None = None,
    repeats: int = 400,
    random_state: int = 0,
) -> Verdict:
    """Is the churn score better than chance on held-out customers?

    The headline is the held-out ROC AUC against 0.5 with its Hanley & McNeil (1982) 95%
    interval; the second check is the top-decile lift against 1 with a customer bootstrap
    interval (Poisson weights per customer, the riskiest tenth fixed). When rows repeat
    customers (``groups``), the AUC interval uses the number of customers, not of rows.
    ``informative`` needs AUC ≥ 0.5 + ``MIN_AUC_GAIN`` clear of chance; a lift that cannot be
    told from 1 makes an otherwise informative score ``weak``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> churn_verdict(y, rng.random(2000), evaluated_on="noise").status
    'not_informative'
    """
    y = np.asarray(y, dtype=int)
    risk = np.asarray(risk, dtype=float)
    n = len(y)
    codes = (np.arange(n) if groups is None
             else pd.factorize(pd.Series(np.asarray(groups)))[0])  # fmt: skip
    n_units = int(codes.max()) + 1 if n else 0
    design = n / max(n_units, 1)  # rows per customer: correlated rows count once
    n_pos, n_neg = int(y.sum()), int(n - y.sum())
    auc = float(roc_auc_score(y, risk))
    lo, hi = auc_interval(auc, max(1, round(n_pos / design)), max(1, round(n_neg / design)))
    rng = np.random.default_rng(random_state)
    weights = rng.poisson(1.0, size=(repeats, n_units)).astype(float)[:, codes]
    lifts = _top_decile_lift(y, risk, weights)
    lifts = lifts[np.isfinite(lifts)]
    lift = float(_top_decile_lift(y, risk, np.ones((1, n)))[0])
    lift_iv = (float(np.percentile(lifts, 2.5)), float(np.percentile(lifts, 97.5)))
    where = f"{evaluated_on}; {n_pos:,} churned of {n:,}"
    auc_v = judge(
        "held-out ROC AUC", auc, 0.5, (lo, hi), min_gain=MIN_AUC_GAIN,
        why=(f"held-out ROC AUC {auc:.3f} (95% interval {lo:.3f}–{hi:.3f}) against 0.5 for "
             f"chance, on {where}"),
        what_to_try=_TRY,
    )  # fmt: skip
    lift_v = judge(
        "top-decile lift", lift, 1.0, lift_iv, min_gain=MIN_LIFT_GAIN,
        why=(f"the riskiest tenth held {lift:.2f}× the base churn rate (95% interval "
             f"{lift_iv[0]:.2f}–{lift_iv[1]:.2f}); a random tenth holds 1×"),
        what_to_try=_TRY,
    )  # fmt: skip
    status = auc_v.status
    why = auc_v.why
    if status == "not_informative":
        why += ": the model does no better than chance"
    elif status == "weak":
        why += f": better than chance, but by less than {MIN_AUC_GAIN:.2f}"
    if lift_v.status == "not_informative" and status == "informative":
        status = "weak"
        why += "; but the riskiest tenth is not clearly richer in churners than a random one"
    why += f"; top-decile lift {lift:.2f}"
    return Verdict(status, auc_v.metric, auc_v.value, auc_v.baseline, auc_v.interval, why,
                   _TRY if status != "informative" else "", checks=(lift_v,))
