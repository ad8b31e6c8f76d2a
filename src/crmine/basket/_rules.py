"""Association rules from frequent itemsets, with every interest measure and redundancy pruning."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain, combinations
from typing import Any

import numpy as np
import pandas as pd

from crmine._progress import check_cancelled
from crmine.basket._baskets import as_baskets
from crmine.basket._itemsets import Algorithm, _itemset_table
from crmine.exceptions import DataError, MissingColumnError

__all__ = [
    "METRICS",
    "BasketRules",
    "association_rules",
    "mine_rules",
    "remove_redundant",
    "rules_from_itemsets",
]

#: The measures computed for every rule (all fractions of baskets except lift/conviction).
METRICS = (
    "antecedent_support", "consequent_support", "support", "confidence", "lift", "leverage",
    "conviction", "zhangs_metric", "jaccard", "certainty", "kulczynski",
)


@dataclass(frozen=True, slots=True)
class BasketRules:
    """What a rule-mining run found.

    Attributes
    ----------
    itemsets
        Frequent itemsets (``itemsets``, ``support``, ``count``, ``length``).
    rules
        One row per rule: ``antecedents`` and ``consequents`` (frozensets), the
        :data:`METRICS` and ``count`` (baskets holding the whole rule).
    n_baskets, min_support, min_confidence
        The input size and thresholds.
    """

    itemsets: pd.DataFrame
    rules: pd.DataFrame
    n_baskets: int
    min_support: float
    min_confidence: float
    params: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The rules with antecedents/consequents as sorted ``' + '``-joined text."""
        return rules_as_text(self.rules)


def rules_as_text(rules: pd.DataFrame) -> pd.DataFrame:
    """Rules with ``antecedents``/``consequents`` as sorted ``' + '``-joined strings."""
    out = rules.copy()
    for col in ("antecedents", "consequents"):
        out[col] = [" + ".join(sorted(map(str, s))) for s in out[col]]
    return out


_PAD = np.iinfo(np.int32).max


def _row_keys(codes: np.ndarray) -> np.ndarray:
    """One opaque, sortable key per row of a padded item-code matrix (rows compare whole)."""
    flat = np.ascontiguousarray(codes, dtype=np.int32)
    return flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1]))).ravel()


def _generate(
    itemsets: pd.DataFrame, n: int, min_confidence: float
) -> tuple[list[frozenset[Hashable]], list[frozenset[Hashable]], np.ndarray]:
    """All rules A → I \\ A of every frequent itemset I with conf >= min_confidence.

    Vectorised: itemsets become rows of sorted item codes padded to the longest length, so
    every split of all k-itemsets at once is a column selection, and the supports of the
    antecedents and consequents are found by binary search on whole rows. Confidence is
    compared as a ratio of counts, so a rule exactly at the threshold (8 of 10 baskets at
    0.8) is kept, as arules keeps it.
    """
    sets = itemsets["itemsets"].tolist()
    counts = itemsets["count"].to_numpy(dtype=np.int64)
    lengths = itemsets["length"].to_numpy(dtype=np.int64)
    width = int(lengths.max()) if len(lengths) else 0
    # item codes for all itemsets at once; the padding sorts after every real code
    flat = list(chain.from_iterable(sets))
    codes = pd.factorize(pd.Series(flat, dtype=object))[0].astype(np.int32)
    padded = np.full((len(sets), max(width, 1)), _PAD, dtype=np.int32)
    rows = np.repeat(np.arange(len(sets)), lengths)
    starts = np.cumsum(lengths) - lengths
    padded[rows, np.arange(len(flat)) - np.repeat(starts, lengths)] = codes
    padded.sort(axis=1)
    keys = _row_keys(padded)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]

    def index_of(rows: np.ndarray) -> np.ndarray:
        """Row of the itemset table holding each queried itemset."""
        query = np.full((len(rows), padded.shape[1]), _PAD, dtype=np.int32)
        query[:, :rows.shape[1]] = rows
        qkeys = _row_keys(query)
        pos = np.searchsorted(sorted_keys, qkeys)
        found = order[np.minimum(pos, len(order) - 1)]
        if not np.array_equal(keys[found], qkeys):
            raise DataError("an itemset's subset is missing from the itemset table; pass "
                            "the complete table made by frequent_itemsets")
        return found

    ant_idx: list[np.ndarray] = []
    con_idx: list[np.ndarray] = []
    rule_idx: list[np.ndarray] = []
    for k in range(2, width + 1):
        check_cancelled(f"association rules of {k} items")
        members = np.flatnonzero(lengths == k)
        if not len(members):
            continue
        block = padded[members, :k]
        c_rule = counts[members]
        for r in range(k - 1, 0, -1):
            for ante_cols in combinations(range(k), r):
                ante = index_of(block[:, list(ante_cols)])
                # a ratio of counts, not min_confidence * count: 0.7 * 10 is 7.000000000000001
                ok = c_rule / counts[ante] >= min_confidence
                if not ok.any():
                    continue
                cons_cols = [j for j in range(k) if j not in ante_cols]
                ant_idx.append(ante[ok])
                con_idx.append(index_of(block[ok][:, cons_cols]))
                rule_idx.append(members[ok])
    if not rule_idx:
        return [], [], np.zeros((0, 3), dtype=np.int64)
    a = np.concatenate(ant_idx)
    c = np.concatenate(con_idx)
    whole = np.concatenate(rule_idx)
    stats = np.column_stack([counts[a], counts[c], counts[whole]])
    # antecedents and consequents are frequent itemsets themselves: reuse their frozensets
    return [sets[i] for i in a.tolist()], [sets[i] for i in c.tolist()], stats


