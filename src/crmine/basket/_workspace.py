"""Cross-sell on a workspace: baskets from ``core.fct_order_lines``, results into ``marts``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from crmine.basket._baskets import baskets_from_lines
from crmine.basket._evaluate import RecommendationEvaluation, evaluate_recommendations
from crmine.basket._itemsets import frequent_itemsets
from crmine.basket._offers import missing_product_offers
from crmine.basket._recommend import RuleRecommender
from crmine.basket._rules import METRICS, mine_rules
from crmine.basket._sequence import sequential_patterns
from crmine.exceptions import DataError, SchemaError
from crmine.warehouse import Workspace

__all__ = [
    "MODEL_VERSION",
    "BasketWorkspaceResult",
    "evaluate_workspace",
    "product_hierarchy",
    "score_workspace",
    "workspace_baskets",
    "workspace_lines",
]

MODEL_VERSION = "rules-1"
Level = Literal["product", "subcategory", "category", "brand"]
Per = Literal["order", "customer"]


def workspace_lines(ws: Workspace) -> pd.DataFrame:
    """Completed, non-returned, non-anonymous order lines: what customers actually kept.

    Columns ``order_id``, ``customer_id``, ``order_ts``, ``product_id``.
    """
    t = ws.table("core.fct_order_lines")
    missing = [c for c in ("order_id", "customer_id", "order_ts", "product_id")
               if c not in t.columns]
    if missing:
        raise SchemaError(
            f"core.fct_order_lines lacks {missing}, needed for baskets; map them in crmine.toml"
        )
    keep = t.customer_id.notnull() & t.product_id.notnull()
    if "status" in t.columns:
        keep &= t.status == "completed"
    if "is_return" in t.columns:
        keep &= ~t.is_return.fill_null(False)
    lines = t.filter(keep).select("order_id", "customer_id", "order_ts", "product_id")
    df = lines.to_pandas()
    if df.empty:
        raise DataError(
            "core.fct_order_lines has no completed, non-returned line with a customer_id and "
            "a product_id; load orders (crmine ingest orders FILE) first"
        )
    df["customer_id"] = df["customer_id"].astype(str)
    df["product_id"] = df["product_id"].astype(str)
    return df


def product_hierarchy(ws: Workspace, level: str) -> pd.Series:
    """``product_id`` → ``level`` (a column of ``core.dim_product``: category, brand ...)."""
    if not ws.has_table("core.dim_product"):
        raise SchemaError(
            f"rules at the {level!r} level need core.dim_product; load products first"
        )
    cols = ws.columns("core.dim_product")
    if level not in cols:
        raise SchemaError(
            f"core.dim_product has no column {level!r} for hierarchy-level rules; "
            f"columns found: {cols}"
        )
    dim = ws.read("core.dim_product", ["product_id", level]).dropna()
    return dim.drop_duplicates("product_id").set_index(dim.columns[0])[level].astype(str)


def workspace_baskets(
    ws: Workspace, *, level: str = "product", per: Per = "order",
    lines: pd.DataFrame | None = None,
) -> pd.Series:
    """Baskets (one per order or per customer) of products or of a hierarchy level."""
    lines = workspace_lines(ws) if lines is None else lines
    if per not in ("order", "customer"):
        raise DataError(f"per must be 'order' or 'customer', got {per!r}")
    key = "order_id" if per == "order" else "customer_id"
    hierarchy = None if level == "product" else product_hierarchy(ws, level)
    return baskets_from_lines(lines, basket=key, item="product_id", hierarchy=hierarchy)


@dataclass(frozen=True, slots=True)
class BasketWorkspaceResult:
    """What :func:`score_workspace` wrote: rules, offers, recommendations, patterns."""

    rules: pd.DataFrame
    offers: pd.DataFrame
    recommendations: pd.DataFrame
    sequences: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.rules


def _names(ws: Workspace) -> dict[str, str]:
    if not ws.has_table("core.dim_product") or "product_name" not in ws.columns(
            "core.dim_product"):
        return {}
    dim = ws.read("core.dim_product", ["product_id", "product_name"]).dropna()
    return dict(zip(dim["product_id"].astype(str), dim["product_name"].astype(str),
                    strict=True))


def _rules_mart(rules: pd.DataFrame, level: str, per: str, n: int,
                names: dict[str, str]) -> pd.DataFrame:
    out = pd.DataFrame({
        "level": level, "per": per,
        "antecedents": [sorted(map(str, a)) for a in rules["antecedents"]],
        "consequents": [sorted(map(str, c)) for c in rules["consequents"]],
    })
    out["antecedents_text"] = [" + ".join(a) for a in out["antecedents"]]
    out["consequents_text"] = [" + ".join(c) for c in out["consequents"]]
    if level == "product" and names:
        out["antecedent_names"] = [" + ".join(names.get(i, i) for i in a)
                                   for a in out["antecedents"]]
        out["consequent_names"] = [" + ".join(names.get(i, i) for i in c)
                                   for c in out["consequents"]]
    else:
        out["antecedent_names"] = out["antecedents_text"]
        out["consequent_names"] = out["consequents_text"]
    for metric in (*METRICS, "count"):
        out[metric] = rules[metric].to_numpy()
    out["n_baskets"] = n
    out["rank"] = range(1, len(out) + 1)
    return out


# Supports tried, largest first, when none is set: the smallest one whose frequent itemsets
# stay within the budget is used, so a catalogue of thousands of products (Online Retail)
# does not produce hundreds of thousands of rules and tens of GB of offers.
SUPPORT_LADDER = (0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
ITEMSET_BUDGET = 20_000


def choose_min_support(
    baskets: list[list[str]], *, max_len: int | None = 3, budget: int = ITEMSET_BUDGET
) -> float:
    """The smallest support of ``SUPPORT_LADDER`` giving at most ``budget`` itemsets."""
    chosen = SUPPORT_LADDER[0]
    for support in SUPPORT_LADDER:
        if len(frequent_itemsets(baskets, support, max_len=max_len)) > budget:
            break
        chosen = support
    return chosen


def resolve_min_support(ws: Workspace, given: float | None, baskets: list[list[str]],
             max_len: int | None) -> float:
    """``given``, else the workspace setting ``basket_min_support``; "auto" chooses one."""
    setting = given if given is not None else ws.setting("basket_min_support", "auto")
    if setting == "auto":
        return choose_min_support(baskets, max_len=max_len)
    return float(setting)


def _covered_levels(ws: Workspace, levels: tuple[str, ...], lines: pd.DataFrame) -> list[str]:
    """Hierarchy levels that at least half of the products sold carry (others are skipped)."""
    usable = []
    products = lines["product_id"].astype(str).unique()
    for level in levels:
        if level == "product" or not ws.has_table("core.dim_product") \
                or level not in ws.columns("core.dim_product"):
            continue
        known = product_hierarchy(ws, level)
        if known.index.isin(products).sum() >= 0.5 * len(products):
            usable.append(level)
    return usable


def score_workspace(
    ws: Workspace,
    *,
    min_support: float | None = None,
    min_confidence: float | None = None,
    max_len: int | None = 3,
    top_n: int = 10,
    max_offers: int = 3,
    levels: tuple[str, ...] = ("product", "category"),
    max_gap_days: float | None = None,
    write: bool = True,
) -> BasketWorkspaceResult:
    """Mine the workspace's orders and write the cross-sell marts.

    * ``marts.rules``: rules per order at product level and at each other hierarchy level
      in ``levels`` (column ``level``; antecedents/consequents as lists and as text);
    * ``marts.basket_offers``: "missing product" offers per customer;
    * ``marts.customer_scores``: ``next_best_products`` (list, best first) and
      ``next_best_product`` via ``upsert_customer_scores(model="basket")``;
    * ``marts.sequential_patterns``: "A, then B within N days" per customer.

    Thresholds default to the workspace settings ``basket_min_support`` ("auto": the
    smallest of ``SUPPORT_LADDER`` keeping at most 20,000 frequent itemsets),
    ``basket_min_confidence`` (0.05) and ``basket_max_gap_days`` (60).
    """
    confidence = float(min_confidence if min_confidence is not None
                       else ws.setting("basket_min_confidence", 0.05))
    gap = float(max_gap_days if max_gap_days is not None
                else ws.setting("basket_max_gap_days", 60))
    lines = workspace_lines(ws)
    product_baskets = workspace_baskets(ws, level="product", per="order", lines=lines).tolist()
    support = resolve_min_support(ws, min_support, product_baskets, max_len)
    names = _names(ws)
    marts = []
    product_rules = None
    n_orders = 0
    for level in ("product", *_covered_levels(ws, levels, lines)):
        baskets = (product_baskets if level == "product" else
                   workspace_baskets(ws, level=level, per="order", lines=lines).tolist())
        mined = mine_rules(baskets, support, confidence, max_len=max_len)
        if level == "product":
            product_rules = mined.rules
            n_orders = mined.n_baskets
        marts.append(_rules_mart(mined.rules, level, "order", mined.n_baskets, names))
    assert product_rules is not None
    rules_mart = pd.concat(marts, ignore_index=True)

    history = lines.groupby("customer_id", sort=True)["product_id"].agg(
        lambda s: list(dict.fromkeys(s)))
    offers = missing_product_offers(history, product_rules, max_offers=max_offers)
    rec = RuleRecommender(min_support=support, min_confidence=confidence, max_len=max_len,
                          n=top_n)
    rec.fit(baskets_from_lines(lines).tolist())
    recs = rec.recommend(history)
    if names:
        offers["product_name"] = offers["product_id"].map(names)
        recs["product_name"] = recs["product_id"].map(names)
    scores = recs.groupby("customer_id", sort=False)["product_id"].agg(list).rename(
        "next_best_products").reset_index()
    scores["next_best_product"] = scores["next_best_products"].str[0]
    sequences = sequential_patterns(lines, max_gap_days=gap, min_support=support * 5,
                                    min_confidence=confidence)
    if names and len(sequences):
        sequences["antecedent_name"] = sequences["antecedent"].map(names)
        sequences["consequent_name"] = sequences["consequent"].map(names)
    if write:
        ws.write_mart("rules", rules_mart, model_version=MODEL_VERSION)
        ws.write_mart("basket_offers", offers, model_version=MODEL_VERSION)
        ws.write_mart("basket_recommendations", recs, model_version=MODEL_VERSION)
        ws.write_mart("sequential_patterns", sequences, model_version=MODEL_VERSION)
        ws.upsert_customer_scores(scores, model="basket", model_version=MODEL_VERSION)
    top = rules_mart[rules_mart["level"] == "product"].head(1)
    summary: dict[str, Any] = {
        "orders": int(n_orders),
        "customers": len(history),
        "min_support": support,
        "min_confidence": confidence,
        "rules": {str(lv): int(n) for lv, n in rules_mart["level"].value_counts().items()},
        "offers": len(offers),
        "customers_with_offers": int(offers["customer_id"].nunique()) if len(offers) else 0,
        "recommended_from_rules": float((recs["source"] == "rule").mean()) if len(recs) else 0.0,
        "sequential_patterns": len(sequences),
        "top_rule": (f"{top['antecedent_names'].iloc[0]} → {top['consequent_names'].iloc[0]} "
                     f"(lift {top['lift'].iloc[0]:.1f})") if len(top) else None,
        "model_version": MODEL_VERSION,
    }
    return BasketWorkspaceResult(rules=rules_mart, offers=offers, recommendations=recs,
                                 sequences=sequences, summary=summary)


def evaluate_workspace(
    ws: Workspace, *, k: int = 10, min_support: float | None = None,
    min_confidence: float | None = None, write: bool = True,
) -> RecommendationEvaluation:
    """Leave-last-basket-out evaluation on the workspace's orders (``marts.basket_evaluation``)."""
    lines = workspace_lines(ws)
    support = resolve_min_support(ws, min_support, workspace_baskets(
        ws, level="product", per="order", lines=lines).tolist(), 3)
    confidence = float(min_confidence if min_confidence is not None
                       else ws.setting("basket_min_confidence", 0.05))
    result = evaluate_recommendations(lines, k=k, min_support=support,
                                      min_confidence=confidence)
    if write:
        ws.write_mart("basket_evaluation", result.summary, model_version=MODEL_VERSION)
    return result
