"""Why customers leave: global drivers with direction, churned-vs-retained profiles, and each
customer's own top reasons — all named by the user's original columns."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

from crmine._format import fmt_number
from crmine.churn._prep import MISSING_LEVEL, ColumnPlan

__all__ = [
    "cross_fitted_drivers",
    "customer_reasons",
    "permutation_drivers", "profile_comparison", "reference_values"]

RiskFn = Callable[[pd.DataFrame], np.ndarray]


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC from ranks (Mann-Whitney U; ties count one half), equal to sklearn's
    ``roc_auc_score`` without its input checks, which cost more than the AUC itself when a
    permutation importance computes a hundred of them."""
    ranks = rankdata(score)
    pos = y == 1
    n_pos = int(pos.sum())
    n_neg = len(y) - n_pos
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _fmt_value(value: object) -> str:
    if isinstance(value, float | np.floating):
        v = float(value)
        if np.isnan(v):
            return "missing"
        return f"{v:,.0f}" if v.is_integer() or abs(v) >= 100 else fmt_number(v)
    return str(value)


def permutation_drivers(
    risk_fn: RiskFn,
    Xt: pd.DataFrame,
    y: np.ndarray,
    plan: ColumnPlan,
    *,
    n_repeats: int = 3,
    random_state: int = 0,
) -> pd.DataFrame:
    """Permutation importance of each original column, with the direction of its effect.

    The importance is the drop in ROC AUC when the column's values are shuffled across
    customers (breaking its link with churn while keeping its distribution), averaged over
    ``n_repeats`` shuffles. A categorical column is shuffled as a whole, so its importance is
    that of the column, not of one dummy.

    Returns
    -------
    DataFrame
        ``feature``, ``importance``, ``importance_std``, ``direction`` ("higher → more churn",
        "higher → less churn", "mixed" for numbers, "by level" for categories and for numbers
        whose effect is not monotonic), ``detail``
        (riskiest and safest level, or the rank correlation with risk), strongest first.

    References
    ----------
    Breiman, L. (2001). Random forests. *Machine Learning* 45, 5–32 (permutation importance).
    Fisher, A., Rudin, C. & Dominici, F. (2019). All models are wrong, but many are useful.
    *JMLR* 20(177) (model reliance).
    """
    return cross_fitted_drivers([(risk_fn, Xt, y)], plan, n_repeats=n_repeats,
                                random_state=random_state)  # fmt: skip


def cross_fitted_drivers(
    pieces: list[tuple[RiskFn, pd.DataFrame, np.ndarray]],
    plan: ColumnPlan,
    *,
    n_repeats: int = 3,
    random_state: int = 0,
) -> pd.DataFrame:
    """:func:`permutation_drivers` averaged over several (model, held-out data) pairs.

    With the cross-validation folds as pieces (each fold's model shuffled on its own test
    fold), every customer serves once as held-out data: importance then reflects what
    generalises, not what a model memorised, and uses all the data instead of one split.
    """
    rng = np.random.default_rng(random_state)
    risks = [fn(X) for fn, X, _ in pieces]
    drops: dict[str, list[float]] = {col: [] for col in plan.features}
    for (fn, X, y), risk in zip(pieces, risks, strict=True):
        if len(np.unique(y)) < 2 or not len(plan.features):
            continue
        base = _auc(y, risk)
        # Every shuffled copy scored in one call: a model's fixed cost per call (checks,
        # encoders) dominated when each copy was scored on its own (335 calls, 32 s).
        copies = []
        for col in plan.features:
            for _ in range(n_repeats):
                shuffled = X.copy()
                shuffled[col] = X[col].to_numpy()[rng.permutation(len(X))]
                copies.append(shuffled)
        scored = fn(pd.concat(copies, ignore_index=True)).reshape(len(copies), len(X))
        for k, col in enumerate(plan.features):
            for r in range(n_repeats):
                drops[col].append(base - _auc(y, scored[k * n_repeats + r]))
    Xt = pd.concat([X for _, X, _ in pieces], ignore_index=True)
    risk = np.concatenate(risks)
    rows = []
    for col in plan.features:
        if col in plan.numeric:
            x = Xt[col].to_numpy(dtype=float)
            known = ~np.isnan(x)
            varies = known.sum() > 2 and np.ptp(x[known]) > 0 and np.ptp(risk[known]) > 0
            rho = float(spearmanr(x[known], risk[known]).statistic) if varies else 0.0
            rho = 0.0 if np.isnan(rho) else rho
            shape = _shape(x[known], risk[known])
            riskiest = None
            if shape is not None:
                direction = "by level"
                riskiest, safest, hi, lo = shape
                detail = (f"not monotonic: riskiest at {riskiest} (mean risk {hi:.0%}), "
                          f"safest at {safest} ({lo:.0%})")  # fmt: skip
            else:
                direction = ("higher → more churn" if rho > 0.1
                             else "higher → less churn" if rho < -0.1 else "mixed")  # fmt: skip
                detail = f"rank correlation with churn risk {rho:+.2f}"
        else:
            levels = Xt[col].fillna(MISSING_LEVEL).astype(str)
            by_level = pd.Series(risk).groupby(levels.to_numpy()).agg(["mean", "size"])
            by_level = by_level[by_level["size"] >= max(5, 0.005 * len(Xt))].sort_values("mean")
            if len(by_level) == 0:
                by_level = pd.Series(risk).groupby(levels.to_numpy()).agg(["mean", "size"])
            riskiest = str(by_level.index[-1])
            direction = "by level"
            detail = (f"riskiest: {riskiest} (mean risk {by_level['mean'].iloc[-1]:.0%}); "
                      f"safest: {by_level.index[0]} ({by_level['mean'].iloc[0]:.0%})")  # fmt: skip
            rho = np.nan
        d = drops[col] or [0.0]
        rows.append({
            "feature": col, "importance": float(np.mean(d)),
            "importance_std": float(np.std(d)), "direction": direction, "detail": detail,
            "correlation": rho, "riskiest_level": riskiest,
        })  # fmt: skip
    frame = pd.DataFrame(rows).sort_values("importance", ascending=False, kind="stable")
    return frame.reset_index(drop=True)


