"""Which rules fire for which customer: antecedent ⊆ history, for many customers at once.

A sparse product ``H @ A.T`` of the customer-by-item history matrix and the rule-by-item
antecedent matrix counts, for every customer and rule, how many antecedent items the customer
owns; the rule fires where that count equals the antecedent's size. Customers are processed
in blocks so memory stays bounded however many customers and rules there are.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import sparse

from crmine._progress import check_cancelled

__all__ = ["as_histories", "fired_rules", "history_matrix"]

_BLOCK = 2_000


def as_histories(
    histories: Mapping[Hashable, Iterable[Hashable]] | pd.Series,
) -> pd.Series:
    """Customer → list of distinct items, as a Series indexed by customer."""
    if isinstance(histories, pd.Series):
        series = histories
    else:
        series = pd.Series({k: list(v) for k, v in histories.items()}, dtype=object)
    return series.map(lambda items: list(dict.fromkeys(items)))


def history_matrix(
    histories: pd.Series, item_index: Mapping[Hashable, int]
) -> sparse.csr_matrix:
    """Binary customer × item matrix (items missing from ``item_index`` are ignored)."""
    rows: list[int] = []
    cols: list[int] = []
    for pos, items in enumerate(histories.tolist()):
        for item in items:
            col = item_index.get(item)
            if col is not None:
                rows.append(pos)
                cols.append(col)
    data = np.ones(len(rows), dtype=np.int32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(histories), len(item_index)))


def fired_rules(
    histories: pd.Series, antecedents: list[frozenset[Hashable]]
) -> pd.DataFrame:
    """Pairs (customer position, rule position) whose antecedent the customer fully owns.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer`` (row position in ``histories``) and ``rule`` (position in
        ``antecedents``).
    """
    items = sorted({i for a in antecedents for i in a}, key=str)
    index = {item: pos for pos, item in enumerate(items)}
    if not antecedents or not len(histories):
        return pd.DataFrame({"customer": np.array([], dtype=np.int64),
                             "rule": np.array([], dtype=np.int64)})
    a_rows = np.repeat(np.arange(len(antecedents)), [len(a) for a in antecedents])
    a_cols = np.fromiter((index[i] for a in antecedents for i in a), dtype=np.int64,
                         count=len(a_rows))
    ante = sparse.csr_matrix((np.ones(len(a_rows), dtype=np.int32), (a_rows, a_cols)),
                             shape=(len(antecedents), len(items)))
    sizes = np.diff(ante.indptr)
    hist = history_matrix(histories, index)
    customers: list[np.ndarray] = []
    rules: list[np.ndarray] = []
    for start in range(0, hist.shape[0], _BLOCK):
        check_cancelled("matching customers to rules")
        owned = (hist[start:start + _BLOCK] @ ante.T).tocoo()
        full = owned.data == sizes[owned.col]
        customers.append(owned.row[full].astype(np.int64) + start)
        rules.append(owned.col[full].astype(np.int64))
    return pd.DataFrame({"customer": np.concatenate(customers), "rule": np.concatenate(rules)})
