"""The cross-sell step: rules, offers, next-best products and sequences, judged first.

:func:`run_basket` holds out each repeat customer's last order, checks whether the rules'
top-10 lists reach more of those baskets than the best-sellers do (a paired bootstrap over
customers), and only then writes what people act on: when the rules do no better than the
best-sellers there is nothing to recommend beyond them, so the offers and recommendations
marts are written empty and no next-best product goes into ``marts.customer_scores``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmine.basket._baskets import baskets_from_lines, group_items
from crmine.basket._evaluate import (
    NOTHING_BEYOND_BEST_SELLERS,
    WHAT_TO_TRY,
    RecommendationEvaluation,
    evaluate_recommendations,
)
from crmine.basket._offers import OFFER_COLUMNS, missing_product_offers
from crmine.basket._recommend import REC_COLUMNS, RuleRecommender
from crmine.basket._rules import mine_rules
from crmine.basket._sequence import sequential_patterns
from crmine.basket._workspace import (
    MODEL_VERSION,
    covered_levels,
    evaluation_mart,
    product_names,
    resolve_min_confidence,
    resolve_min_support,
    rules_mart,
    workspace_baskets,
    workspace_lines,
)
from crmine.contract import Verdict, record_verdict, recorded_warnings
from crmine.exceptions import DataError
from crmine.warehouse import Workspace

__all__ = ["SCORE_COLUMNS", "BasketRun", "run_basket"]

#: The columns cross-sell owns in ``marts.customer_scores`` (not written when not informative).
SCORE_COLUMNS = ("next_best_products", "next_best_product")


@dataclass(frozen=True, slots=True)
class BasketRun:
    """What :func:`run_basket` found and wrote.

    Attributes
    ----------
    figures
        The summary's figures (see :meth:`summary`).
    rules
        ``marts.rules``: rules per order at product level and each hierarchy level mined.
    offers, recommendations
        ``marts.basket_offers`` and ``marts.basket_recommendations``: empty when the verdict
        is ``not_informative`` (nothing to recommend beyond best-sellers).
    sequences
        ``marts.sequential_patterns``: "A, then B within N days".
    evaluation
        The leave-last-basket-out evaluation behind the verdict (None when no customer has
        two orders).
    verdict
        Rules vs best-sellers on the held-out baskets.
    marts
        The tables written.
    """

    figures: dict[str, Any]
    rules: pd.DataFrame
    offers: pd.DataFrame
    recommendations: pd.DataFrame
    sequences: pd.DataFrame
    evaluation: RecommendationEvaluation | None
    verdict: Verdict
    marts: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """JSON-able figures: orders, rules per level, offers, hit rates, the verdict's note."""
        return dict(self.figures)

    def to_frame(self) -> pd.DataFrame:
        """The next-best products, one row per customer and rank (empty when withheld)."""
        return self.recommendations.copy()


def _empty_offers(names: bool) -> pd.DataFrame:
    kinds = {"rank": np.int64, "confidence": float, "lift": float, "support": float,
             "owned_share": float}  # fmt: skip
    cols = [*OFFER_COLUMNS, *(["product_name"] if names else [])]
    return pd.DataFrame({c: pd.Series(dtype=kinds.get(c, object)) for c in cols})


def _empty_recommendations(names: bool) -> pd.DataFrame:
    kinds = {"rank": np.int64, "score": float, "confidence": float, "lift": float}
    cols = [*REC_COLUMNS, *(["product_name"] if names else [])]
    return pd.DataFrame({c: pd.Series(dtype=kinds.get(c, object)) for c in cols})


def _no_evaluation(error: DataError, k: int) -> Verdict:
    return Verdict(
        "not_informative", f"held-out hit-rate@{k}", None, None,
        why=f"The recommendations could not be checked on held-out orders ({error}): "
            f"{NOTHING_BEYOND_BEST_SELLERS}.",
        what_to_try="Load more history, so that customers have two or more orders. "
                    + WHAT_TO_TRY,
    )  # fmt: skip


