"""Offline evaluation of next-best-product recommendations: leave the last basket out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmine._format import fmt_number
from crmine.basket._baskets import group_items
from crmine.basket._recommend import RuleRecommender
from crmine.contract import Verdict, bootstrap_interval, judge
from crmine.exceptions import DataError, MissingColumnError

__all__ = [
    "MIN_RELATIVE_GAIN",
    "RecommendationEvaluation",
    "evaluate_recommendations",
    "judge_recommendations",
    "split_last_basket",
]

#: The rules are "informative" when their held-out hit rate beats the best-sellers' by at
#: least this share of the best-sellers' own hit rate (10 % more customers reached), beyond the
#: bootstrap interval; a smaller gain beyond chance is "weak".
MIN_RELATIVE_GAIN = 0.10
NOTHING_BEYOND_BEST_SELLERS = "nothing to recommend beyond best-sellers"
WHAT_TO_TRY = (
    "Rules need products bought together in many orders: load more history, lower "
    "basket_min_support or basket_min_confidence in crmine.toml, or look at rules between "
    "categories (crmine basket rules --level category); until then, offer the best-sellers."
)
WHAT_TO_TRY_WITH_RULES = (
    "The products are bought together about as often as their popularity alone predicts. "
    "Look at rules between categories (crmine basket rules --level category) or at one "
    "product's buyers (crmine basket propensity PRODUCT), or load more history; until then, "
    "offer the best-sellers."
)


@dataclass(frozen=True, slots=True)
class RecommendationEvaluation:
    """Hit-rate@k and precision@k of the rule recommender and of the popularity baseline,
    and the verdict on the difference (:func:`judge_recommendations`).

    Attributes
    ----------
    summary
        One row per method (``rules``, ``popularity``): ``hit_rate``, ``precision``,
        ``recall``, ``customers`` evaluated, ``k``.
    per_customer
        One row per evaluated customer and method: ``hits`` and ``relevant`` (new items in
        the held-out basket).
    k
        List length evaluated.
    n_rules
        Rules the recommender used.
    verdict
        Do the rules beat the best-sellers on the held-out baskets?
    """

    summary: pd.DataFrame
    per_customer: pd.DataFrame
    k: int
    n_rules: int
    verdict: Verdict | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.summary

    def lift_over_popularity(self) -> float:
        """Hit-rate of the rules divided by the popularity baseline's."""
        rates = self.summary.set_index("method")["hit_rate"]
        return float(rates["rules"] / rates["popularity"])


