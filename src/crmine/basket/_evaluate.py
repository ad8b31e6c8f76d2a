"""Offline evaluation of next-best-product recommendations: leave the last basket out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmine.basket._recommend import RuleRecommender
from crmine.exceptions import DataError, MissingColumnError

__all__ = ["RecommendationEvaluation", "evaluate_recommendations", "split_last_basket"]


@dataclass(frozen=True, slots=True)
class RecommendationEvaluation:
    """Hit-rate@k and precision@k of the rule recommender and of the popularity baseline.

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
    """

    summary: pd.DataFrame
    per_customer: pd.DataFrame
    k: int
    n_rules: int

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
    orders = (lines.groupby([customer, basket], sort=False)[time].min()
              .reset_index().sort_values([customer, time, basket], kind="stable"))
    n_orders = orders.groupby(customer)[basket].transform("size")
    last = orders[(n_orders > 1) & ~orders.duplicated(customer, keep="last")]
    key = pd.MultiIndex.from_frame(lines[[customer, basket]])
    held = key.isin(pd.MultiIndex.from_frame(last[[customer, basket]]))
    return lines[~held], lines[held]


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
    baskets = train.groupby(basket, sort=False)[item].agg(lambda s: list(dict.fromkeys(s)))
    history = train.groupby(customer, sort=False)[item].agg(lambda s: list(dict.fromkeys(s)))
    target = test.groupby(customer, sort=False)[item].agg(set)
    history = history.reindex(target.index)
    relevant = pd.Series(
        [t - set(h) for t, h in zip(target.tolist(), history.tolist(), strict=True)],
        index=target.index,
    )
    relevant = relevant[relevant.map(len) > 0]
    history = history.reindex(relevant.index)

    rec = RuleRecommender(min_support=min_support, min_confidence=min_confidence,
                          max_len=max_len, n=k).fit(baskets.tolist())
    rules_lists = rec.recommend(history).groupby("customer_id", sort=False)["product_id"].agg(list)
    popular_lists = rec.recommend_popular(history).groupby("customer_id", sort=False)[
        "product_id"].agg(list)

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
    return RecommendationEvaluation(summary=pd.DataFrame(rows),
                                    per_customer=pd.concat(frames, ignore_index=True),
                                    k=k, n_rules=len(rec.rules_))
