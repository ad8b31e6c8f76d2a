"""Cross-sell: frequent itemsets, association rules, missing-product offers, next-best-product
recommendations, sequential patterns and their offline evaluation."""

from __future__ import annotations

from crmine.basket._analysis import ANALYSIS, BasketRun, run_basket
from crmine.basket._baskets import as_baskets, baskets_from_lines, group_items, map_hierarchy
from crmine.basket._evaluate import (
    MIN_RELATIVE_GAIN,
    RecommendationEvaluation,
    evaluate_recommendations,
    judge_recommendations,
    split_last_basket,
)
from crmine.basket._itemsets import ALGORITHMS, frequent_itemsets
from crmine.basket._offers import missing_product_offers
from crmine.basket._propensity import PropensityResult, workspace_propensity
from crmine.basket._recommend import ProductPropensity, RuleRecommender, purchase_features
from crmine.basket._rules import (
    METRICS,
    BasketRules,
    association_rules,
    mine_rules,
    remove_redundant,
    rules_as_text,
    rules_from_itemsets,
)
from crmine.basket._sequence import sequential_patterns
from crmine.basket._spark import spark_mine_rules, spark_session
from crmine.basket._workspace import (
    MODEL_VERSION,
    evaluate_workspace,
    product_hierarchy,
    workspace_baskets,
    workspace_lines,
    workspace_rules,
)

__all__ = [
    "ALGORITHMS",
    "ANALYSIS",
    "METRICS",
    "MIN_RELATIVE_GAIN",
    "MODEL_VERSION",
    "BasketRules",
    "BasketRun",
    "ProductPropensity",
    "PropensityResult",
    "RecommendationEvaluation",
    "RuleRecommender",
    "as_baskets",
    "association_rules",
    "baskets_from_lines",
    "evaluate_recommendations",
    "evaluate_workspace",
    "frequent_itemsets",
    "group_items",
    "judge_recommendations",
    "map_hierarchy",
    "mine_rules",
    "missing_product_offers",
    "product_hierarchy",
    "purchase_features",
    "remove_redundant",
    "rules_as_text",
    "rules_from_itemsets",
    "run_basket",
    "sequential_patterns",
    "spark_mine_rules",
    "spark_session",
    "split_last_basket",
    "workspace_baskets",
    "workspace_lines",
    "workspace_propensity",
    "workspace_rules",
]
