"""Cube filters: ``column<op>value`` conditions, parsed, validated against the cube's columns
and values, and turned into a SQL ``WHERE`` with bound parameters.

Only whitelisted, quoted column names are part of the SQL text, and values only as typed
SQL literals (:func:`literal`: a string's quotes doubled, numbers checked to be numbers).
Literals, not bound parameters: binding a parameter makes DuckDB's Python client import pandas
(half a second), which a count from the shell should not pay.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crmine.exceptions import DataError, MissingColumnError

__all__ = ["OPS", "Filter", "checked_filters", "literal", "parse_where", "quote",
           "where_sql"]

OPS = ("!=", ">=", "<=", "=", ">", "<")
# A column with this many distinct values or more (names, ids) is not checked value by value.
_CHECKED_VALUES = 1000


@dataclass(frozen=True, slots=True)
class Filter:
    """One condition: ``column op value(s)``; several values with "=" mean "any of them"."""

    column: str
    op: str
    values: tuple[Any, ...]

    def __str__(self) -> str:
        return f"{self.column}{self.op}{','.join(map(str, self.values))}"


Where = str | Filter | Mapping[str, Any] | Sequence[str | Filter] | None


def parse_where(where: Where) -> list[Filter]:
    """Filters from ``["gender=F", "age>=30", "city=Shanghai,Beijing"]``, a mapping
    ``{"gender": "F", "city": ["Shanghai", "Beijing"]}`` or ``Filter`` objects.

    Examples
    --------
    >>> parse_where(["city=Shanghai,Beijing", "age>=30"])
    [Filter(column='city', op='=', values=('Shanghai', 'Beijing')), Filter(column='age', op='>=', values=('30',))]
    >>> parse_where({"gender": "F"})
    [Filter(column='gender', op='=', values=('F',))]
    """  # noqa: E501
    if where is None:
        return []
    if isinstance(where, Filter):
        return [where]
    if isinstance(where, Mapping):
        out = []
        for col, val in where.items():
            vals = tuple(val) if isinstance(val, (list, tuple, set, frozenset)) else (val,)
            out.append(Filter(str(col), "=", vals))
        return out
    items: Sequence[str | Filter] = [where] if isinstance(where, str) else where
    out = []
    for item in items:
        if isinstance(item, Filter):
            out.append(item)
            continue
        text = str(item)
        m = re.match(r"^\s*([^!<>=]+?)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*$", text)
        if not m:
            raise DataError(f"filter {text!r} is not of the form column=value (operators: "
                            f"{', '.join(OPS)}; several values: city=Shanghai,Beijing)")
        col, op, raw = m.groups()
        vals = tuple(v.strip() for v in raw.split(",")) if op in ("=", "!=") else (raw,)
        out.append(Filter(col, op, vals))
    return out


def quote(column: str) -> str:
    """``column`` as a quoted SQL identifier."""
    return '"' + column.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """``value`` as a DuckDB SQL literal of its type.

    Examples
    --------
    >>> literal("x' OR '1'='1"), literal(3.0), literal(True)
    ("'x'' OR ''1''=''1'", "'3.0'::DOUBLE", 'TRUE')
    """
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "'NaN'::DOUBLE"
        if math.isinf(value):
            return "'Infinity'::DOUBLE" if value > 0 else "'-Infinity'::DOUBLE"
        # Typed: a bare 0.028732260665555658 is a DECIMAL in DuckDB, a rounding away from
        # the float, and a filter on a score's own value then missed it.
        return f"'{float(value)!r}'::DOUBLE"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    text = str(value).replace("\x00", "")
    return "'" + text.replace("'", "''") + "'"


def _coerce(f: Filter, kind: str, distinct: Callable[[str], list[Any]],
            subject: str = "customer") -> list[Any]:
    out: list[Any] = []
    for raw in f.values:
        if kind == "number":
            try:
                out.append(float(raw))
            except (TypeError, ValueError):
                raise DataError(f"filter {f}: {f.column} is numeric, {raw!r} is not a number"
                                ) from None
        elif kind == "bool":
            s = str(raw).strip().lower()
            if s not in ("true", "false", "1", "0", "yes", "no"):
                raise DataError(f"filter {f}: {f.column} is true/false, not {raw!r}")
            out.append(s in ("true", "1", "yes"))
        elif kind == "date":
            import pandas as pd

            try:
                ts = pd.Timestamp(raw)
            except (TypeError, ValueError):  # pandas' DateParseError is a ValueError
                ts = pd.NaT
            if pd.isna(ts):
                raise DataError(f"filter {f}: {raw!r} is not a date (use YYYY-MM-DD)")
            out.append(ts.to_pydatetime())
        else:
            out.append(str(raw))
    if kind == "text" and f.op in ("=", "!="):
        valid = distinct(f.column)
        valid_set = {str(v) for v in valid}
        bad = [v for v in out if v not in valid_set] if len(valid) < _CHECKED_VALUES else []
        if bad:
            shown = ", ".join(map(str, valid[:40])) + (" …" if len(valid) > 40 else "")
            raise DataError(f"filter {f}: no {subject} has {f.column} = {bad[0]!r}; valid values "
                            f"of {f.column}: {shown}")
    return out


def checked_filters(kinds: Mapping[str, str], filters: Sequence[Filter],
                    distinct: Callable[[str], list[Any]], *, subject: str = "customer"
                    ) -> list[tuple[Filter, list[Any]]]:
    """Each filter with its values coerced to its column's kind, after checking the column,
    the operator and (for text) the values: the one check of every query path."""
    out = []
    for f in filters:
        if f.column not in kinds:
            raise MissingColumnError(
                f"unknown cube dimension {f.column!r}; valid: {', '.join(sorted(kinds))}")
        if f.op not in OPS:
            raise DataError(f"filter {f}: unknown operator {f.op!r}; use one of {OPS}")
        out.append((f, _coerce(f, kinds[f.column], distinct, subject)))
    return out


def where_sql(kinds: Mapping[str, str], filters: Sequence[Filter],
              distinct: Callable[[str], list[Any]], *, subject: str = "customer") -> str:
    """`` WHERE ...`` (or "") for ``filters`` on a table of ``kinds`` (column -> text, number,
    bool, date); ``distinct(column)`` lists a text column's values (up to 1,000) to check the
    filter's values against."""
    clauses = []
    for f, coerced in checked_filters(kinds, filters, distinct, subject=subject):
        vals = [literal(v) for v in coerced]
        col = quote(f.column)
        if f.op in ("=", "!=") and len(vals) > 1:
            neg = "NOT " if f.op == "!=" else ""
            clauses.append(f"{col} {neg}IN ({', '.join(vals)})")
        else:
            clauses.append(f"{col} {f.op} {vals[0]}")
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""