def _shape(x: np.ndarray, risk: np.ndarray) -> tuple[str, str, float, float] | None:
    """The riskiest and safest level of a number whose effect is not monotonic, else None.

    Mean risk by value (few distinct values) or by quintile; the effect is not monotonic
    when it both rises and falls, each by at least a third of its range and by at least two
    points of risk (churn high at 1 and at 3-4 products, low at 2).
    """
    if len(x) < 30:
        return None
    values = np.unique(x)
    if len(values) <= 8:
        keys = pd.Series(x)
        labels = {v: _fmt_value(v) for v in values}
    else:
        keys = pd.qcut(pd.Series(x), 5, duplicates="drop")
        labels = {iv: f"{_fmt_value(float(iv.left))}–{_fmt_value(float(iv.right))}"
                  for iv in keys.cat.categories}  # fmt: skip
    stats = pd.Series(risk).groupby(keys.to_numpy(), observed=True).agg(["mean", "size"])
    stats = stats[stats["size"] >= max(5, 0.01 * len(x))].sort_index()
    if len(stats) < 3:
        return None
    m = stats["mean"].to_numpy()
    spread = float(m.max() - m.min())
    rise = float(np.max(m - np.minimum.accumulate(m)))
    fall = float(np.max(np.maximum.accumulate(m) - m))
    if spread < 0.02 or min(rise, fall) < max(spread / 3, 0.02):
        return None
    hi, lo = stats["mean"].idxmax(), stats["mean"].idxmin()
    return labels[hi], labels[lo], float(m.max()), float(m.min())


def reference_values(Xt: pd.DataFrame, y: np.ndarray, plan: ColumnPlan) -> dict[str, object]:
    """A low-risk reference customer: the median number among non-churners and, per category,
    the common level with the lowest churn rate.

    Per-customer reasons compare each customer with this profile.
    """
    retained = Xt[y == 0] if (y == 0).any() else Xt
    ref: dict[str, object] = {}
    for col in plan.numeric:
        med = retained[col].median()
        ref[col] = float(med) if pd.notna(med) else float(Xt[col].median())
    churn = pd.Series(y, index=Xt.index)
    for col in plan.categorical:
        # The safest level that is common (≥ 5% of customers): the most frequent level among
        # retained customers is often also the riskiest one (month-to-month contracts), which
        # would hide the very reason we want to show.
        levels = Xt[col].fillna(MISSING_LEVEL)
        stats = churn.groupby(levels).agg(["mean", "size"])
        common = stats[stats["size"] >= 0.05 * len(Xt)]
        pick = (common if len(common) else stats)["mean"].idxmin()
        ref[col] = np.nan if pick == MISSING_LEVEL else pick
    return ref