def run_basket(
    ws: Workspace,
    *,
    min_support: float | None = None,
    min_confidence: float | None = None,
    max_len: int | None = 3,
    top_n: int = 10,
    max_offers: int = 3,
    levels: tuple[str, ...] = ("product", "category"),
    max_gap_days: float | None = None,
    k: int = 10,
    write: bool = True,
) -> BasketRun:
    """Mine the workspace's orders, judge the rules on held-out baskets, write the marts.

    * ``marts.rules``: rules per order at product level and at each other hierarchy level
      in ``levels`` that most products carry (column ``level``);
    * ``marts.basket_evaluation``: leave-last-basket-out hit-rate@``k`` of the rules and of
      the best-sellers, with the gain's bootstrap interval (the verdict);
    * ``marts.basket_offers``: "missing product" offers per customer;
    * ``marts.basket_recommendations`` and, in ``marts.customer_scores``,
      ``next_best_products`` (list, best first) and ``next_best_product``;
    * ``marts.sequential_patterns``: "A, then B within N days" per customer.

    When the rules do no better than the best-sellers on the held-out baskets (verdict
    ``not_informative``, e.g. no rule found), offers and recommendations are written empty
    and the next-best-product columns of ``marts.customer_scores`` are cleared.

    Parameters
    ----------
    min_support, min_confidence, max_gap_days
        Default to the workspace settings ``basket_min_support`` ("auto": the smallest
        support keeping at most 20,000 frequent itemsets), ``basket_min_confidence`` (0.05)
        and ``basket_max_gap_days`` (60).
    max_len
        Longest itemset mined.
    top_n, max_offers
        Next-best products and offers per customer.
    k
        List length of the held-out evaluation.
    write
        Write the marts and record the verdict (False: only compute).
    """
    confidence = resolve_min_confidence(ws, min_confidence)
    gap = float(max_gap_days if max_gap_days is not None
                else ws.setting("basket_max_gap_days", 60))  # fmt: skip
    # the data first: warnings raised while reading are not the fit's
    lines = workspace_lines(ws)
    names = product_names(ws)
    level_baskets = {level: workspace_baskets(ws, level=level, per="order", lines=lines)
                     for level in covered_levels(ws, levels, lines)}  # fmt: skip
    with recorded_warnings() as caught:
        baskets = baskets_from_lines(lines).tolist()
        support = resolve_min_support(ws, min_support, baskets, max_len)
        evaluation: RecommendationEvaluation | None
        try:
            evaluation = evaluate_recommendations(lines, k=k, min_support=support,
                                                  min_confidence=confidence, max_len=max_len)
            assert evaluation.verdict is not None
            verdict = evaluation.verdict
        except DataError as error:
            evaluation, verdict = None, _no_evaluation(error, k)
        marts = []
        product_rules = pd.DataFrame()
        n_orders = 0
        mined_levels = ("product", *level_baskets)
        for level in mined_levels:
            mined = mine_rules(baskets if level == "product" else level_baskets[level].tolist(),
                               support, confidence, max_len=max_len)  # fmt: skip
            if level == "product":
                product_rules, n_orders = mined.rules, mined.n_baskets
            marts.append(rules_mart(mined.rules, level, "order", mined.n_baskets, names))
        rules = pd.concat(marts, ignore_index=True)
        history = group_items(lines, "customer_id", "product_id", sort=True)
        if verdict.actionable:
            offers = missing_product_offers(history, product_rules, max_offers=max_offers)
            rec = RuleRecommender(min_support=support, min_confidence=confidence,
                                  max_len=max_len, n=top_n)._fit_rules(product_rules, baskets)
            recs = rec.recommend(history)
            if names:
                offers["product_name"] = offers["product_id"].map(names)
                recs["product_name"] = recs["product_id"].map(names)
        else:
            offers, recs = _empty_offers(bool(names)), _empty_recommendations(bool(names))
        sequences = sequential_patterns(lines, max_gap_days=gap,
                                        min_support=min(1.0, support * 5),
                                        min_confidence=confidence)  # fmt: skip
        if names and len(sequences):
            sequences["antecedent_name"] = sequences["antecedent"].map(names)
            sequences["consequent_name"] = sequences["consequent"].map(names)
    verdict = verdict.with_warnings(caught)
    written: tuple[str, ...] = ()
    if write:
        written = _write(ws, rules, offers, recs, sequences, evaluation, verdict)
        record_verdict(ws, "basket", verdict)
    top = rules[rules["level"] == "product"].head(1)
    figures: dict[str, Any] = {
        "orders": int(n_orders),
        "customers": len(history),
        "min_support": support,
        "min_confidence": confidence,
        "rules": {lv: int((rules["level"] == lv).sum()) for lv in mined_levels},
        "offers": len(offers),
        "customers_with_offers": int(offers["customer_id"].nunique()) if len(offers) else 0,
        "recommended_from_rules": float((recs["source"] == "rule").mean()) if len(recs) else 0.0,
        "sequential_patterns": len(sequences),
        "top_rule": (f"{top['antecedent_names'].iloc[0]} → {top['consequent_names'].iloc[0]} "
                     f"(lift {top['lift'].iloc[0]:.1f})") if len(top) else None,
        "model_version": MODEL_VERSION,
        "verdict": verdict.status,
    }
    if evaluation is not None:
        hits = evaluation.summary.set_index("method")["hit_rate"]
        figures[f"hit_rate_at_{k}"] = {str(m): round(float(v), 4) for m, v in hits.items()}
        figures["customers_evaluated"] = int(evaluation.summary["customers"].iloc[0])
    if not verdict.actionable:
        figures["note"] = (f"{NOTHING_BEYOND_BEST_SELLERS.capitalize()}: the rules were not "
                           "shown to reach more held-out baskets than the best-sellers, so no "
                           "offers or next-best products were written.")
    elif verdict.status == "weak":
        figures["warning"] = verdict.why
    return BasketRun(figures=figures, rules=rules, offers=offers, recommendations=recs,
                     sequences=sequences, evaluation=evaluation, verdict=verdict,
                     marts=written)


