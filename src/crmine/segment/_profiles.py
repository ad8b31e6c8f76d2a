"""Segment profiles a marketer can read: sizes, revenue shares, what sets each segment apart,
a plain-language description and a shallow decision-tree surrogate with readable rules."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from crmine._format import fmt_number
from crmine.exceptions import DataError, MissingColumnError

__all__ = ["SegmentProfiles", "describe_segment", "profile_segments"]

# Phrases for well-known feature names: (when high, when low). Prefix entries end with "_".
_PHRASES: dict[str, tuple[str, str]] = {
    "frequency": ("frequent buyers", "infrequent buyers"),
    "orders": ("frequent buyers", "infrequent buyers"),
    "recency_days": ("long lapsed", "bought recently"),
    "days_since_last": ("long lapsed", "bought recently"),
    "recency": ("long-standing repeat buyers", "little repeat history"),
    "monetary_value": ("big baskets", "small baskets"),
    "avg_basket": ("big baskets", "small baskets"),
    "total_spend": ("high spenders", "low spenders"),
    "monetary": ("high spenders", "low spenders"),
    "avg_unit_price": ("buy premium products", "buy low-priced products"),
    "discount_share": ("heavy discount users", "rarely use discounts"),
    "discounted_line_share": ("heavy discount users", "rarely use discounts"),
    "discount_rate": ("heavy discount users", "rarely use discounts"),
    "lines": ("buy many items", "buy few items"),
    "tenure_days": ("long-time customers", "recently acquired"),
    "T": ("long-time customers", "recently acquired"),
    "return_rate": ("return a lot", "rarely return"),
    "service_contacts": ("contact service often", "rarely contact service"),
    "complaints": ("complain often", "rarely complain"),
    "campaign_exposure": ("heavily targeted by campaigns", "rarely targeted by campaigns"),
    "churn_risk": ("at high risk of churn", "at low risk of churn"),
    "age": ("older", "younger"),
    "income": ("high income", "lower income"),
}
_PREFIXES: dict[str, tuple[str, str]] = {
    "cat_share_": ("buy a lot of {x}", "rarely buy {x}"),
    "category_share_": ("buy a lot of {x}", "rarely buy {x}"),
    "channel_share_": ("shop mostly via {x}", "seldom shop via {x}"),
}


def _phrase(feature: str, high: bool) -> str:
    if feature in _PHRASES:
        return _PHRASES[feature][0 if high else 1]
    for prefix, (hi, lo) in _PREFIXES.items():
        if feature.startswith(prefix):
            x = feature[len(prefix):].replace("_", " ")
            return (hi if high else lo).format(x=x)
    return f"{'high' if high else 'low'} {feature.replace('_', ' ')}"


def describe_segment(std_diffs: pd.Series, *, top: int = 3, threshold: float = 0.3) -> str:
    """Plain-language description from a segment's standardised differences.

    The ``top`` features with the largest |difference| above ``threshold`` (in pooled standard
    deviations; 0.5 is Cohen's "medium") are turned into phrases, strongest first, e.g.
    "frequent buyers, buy premium products, rarely use discounts".
    """
    d = std_diffs.dropna()
    d = d[d.abs() >= threshold]
    d = d.reindex(d.abs().sort_values(ascending=False).index)
    phrases: list[str] = []
    for feature, value in d.items():
        p = _phrase(str(feature), bool(value > 0))
        if p not in phrases:
            phrases.append(p)
        if len(phrases) == top:
            break
    return ", ".join(phrases) if phrases else "close to the average customer"


@dataclass(frozen=True, slots=True)
class SegmentProfiles:
    """What each segment looks like.

    Attributes
    ----------
    summary : DataFrame
        One row per segment: customers, share, revenue, revenue_share, description, rule.
    stats : DataFrame
        Tidy: segment, feature, mean, median, rest_mean, std_diff (segment vs the rest, in
        pooled standard deviations).
    distinctive : DataFrame
        The ``top`` largest |std_diff| per segment.
    rules : DataFrame
        Surrogate tree leaves: segment, rule, customers, precision (share of the leaf in the
        segment), recall (share of the segment in the leaf).
    surrogate_accuracy : float
        Share of customers whose segment the shallow tree reproduces.
    """

    summary: pd.DataFrame
    stats: pd.DataFrame
    distinctive: pd.DataFrame
    rules: pd.DataFrame
    surrogate_accuracy: float

    def to_frame(self) -> pd.DataFrame:
        return self.summary.copy()


def _fmt(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return fmt_number(x)


def _simplify(conds: list[tuple[str, str, float]]) -> str:
    """One bound per side per feature: "x > 3 and x > 5" reads as "x > 5"."""
    if not conds:
        return "all customers"
    upper: dict[str, float] = {}
    lower: dict[str, float] = {}
    order: list[str] = []
    for f, op, thr in conds:
        if f not in order:
            order.append(f)
        if op == "<=":
            upper[f] = min(upper.get(f, thr), thr)
        else:
            lower[f] = max(lower.get(f, thr), thr)
    parts = []
    for f in order:
        if f in lower and f in upper:
            parts.append(f"{_fmt(lower[f])} < {f} <= {_fmt(upper[f])}")
        elif f in lower:
            parts.append(f"{f} > {_fmt(lower[f])}")
        else:
            parts.append(f"{f} <= {_fmt(upper[f])}")
    return " and ".join(parts)


def _tree_rules(tree: DecisionTreeClassifier, names: list[str], classes: np.ndarray,
                X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    t = tree.tree_
    leaves = tree.apply(X)
    rows = []

    def walk(node: int, conds: list[tuple[str, str, float]]) -> None:
        if t.children_left[node] == -1:
            in_leaf = leaves == node
            if not in_leaf.any():
                return
            counts = pd.Series(y[in_leaf]).value_counts()
            seg = counts.index[0]
            rows.append({
                "segment": seg,
                "rule": _simplify(conds),
                "customers": int(in_leaf.sum()),
                "precision": float(counts.iloc[0] / in_leaf.sum()),
                "recall": float(counts.iloc[0] / (y == seg).sum()),
            })
            return
        f, thr = names[t.feature[node]], float(t.threshold[node])
        walk(int(t.children_left[node]), [*conds, (f, "<=", thr)])
        walk(int(t.children_right[node]), [*conds, (f, ">", thr)])

    walk(0, [])
    out = pd.DataFrame(rows, columns=["segment", "rule", "customers", "precision", "recall"])
    return out.sort_values(["segment", "recall"], ascending=[True, False]).reset_index(drop=True)


def profile_segments(
    features: pd.DataFrame,
    segments: pd.Series | np.ndarray | Sequence[object],
    *,
    revenue: str | None = None,
    feature_columns: Sequence[str] | None = None,
    id_column: str = "customer_id",
    top: int = 3,
    tree_depth: int = 3,
    random_state: int = 0,
) -> SegmentProfiles:
    """Profile segments: size, revenue share, feature means/medians, standardised differences,
    a plain-language description and decision-tree surrogate rules.

    Parameters
    ----------
    features : DataFrame
        One row per customer.
    segments : array-like
        Segment of each row (cluster number, RFM segment name…).
    revenue : str, optional
        Column holding each customer's revenue (default: ``total_spend`` or ``monetary`` when
        present) for the revenue share.
    feature_columns : sequence of str, optional
        Features to profile (default: every numeric column but the id).
    top : int
        Distinctive features kept (and used in the description) per segment.
    tree_depth : int
        Depth of the surrogate tree (3 keeps rules readable).

    References
    ----------
    Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences* (standardised
    mean difference). Craven, M. & Shavlik, J. (1996). Extracting tree-structured
    representations of trained networks. *NIPS 8* (surrogate models).
    """
    labels_in = np.asarray(segments)
    if len(labels_in) != len(features):
        raise DataError(f"{len(labels_in)} segment labels for {len(features)} customers; give "
                        "one label per row of the feature table")
    seg = pd.Series(labels_in, index=features.index, name="segment")
    if revenue is None:
        revenue = next((c for c in ("total_spend", "monetary", "revenue") if c in features), None)
    elif revenue not in features.columns:
        raise MissingColumnError(f"revenue column {revenue!r} not found; columns found: "
                                 f"{list(features.columns)}")
    if feature_columns is None:
        cols = [c for c in features.columns if c != id_column and
                (pd.api.types.is_numeric_dtype(features[c]) or
                 pd.api.types.is_bool_dtype(features[c]))]
    else:
        cols = list(feature_columns)
        missing = [c for c in cols if c not in features.columns]
        if missing:
            raise MissingColumnError(f"feature column(s) {missing} not found; columns found: "
                                     f"{list(features.columns)}")
    X = features[cols].apply(pd.to_numeric, errors="coerce").astype(float)

    stats_rows = []
    summary_rows = []
    total_rev = float(features[revenue].clip(lower=0).sum()) if revenue else np.nan
    labels = pd.unique(seg)
    with contextlib.suppress(TypeError):
        labels = np.sort(labels)
    diffs: dict[object, pd.Series] = {}
    for s in labels:
        m = (seg == s).to_numpy()
        inside, rest = X[m], X[~m]
        mean_in, mean_rest = inside.mean(), rest.mean()
        pooled = np.sqrt((inside.var(ddof=0) + rest.var(ddof=0)) / 2)
        d = ((mean_in - mean_rest) / pooled.replace(0, np.nan)) if (~m).any() else mean_in * np.nan
        diffs[s] = d
        med = inside.median()
        for c in cols:
            stats_rows.append({"segment": s, "feature": c, "mean": mean_in[c], "median": med[c],
                               "rest_mean": mean_rest[c] if (~m).any() else np.nan,
                               "std_diff": d[c]})
        rev = float(features.loc[m, revenue].sum()) if revenue else np.nan
        summary_rows.append({"segment": s, "customers": int(m.sum()), "share": m.mean(),
                             "revenue": rev,
                             "revenue_share": rev / total_rev if total_rev and total_rev > 0
                             else np.nan,
                             "description": describe_segment(d, top=top)})
    stats = pd.DataFrame(stats_rows)
    distinctive = (stats.assign(abs_diff=stats["std_diff"].abs())
                   .sort_values(["segment", "abs_diff"], ascending=[True, False])
                   .groupby("segment", sort=False).head(top).drop(columns="abs_diff")
                   .reset_index(drop=True))

    Xf = X.fillna(X.median()).fillna(0.0).to_numpy()
    y = seg.astype(str).to_numpy() if seg.dtype == object else seg.to_numpy()
    tree = DecisionTreeClassifier(max_depth=tree_depth, min_samples_leaf=max(5, len(Xf) // 200),
                                  random_state=random_state).fit(Xf, y)
    accuracy = float((tree.predict(Xf) == y).mean())
    rules = _tree_rules(tree, cols, tree.classes_, Xf, y)
    summary = pd.DataFrame(summary_rows)
    best_rule = rules.sort_values("recall", ascending=False).drop_duplicates("segment")
    rule_of = dict(zip(best_rule["segment"].astype(str), best_rule["rule"], strict=True))
    summary["rule"] = summary["segment"].astype(str).map(rule_of)
    summary = summary.sort_values("customers", ascending=False).reset_index(drop=True)
    return SegmentProfiles(summary=summary, stats=stats, distinctive=distinctive, rules=rules,
                           surrogate_accuracy=accuracy)

