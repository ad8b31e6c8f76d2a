"""Erasure from the warehouse's tables: every row that belongs to the people is deleted,
their identifiers inside other people's rows (a ticket's text naming their e-mail) masked.

One set-based DELETE per table, searching only the columns that can hold an identifier and
each the cheapest way (``crmine.privacy._columns``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from crmine.privacy._columns import ColumnPlan, is_id_column, plan_columns
from crmine.privacy._sql import _escape, base_tables, column_types, literal, quote, token_pattern
from crmine.privacy._subjects import Subjects
from crmine.warehouse import Workspace

__all__ = [
    "MASK",
    "Search",
    "TableErasure",
    "erase_from_tables",
    "is_id_column",
    "own_rows",
    "search",
    "target",
]

MASK = "[erased]"
# Schemas whose rows are whole copies of a source row: one naming the person is theirs.
_WHOLE_ROW_SCHEMAS = frozenset({"quarantine"})


def _is_text(sql_type: str) -> bool:
    return sql_type.upper() in ("VARCHAR", "JSON")


@dataclass(slots=True)
class TableErasure:
    """Rows deleted per table, cells masked per column, erased rows per load."""

    deleted: dict[str, int] = field(default_factory=dict)
    masked: dict[str, int] = field(default_factory=dict)
    by_load: dict[tuple[str, str], int] = field(default_factory=dict)  # (load, table) -> rows


def _list(values: list[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]::VARCHAR[]"


def _in(values: list[str]) -> str:
    return "(SELECT unnest(" + _list(values) + "))"


def _as_text(col: str, types: dict[str, str]) -> str:
    q = quote(col)
    return q if _is_text(types.get(col, "VARCHAR")) else f"CAST({q} AS VARCHAR)"


def own_rows(table: str, types: dict[str, str], subjects: Subjects) -> str | None:
    """SQL condition of ``table``'s rows that belong to the people (None: it cannot hold any),
    testing every column (subject access reads one person's rows; erasure uses ``search``).

    A row is theirs when an id column holds one of their ids or a text cell is exactly one of
    their e-mails or phones; in quarantine, also when the raw row names them anywhere.
    """
    strong = sorted(subjects.strong)
    if not strong:
        return None
    lowered = "(SELECT lower(unnest(" + _list(strong) + ")))"
    text = [c for c, t in types.items() if _is_text(t)]
    where = [f"CAST({quote(c)} AS VARCHAR) IN {_in(sorted(subjects.ids))}"
             for c in types if is_id_column(c)]  # fmt: skip
    where += [f"lower(trim({quote(c)})) IN {lowered}" for c in text if not is_id_column(c)]
    if table.split(".")[0] in _WHOLE_ROW_SCHEMAS:
        pattern = literal(token_pattern(strong))
        where += [f"regexp_matches({quote(c)}, {pattern})" for c in text]
    return "coalesce(" + " OR ".join(where) + ", false)" if where else None


@dataclass(slots=True)
class Search:
    """What to look for in one table or view and where: the SQL condition of the people's
    own rows, and per text column the SQL test of a cell naming them inside other text."""

    source: str
    plan: ColumnPlan
    own: str | None
    named: dict[str, str] = field(default_factory=dict)  # column -> condition on its cells


def _literals(values: list[str]) -> str:
    """``(v1, v2, …)``: a constant list DuckDB pushes into the scan (a dictionary-compressed
    column is then tested once per distinct value, not once per row)."""
    return "(" + ", ".join(literal(v) for v in values) + ")"


def _variants(values: list[str]) -> list[str]:
    """A value as found, and lower-cased (an e-mail typed in capitals elsewhere)."""
    return sorted({w for v in values for w in (v, v.strip(), v.strip().lower())})


def search(ws: Workspace, source: str, types: dict[str, str], ids: list[str],
           values: list[str], *, whole_row: bool = False) -> Search:  # fmt: skip
    """The conditions finding ``ids`` (exactly, in id columns) and ``values`` (exactly, or as
    a token inside text) in ``source``; ``whole_row``: a row naming them anywhere is theirs."""
    shortest = min((len(v) for v in [*ids, *values]), default=1)
    plan = plan_columns(ws, source, types, shortest)
    if whole_row:  # quarantine: small, every text cell is searched
        plan.by_cell = [c for c, t in types.items() if _is_text(t) and not is_id_column(c)]
        plan.by_value = []
    where = [f"{_as_text(c, types)} IN {_literals(ids)}" for c in plan.ids] if ids else []
    named: dict[str, str] = {}
    by_value = [c for c in plan.by_value if plan.fitting(c, values)] if values else []
    if by_value:
        # each distinct value once, every few-valued column in one scan (RE2 in DuckDB)
        distinct = ", ".join(f"list(DISTINCT {quote(c)}) AS l{i}" for i, c in enumerate(by_value))
        kept = ", ".join(
            f"list_filter(l{i}, lambda v: regexp_matches(v, "
            f"{literal(token_pattern(plan.fitting(c, values)))}))"
            for i, c in enumerate(by_value)
        )
        lists = ws.duck.execute(f"SELECT {kept} FROM (SELECT {distinct} FROM {source})"
                                ).fetchone() or ()  # fmt: skip
        for col, hits in zip(by_value, lists, strict=True):
            wanted = {v.strip().lower() for v in plan.fitting(col, values)}
            found = [str(v) for v in hits or []]
            exact = sorted(v for v in found if v.strip().lower() in wanted)
            inside = sorted(v for v in found if v.strip().lower() not in wanted)
            if exact:
                where.append(f"{quote(col)} IN {_literals(exact)}")
            if inside:
                named[col] = f"{quote(col)} IN {_literals(inside)}"
    for col in plan.by_cell if values else []:
        fit = plan.fitting(col, values)
        if not fit:
            continue
        pattern = literal(token_pattern(fit))
        if whole_row:
            where.append(f"regexp_matches({quote(col)}, {pattern})")
            continue
        where.append(f"{quote(col)} IN {_literals(_variants(fit))}")
        # inside other text, or in other capitals or spacing: masked in the row
        named[col] = f"regexp_matches({quote(col)}, {pattern})"
    own = "coalesce(" + " OR ".join(where) + ", false)" if where else None
    return Search(source, plan, own, named)


def target(table: str) -> str:
    return ".".join(quote(p) for p in table.split(".", 1))


def masked(col: str, pattern: str) -> str:
    """``col`` with every value of ``pattern`` (a token pattern) replaced by the mask."""
    return f"regexp_replace({quote(col)}, {pattern}, '\\1{MASK}\\3', 'g')"


def _holding(ws: Workspace, rows: str, columns: list[str], values: list[str]) -> list[str]:
    """The columns of ``rows`` (the erased rows, a small temp table) with a cell holding one
    of ``values`` anywhere in its text, as the file's bytes would show it (case kept)."""
    if not columns or not values:
        return []
    pattern = literal("|".join(sorted({_escape(v) for v in values}, key=len, reverse=True)))
    tests = ", ".join(f"coalesce(bool_or(regexp_matches(CAST({quote(c)} AS VARCHAR), "
                      f"{pattern})), false)" for c in columns)  # fmt: skip
    row = ws.duck.execute(f"SELECT {tests} FROM {rows}").fetchone() or ()
    return [c for c, held in zip(columns, row, strict=True) if held]


def _scrub(ws: Workspace, name: str, own: str, types: dict[str, str],
           values: list[str]) -> list[int | str | None]:  # fmt: skip
    """Delete the rows matching ``own`` after setting their cells holding ``values`` to NULL
    (or '' where NULL is not allowed); returns each deleted row's load (None without one).

    Why first NULL: DuckDB keeps a deleted row's bytes in its row group until that group is
    rewritten, and only changed columns are rewritten at a checkpoint. Nulling the cells that
    name the person makes the checkpoint rewrite exactly the segments that held them
    (``crmine.privacy._compact`` then wipes the freed blocks)."""
    loads = "load_id" if "load_id" in types else "NULL"
    text = [c for c, t in types.items() if _is_text(t) or is_id_column(c)]
    ws.duck.execute(
        f"CREATE OR REPLACE TEMP TABLE {_ROWS} AS SELECT rowid AS _rid, {loads} AS _load"
        + "".join(f", {quote(c)}" for c in text) + f" FROM {name} WHERE {own}"
    )
    try:
        held = _holding(ws, _ROWS, text, values)
        if held:
            nullable = _nullable(ws, name)
            sets = ", ".join(f"{quote(c)} = {'NULL' if nullable.get(c, True) else chr(39) * 2}"
                             for c in held)  # fmt: skip
            ws.duck.execute(f"UPDATE {name} SET {sets} WHERE rowid IN (SELECT _rid FROM {_ROWS})")
        ws.duck.execute(f"DELETE FROM {name} WHERE rowid IN (SELECT _rid FROM {_ROWS})")
        return [r[0] for r in ws.duck.execute(f"SELECT _load FROM {_ROWS}").fetchall()]
    finally:
        ws.duck.execute(f"DROP TABLE IF EXISTS {_ROWS}")


_ROWS = "temp._crmine_erased_rows"


def _nullable(ws: Workspace, name: str) -> dict[str, bool]:
    schema, table = (p.strip('"').replace('""', '"') for p in name.split(".", 1))
    rows = ws.duck.execute(
        "SELECT column_name, is_nullable FROM duckdb_columns() WHERE database_name = "
        "current_database() AND schema_name = ? AND table_name = ?", [schema, table]
    ).fetchall()
    return {str(c): bool(n) for c, n in rows}


def erase_from_tables(ws: Workspace, subjects: Subjects,
                      needles: Iterable[str] = ()) -> TableErasure:  # fmt: skip
    """Delete and mask inside the open transaction; returns what was done where.

    ``needles``: every value the final scan looks for (the people's ids, e-mails, phones and
    the names and addresses only they have); the erased rows' cells holding one are nulled
    before the rows are deleted (``_scrub``)."""
    done = TableErasure()
    strong = sorted(subjects.strong)
    if not strong:
        return done
    ids = sorted(subjects.ids)
    values = sorted(set(strong) | set(needles))
    pattern = literal(token_pattern(strong))
    for table in base_tables(ws):
        types = column_types(ws, table)
        name = target(table)
        found = search(ws, name, types, ids, strong,
                       whole_row=table.split(".")[0] in _WHOLE_ROW_SCHEMAS)  # fmt: skip
        if found.own is not None:
            loads = _scrub(ws, name, found.own, types, values)
            if loads:
                done.deleted[table] = len(loads)
            if "load_id" in types:
                for load, n in Counter(str(r) for r in loads).items():
                    done.by_load[(load, table)] = n
        for col, condition in found.named.items():  # others' rows naming them
            row = ws.duck.execute(
                f"UPDATE {name} SET {quote(col)} = {masked(col, pattern)} WHERE {condition}"
            ).fetchone()
            if row and row[0]:
                done.masked[f"{table}.{col}"] = int(row[0])
    return done
