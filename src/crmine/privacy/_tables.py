"""Erasure from the warehouse's tables: every row that belongs to the people is deleted,
their identifiers inside other people's rows (a ticket's text naming their e-mail) masked."""

from __future__ import annotations

from dataclasses import dataclass, field

from crmine.privacy._sql import (
    base_tables,
    column_types,
    could_hold,
    literal,
    quote,
    token_pattern,
)
from crmine.privacy._subjects import Subjects
from crmine.warehouse import Workspace

__all__ = ["TableErasure", "erase_from_tables", "is_id_column", "own_rows", "target"]

MASK = "[erased]"
# Columns holding a customer's (or a source record's) id, beyond ``*customer_id``.
_ID_COLUMNS = frozenset({"source_id", "source_id_l", "source_id_r", "id_l", "id_r"})
# Schemas whose rows are whole copies of a source row: one naming the person is theirs.
_WHOLE_ROW_SCHEMAS = frozenset({"quarantine"})


def is_id_column(name: str) -> bool:
    low = name.lower()
    return low.endswith("customer_id") or low in _ID_COLUMNS


def _is_text(sql_type: str) -> bool:
    return sql_type.upper() in ("VARCHAR", "JSON")


@dataclass(slots=True)
class TableErasure:
    """Rows deleted per table, cells masked per column, erased rows per load."""

    deleted: dict[str, int] = field(default_factory=dict)
    masked: dict[str, int] = field(default_factory=dict)
    by_load: dict[tuple[str, str], int] = field(default_factory=dict)  # (load, table) -> rows


def own_rows(table: str, types: dict[str, str], subjects: Subjects) -> str | None:
    """SQL condition of ``table``'s rows that belong to the people (None: it cannot hold any).

    A row is theirs when an id column holds one of their ids or a text cell is exactly one of
    their e-mails or phones; in quarantine, also when the raw row names them anywhere.
    """
    strong = sorted(subjects.strong)
    if not strong:
        return None
    ids = "(SELECT unnest(" + _list(sorted(subjects.ids)) + "))"
    lowered = "(SELECT lower(unnest(" + _list(strong) + ")))"
    text = [c for c, t in types.items() if _is_text(t)]
    where = [f"CAST({quote(c)} AS VARCHAR) IN {ids}" for c in types if is_id_column(c)]
    where += [f"lower(trim({quote(c)})) IN {lowered}" for c in text if not is_id_column(c)]
    if table.split(".")[0] in _WHOLE_ROW_SCHEMAS:
        pattern = literal(token_pattern(strong))
        where += [f"regexp_matches({quote(c)}, {pattern})" for c in text]
    return "coalesce(" + " OR ".join(where) + ", false)" if where else None


def target(table: str) -> str:
    return ".".join(quote(p) for p in table.split(".", 1))


def erase_from_tables(ws: Workspace, subjects: Subjects) -> TableErasure:
    """Delete and mask inside the open transaction; returns what was done where."""
    done = TableErasure()
    if not subjects.strong:
        return done
    pattern = literal(token_pattern(sorted(subjects.strong)))
    for table in base_tables(ws):
        types = column_types(ws, table)
        condition = own_rows(table, types, subjects)
        if condition is None:
            continue
        name = target(table)
        if "load_id" in types:
            for load, n in ws.duck.execute(
                f"SELECT load_id, count(*) FROM {name} WHERE {condition} GROUP BY 1"
            ).fetchall():
                done.by_load[(str(load), table)] = int(n)
        row = ws.duck.execute(f"DELETE FROM {name} WHERE {condition}").fetchone()
        if row and row[0]:
            done.deleted[table] = int(row[0])
        text = [c for c, t in types.items() if _is_text(t)]
        shortest = min(len(v) for v in subjects.strong)
        for col in could_hold(ws, name, text, shortest + 1):  # others' rows naming them
            row = ws.duck.execute(
                f"UPDATE {name} SET {quote(col)} = regexp_replace({quote(col)}, {pattern}, "
                f"'\\1{MASK}\\3', 'g') WHERE regexp_matches({quote(col)}, {pattern})"
            ).fetchone()
            if row and row[0]:
                done.masked[f"{table}.{col}"] = int(row[0])
    return done


def _list(values: list[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]::VARCHAR[]"