def _metrics(counts: np.ndarray, n: int) -> dict[str, np.ndarray]:
    c_a, c_c, c_ac = counts[:, 0], counts[:, 1], counts[:, 2]
    s_a, s_c, s_ac = c_a / n, c_c / n, c_ac / n
    conf = c_ac / c_a
    with np.errstate(divide="ignore", invalid="ignore"):
        leverage = s_ac - s_a * s_c
        conviction = np.where(conf < 1.0, (1.0 - s_c) / (1.0 - conf), np.inf)
        denom = np.maximum(s_ac * (1 - s_a), s_a * (s_c - s_ac))
        zhang = np.where(denom == 0, 0.0, leverage / denom)
        certainty = np.where(s_c == 1.0, 0.0, (conf - s_c) / (1.0 - s_c))
    return {
        "antecedent_support": s_a,
        "consequent_support": s_c,
        "support": s_ac,
        "confidence": conf,
        "lift": conf / s_c,
        "leverage": leverage,
        "conviction": conviction,
        "zhangs_metric": zhang,
        "jaccard": s_ac / (s_a + s_c - s_ac),
        "certainty": certainty,
        "kulczynski": (c_ac / c_a + c_ac / c_c) / 2,
    }


def rules_from_itemsets(
    itemsets: pd.DataFrame,
    *,
    min_confidence: float = 0.8,
    n_baskets: int | None = None,
    filters: Mapping[str, float] | None = None,
    prune_redundant: bool = False,
) -> pd.DataFrame:
    """Association rules from a frequent-itemset table (as made by :func:`frequent_itemsets`).

    Every split of every frequent itemset ``I`` into a non-empty antecedent ``A`` and
    consequent ``C = I \\ A`` is a candidate, as in mlxtend (arules keeps one-item
    consequents only). ``support`` is the support of ``A ∪ C`` (arules, mlxtend).

    Parameters
    ----------
    itemsets
        Columns ``itemsets`` (frozenset) and ``count``; ``attrs["n_baskets"]`` or
        ``n_baskets`` gives the number of baskets.
    min_confidence
        Minimum confidence, compared exactly as a ratio of counts.
    filters
        Further minimum values, ``{"lift": 1.5, "leverage": 0.001}``: a rule is kept when
        every named metric is at least its value.
    prune_redundant
        Drop redundant rules (see :func:`remove_redundant`).

    Returns
    -------
    pandas.DataFrame
        ``antecedents``, ``consequents``, the :data:`METRICS` and ``count``, sorted by lift,
        then confidence, then support (descending).
    """
    for col in ("itemsets", "count"):
        if col not in itemsets.columns:
            raise MissingColumnError(
                f"the itemset table needs column {col!r}; columns found: {list(itemsets.columns)}"
            )
    n = n_baskets if n_baskets is not None else itemsets.attrs.get("n_baskets")
    if not n:
        raise DataError(
            "the number of baskets is unknown: pass n_baskets= or a table made by "
            "frequent_itemsets (which records it in attrs['n_baskets'])"
        )
    if not 0 <= min_confidence <= 1:
        raise DataError(f"min_confidence must be in [0, 1], got {min_confidence!r}")
    unknown = sorted(set(filters or {}) - set(METRICS))
    if unknown:
        raise DataError(f"cannot filter on {unknown}: rule metrics are {list(METRICS)}")
    if "length" not in itemsets.columns:
        itemsets = itemsets.assign(length=[len(s) for s in itemsets["itemsets"]])
    ants, cons, counts = _generate(itemsets, int(n), min_confidence)
    metrics = _metrics(counts, int(n))
    rules = pd.DataFrame({"antecedents": ants, "consequents": cons, **metrics,
                          "count": counts[:, 2]})
    if filters:
        keep = np.ones(len(rules), dtype=bool)
        for name, threshold in filters.items():
            keep &= rules[name].to_numpy() >= threshold
        rules = rules[keep]
    if prune_redundant:
        rules = remove_redundant(rules)
    order = np.lexsort((-rules["support"].to_numpy(), -rules["confidence"].to_numpy(),
                        -rules["lift"].to_numpy()))
    return rules.iloc[order].reset_index(drop=True)


