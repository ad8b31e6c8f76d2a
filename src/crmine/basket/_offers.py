""""Missing product" offers: customers who own most of a frequent combination but not all."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

import numpy as np
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
    ante = usable["antecedents"].tolist()
    cons = usable["consequents"].tolist()
    offers = _candidates(hist, pairs, ante, cons, usable, min_owned_share)
    if offers.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OFFER_COLUMNS})
    # equal confidence: the rule conditioning on more of what the customer owns explains the
    # offer best (a multi-item consequent's lift is inflated by its small support)
    offers = offers.sort_values(["customer", "confidence", "n_ante", "lift", "support"],
                                ascending=[True, False, False, False, False], kind="stable")
    offers = offers.drop_duplicates(["customer", "product_id"])
    offers["rank"] = offers.groupby("customer").cumcount() + 1
    offers = offers[offers["rank"] <= max_offers]
    rule_pos, where = np.unique(offers["rule"].to_numpy(), return_inverse=True)
    because = np.array([_join(ante[r]) for r in rule_pos], dtype=object)
    combination = np.array([_join(ante[r] | cons[r]) for r in rule_pos], dtype=object)
    offers["because_bought"] = because[where]
    offers["combination"] = combination[where]
    offers["customer_id"] = hist.index.to_numpy()[offers["customer"].to_numpy()]
    return offers[OFFER_COLUMNS].reset_index(drop=True)


def _candidates(
    hist: pd.Series,
    pairs: pd.DataFrame,
    ante: list[frozenset[Hashable]],
    cons: list[frozenset[Hashable]],
    rules: pd.DataFrame,
    min_owned_share: float,
) -> pd.DataFrame:
    """One row per fired (customer, rule) and consequent item the customer lacks, when they
    own at least ``min_owned_share`` of the combination; in pair order, then item order."""
    customer = pairs["customer"].to_numpy(np.int64)
    rule = pairs["rule"].to_numpy(np.int64)
    cons_items = [list(c) for c in cons]
    n_cons = np.fromiter(map(len, cons_items), dtype=np.int64, count=len(cons_items))
    n_ante = np.fromiter(map(len, ante), dtype=np.int64, count=len(ante))
    flat = [i for c in cons_items for i in c]
    codes = {item: pos for pos, item in enumerate(dict.fromkeys(flat))}
    flat_codes = np.fromiter((codes[i] for i in flat), dtype=np.int64, count=len(flat))
    # one row per (pair, consequent item)
    reps = n_cons[rule]
    row_pair = np.repeat(np.arange(len(rule)), reps)
    within = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    offsets = np.concatenate([[0], np.cumsum(n_cons)[:-1]]).astype(np.int64)
    item_code = flat_codes[offsets[rule][row_pair] + within]
    row_customer = customer[row_pair]
    # which of those items each customer owns already
    owned_c: list[int] = []
    owned_i: list[int] = []
    for pos, items in enumerate(hist.tolist()):
        for item in items:
            code = codes.get(item)
            if code is not None:
                owned_c.append(pos)
                owned_i.append(code)
    width = max(len(codes), 1)
    owned_keys = np.unique(np.asarray(owned_c, dtype=np.int64) * width
                           + np.asarray(owned_i, dtype=np.int64))  # fmt: skip
    missing = ~np.isin(row_customer * width + item_code, owned_keys)
    n_missing = np.bincount(row_pair, weights=missing, minlength=len(rule))
    size = (n_ante[rule] + n_cons[rule]).astype(float)
    share = (size - n_missing) / size
    keep_pair = (n_missing > 0) & (share >= min_owned_share)
    keep = missing & keep_pair[row_pair]
    pair = row_pair[keep]
    chosen = rule[pair]
    items = np.empty(len(codes), dtype=object)
    for item, pos in codes.items():
        items[pos] = item  # element by element: items may themselves be tuples
    return pd.DataFrame({
        "customer": customer[pair],
        "product_id": items[item_code[keep]],
        "confidence": rules["confidence"].to_numpy()[chosen],
        "lift": rules["lift"].to_numpy()[chosen],
        "support": rules["support"].to_numpy()[chosen],
        "owned_share": share[pair],
        "rule": chosen,
        "n_ante": n_ante[chosen],
    })  # fmt: skip


def _join(items: Iterable[Hashable]) -> str:
    return " + ".join(sorted(map(str, items)))
