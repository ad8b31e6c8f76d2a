"""``crmine basket rules|recommend|evaluate|propensity``: cross-sell on the workspace's orders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crmine._format import fmt_number
from crmine.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    emit,
    errors_handled,
    open_workspace,
    print_frame,
    print_verdict,
)

SupportOpt = Annotated[
    float | None,
    typer.Option("--min-support", help="Minimum support (default: setting basket_min_support)."),
]
ConfidenceOpt = Annotated[
    float | None,
    typer.Option("--min-confidence",
                 help="Minimum confidence (default: setting basket_min_confidence)."),
]

if TYPE_CHECKING:
    pass

_COLOURS = {"informative": "green", "weak": "yellow", "not_informative": "red"}




_RULE_COLUMNS = ["antecedent_names", "consequent_names", "support", "confidence", "lift",
                 "leverage", "conviction", "count"]


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Cross-sell: association rules, offers, next-best products.",
                      no_args_is_help=True)

    @sub.command("rules")
    def rules_cmd(
        level: Annotated[str, typer.Option("--level", help="product, category, brand or "
                                           "subcategory.")] = "product",
        per: Annotated[str, typer.Option("--per", help="Baskets per order or per customer.")
                       ] = "order",
        min_support: SupportOpt = None,
        min_confidence: ConfidenceOpt = None,
        min_lift: Annotated[float, typer.Option("--min-lift", help="Minimum lift.")] = 1.0,
        max_len: Annotated[int, typer.Option("--max-len", help="Longest itemset.")] = 3,
        prune: Annotated[bool, typer.Option("--prune-redundant",
                                            help="Drop redundant rules.")] = False,
        top: Annotated[int, typer.Option("--top", help="Rules shown.")] = 20,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Mine association rules from the workspace's orders (sorted by lift)."""
        from crmine.basket import workspace_rules

        with errors_handled(json_out), open_workspace(workspace) as ws:
            mined = workspace_rules(ws, level=level, per=per,  # type: ignore[arg-type]
                                    min_support=min_support, min_confidence=min_confidence,
                                    min_lift=min_lift, max_len=max_len, prune_redundant=prune)
        rules = mined.to_frame()
        data = {"level": level, "per": per, "baskets": mined.n_baskets,
                "itemsets": len(mined.itemsets), "rules": len(rules),
                "min_support": mined.min_support, "min_confidence": mined.min_confidence,
                "top": rules.head(top)}

        def render() -> None:
            console.print(f"{len(rules):,} rules from {mined.n_baskets:,} baskets "
                          f"({len(mined.itemsets):,} frequent itemsets at support "
                          f"{fmt_number(mined.min_support, digits=6)}; {level} level, per {per})")
            cols = ["antecedents", "consequents", *_RULE_COLUMNS[2:]]
            print_frame(rules[cols], "Rules by lift", max_rows=top)

        emit(data, json_out, render)

    @sub.command("recommend")
    def recommend_cmd(
        customer: Annotated[list[str] | None, typer.Option(
            "--customer", "-c", help="Show these customers (repeatable).")] = None,
        top_n: Annotated[int, typer.Option("--top-n", help="Products per customer.")] = 10,
        min_support: SupportOpt = None,
        min_confidence: ConfidenceOpt = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Score every customer: next-best products and offers into the marts.

        The rules are first checked on each customer's held-out last order against the
        best-sellers; when they do no better, nothing is recommended beyond best-sellers and
        the offers and next-best products are not written.
        """
        from crmine.basket import run_basket
        from crmine.warehouse._consent import drop_opted_out, honour_consent

        with errors_handled(json_out), open_workspace(workspace) as ws:
            result = run_basket(ws, min_support=min_support, min_confidence=min_confidence,
                                top_n=top_n)
            excluded = honour_consent(ws, "basket")  # its lists, as the pipeline's
            recs, _ = drop_opted_out(ws, result.recommendations)  # and what is shown
        if customer:
            recs = recs[recs["customer_id"].isin(customer)]
        s = result.summary()
        data = {"summary": s, "verdict": result.verdict.to_dict(), "marts": result.marts,
                "recommendations": recs.head(200 if not customer else len(recs)),
                "consent_excluded": excluded}

        def render() -> None:
            rules = ", ".join(f"{n:,} at {lv} level" for lv, n in s["rules"].items())
            print_verdict(result.verdict)
            if not result.verdict.actionable:
                console.print(f"{s['customers']:,} customers; rules: {rules}. Nothing to "
                              "recommend beyond best-sellers: no offers or next-best products "
                              "written (marts.basket_offers and marts.basket_recommendations "
                              "are empty).")
                return
            console.print(f"{s['customers']:,} customers scored; {s['offers']:,} missing-product "
                          f"offers; rules: {rules} — written to marts.customer_scores "
                          "(next_best_products), marts.basket_offers, "
                          "marts.basket_recommendations, marts.rules")
            print_frame(recs, "Next-best products", max_rows=30)

        emit(data, json_out, render)

    @sub.command("evaluate")
    def evaluate_cmd(
        k: Annotated[int, typer.Option("--k", help="List length.")] = 10,
        min_support: SupportOpt = None,
        min_confidence: ConfidenceOpt = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Hold out each customer's last basket; hit-rate@k and precision@k vs popularity."""
        from crmine.basket import evaluate_workspace

        with errors_handled(json_out), open_workspace(workspace) as ws:
            result = evaluate_workspace(ws, k=k, min_support=min_support,
                                        min_confidence=min_confidence)
        verdict = result.verdict
        data = {"k": k, "rules_used": result.n_rules, "summary": result.summary,
                "lift_over_popularity": result.lift_over_popularity(),
                "verdict": verdict.to_dict() if verdict is not None else None}

        def render() -> None:
            print_frame(result.summary, f"Leave-last-basket-out, k = {k} "
                                        f"({result.n_rules:,} rules)")
            print_verdict(verdict)

        emit(data, json_out, render)

    @sub.command("propensity")
    def propensity_cmd(
        product: Annotated[str, typer.Argument(help="Product id (or category, brand… with "
                                               "--level).")],
        level: Annotated[str, typer.Option("--level", help="product, category, brand or "
                                           "subcategory.")] = "product",
        horizon_days: Annotated[int, typer.Option("--horizon-days", min=1,
                                help="Predict a purchase within this many days.")] = 90,
        all_customers: Annotated[bool, typer.Option(
            "--all-customers", help="Also score customers who bought it already (repeat "
            "purchase) instead of only those who have not (cross-sell).")] = False,
        top: Annotated[int, typer.Option("--top", help="Customers shown.")] = 20,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Who will buy PRODUCT next: a propensity model checked on held-out customers.

        Learns from what customers owned HORIZON days before the data end and who bought
        PRODUCT since; scores every customer into marts.product_propensity.
        """
        from crmine.basket import workspace_propensity
        from crmine.warehouse._consent import drop_opted_out, honour_consent

        with errors_handled(json_out), open_workspace(workspace) as ws:
            result = workspace_propensity(ws, product, level=level, horizon_days=horizon_days,
                                          new_buyers_only=not all_customers)
            excluded = honour_consent(ws, "basket")
            shown, _ = drop_opted_out(ws, result.scores)  # who to contact: with consent
        coef = result.coefficients.head(10)
        s = result.summary()
        verdict = result.verdict
        data = {"summary": s, "verdict": verdict.to_dict() if verdict is not None else None,
                "drivers": [{"feature": k, "coef": float(v)} for k, v in coef.items()],
                "top": shown.head(top), "consent_excluded": excluded}

        def render() -> None:
            console.print(
                f"{level} {product}: learnt from {s['customers_learnt']:,} customers "
                f"({s['buyers_learnt']:,} bought in the {horizon_days} days after "
                f"{s['cutoff']}); held-out AUC {s['holdout_auc']:.3f}, top-decile lift "
                f"{s['holdout_top_decile_lift']:.1f}×.")
            print_verdict(verdict)
            if verdict is not None and not verdict.actionable:
                console.print("No target list: marts.product_propensity holds no row for "
                              f"{level} {product}.")
                return
            console.print(f"{s['customers_scored']:,} customers scored (about "
                          f"{s['expected_buyers']:,.0f} expected buyers) → "
                          "marts.product_propensity")
            print_frame(coef.rename("coef").reset_index().rename(columns={"index": "feature"}),
                        "Drivers (standardised coefficients)")
            print_frame(result.scores.head(top), "Most likely buyers", max_rows=top)

        emit(data, json_out, render)

    app.add_typer(sub, name="basket")
