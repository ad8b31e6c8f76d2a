"""The cross-sell analysis's declaration (read by the pipeline, checks, report and CLI)."""

from __future__ import annotations

from crmine.basket._offers import OFFER_COLUMNS
from crmine.basket._recommend import REC_COLUMNS
from crmine.basket._run import BasketRun, run_basket
from crmine.basket._workspace import support_problem
from crmine.contract import Analysis, Mart, Setting, accepted, not_null, unique

__all__ = ["ANALYSIS", "BasketRun", "run_basket"]

_STAMP = ("model_version", "scored_at")


def _fraction(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return "a fraction in [0, 1], e.g. 0.05"
    return None


def _positive(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return "a positive number of days, e.g. 60"
    return None


MARTS = (
    Mart(
        "rules",
        grain="one row per association rule and hierarchy level (baskets = orders)",
        columns=("level", "per", "antecedents", "consequents", "antecedents_text",
                 "consequents_text", "antecedent_names", "consequent_names",
                 "antecedent_support", "consequent_support", "support", "confidence", "lift",
                 "leverage", "conviction", "count", "n_baskets", "rank", *_STAMP),
        checks=(unique("level", "per", "antecedents_text", "consequents_text"),
                unique("level", "per", "rank"),
                not_null("level", "per", "antecedents_text", "consequents_text", "support",
                         "confidence", "lift")),
    ),
    Mart(
        "basket_offers",
        grain="one row per customer and offered product (the product completing a frequent "
              "combination the customer has started)",
        columns=(*OFFER_COLUMNS, *_STAMP),
        checks=(unique("customer_id", "product_id"), unique("customer_id", "rank"),
                not_null("customer_id", "product_id", "rank", "confidence", "lift")),
        actionable=True,
    ),
    Mart(
        "basket_recommendations",
        grain="one row per customer and rank of their next-best products",
        columns=(*REC_COLUMNS, *_STAMP),
        checks=(unique("customer_id", "rank"), unique("customer_id", "product_id"),
                not_null("customer_id", "rank", "product_id", "score", "source"),
                accepted("source", ("rule", "popular"))),
        actionable=True,
    ),
    Mart(
        "sequential_patterns",
        grain="one row per ordered product pair 'A, then B within basket_max_gap_days'",
        columns=("antecedent", "consequent", "customers", "support", "confidence", "lift",
                 "median_gap_days", *_STAMP),
        checks=(unique("antecedent", "consequent"),
                not_null("antecedent", "consequent", "customers", "support")),
    ),
    Mart(
        "basket_evaluation",
        grain="one row per recommender (rules, popularity) on the held-out last orders",
        columns=("method", "k", "customers", "hit_rate", "precision", "recall", "n_rules",
                 "gain_over_popularity", "gain_low", "gain_high", "status", *_STAMP),
        checks=(unique("method"), not_null("method", "hit_rate", "customers"),
                accepted("method", ("rules", "popularity"))),
    ),
    Mart(
        "product_propensity",
        grain="one row per modelled product (or category...), level and customer scored "
              "(written by `crmine basket propensity PRODUCT`)",
        columns=("customer_id", "propensity", "rank", "decile", "product", "level",
                 "horizon_days", *_STAMP),
        checks=(unique("product", "level", "customer_id"),
                not_null("customer_id", "propensity", "product", "level")),
        actionable=True,
    ),
)

SETTINGS = (
    Setting("basket_min_support", (str, float), "auto",
            'minimum support of itemsets, a fraction of orders; "auto" chooses the smallest '
            "keeping at most 20,000 frequent itemsets", check=support_problem),
    Setting("basket_min_confidence", float, 0.05,
            "minimum confidence of association rules and sequential patterns",
            check=_fraction),
    Setting("basket_max_gap_days", float, 60,
            "longest wait between A and B in a sequential pattern 'A, then B'",
            check=_positive),
)  # fmt: skip

ANALYSIS = Analysis(
    name="basket",
    title="Cross-sell: association rules and next-best products",
    run=run_basket,
    requires=("core.fct_order_lines.product_id",),
    marts=MARTS,
    settings=SETTINGS,
)
