"""Baskets: the item lists that itemset mining counts.

A basket is the set of distinct items in one order (market-basket analysis) or in one
customer's whole history (customer-level cross-sell). Items can be products or any level of a
product hierarchy (category, brand), so the same miner finds "bread and butter" and
"bakery and dairy".
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Literal

import numpy as np
import pandas as pd

from crmine.exceptions import DataError, MissingColumnError

__all__ = ["as_baskets", "baskets_from_lines", "check_items", "group_items", "map_hierarchy"]

Basket = list[Hashable]


def as_baskets(baskets: Iterable[Iterable[Hashable]]) -> list[Basket]:
    """Validate an iterable of item lists and return it as a list of item sequences.

    Duplicates inside a basket are allowed; the miners count each item once per basket.
    Item values are checked where they matter, on the frequent items (see
    :func:`check_items`), so validation costs nothing per line of a large input.

    Raises
    ------
    DataError
        When a basket is a plain string (a common slip: ``"abc"`` would be three items) or
        not iterable; the message names the basket's position.
    """
    if isinstance(baskets, pd.Series):
        baskets = baskets.tolist()
    out: list[Basket] = []
    for pos, basket in enumerate(baskets):
        if isinstance(basket, (list, tuple)):
            out.append(basket)  # type: ignore[arg-type]
            continue
        if isinstance(basket, (str, bytes)):
            raise DataError(
                f"basket {pos} is the string {basket!r}, not a list of items; pass each basket "
                "as a list such as ['bread', 'milk']"
            )
        try:
            out.append(list(basket))
        except TypeError:
            raise DataError(
                f"basket {pos} is {basket!r}, not a list of items; pass an iterable of item lists"
            ) from None
    return out


def _is_missing(item: object) -> bool:
    return item is None or (isinstance(item, float) and item != item) or item is pd.NA


def check_items(items: Iterable[Hashable], baskets: Sequence[Basket]) -> None:
    """Fail on a missing item (``None``/NaN) among ``items``, naming the first basket holding it.

    A missing value would otherwise become an "item" of its own and pair with everything.
    """
    for item in items:
        if _is_missing(item):
            pos = next(
                i for i, b in enumerate(baskets) if any(_is_missing(x) for x in b)
            )
            raise DataError(
                f"basket {pos} contains a missing item ({item!r}), frequent enough to be mined; "
                "drop or fill missing items before mining"
            )


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MissingColumnError(
            f"{what} needs column(s) {missing}; columns found: {list(df.columns)}"
        )


def map_hierarchy(
    baskets: Iterable[Iterable[Hashable]],
    mapping: Mapping[Hashable, Hashable] | pd.Series,
    *,
    unmapped: Literal["keep", "drop", "error"] = "keep",
) -> list[Basket]:
    """Replace every item by its parent in a product hierarchy (category, brand ...).

    Several products of the same category collapse into one item per basket, so rules at the
    category level count baskets, not products.

    Parameters
    ----------
    baskets
        Item lists.
    mapping
        Item to parent (a dict or a Series indexed by item).
    unmapped
        What to do with an item the mapping does not know: keep it as it is, drop it, or
        raise :class:`DataError` naming it.
    """
    lookup = mapping.to_dict() if isinstance(mapping, pd.Series) else dict(mapping)
    out: list[Basket] = []
    for pos, basket in enumerate(baskets):
        parents: dict[Hashable, None] = {}
        for item in basket:
            parent = lookup.get(item)
            if parent is None or (isinstance(parent, float) and parent != parent):
                if unmapped == "error":
                    raise DataError(
                        f"item {item!r} in basket {pos} has no parent in the hierarchy mapping; "
                        "add it to the mapping or pass unmapped='keep' or 'drop'"
                    )
                if unmapped == "drop":
                    continue
                parent = item
            parents[parent] = None
        out.append(list(parents))
    return out


def baskets_from_lines(
    lines: pd.DataFrame,
    *,
    basket: str = "order_id",
    item: str = "product_id",
    hierarchy: Mapping[Hashable, Hashable] | pd.Series | None = None,
) -> pd.Series:
    """Group order lines (one row per line) into baskets of distinct items.

    Parameters
    ----------
    lines
        Order lines with the ``basket`` and ``item`` columns.
    basket
        Column whose values define one basket: ``order_id`` for market baskets,
        ``customer_id`` for one basket per customer.
    item
        The item column (``product_id``, or ``category``/``brand`` for hierarchy levels).
    hierarchy
        Optional item-to-parent mapping applied before grouping.

    Returns
    -------
    pandas.Series
        Indexed by the basket key (in order of first appearance), each value the list of
        distinct items in first-seen order.

    Examples
    --------
    >>> lines = pd.DataFrame({"order_id": [1, 1, 2], "product_id": ["a", "b", "a"]})
    >>> baskets_from_lines(lines).tolist()
    [['a', 'b'], ['a']]
    """
    _require(lines, [basket, item], "baskets_from_lines")
    frame = lines[[basket, item]]
    bad = frame[basket].isna() | frame[item].isna()
    if bad.any():
        row = frame.index[bad.to_numpy()][0]
        row = row.item() if hasattr(row, "item") else row
        col = basket if pd.isna(frame.loc[row, basket]) else item
        raise DataError(
            f"order lines have {int(bad.sum())} row(s) with a missing {basket!r} or {item!r} "
            f"(first at index {row}, column {col!r}); filter them out (e.g. anonymous lines "
            "have no customer_id) before building baskets"
        )
    if hierarchy is not None:
        lookup = hierarchy if isinstance(hierarchy, pd.Series) else pd.Series(dict(hierarchy))
        parent = frame[item].map(lookup)
        frame = frame.assign(**{item: parent.where(parent.notna(), frame[item])})
    grouped = group_items(frame, basket, item)
    grouped.name = "items"
    return grouped


def group_items(frame: pd.DataFrame, key: str, item: str, *, sort: bool = False) -> pd.Series:
    """The distinct ``item`` values of each ``key``, as lists in first-seen order.

    The same as ``frame.groupby(key, sort=sort)[item].agg(lambda s: list(dict.fromkeys(s)))``
    without a Python call per group (a hundred times faster for 100,000 orders). ``key`` and
    ``item`` must hold no missing value.

    Examples
    --------
    >>> lines = pd.DataFrame({"c": ["b", "a", "b", "b"], "p": ["x", "y", "z", "x"]})
    >>> group_items(lines, "c", "p").to_dict()
    {'b': ['x', 'z'], 'a': ['y']}
    >>> group_items(lines, "c", "p", sort=True).index.tolist()
    ['a', 'b']
    """
    codes, labels = pd.factorize(frame[key], sort=sort)
    item_codes, items = pd.factorize(frame[item])
    # the first line of each (key, item) pair, in the lines' order
    _, first = np.unique(codes.astype(np.int64) * max(len(items), 1) + item_codes,
                         return_index=True)
    first.sort()
    codes, item_codes = codes[first], item_codes[first]
    order = np.argsort(codes, kind="stable")
    values = np.asarray(items, dtype=object)[item_codes[order]].tolist()
    starts = np.searchsorted(codes[order], np.arange(len(labels) + 1)).tolist()
    lists = [values[a:b] for a, b in pairwise(starts)]
    index = pd.Index(labels, name=key)
    return pd.Series(lists, index=index, name=item, dtype=object)