def split_last_basket(
    lines: pd.DataFrame,
    *,
    customer: str = "customer_id",
    basket: str = "order_id",
    item: str = "product_id",
    time: str = "order_ts",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split order lines into training lines and each repeat customer's last basket.

    The last basket is the one with the latest timestamp (ties: the larger basket id).
    Customers with a single basket stay entirely in the training part.
    """
    missing = [c for c in (customer, basket, item, time) if c not in lines.columns]
    if missing:
        raise MissingColumnError(
            f"order lines need column(s) {missing}; columns found: {list(lines.columns)}"
        )
    if lines[customer].isna().any():
        raise DataError(
            f"{int(lines[customer].isna().sum())} order line(s) have no {customer!r}; drop "
            "anonymous lines before evaluating customer recommendations"
        )
    if lines[time].dtype.kind == "M":  # naive datetimes: on integer codes (fast)
        held = _last_basket_rows(lines, customer, basket, time)
    else:
        orders = (lines.groupby([customer, basket], sort=False)[time].min()
                  .reset_index().sort_values([customer, time, basket], kind="stable"))
        n_orders = orders.groupby(customer)[basket].transform("size")
        last = orders[(n_orders > 1) & ~orders.duplicated(customer, keep="last")]
        key = pd.MultiIndex.from_frame(lines[[customer, basket]])
        held = key.isin(pd.MultiIndex.from_frame(last[[customer, basket]]))
    return lines[~held], lines[held]


def _last_basket_rows(lines: pd.DataFrame, customer: str, basket: str, time: str) -> np.ndarray:
    """Which lines belong to their customer's last basket (repeat customers only), on integer
    codes: sorted by customer, the basket's first time (missing last) and the basket id."""
    cust, cust_labels = pd.factorize(lines[customer], sort=True)
    bask, bask_labels = pd.factorize(lines[basket], sort=True)
    pair, row_pair = np.unique(cust.astype(np.int64) * max(len(bask_labels), 1) + bask,
                               return_inverse=True)  # fmt: skip
    first = pd.Series(lines[time].to_numpy()).groupby(row_pair).min()
    stamp = first.to_numpy().astype("datetime64[ns]").view(np.int64)
    stamp = np.where(first.isna().to_numpy(), np.iinfo(np.int64).max, stamp)
    pair_cust = pair // max(len(bask_labels), 1)
    pair_bask = pair % max(len(bask_labels), 1)
    order = np.lexsort((pair_bask, stamp, pair_cust))
    sorted_cust = pair_cust[order]
    is_last = np.r_[sorted_cust[1:] != sorted_cust[:-1], True]
    repeat = np.bincount(pair_cust, minlength=len(cust_labels))[sorted_cust] > 1
    held_pair = np.zeros(len(pair), dtype=bool)
    held_pair[order[is_last & repeat]] = True
    return held_pair[row_pair]


def evaluate_recommendations(
    lines: pd.DataFrame,
    *,
    k: int = 10,
    min_support: float = 0.005,
    min_confidence: float = 0.05,
    max_len: int | None = 3,
    customer: str = "customer_id",
    basket: str = "order_id",
    item: str = "product_id",
    time: str = "order_ts",
) -> RecommendationEvaluation:
    """Hold out each repeat customer's last basket; score top-``k`` lists against it.

    Rules are mined from the training orders (all orders but the held-out ones); a customer's
    history is what they bought in their training orders. Both methods recommend products
    the customer does not own yet, so the relevant items are the *new* products in the last
    basket; customers whose last basket holds no new product are not scored.

    * hit-rate@k: share of customers with at least one relevant product in the list;
    * precision@k: relevant products in the list / k, averaged over customers;
    * recall@k: relevant products in the list / relevant products, averaged.

    The verdict compares the two hit rates customer by customer (:func:`judge_recommendations`).
    The baseline recommends the most popular products (by share of training baskets) the
    customer does not own.

    References
    ----------
    Sarwar, B., Karypis, G., Konstan, J. & Riedl, J. (2000). Analysis of recommendation
    algorithms for e-commerce. ACM EC '00, 158–167 (hit-rate on held-out purchases).
    """
    if k < 1:
        raise DataError(f"k must be at least 1, got {k!r}")
    train, test = split_last_basket(lines, customer=customer, basket=basket, item=item,
                                    time=time)
    if test.empty:
        raise DataError(
            "no customer has two or more baskets, so there is no last basket to hold out"
        )
    baskets = group_items(train, basket, item)
    history = group_items(train, customer, item)
    target = group_items(test, customer, item).map(set)
    history = history.reindex(target.index)
    relevant = pd.Series(
        [t - set(h) for t, h in zip(target.tolist(), history.tolist(), strict=True)],
        index=target.index,
    )
    relevant = relevant[relevant.map(len) > 0]
    history = history.reindex(relevant.index)

    rec = RuleRecommender(min_support=min_support, min_confidence=min_confidence,
                          max_len=max_len, n=k).fit(baskets.tolist())
    rules_lists = group_items(rec.recommend(history), "customer_id", "product_id")
    popular_lists = group_items(rec.recommend_popular(history), "customer_id", "product_id")

    frames = []
    rows = []
    for method, lists in (("rules", rules_lists), ("popularity", popular_lists)):
        lists = lists.reindex(relevant.index)
        hits = np.array([len(set(r if isinstance(r, list) else []) & rel) for r, rel in
                         zip(lists.tolist(), relevant.tolist(), strict=True)])
        n_rel = relevant.map(len).to_numpy()
        frames.append(pd.DataFrame({"customer_id": relevant.index, "method": method,
                                    "hits": hits, "relevant": n_rel}))
        rows.append({"method": method, "k": k, "customers": len(relevant),
                     "hit_rate": float((hits > 0).mean()),
                     "precision": float((hits / k).mean()),
                     "recall": float((hits / n_rel).mean())})
    per_customer = pd.concat(frames, ignore_index=True)
    return RecommendationEvaluation(
        summary=pd.DataFrame(rows), per_customer=per_customer, k=k, n_rules=len(rec.rules_),
        verdict=judge_recommendations(per_customer, k=k, n_rules=len(rec.rules_),
                                      min_support=min_support),
    )


def judge_recommendations(
    per_customer: pd.DataFrame,
    *,
    k: int,
    n_rules: int,
    min_support: float | None = None,
    repeats: int = 200,
    random_state: int = 0,
) -> Verdict:
    """Do the rules' lists reach more customers than the best-sellers'? A paired verdict.

    For every evaluated customer, ``hit`` is 1 when their top-``k`` list holds a product of
    their held-out basket. The gain is the rules' hit rate minus popularity's; its interval is
    a percentile bootstrap over customers of the *paired* differences (both lists are scored on
    the same customers, so their noise largely cancels). The verdict's ``interval`` is that of
    the rules' hit rate implied by it (popularity's rate + the gain's interval).

    ``informative`` when the gain's interval is above 0 and the gain is at least
    :data:`MIN_RELATIVE_GAIN` of popularity's hit rate; ``weak`` when above 0 but smaller;
    ``not_informative`` when the rules do no better than the best-sellers (for instance when
    no rule was found, so that both lists are the same).

    Parameters
    ----------
    per_customer
        ``customer_id``, ``method`` (``rules`` / ``popularity``) and ``hits``, as in
        :attr:`RecommendationEvaluation.per_customer`.
    k, n_rules, min_support
        List length, rules mined and the support they were mined at (for the explanation).

    Examples
    --------
    >>> pc = pd.DataFrame({"customer_id": [1, 2, 1, 2], "method": ["rules"] * 2 +
    ...                    ["popularity"] * 2, "hits": [1, 0, 1, 0]})
    >>> v = judge_recommendations(pc, k=10, n_rules=0)
    >>> v.status, v.value, v.baseline
    ('not_informative', 0.5, 0.5)
    """
    metric = f"held-out hit-rate@{k}"
    missing = [c for c in ("customer_id", "method", "hits") if c not in per_customer.columns]
    if missing:
        raise MissingColumnError(f"per_customer needs column(s) {missing}; columns found: "
                                 f"{list(per_customer.columns)}")  # fmt: skip
    by = {m: g.set_index("customer_id")["hits"] for m, g in per_customer.groupby("method")}
    if by and not {"rules", "popularity"} <= set(by):
        raise DataError("per_customer needs rows of method 'rules' and of 'popularity', got "
                        f"{sorted(by)}")  # fmt: skip
    if not by:
        by = {"rules": pd.Series(dtype=float), "popularity": pd.Series(dtype=float)}
    pop_hits = by["popularity"]
    rule_hits = by["rules"].reindex(pop_hits.index).fillna(0)
    n = len(pop_hits)
    if n == 0:
        return Verdict(
            "not_informative", metric, None, None,
            why="No customer's held-out last order held a product new to them, so "
                f"recommendations could not be checked: {NOTHING_BEYOND_BEST_SELLERS}.",
            what_to_try=WHAT_TO_TRY,
        )  # fmt: skip
    rules = (rule_hits.to_numpy() > 0).astype(float)
    popular = (pop_hits.to_numpy() > 0).astype(float)
    gain = rules - popular
    rate_r, rate_p = float(rules.mean()), float(popular.mean())
    if np.any(gain != 0):
        lo, hi = bootstrap_interval(lambda i: float(gain[i].mean()), n, repeats=repeats,
                                    random_state=random_state)  # fmt: skip
    else:
        lo = hi = 0.0
    found = (f"{n_rules:,} rules" if n_rules else
             "no association rule"
             + (f" at support {fmt_number(min_support, digits=6)}" if min_support else ""))
    why = (f"On the held-out last orders of {n:,} customers, the top-{k} lists from {found} "
           f"held a product they then bought for {rate_r:.1%} of them, the best-sellers for "
           f"{rate_p:.1%} (gain {rate_r - rate_p:+.1%}, 95% interval {lo:+.1%} to {hi:+.1%}).")
    verdict = judge(metric, rate_r, rate_p, (rate_p + lo, rate_p + hi),
                    min_gain=max(0.005, MIN_RELATIVE_GAIN * rate_p), why=why,
                    what_to_try=WHAT_TO_TRY_WITH_RULES if n_rules else WHAT_TO_TRY)  # fmt: skip
    if verdict.status == "not_informative":
        reason = ("no rule was found, so the lists are the best-sellers" if not n_rules else
                  "the rules do no better than the best-sellers")
        return Verdict(verdict.status, metric, verdict.value, verdict.baseline,
                       verdict.interval, f"{why} {reason.capitalize()}: "
                       f"{NOTHING_BEYOND_BEST_SELLERS}.", verdict.what_to_try)  # fmt: skip
    if verdict.status == "weak":
        return Verdict(verdict.status, metric, verdict.value, verdict.baseline,
                       verdict.interval, f"{why} The rules beat the best-sellers, but by less "
                       f"than {MIN_RELATIVE_GAIN:.0%} of their hit rate: use the offers with "
                       "care.", verdict.what_to_try)  # fmt: skip
    return verdict
