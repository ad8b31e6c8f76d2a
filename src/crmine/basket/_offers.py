""""Missing product" offers: customers who own most of a frequent combination but not all."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

import pandas as pd

from crmine.basket._match import as_histories, fired_rules
from crmine.exceptions import DataError, MissingColumnError

__all__ = ["missing_product_offers"]

OFFER_COLUMNS = ["customer_id", "rank", "product_id", "confidence", "lift", "support",
                 "owned_share", "because_bought", "combination"]


def missing_product_offers(
    histories: Mapping[Hashable, Iterable[Hashable]] | pd.Series,
    rules: pd.DataFrame,
    *,
    max_offers: int = 3,
    min_owned_share: float = 0.5,
    min_lift: float = 1.0,
) -> pd.DataFrame:
    """For each customer, the products that complete a frequent combination they have started.

    A rule ``A → C`` with ``A ∪ C`` frequent is a combination; a customer who owns all of
    ``A`` and at least ``min_owned_share`` of ``A ∪ C`` but not all of ``C`` is offered the
    missing items of ``C``, with the rule as evidence. When several rules lead to the same
    product, the most confident one (then the longest antecedent, then the highest lift) is
    the evidence.

    Parameters
    ----------
    histories
        Customer → items bought (a dict or a Series of lists indexed by customer).
    rules
        Association rules (:func:`association_rules`).
    max_offers
        Offers kept per customer (best first).
    min_owned_share
        Fraction of the combination the customer must already own.
    min_lift
        Rules with a lower lift are not used (lift <= 1 means no affinity).

    Returns
    -------
    pandas.DataFrame
        One row per offer: ``customer_id``, ``rank`` (1 = best), ``product_id`` (to offer),
        ``confidence``, ``lift``, ``support``, ``owned_share``, ``because_bought`` (the
        antecedent, ``' + '``-joined) and ``combination`` (the whole itemset).

    Examples
    --------
    >>> from crmine.basket import association_rules
    >>> baskets = [["a", "b"], ["a", "b"], ["a", "b"], ["a"], ["c"], ["c"]]
    >>> rules = association_rules(baskets, 0.4, 0.5)
    >>> offers = missing_product_offers({"c1": ["a"], "c2": ["a", "b"]}, rules)
    >>> offers[["customer_id", "product_id"]].values.tolist()
    [['c1', 'b']]
    """
    for col in ("antecedents", "consequents", "confidence", "lift", "support"):
        if col not in rules.columns:
            raise MissingColumnError(
                f"rules need column {col!r} (as made by association_rules); columns found: "
                f"{list(rules.columns)}"
            )
    if max_offers < 1:
        raise DataError(f"max_offers must be at least 1, got {max_offers!r}")
    hist = as_histories(histories)
    usable = rules[rules["lift"].to_numpy() >= min_lift].reset_index(drop=True)
    pairs = fired_rules(hist, list(usable["antecedents"]))
    owned_sets = [set(items) for items in hist.tolist()]
    ante = usable["antecedents"].tolist()
    cons = usable["consequents"].tolist()
    conf = usable["confidence"].to_numpy()
    lift = usable["lift"].to_numpy()
    supp = usable["support"].to_numpy()
    records: list[tuple[int, Hashable, float, float, float, float, int, int]] = []
    for cust, rule in zip(pairs["customer"].tolist(), pairs["rule"].tolist(), strict=True):
        owned = owned_sets[cust]
        consequent = cons[rule]
        missing = [i for i in consequent if i not in owned]
        if not missing:
            continue
        size = len(ante[rule]) + len(consequent)
        share = (size - len(missing)) / size
        if share < min_owned_share:
            continue
        for item in missing:
            records.append((cust, item, conf[rule], lift[rule], supp[rule], share, rule,
                            len(ante[rule])))
    if not records:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OFFER_COLUMNS})
    offers = pd.DataFrame(records, columns=["customer", "product_id", "confidence", "lift",
                                            "support", "owned_share", "rule", "n_ante"])
    # equal confidence: the rule conditioning on more of what the customer owns explains the
    # offer best (a multi-item consequent's lift is inflated by its small support)
    offers = offers.sort_values(["customer", "confidence", "n_ante", "lift", "support"],
                                ascending=[True, False, False, False, False], kind="stable")
    offers = offers.drop_duplicates(["customer", "product_id"])
    offers["rank"] = offers.groupby("customer").cumcount() + 1
    offers = offers[offers["rank"] <= max_offers]
    rule_pos = offers["rule"].to_numpy()
    offers["because_bought"] = [_join(ante[r]) for r in rule_pos]
    offers["combination"] = [_join(ante[r] | cons[r]) for r in rule_pos]
    offers["customer_id"] = hist.index.to_numpy()[offers["customer"].to_numpy()]
    return offers[OFFER_COLUMNS].reset_index(drop=True)


def _join(items: Iterable[Hashable]) -> str:
    return " + ".join(sorted(map(str, items)))