def customer_reasons(
    risk_fn: RiskFn,
    Xt: pd.DataFrame,
    reference: dict[str, object],
    features: list[str],
    *,
    top: int = 3,
    min_points: float = 1.0,
) -> pd.DataFrame:
    """Each customer's top reasons for their risk, in plain language.

    For each driver, the customer's value is replaced by that of a typical retained customer
    (:func:`reference_values`) and the fall in predicted risk is that feature's contribution
    for this customer ("Contract = Month-to-month (+21 pts)"). Only contributions of at least
    ``min_points`` percentage points count as reasons. This is a one-feature-at-a-time
    counterfactual in the spirit of Martens & Provost (2014).

    Returns
    -------
    DataFrame
        Same index as ``Xt``: ``churn_risk``, ``reason_1`` … ``reason_<top>`` (None when fewer
        reasons) and ``churn_reasons`` (the reasons joined by "; ").

    References
    ----------
    Martens, D. & Provost, F. (2014). Explaining data-driven document classifications.
    *MIS Quarterly* 38(1), 73–99.
    """
    n = len(Xt)
    contrib = np.zeros((n, len(features)))
    # The customers and all their counterfactual copies scored in one call (a pipeline's
    # fixed cost per call dominates scoring one customer), in chunks of about 200,000 rows.
    per_call = max(1, 200_000 // max(n, 1))
    risk = np.empty(0)
    for first in range(0, max(len(features), 1), per_call):
        cols = features[first:first + per_call]
        copies = [] if first else [Xt]
        for col in cols:
            changed = Xt.copy()
            changed[col] = reference[col]
            copies.append(changed)
        scored = risk_fn(pd.concat(copies, ignore_index=True)).reshape(len(copies), n)
        if not first:
            risk, scored = scored[0], scored[1:]
        for k in range(len(cols)):
            contrib[:, first + k] = (risk - scored[k]) * 100
    order = np.argsort(-contrib, axis=1)[:, :top]
    values = {col: Xt[col].to_numpy() for col in features}
    reasons: list[list[str | None]] = []
    for i in range(n):
        row: list[str | None] = []
        for j in order[i]:
            pts = contrib[i, j]
            if pts < min_points:
                break
            col = features[j]
            row.append(f"{col} = {_fmt_value(values[col][i])} (+{pts:.0f} pts)")
        reasons.append(row + [None] * (top - len(row)))
    out = pd.DataFrame(reasons, index=Xt.index, columns=[f"reason_{k + 1}" for k in range(top)])
    out.insert(0, "churn_risk", risk)
    out["churn_reasons"] = [
        "; ".join(r for r in row if r) or "no single factor stands out" for row in reasons
    ]
    return out


def profile_comparison(Xt: pd.DataFrame, y: np.ndarray, plan: ColumnPlan) -> pd.DataFrame:
    """Churned versus retained customers, feature by feature.

    Numbers: mean among churned and retained and the standardised difference; categories:
    each level's share among churned and retained.

    Returns
    -------
    DataFrame
        ``feature``, ``level`` (None for numbers), ``churned``, ``retained``, ``difference``,
        ``std_difference`` (difference in pooled standard deviations; for levels, in
        percentage points / 100).
    """
    rows = []
    churned, retained = Xt[y == 1], Xt[y == 0]
    for col in plan.numeric:
        a, b = churned[col].mean(), retained[col].mean()
        sd = Xt[col].std()
        rows.append({"feature": col, "level": None, "churned": a, "retained": b,
                     "difference": a - b,
                     "std_difference": (a - b) / sd if sd and sd > 0 else 0.0})  # fmt: skip
    for col in plan.categorical:
        sa = churned[col].fillna(MISSING_LEVEL).value_counts(normalize=True)
        sb = retained[col].fillna(MISSING_LEVEL).value_counts(normalize=True)
        for level in sa.index.union(sb.index):
            a, b = float(sa.get(level, 0.0)), float(sb.get(level, 0.0))
            rows.append({"feature": col, "level": str(level), "churned": a, "retained": b,
                         "difference": a - b, "std_difference": a - b})  # fmt: skip
    return pd.DataFrame(rows)
