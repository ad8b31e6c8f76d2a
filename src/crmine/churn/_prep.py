"""Preparing a user's customer table for the churn models: column typing, ids, leakage guard.

The user hands over a flat table (one row per customer) with whatever columns they have. This
module decides, column by column, how each one is used and says why when one is not: an
identifier is never a feature, numbers stored as text (``TotalCharges`` in IBM's Telco sample,
with blanks) are read as numbers with the blanks missing, and a column that on its own gives the
label away is excluded as leakage.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from crmine.exceptions import CrmineWarning, DataError, MissingColumnError

__all__ = ["ColumnPlan", "LeakageWarning", "encode_target", "plan_columns"]

MISSING_LEVEL = "(missing)"
# Words that make an integer/text column an identifier when its values are (nearly) unique.
_ID_NAME = re.compile(r"(^|_|\b)(id|key|uuid|guid|number|no)$|id$", re.IGNORECASE)
_POSITIVE = {"1", "yes", "y", "true", "t", "churn", "churned", "left", "lost", "1.0"}
_NEGATIVE = {"0", "no", "n", "false", "f", "stay", "stayed", "retained", "active", "0.0"}


class LeakageWarning(CrmineWarning):
    """A feature was excluded because it gives the label away (known only after the cut-off)."""


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """How each column of the user's table is used.

    Attributes
    ----------
    numeric, categorical : tuple of str
        The feature columns, by kind, in the user's own names.
    excluded : dict
        Column → reason for every column that is not a feature.
    notes : tuple of str
        Plain-language remarks (blank values read as missing, ids excluded ...).
    """

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    excluded: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` reduced to the feature columns with the types the models expect.

        Numbers stored as text are parsed (blanks → NaN); categories become strings with
        missing values kept as NaN (each model's pipeline decides how to encode them).
        """
        missing = [c for c in self.features if c not in X.columns]
        if missing:
            raise MissingColumnError(
                f"the table to score lacks feature column(s) {missing} the model was trained "
                f"with; columns found: {list(X.columns)}"
            )
        out = {}
        for col in self.numeric:
            out[col] = _to_number(X[col])
        for col in self.categorical:
            out[col] = _clean_levels(X[col])
        return pd.DataFrame(out, index=X.index)


