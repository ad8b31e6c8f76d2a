"""A fitted CART tree read back as plain-language rules in the user's own column names."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmine._format import fmt_number

__all__ = ["FeatureMap", "tree_nodes", "tree_rules"]

SEP = "\x1f"  # joins column and level in one-hot output names; never in real column names


@dataclass(frozen=True, slots=True)
class FeatureMap:
    """What each column of a preprocessed matrix means in the user's terms.

    ``kinds[i]`` is ``"num"`` (the column itself), ``"missing"`` (its missing indicator) or
    ``"cat"`` (one level of a categorical column, ``levels[i]``).
    """

    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    levels: tuple[object, ...]
    integer_columns: frozenset[str]
    categories: dict[str, tuple[object, ...]]

    @classmethod
    def from_names(
        cls, names: list[str], numeric: tuple[str, ...], integer_columns: frozenset[str]
    ) -> FeatureMap:
        columns: list[str] = []
        kinds: list[str] = []
        levels: list[object] = []
        categories: dict[str, list[object]] = {}
        for name in names:
            if SEP in name:
                col, level = name.split(SEP, 1)
                columns.append(col)
                kinds.append("cat")
                levels.append(level)
                categories.setdefault(col, []).append(level)
            elif name.startswith("missingindicator_") and name[17:] in numeric:
                columns.append(name[17:])
                kinds.append("missing")
                levels.append(None)
            else:
                columns.append(name)
                kinds.append("num")
                levels.append(None)
        return cls(tuple(columns), tuple(kinds), tuple(levels), integer_columns,
                   {k: tuple(v) for k, v in categories.items()})  # fmt: skip


def _level_text(level: object) -> str:
    text = str(level)
    if text == "infrequent_sklearn":
        return "(other)"
    return "(missing)" if text in ("nan", "None", "<NA>") else text


def _fmt(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return fmt_number(value, digits=4)


def _describe(col: str, fmap: FeatureMap, cond: dict[str, object]) -> str:
    if "missing" in cond:
        return f"{col} is missing" if cond["missing"] else f"{col} is known"
    if "in" in cond or "not_in" in cond:
        levels = fmap.categories.get(col, ())
        if "in" in cond:
            return f"{col} = {_level_text(cond['in'])}"
        excluded = cond["not_in"]
        assert isinstance(excluded, list)
        remaining = [lv for lv in levels if lv not in excluded]
        if remaining and len(remaining) <= len(excluded):
            if len(remaining) == 1:
                return f"{col} = {_level_text(remaining[0])}"
            return f"{col} in {{{', '.join(_level_text(v) for v in remaining)}}}"
        if len(excluded) == 1:
            return f"{col} ≠ {_level_text(excluded[0])}"
        return f"{col} not in {{{', '.join(_level_text(v) for v in excluded)}}}"
    lo = cond.get("gt")
    hi = cond.get("le")
    integer = col in fmap.integer_columns
    parts = []
    if lo is not None:
        assert isinstance(lo, float)
        parts.append(f"{col} ≥ {_fmt(math.floor(lo) + 1)}" if integer else f"{col} > {_fmt(lo)}")
    if hi is not None:
        assert isinstance(hi, float)
        parts.append(f"{col} ≤ {_fmt(math.floor(hi))}" if integer else f"{col} ≤ {_fmt(hi)}")
    if lo is not None and hi is not None:
        assert isinstance(lo, float) and isinstance(hi, float)
        low = _fmt(math.floor(lo) + 1) if integer else f"> {_fmt(lo)}"
        return (f"{col} {low}–{_fmt(math.floor(hi))}" if integer
                else f"{_fmt(lo)} < {col} ≤ {_fmt(hi)}")  # fmt: skip
    return parts[0]


def _add(conds: dict[str, dict[str, object]], fmap: FeatureMap, feature: int, threshold: float,
         right: bool) -> None:  # fmt: skip
    col, kind = fmap.columns[feature], fmap.kinds[feature]
    cond = conds.setdefault(col, {})
    if kind == "missing":
        cond["missing"] = right  # indicator > 0.5 means missing
    elif kind == "cat":
        level = fmap.levels[feature]
        if right:  # one-hot > 0.5: the customer has this level
            cond.clear()
            cond["in"] = level
        elif "in" not in cond:
            excluded = cond.setdefault("not_in", [])
            assert isinstance(excluded, list)
            excluded.append(level)
    elif right:
        cond["gt"] = max(float(cond.get("gt", -np.inf)), threshold)  # type: ignore[arg-type]
    else:
        cond["le"] = min(float(cond.get("le", np.inf)), threshold)  # type: ignore[arg-type]


_Path = tuple[int, int, dict[str, dict[str, object]], str]


def _walk(tree: object, fmap: FeatureMap) -> list[_Path]:
    """(node, parent, conditions on the path, split text of the edge) for every node."""
    t = tree.tree_  # type: ignore[attr-defined]
    out: list[_Path] = []
    stack: list[_Path] = [(0, -1, {}, "all customers")]
    while stack:
        node, parent, conds, edge = stack.pop()
        out.append((node, parent, conds, edge))
        left, right = t.children_left[node], t.children_right[node]
        if left == right:
            continue
        feature, threshold = int(t.feature[node]), float(t.threshold[node])
        for child, is_right in ((right, True), (left, False)):
            child_conds = {k: {kk: (list(vv) if isinstance(vv, list) else vv)
                               for kk, vv in v.items()} for k, v in conds.items()}  # fmt: skip
            _add(child_conds, fmap, feature, threshold, is_right)
            col = fmap.columns[feature]
            single: dict[str, dict[str, object]] = {}
            _add(single, fmap, feature, threshold, is_right)
            stack.append((child, node, child_conds, _describe(col, fmap, single[col])))
    return out


def tree_nodes(tree: object, fmap: FeatureMap) -> pd.DataFrame:
    """Every node of the tree: ``node``, ``parent``, ``split`` (the condition leading to it),
    ``customers``, ``churn_rate``, ``is_leaf`` — what a tree diagram needs."""
    t = tree.tree_  # type: ignore[attr-defined]
    rows = []
    for node, parent, _conds, edge in _walk(tree, fmap):
        rows.append({
            "node": node, "parent": parent, "split": edge,
            "customers": int(t.n_node_samples[node]),
            "churn_rate": float(t.value[node, 0, 1] / t.value[node, 0].sum()),
            "is_leaf": bool(t.children_left[node] == t.children_right[node]),
        })  # fmt: skip
    return pd.DataFrame(rows).sort_values("node").reset_index(drop=True)


def tree_rules(tree: object, fmap: FeatureMap, base_rate: float | None = None) -> pd.DataFrame:
    """One rule per leaf, riskiest first.

    Columns: ``rule`` ("Contract = Month-to-month and tenure ≤ 16 → 55% churn, 812
    customers"), ``conditions`` (the if-part), ``churn_rate``, ``customers``, ``share`` of all
    customers, ``lift`` over the overall churn rate.

    References
    ----------
    Breiman, L., Friedman, J., Olshen, R. & Stone, C. (1984). *Classification and Regression
    Trees*. Wadsworth.
    """
    t = tree.tree_  # type: ignore[attr-defined]
    total = int(t.n_node_samples[0])
    base = float(t.value[0, 0, 1] / t.value[0, 0].sum()) if base_rate is None else base_rate
    rows = []
    for node, _parent, conds, _edge in _walk(tree, fmap):
        if t.children_left[node] != t.children_right[node]:
            continue
        rate = float(t.value[node, 0, 1] / t.value[node, 0].sum())
        n = int(t.n_node_samples[node])
        text = " and ".join(_describe(col, fmap, c) for col, c in conds.items()) or "everyone"
        rows.append({
            "rule": f"{text} → {rate:.0%} churn, {n:,} customers",
            "conditions": text, "churn_rate": rate, "customers": n,
            "share": n / total, "lift": rate / base if base > 0 else np.nan,
        })  # fmt: skip
    frame = pd.DataFrame(rows).sort_values(["churn_rate", "customers"], ascending=[False, False])
    return frame.reset_index(drop=True)