def _write(
    ws: Workspace,
    rules: pd.DataFrame,
    offers: pd.DataFrame,
    recs: pd.DataFrame,
    sequences: pd.DataFrame,
    evaluation: RecommendationEvaluation | None,
    verdict: Verdict,
) -> tuple[str, ...]:
    """Write the marts; the actionable ones only hold rows when the verdict allows."""
    ws.write_mart("rules", rules, model_version=MODEL_VERSION)
    ws.write_mart("basket_offers", offers, model_version=MODEL_VERSION)
    ws.write_mart("basket_recommendations", recs, model_version=MODEL_VERSION)
    ws.write_mart("sequential_patterns", sequences, model_version=MODEL_VERSION)
    written = ["marts.rules", "marts.basket_offers", "marts.basket_recommendations",
               "marts.sequential_patterns"]
    if evaluation is not None:
        ws.write_mart("basket_evaluation", evaluation_mart(evaluation),
                      model_version=MODEL_VERSION)
        written.append("marts.basket_evaluation")
    if verdict.actionable:
        scores = group_items(recs, "customer_id", "product_id").rename(
            "next_best_products").reset_index()
        scores["next_best_product"] = scores["next_best_products"].str[0]
        ws.upsert_customer_scores(scores, model="basket", model_version=MODEL_VERSION)
        written.append("marts.customer_scores")
    elif ws.has_table("marts.customer_scores") and set(SCORE_COLUMNS) & set(
            ws.columns("marts.customer_scores")):
        # an earlier run's next-best products must not outlive this verdict
        ws.duck.execute("UPDATE marts.customer_scores SET " + ", ".join(
            f"{c} = NULL" for c in SCORE_COLUMNS if c in ws.columns("marts.customer_scores")))
        written.append("marts.customer_scores")
    return tuple(written)