def _clean_levels(s: pd.Series) -> np.ndarray:
    """Category values as stripped strings, blanks and missing as NaN.

    Works on the distinct values only (``pd.factorize``), so a million rows with a few
    levels cost a hash pass instead of a million string operations.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    clean = np.array([str(u).strip() or np.nan for u in uniques] + [np.nan], dtype=object)
    return clean[np.where(codes < 0, len(uniques), codes)]


class CodeEncoder(TransformerMixin, BaseEstimator):
    """Categories → integer codes (most frequent first, at most ``max_levels``), missing and
    unseen levels → NaN: what histogram gradient boosting needs for native categorical splits,
    an order of magnitude faster than ``OrdinalEncoder`` on object columns of millions of rows.
    """

    def __init__(self, max_levels: int = 250) -> None:
        self.max_levels = max_levels

    def fit(self, X: pd.DataFrame, y: object = None) -> CodeEncoder:
        self.levels_ = [
            pd.Index(pd.Series(X[c]).value_counts(dropna=True).index[: self.max_levels])
            for c in X.columns
        ]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.levels_)), dtype=np.float64)
        for j, (col, levels) in enumerate(zip(X.columns, self.levels_, strict=True)):
            codes = levels.get_indexer(X[col].to_numpy()).astype(np.float64)
            codes[codes < 0] = np.nan
            out[:, j] = codes
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([f"code_{j}" for j in range(len(self.levels_))], dtype=object)


def _to_number(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float)
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(float)
    cleaned = pd.Series(_clean_levels(s), index=s.index)
    return pd.to_numeric(cleaned, errors="coerce").astype(float)


def encode_target(y: pd.Series | np.ndarray | list[object], name: str = "target") -> np.ndarray:
    """The churn label as 0/1, accepting Yes/No, True/False, 1/0 and churned/retained.

    Raises
    ------
    DataError
        When values are missing or not recognisable as churned/retained; the message names
        the first rows and values.
    """
    s = pd.Series(y).reset_index(drop=True)
    if s.isna().any():
        rows = s.index[s.isna()][:5].tolist()
        raise DataError(f"{name} has missing values in rows {rows}; drop those rows or fill them")
    if pd.api.types.is_bool_dtype(s):
        out = s.to_numpy(dtype=int)
    else:
        text = s.astype(str).str.strip().str.lower()
        pos, neg = text.isin(_POSITIVE), text.isin(_NEGATIVE)
        bad = ~(pos | neg)
        if bad.any():
            rows = s.index[bad][:5].tolist()
            raise DataError(
                f"{name} must be a churn flag (1/0, Yes/No, True/False); rows {rows} hold "
                f"{s[bad].head(5).tolist()}"
            )
        out = pos.to_numpy(dtype=int)
    if out.min() == out.max():
        raise DataError(
            f"{name} has only one class ({'all churned' if out[0] else 'nobody churned'}); a "
            "churn model needs both churned and retained customers — widen the window or the data"
        )
    return out


def plan_columns(
    X: pd.DataFrame,
    *,
    id_columns: list[str] | None = None,
    exclude: list[str] | None = None,
    max_levels: int = 200,
) -> ColumnPlan:
    """Decide which columns are numeric/categorical features and which are left out, and why."""
    numeric: list[str] = []
    categorical: list[str] = []
    excluded: dict[str, str] = {}
    notes: list[str] = []
    n = len(X)
    forced_ids = set(id_columns or [])
    for col in exclude or []:
        if col not in X.columns:
            raise MissingColumnError(f"exclude names column {col!r}, not in {list(X.columns)}")
        excluded[col] = "excluded by the caller"
    for col in X.columns:
        if col in excluded:
            continue
        s = X[col]
        name = str(col)
        if col in forced_ids:
            excluded[col] = "identifier (given by the caller)"
            continue
        if s.isna().all():
            excluded[col] = "empty column"
            notes.append(f"{name}: every value is missing, not used")
            continue
        if pd.api.types.is_datetime64_any_dtype(s):
            excluded[col] = "date column (derive e.g. tenure in days before fitting)"
            notes.append(f"{name}: dates are not used directly; derive a duration from it")
            continue
        distinct = s.nunique(dropna=True)
        # One value plus blanks still says something (filled in or not); only a column with a
        # single value everywhere is useless.
        if distinct == 0 or (distinct == 1 and not s.isna().any()):
            excluded[col] = "constant"
            continue
        is_number = pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
        looks_id = _ID_NAME.search(name) is not None
        if (not pd.api.types.is_float_dtype(s)) and distinct >= 0.95 * n and (
            looks_id or not is_number
        ):
            excluded[col] = f"identifier ({distinct:,} distinct values in {n:,} rows)"
            notes.append(
                f"{name} looks like an identifier ({distinct:,} distinct values in {n:,} rows) "
                "and is not used as a feature"
            )
            continue
        if is_number:
            numeric.append(col)
            continue
        parsed = _to_number(s)
        text = s.astype("string").str.strip()
        blanks = int((text.isna() | (text == "")).sum())
        filled = int(len(s) - blanks)
        if filled and parsed.notna().sum() >= 0.98 * filled:
            numeric.append(col)
            unparsed = filled - int(parsed.notna().sum())
            if blanks or unparsed:
                notes.append(
                    f"{name}: numbers stored as text; {blanks + unparsed:,} blank or "
                    "non-numeric value(s) read as missing"
                )
            continue
        if distinct > max_levels:
            notes.append(
                f"{name}: {distinct:,} distinct values; the rarest are grouped as 'infrequent'"
            )
        categorical.append(col)
    if not numeric and not categorical:
        raise DataError(
            f"no usable feature columns among {list(X.columns)} (excluded: {excluded}); "
            "a churn model needs at least one attribute per customer"
        )
    return ColumnPlan(tuple(numeric), tuple(categorical), excluded, tuple(notes))


def leaking_columns(
    Xt: pd.DataFrame, y: np.ndarray, plan: ColumnPlan, *, threshold: float = 0.995
) -> dict[str, str]:
    """Columns that on their own reproduce the label (≥ ``threshold`` accuracy/AUC).

    A real driver never separates churners perfectly; a column that does was recorded after
    the customer left (a cancellation date, a churn reason, the label copied under another
    name), so using it would promise accuracy that disappears on tomorrow's customers.
    """
    from sklearn.metrics import roc_auc_score

    found: dict[str, str] = {}
    for col in plan.numeric:
        x = Xt[col].to_numpy(dtype=float)
        known = ~np.isnan(x)
        # Missingness itself can be the leak (a churn date only filled in for churners).
        if 0 < known.sum() < len(x):
            auc_missing = roc_auc_score(y, (~known).astype(float))
            auc_missing = max(auc_missing, 1 - auc_missing)
            if auc_missing >= threshold:
                found[col] = f"being filled in or not gives the label away (AUC {auc_missing:.3f})"
                continue
        if known.sum() < 10 or len(np.unique(y[known])) < 2:
            continue
        auc = roc_auc_score(y[known], x[known])
        auc = max(auc, 1 - auc)
        if auc >= threshold and known.mean() > 0.5:
            found[col] = f"separates churned from retained almost perfectly (AUC {auc:.3f})"
    for col in plan.categorical:
        levels = Xt[col].fillna(MISSING_LEVEL)
        rate = pd.Series(y).groupby(levels.to_numpy()).transform("mean").to_numpy()
        accuracy = float(np.mean((rate >= 0.5) == (y == 1)))
        if accuracy >= threshold and float(np.mean(np.minimum(rate, 1 - rate))) < 1 - threshold:
            found[col] = f"its values alone predict the label with {accuracy:.1%} accuracy"
    return found


def drop_leaks(
    Xt: pd.DataFrame, y: np.ndarray, plan: ColumnPlan, *, target: str = "target"
) -> ColumnPlan:
    """``plan`` without the leaking columns; warns with :class:`LeakageWarning` for each."""
    found = leaking_columns(Xt, y, plan)
    if not found:
        return plan
    for col, why in found.items():
        warnings.warn(
            f"column {col!r} excluded as leakage: {why}; it is most likely recorded after the "
            f"customer left, so it cannot be known at prediction time ({target})",
            LeakageWarning,
            stacklevel=3,
        )
    excluded = {**plan.excluded, **{c: f"leakage: {w}" for c, w in found.items()}}
    remaining_num = tuple(c for c in plan.numeric if c not in found)
    remaining_cat = tuple(c for c in plan.categorical if c not in found)
    if not remaining_num and not remaining_cat:
        raise DataError(
            f"every feature leaks the label ({list(found)}); only use columns known before the "
            "cut-off date"
        )
    notes = (*plan.notes, *(f"{c}: excluded as leakage ({w})" for c, w in found.items()))
    return ColumnPlan(remaining_num, remaining_cat, excluded, notes)


def _sorted_levels(values: list[object]) -> list[object]:
    try:
        return sorted(values)  # type: ignore[type-var]
    except TypeError:  # mixed types: order by text, as a stable fallback
        return sorted(values, key=str)


class LevelEncoder(TransformerMixin, BaseEstimator):
    """One-hot encoding of categories, as scikit-learn's ``OneHotEncoder`` with
    ``handle_unknown="infrequent_if_exist"``, ``min_frequency`` and ``max_categories``, but
    counted with pandas (a hash pass) instead of a Python loop over every value.

    ``OneHotEncoder`` counts object columns holding missing values item by item, which made
    it most of the time of a churn model comparison (13 s of 18 s on 18,000 rows × 6 columns;
    each permutation-importance prediction paid it again). The output is the same: per column
    the frequent levels in sorted order (missing last), then one ``infrequent_sklearn`` column
    when some levels are infrequent; unseen levels go to it (or to no column when there is
    none). ``categories_``, ``infrequent_categories_`` and ``get_feature_names_out`` read as
    ``OneHotEncoder``'s.
    """

    def __init__(
        self,
        *,
        min_frequency: int | None = None,
        max_categories: int | None = None,
        feature_name_combiner: Any = "concat",
        sparse_output: bool = False,
    ) -> None:
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.feature_name_combiner = feature_name_combiner
        self.sparse_output = sparse_output

    def fit(self, X: pd.DataFrame, y: object = None) -> LevelEncoder:
        frame = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.categories_: list[np.ndarray] = []
        self.infrequent_categories_: list[np.ndarray | None] = []
        self._lookup: list[tuple[dict[object, int], int]] = []  # level -> output column; NaN's
        self._frequent: list[list[int]] = []
        for j in range(frame.shape[1]):
            values = pd.Series(frame.iloc[:, j].to_numpy())
            counts = values.value_counts(dropna=True)
            n_missing = int(values.isna().sum())
            levels = _sorted_levels(list(counts.index)) + [np.nan] * (n_missing > 0)
            count = np.array([int(counts[v]) for v in levels[: len(counts)]]
                             + [n_missing] * (n_missing > 0), dtype=np.int64)
            infrequent = self._infrequent(count)
            self.categories_.append(np.array(levels, dtype=object))
            self.infrequent_categories_.append(
                np.array([levels[i] for i in infrequent], dtype=object) if len(infrequent)
                else None)  # fmt: skip
            frequent = [i for i in range(len(levels)) if i not in set(infrequent)]
            self._frequent.append(frequent)
            mapping: dict[object, int] = {}
            nan_col = -1
            for out, i in enumerate(frequent):
                if _is_missing(levels[i]):
                    nan_col = out
                else:
                    mapping[levels[i]] = out
            other = len(frequent) if len(infrequent) else -1
            for i in infrequent:
                if _is_missing(levels[i]):
                    nan_col = other
                else:
                    mapping[levels[i]] = other
            self._lookup.append((mapping, nan_col if nan_col >= 0 else other))
        self._widths = [len(c) - (0 if inf is None else len(inf)) + (inf is not None)
                        for c, inf in zip(self.categories_, self.infrequent_categories_,
                                          strict=True)]  # fmt: skip
        return self

    def _infrequent(self, count: np.ndarray) -> list[int]:
        # The rule of sklearn's OneHotEncoder._identify_infrequent.
        mask = (count < self.min_frequency if self.min_frequency is not None
                else np.zeros(len(count), dtype=bool))  # fmt: skip
        n_current = count.size - mask.sum() + 1
        if self.max_categories is not None and self.max_categories < n_current:
            keep = self.max_categories - 1
            if keep == 0:
                mask[:] = True
            else:
                mask[np.argsort(count, kind="mergesort")[:-keep]] = True
        return [int(i) for i in np.flatnonzero(mask)]

    def transform(self, X: pd.DataFrame) -> Any:
        frame = pd.DataFrame(X)
        n = len(frame)
        cols = np.empty((n, len(self._widths)), dtype=np.int64)
        start = 0
        for j, ((mapping, nan_col), width) in enumerate(zip(self._lookup, self._widths,
                                                            strict=True)):  # fmt: skip
            other = width - 1 if self.infrequent_categories_[j] is not None else -1
            codes, uniques = pd.factorize(pd.Series(frame.iloc[:, j].to_numpy()),
                                          use_na_sentinel=True)  # fmt: skip
            table = np.array([mapping.get(u, other) for u in uniques] + [nan_col], dtype=int)
            col = table[np.where(codes < 0, len(uniques), codes)]
            cols[:, j] = np.where(col >= 0, start + col, -1)
            start += width
        rows = np.repeat(np.arange(n), len(self._widths))
        flat = cols.ravel()
        hit = flat >= 0
        if self.sparse_output:
            from scipy import sparse

            return sparse.csr_matrix((np.ones(int(hit.sum())), (rows[hit], flat[hit])),
                                     shape=(n, start))  # fmt: skip
        out = np.zeros((n, start), dtype=np.float64)
        out[rows[hit], flat[hit]] = 1.0
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        names = (self.feature_names_in_ if input_features is None
                 else np.asarray(input_features, dtype=object))  # fmt: skip
        combine = (self.feature_name_combiner if callable(self.feature_name_combiner)
                   else lambda f, c: f"{f}_{c}")  # fmt: skip
        out: list[str] = []
        for j, levels in enumerate(self.categories_):
            out.extend(combine(str(names[j]), levels[i]) for i in self._frequent[j])
            if self.infrequent_categories_[j] is not None:
                out.append(combine(str(names[j]), "infrequent_sklearn"))
        return np.asarray(out, dtype=object)


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)
