"""Which columns of a table can hold a person's identifiers, and how to search each one.

At a million customers a regular expression over every cell of every column costs minutes
(about 0.25 µs a cell: 20 million order lines × 10 text columns is 50 s), so each column is
searched the cheapest way that still finds every copy:

- the people's ids are compared exactly (a hash join) in the columns that hold customer ids;
- keys of other things (``order_id``, ``product_id``, ``load_id``…) are not searched: they
  identify an order or a product, never a person;
- columns that cannot hold a value as long as the shortest one searched for, or hold only
  NULL, are left out - known from DuckDB's column statistics, without reading the column;
- a text column with few distinct values (a channel, a status, a country) is searched on its
  distinct values, once each, instead of on every cell;
- every other text column (names, e-mails, addresses, free text) is searched cell by cell.

A landing file is read through its ``raw.*`` view, whose columns have no statistics: the
entity's data model says which of them the load parses as numbers, dates or flags (a value
that does not parse is quarantined, and found there); one pass counts the distinct values
of the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crmine.privacy._sql import quote
from crmine.warehouse import Workspace
from crmine.warehouse._schema import ENTITIES

__all__ = ["LOW_CARDINALITY", "ColumnPlan", "is_id_column", "plan_columns"]

# A column with at most this many distinct values is searched on its distinct values.
LOW_CARDINALITY = 50_000
# Columns holding a customer's (or a source record's) id, beyond ``*customer_id``.
_ID_COLUMNS = frozenset({"source_id", "source_id_l", "source_id_r", "id_l", "id_r"})
_MAX_LENGTH = re.compile(r"Max String Length: (\d+)")
_UNIQUE = re.compile(r"Approx Unique: (\d+)")


def is_id_column(name: str) -> bool:
    low = name.lower()
    return low.endswith("customer_id") or low in _ID_COLUMNS


def _is_key_of_something_else(name: str) -> bool:
    low = name.lower()
    return (low.endswith("_id") or low == "id") and not is_id_column(low)


@dataclass(slots=True)
class ColumnPlan:
    """How to search each column of one table (see the module's docstring)."""

    ids: list[str] = field(default_factory=list)  # compared exactly with the people's ids
    by_value: list[str] = field(default_factory=list)  # few distinct values: search those
    by_cell: list[str] = field(default_factory=list)  # every cell searched
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it cannot hold one
    longest: dict[str, int] = field(default_factory=dict)  # text column -> its longest value

    def fitting(self, col: str, values: list[str]) -> list[str]:
        """The values short enough to be in ``col`` (its longest value is known)."""
        most = self.longest.get(col)
        return values if most is None else [v for v in values if len(v) <= most]

    @property
    def text(self) -> list[str]:
        return [*self.by_value, *self.by_cell]

    def __bool__(self) -> bool:
        return bool(self.ids or self.by_value or self.by_cell)


def _entity_of(source: str) -> str | None:
    """``raw.orders__l00003`` -> ``orders``."""
    name = source.rsplit(".", 1)[-1].strip('"')
    return name.split("__", 1)[0] if "__" in name else None


def _parsed_types(source: str) -> dict[str, str]:
    """Columns of a landing file that its entity's load parses as non-text, and the type."""
    entity = ENTITIES.get(_entity_of(source) or "")
    return {c.name: c.type for c in entity.columns if c.type != "text"} if entity else {}


def _stats(ws: Workspace, source: str, columns: list[str]) -> list[tuple[int | None, int | None,
                                                                          bool]]:  # fmt: skip
    """Per column: (longest value, approximate distinct values, holds only NULL), from the
    statistics DuckDB keeps (free); None where it keeps none (a view over Parquet)."""
    row = ws.duck.execute(
        "SELECT " + ", ".join(f"stats({quote(c)})" for c in columns) + f" FROM {source} LIMIT 1"
    ).fetchone()
    if row is None:  # an empty table
        return [(0, 0, True) for _ in columns]
    out = []
    for text in map(str, row):
        length, unique = _MAX_LENGTH.search(text), _UNIQUE.search(text)
        out.append((int(length[1]) if length else None, int(unique[1]) if unique else None,
                    "Has No Null: false" in text))  # fmt: skip
    return out


def _measured(ws: Workspace, source: str, columns: list[str]) -> dict[str, tuple[int, int]]:
    """Longest value and approximate distinct values of columns without statistics (one pass)."""
    if not columns:
        return {}
    parts = [f"max(length({quote(c)})), approx_count_distinct({quote(c)})" for c in columns]
    row = ws.duck.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchone() or ()
    return {c: (int(row[2 * i] or 0), int(row[2 * i + 1] or 0)) for i, c in enumerate(columns)}


def plan_columns(ws: Workspace, source: str, types: dict[str, str], shortest: int) -> ColumnPlan:
    """How to search ``source`` (a table or a raw view, quoted) for values of at least
    ``shortest`` characters; ``types`` maps its columns to DuckDB types."""
    plan = ColumnPlan()
    parsed = _parsed_types(source) if source.startswith(("raw.", '"raw".')) else {}
    text = []
    for col, sql_type in types.items():
        if is_id_column(col):
            plan.ids.append(col)
        elif sql_type.upper() not in ("VARCHAR", "JSON"):
            plan.skipped[col] = sql_type
        elif _is_key_of_something_else(col):
            plan.skipped[col] = "key of another entity"
        elif col in parsed:
            plan.skipped[col] = f"parsed as {parsed[col]} by the load"
        else:
            text.append(col)
    if not text:
        return plan
    stats = dict(zip(text, _stats(ws, source, text), strict=True))
    unknown = [c for c, (length, unique, _) in stats.items() if length is None or unique is None]
    measured = _measured(ws, source, unknown)
    for col in text:
        length, unique, empty = stats[col]
        if col in measured:
            length, unique = measured[col]
            empty = length == 0 and unique == 0
        if empty or (length or 0) < shortest:
            plan.skipped[col] = "empty" if empty else f"no value of {shortest}+ characters"
            continue
        plan.longest[col] = int(length or 0)
        if (unique or 0) <= LOW_CARDINALITY:
            plan.by_value.append(col)
        else:
            plan.by_cell.append(col)
    return plan