def remove_redundant(rules: pd.DataFrame, *, measure: str = "confidence") -> pd.DataFrame:
    """Drop rules that a more general rule explains as well.

    A rule ``A → C`` is redundant when a rule ``A' → C`` with ``A' ⊂ A`` (same consequent,
    fewer conditions) is in the set with ``measure`` at least as high: adding items to the
    antecedent brought no improvement (Bayardo, Agrawal & Gunopulos 2000; arules'
    ``is.redundant``).

    References
    ----------
    Bayardo, R. J., Agrawal, R. & Gunopulos, D. (2000). Constraint-based rule mining in
    large, dense databases. Data Mining and Knowledge Discovery 4, 217–240.
    """
    if measure not in rules.columns:
        raise MissingColumnError(
            f"rules have no column {measure!r}; columns: {list(rules.columns)}"
        )
    best: dict[tuple[frozenset[Hashable], frozenset[Hashable]], float] = dict(
        zip(zip(rules["antecedents"], rules["consequents"], strict=True),
            rules[measure].tolist(), strict=True)
    )
    keep = []
    for ant, con, value in zip(rules["antecedents"], rules["consequents"],
                               rules[measure].tolist(), strict=True):
        redundant = False
        items = tuple(ant)
        for r in range(1, len(items)):
            for combo in combinations(items, r):
                general = best.get((frozenset(combo), con))
                if general is not None and general >= value:
                    redundant = True
                    break
            if redundant:
                break
        keep.append(not redundant)
    return rules[np.array(keep, dtype=bool)].reset_index(drop=True)


def mine_rules(
    baskets: Iterable[Iterable[Hashable]],
    min_support: float,
    min_confidence: float = 0.8,
    *,
    max_len: int | None = None,
    algorithm: Algorithm = "fpgrowth",
    filters: Mapping[str, float] | None = None,
    prune_redundant: bool = False,
    max_item_support: float | None = None,
    max_itemsets: int | None = 2_000_000,
) -> BasketRules:
    """Frequent itemsets and association rules in one run; see :func:`association_rules`."""
    data = as_baskets(baskets)
    itemsets, n = _itemset_table(
        data, min_support, max_len=max_len, algorithm=algorithm,
        max_item_support=max_item_support, max_itemsets=max_itemsets,
    )
    rules = rules_from_itemsets(itemsets, min_confidence=min_confidence, n_baskets=n,
                                filters=filters, prune_redundant=prune_redundant)
    return BasketRules(itemsets=itemsets, rules=rules, n_baskets=n, min_support=min_support,
                       min_confidence=min_confidence,
                       params={"max_len": max_len, "algorithm": algorithm,
                               "filters": dict(filters or {}),
                               "prune_redundant": prune_redundant})


def association_rules(
    baskets: Iterable[Iterable[Hashable]],
    min_support: float,
    min_confidence: float = 0.8,
    *,
    max_len: int | None = None,
    algorithm: Algorithm = "fpgrowth",
    filters: Mapping[str, float] | None = None,
    prune_redundant: bool = False,
    max_item_support: float | None = None,
    max_itemsets: int | None = 2_000_000,
) -> pd.DataFrame:
    """Association rules ``A → C`` among the baskets.

    Parameters
    ----------
    baskets
        An iterable of item lists: one per order, or one per customer, at product level or
        mapped to a hierarchy level with :func:`map_hierarchy`.
    min_support
        Minimum support of ``A ∪ C`` (fraction of baskets).
    min_confidence
        Minimum ``P(C | A)``; a rule exactly at the threshold is kept.
    max_len, algorithm, max_item_support, max_itemsets
        As in :func:`frequent_itemsets`.
    filters
        Minimum values of further metrics, e.g. ``{"lift": 2}``.
    prune_redundant
        Drop rules whose antecedent can lose items without losing confidence.

    Returns
    -------
    pandas.DataFrame
        ``antecedents``, ``consequents`` (frozensets), ``antecedent_support``,
        ``consequent_support``, ``support``, ``confidence``, ``lift``, ``leverage``,
        ``conviction``, ``zhangs_metric``, ``jaccard``, ``certainty``, ``kulczynski`` and
        ``count``.

    References
    ----------
    Agrawal, R. & Srikant, R. (1994). Fast algorithms for mining association rules. VLDB '94.
    Brin, S., Motwani, R., Ullman, J. D. & Tsur, S. (1997). Dynamic itemset counting and
    implication rules for market basket data (conviction). SIGMOD '97.
    Zhang, T. (2000). Association rules. PAKDD 2000 (Zhang's metric).

    Examples
    --------
    >>> r = association_rules([["a", "b"], ["a", "b"], ["a"], ["c"]], 0.5, 0.6)
    >>> [(sorted(a), sorted(c), round(x, 2)) for a, c, x in
    ...  zip(r["antecedents"], r["consequents"], r["confidence"])]
    [(['b'], ['a'], 1.0), (['a'], ['b'], 0.67)]
    """
    return mine_rules(
        baskets, min_support, min_confidence, max_len=max_len, algorithm=algorithm,
        filters=filters, prune_redundant=prune_redundant, max_item_support=max_item_support,
        max_itemsets=max_itemsets,
    ).rules
