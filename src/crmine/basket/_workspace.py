"""Cross-sell on a workspace: baskets from ``core.fct_order_lines``, results into ``marts``."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from crmine.basket._baskets import baskets_from_lines
from crmine.basket._evaluate import RecommendationEvaluation, evaluate_recommendations
from crmine.basket._itemsets import frequent_itemsets
from crmine.basket._rules import METRICS, BasketRules, mine_rules
from crmine.exceptions import ConfigError, DataError, SchemaError
from crmine.warehouse import Workspace

__all__ = [
    "MODEL_VERSION",
    "evaluate_workspace",
    "product_hierarchy",
    "resolve_min_confidence",
    "resolve_min_support",
    "workspace_baskets",
    "workspace_lines",
    "workspace_rules",
]

MODEL_VERSION = "rules-1"
Level = Literal["product", "subcategory", "category", "brand"]
Per = Literal["order", "customer"]


def workspace_lines(ws: Workspace) -> pd.DataFrame:
    """Completed, non-returned, non-anonymous order lines: what customers actually kept.

    Columns ``order_id``, ``customer_id``, ``order_ts``, ``product_id``.
    """
    t = ws.table(ws.resolved("core.fct_order_lines"))
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


def product_names(ws: Workspace) -> dict[str, str]:
    if not ws.has_table("core.dim_product") or "product_name" not in ws.columns(
            "core.dim_product"):
        return {}
    dim = ws.read("core.dim_product", ["product_id", "product_name"]).dropna()
    return dict(zip(dim["product_id"].astype(str), dim["product_name"].astype(str),
                    strict=True))


def rules_mart(rules: pd.DataFrame, level: str, per: str, n: int,
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
    problem = support_problem(setting)
    if problem:
        raise ConfigError(f"basket_min_support = {setting!r} must be {problem}")
    return float(setting)


def support_problem(value: object) -> str | None:
    """Why ``value`` is not a valid ``basket_min_support`` (None when it is)."""
    if value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        return '"auto" or a fraction of orders in (0, 1], e.g. 0.005'
    return None


def covered_levels(ws: Workspace, levels: tuple[str, ...], lines: pd.DataFrame) -> list[str]:
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


def workspace_rules(
    ws: Workspace,
    *,
    level: str = "product",
    per: Per = "order",
    min_support: float | None = None,
    min_confidence: float | None = None,
    min_lift: float = 1.0,
    max_len: int | None = 3,
    prune_redundant: bool = False,
) -> BasketRules:
    """Association rules among the workspace's baskets (per order or per customer) of
    products or of a hierarchy level, with the workspace's thresholds by default."""
    baskets = workspace_baskets(ws, level=level, per=per).tolist()
    support = resolve_min_support(ws, min_support, baskets, max_len)
    return mine_rules(baskets, support, resolve_min_confidence(ws, min_confidence),
                      max_len=max_len, filters={"lift": min_lift},
                      prune_redundant=prune_redundant)  # fmt: skip


def resolve_min_confidence(ws: Workspace, given: float | None) -> float:
    """``given``, else the workspace setting ``basket_min_confidence`` (0.05)."""
    value = given if given is not None else ws.setting("basket_min_confidence", 0.05)
    if not 0 <= float(value) <= 1:
        raise DataError(f"basket_min_confidence must be a fraction in [0, 1], got {value!r}")
    return float(value)


def evaluate_workspace(
    ws: Workspace, *, k: int = 10, min_support: float | None = None,
    min_confidence: float | None = None, max_len: int | None = 3, write: bool = True,
    lines: pd.DataFrame | None = None,
) -> RecommendationEvaluation:
    """Leave-last-basket-out evaluation on the workspace's orders (``marts.basket_evaluation``).

    Its ``verdict`` says whether the rules beat the best-sellers on the held-out baskets
    (:func:`~crmine.basket.judge_recommendations`).
    """
    lines = workspace_lines(ws) if lines is None else lines
    support = resolve_min_support(ws, min_support, baskets_from_lines(lines).tolist(), max_len)
    result = evaluate_recommendations(lines, k=k, min_support=support,
                                      min_confidence=resolve_min_confidence(ws, min_confidence),
                                      max_len=max_len)  # fmt: skip
    if write:
        ws.write_mart("basket_evaluation", evaluation_mart(result), model_version=MODEL_VERSION)
    return result


def evaluation_mart(result: RecommendationEvaluation) -> pd.DataFrame:
    """``marts.basket_evaluation``: one row per method, with the rules' gain over popularity
    and its interval on the ``rules`` row."""
    out = result.summary.copy()
    out["n_rules"] = result.n_rules
    v = result.verdict
    gain_lo = gain_hi = float("nan")
    if v is not None and v.interval is not None and v.baseline is not None:
        gain_lo, gain_hi = v.interval[0] - v.baseline, v.interval[1] - v.baseline
    rules = (out["method"] == "rules").to_numpy()
    popularity = float(out.loc[out["method"] == "popularity", "hit_rate"].iloc[0])
    out["gain_over_popularity"] = np.where(rules, out["hit_rate"] - popularity, np.nan)
    out["gain_low"] = np.where(rules, gain_lo, np.nan)
    out["gain_high"] = np.where(rules, gain_hi, np.nan)
    out["status"] = v.status if v is not None else None
    return out
