"""Frequent itemsets, counted by Christian Borgelt's C implementations (PyFIM).

The engine was chosen by measurement (``bench/bench_basket.py``): PyFIM's FP-Growth mines the
Online Retail invoices at 0.5 % support in about 0.2 s, two orders of magnitude faster than
mlxtend's pure-Python/pandas FP-Growth, and crmine's own code only adds the conversion to
frozensets and the rule metrics on top of it.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Hashable, Iterable
from itertools import chain, combinations
from typing import Any, Literal

import fim
import numpy as np
import pandas as pd

from crmine.basket._baskets import Basket, as_baskets, check_items
from crmine.exceptions import CrmineWarning, DataError

__all__ = ["ALGORITHMS", "frequent_itemsets", "min_count_for"]

Algorithm = Literal["fpgrowth", "eclat", "apriori"]
ALGORITHMS: dict[str, Any] = {"fpgrowth": fim.fpgrowth, "eclat": fim.eclat, "apriori": fim.apriori}


def min_count_for(min_support: float, n_baskets: int) -> int:
    """The smallest basket count that meets ``min_support`` (a fraction of ``n_baskets``).

    ``support >= min_support`` on fractions is ``count >= min_support * n``; the small
    tolerance keeps an exact threshold such as 0.001 × 10,000 = 10 from becoming 11 through
    floating-point error (arules does the same).
    """
    if not 0 < min_support <= 1:
        raise DataError(
            f"min_support must be a fraction in (0, 1], got {min_support!r}; "
            "e.g. 0.01 keeps itemsets present in at least 1 % of the baskets"
        )
    return max(1, math.ceil(min_support * n_baskets - 1e-9))


def _drop_common_items(
    baskets: list[Basket], n: int, max_item_support: float
) -> tuple[list[Basket], list[Hashable]]:
    """Remove items present in more than ``max_item_support`` of the baskets."""
    # counted here, not by PyFIM, which drops the items present in every basket
    counts = Counter(chain.from_iterable(map(set, baskets)))
    limit = max_item_support * n
    common = {item for item, count in counts.items() if count > limit}
    if not common:
        return baskets, []
    kept = [[i for i in b if i not in common] for b in baskets]
    return kept, sorted(common, key=str)


def _mine(
    baskets: list[Basket],
    *,
    min_count: int,
    max_len: int | None,
    algorithm: str,
    max_itemsets: int | None,
) -> list[tuple[tuple[Hashable, ...], int]]:
    try:
        miner = ALGORITHMS[algorithm]
    except KeyError:
        raise DataError(
            f"algorithm must be one of {sorted(ALGORITHMS)}, got {algorithm!r}"
        ) from None
    limits = {"zmax": max_len} if max_len is not None else {}  # pyfim rejects zmax=None
    if max_itemsets is not None:
        _check_explosion(baskets, min_count=min_count, max_len=max_len,
                         max_itemsets=max_itemsets)
    result: list[tuple[tuple[Hashable, ...], int]] = miner(
        baskets, target="s", supp=-min_count, zmin=1, report="a", **limits
    )
    if max_itemsets is not None and len(result) > max_itemsets:
        raise DataError(
            f"{len(result):,} frequent itemsets exceed max_itemsets={max_itemsets:,}; raise "
            "min_support, set max_len, or raise max_itemsets"
        )
    return result


def _check_explosion(
    baskets: list[Basket], *, min_count: int, max_len: int | None, max_itemsets: int
) -> None:
    """Refuse, before enumerating, a mining run whose output alone would exceed the cap.

    Every subset of a frequent itemset is frequent, so one maximal frequent itemset of ``z``
    items implies at least ``sum_{k<=max_len} C(z, k)`` frequent itemsets. Only maximal sets
    at least that long need to be found, which FP-Growth's head-union-tail pruning does
    without listing their subsets: items present in (nearly) every basket or a few huge
    baskets at a tiny support fail here in milliseconds instead of filling the memory.
    """
    # No frequent itemset is longer than the min_count-th longest basket.
    lengths = np.fromiter(map(len, baskets), dtype=np.int64, count=len(baskets))
    if len(lengths) < min_count:
        return
    longest = int(np.partition(lengths, len(lengths) - min_count)[len(lengths) - min_count])
    # the smallest z whose subsets alone exceed the cap
    z = 1
    while _n_subsets(z, max_len) <= max_itemsets:
        z += 1
        if z > longest:
            return
    # only baskets with at least z items can hold an itemset of z items, and they hold all
    # of its occurrences, so the check reads just those (a few percent of most data sets)
    long = [b for b, size in zip(baskets, lengths.tolist(), strict=True) if size >= z]
    if len(long) < min_count:
        return
    big = fim.fpgrowth(long, target="m", supp=-min_count, zmin=z, report="a")
    if not big:
        # PyFIM does not report a set made only of items present in every transaction it
        # was given (see _universal_itemsets), e.g. one huge basket at a count of 1
        shared = set(long[0]).intersection(*long[1:])
        if len(shared) >= z:
            big = [(tuple(shared), len(long))]
    if big:
        items, count = max(big, key=lambda r: len(r[0]))
        shown = ", ".join(map(repr, list(items)[:8])) + (" …" if len(items) > 8 else "")
        raise DataError(
            f"mining would produce more than max_itemsets={max_itemsets:,} itemsets: the "
            f"{len(items)} items {{{shown}}} occur together in {count:,} baskets, so every one "
            f"of their {_say_count(_n_subsets(len(items), max_len))} combinations is "
            "frequent. Drop items present in (almost) every basket (max_item_support=0.5), "
            "set max_len, raise "
            "min_support or split huge baskets"
        )


def _n_subsets(z: int, max_len: int | None) -> int:
    if max_len is None or max_len >= z:
        return 2**z - 1
    return sum(math.comb(z, k) for k in range(1, max_len + 1))


def _say_count(count: int) -> str:
    return f"{count:,}" if count < 10**15 else f"about 10^{len(str(count)) - 1}"


def _universal_itemsets(
    raw: list[tuple[tuple[Hashable, ...], int]],
    data: list[Basket],
    *,
    max_len: int | None,
    max_itemsets: int | None,
) -> list[tuple[tuple[Hashable, ...], int]]:
    """The itemsets made only of items present in every basket, which PyFIM leaves out.

    PyFIM (6.x) treats items contained in all transactions as perfect extensions of the
    empty set and, as the empty set is not reported, never reports their own combinations
    (measured: ``[[x, y], [x, y], [y]]`` at count 2 yields ``{x}`` and ``{x, y}`` but not
    ``{y}``). Every such combination has support 1, so they are added here.
    """
    singletons = {items[0] for items, _ in raw if len(items) == 1}
    candidates = dict.fromkeys(data[0]) if data else {}
    universal = [c for c in candidates
                 if c not in singletons and all(c in b for b in data)]
    if not universal:
        return []
    if max_itemsets is not None and _n_subsets(len(universal), max_len) > max_itemsets:
        raise DataError(
            f"the {len(universal)} items {universal[:8]} are in every basket, so their "
            f"{_say_count(_n_subsets(len(universal), max_len))} combinations exceed max_itemsets="
            f"{max_itemsets:,}; drop them (max_item_support=0.99) or set max_len"
        )
    top = len(universal) if max_len is None else min(len(universal), max_len)
    n = len(data)
    return [(combo, n) for k in range(1, top + 1) for combo in combinations(universal, k)]


def frequent_itemsets(
    baskets: Iterable[Iterable[Hashable]],
    min_support: float,
    *,
    max_len: int | None = None,
    algorithm: Algorithm = "fpgrowth",
    max_item_support: float | None = None,
    max_itemsets: int | None = 2_000_000,
) -> pd.DataFrame:
    """Itemsets present in at least ``min_support`` of the baskets.

    Parameters
    ----------
    baskets
        An iterable of item lists (one per order or per customer); duplicates inside a basket
        count once.
    min_support
        Minimum fraction of baskets containing the itemset, in (0, 1].
    max_len
        Longest itemset to report (None: no limit).
    algorithm
        ``"fpgrowth"`` (Han, Pei & Yin 2000; default), ``"eclat"`` (Zaki 2000) or
        ``"apriori"`` (Agrawal & Srikant 1994), all Borgelt's C implementations; they find
        the same itemsets.
    max_item_support
        Items present in more than this fraction of baskets are removed first, with a
        :class:`CrmineWarning`: an item in every basket doubles the number of itemsets and
        carries no information (its lift with anything is 1).
    max_itemsets
        Refuse (with :class:`DataError`, before enumerating where it can be foreseen) to
        produce more itemsets than this; None removes the cap.

    Returns
    -------
    pandas.DataFrame
        Columns ``itemsets`` (frozenset), ``support`` (fraction), ``count`` (baskets) and
        ``length``, sorted by support (descending) then length; ``attrs["n_baskets"]``
        holds the number of baskets.

    References
    ----------
    Agrawal, R., Imieliński, T. & Swami, A. (1993). Mining association rules between sets of
    items in large databases. SIGMOD '93, 207–216.
    Han, J., Pei, J. & Yin, Y. (2000). Mining frequent patterns without candidate generation.
    SIGMOD '00, 1–12.
    Borgelt, C. (2012). Frequent item set mining. WIREs Data Mining and Knowledge Discovery
    2(6), 437–456.

    Examples
    --------
    >>> fi = frequent_itemsets([["a", "b"], ["a", "b", "c"], ["a"]], min_support=0.6)
    >>> sorted((sorted(s), c) for s, c in zip(fi["itemsets"], fi["count"]))
    [(['a'], 3), (['a', 'b'], 2), (['b'], 2)]
    """
    data = as_baskets(baskets)
    table, _ = _itemset_table(
        data, min_support, max_len=max_len, algorithm=algorithm,
        max_item_support=max_item_support, max_itemsets=max_itemsets,
    )
    return table


def _itemset_table(
    data: list[Basket],
    min_support: float,
    *,
    max_len: int | None,
    algorithm: str,
    max_item_support: float | None,
    max_itemsets: int | None,
) -> tuple[pd.DataFrame, int]:
    n = len(data)
    if max_len is not None and max_len < 1:
        raise DataError(f"max_len must be at least 1 (or None for no limit), got {max_len!r}")
    min_count = min_count_for(min_support, n)
    if n == 0:
        raise DataError("no baskets to mine: the input is empty")
    if max_item_support is not None:
        if not 0 < max_item_support <= 1:
            raise DataError(f"max_item_support must be in (0, 1], got {max_item_support!r}")
        data, dropped = _drop_common_items(data, n, max_item_support)
        if dropped:
            warnings.warn(
                f"{len(dropped)} item(s) present in more than {max_item_support:.0%} of the "
                f"baskets were left out of the mining: {dropped[:10]}",
                CrmineWarning, stacklevel=3,
            )
    raw = _mine(data, min_count=min_count, max_len=max_len, algorithm=algorithm,
                max_itemsets=max_itemsets)
    raw = raw + _universal_itemsets(raw, data, max_len=max_len, max_itemsets=max_itemsets)
    check_items((items[0] for items, _ in raw if len(items) == 1), data)
    sets = [frozenset(items) for items, _ in raw]
    counts = np.fromiter((c for _, c in raw), dtype=np.int64, count=len(raw))
    lengths = np.fromiter((len(items) for items, _ in raw), dtype=np.int64, count=len(raw))
    table = pd.DataFrame({"itemsets": sets, "support": counts / n, "count": counts,
                          "length": lengths})
    order = np.lexsort((lengths, -counts))
    table = table.iloc[order].reset_index(drop=True)
    table.attrs["n_baskets"] = n
    return table, n
