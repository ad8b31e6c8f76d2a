"""SQL helpers of the privacy package: literals, RE2 patterns, the warehouse's tables."""

from __future__ import annotations

from collections.abc import Iterable

from crmine.warehouse import Workspace

__all__ = ["base_tables", "column_types", "could_hold", "literal", "quote", "token_pattern"]

# Tables the privacy package keeps itself: they hold no personal data by construction and
# rewriting them would break the audit chain.
OWN_TABLES = frozenset({"meta.erasure_receipts", "meta.erased_rows", "meta.audit_log"})
_RE2_SPECIAL = set(".^$*+?()[]{}|\\")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _escape(value: str) -> str:
    return "".join("\\" + ch if ch in _RE2_SPECIAL else ch for ch in value)


def token_pattern(values: Iterable[str]) -> str:
    """A case-insensitive RE2 pattern matching any value as a whole token (``C000018`` but
    not inside ``C0000180``): group 1 and 3 are the neighbours, group 2 the value."""
    alts = "|".join(sorted({_escape(v) for v in values if v}, key=len, reverse=True))
    return f"(?i)(^|[^0-9A-Za-z_])({alts})([^0-9A-Za-z_]|$)"


def base_tables(ws: Workspace) -> list[str]:
    """Every base table of the warehouse (qualified), the privacy package's own left out."""
    rows = ws.duck.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND NOT temporary ORDER BY 1, 2"
    ).fetchall()
    return [f"{s}.{t}" for s, t in rows if f"{s}.{t}" not in OWN_TABLES]


def column_types(ws: Workspace, table: str) -> dict[str, str]:
    """Column -> DuckDB type of the columns of ``table``."""
    schema, name = table.split(".", 1)
    rows = ws.duck.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
        "current_database() AND schema_name = ? AND table_name = ?",
        [schema, name],
    ).fetchall()
    return {str(c): str(t) for c, t in rows}


def could_hold(ws: Workspace, source: str, columns: list[str], shortest: int) -> list[str]:
    """The columns of ``source`` whose longest value has at least ``shortest`` characters:
    only those can hold a value that long (one cheap pass instead of a regex per cell)."""
    if not columns:
        return []
    lengths = ", ".join(f"max(length(CAST({quote(c)} AS VARCHAR)))" for c in columns)
    row = ws.duck.execute(f"SELECT {lengths} FROM {source}").fetchone() or ()
    return [c for c, n in zip(columns, row, strict=True) if n is not None and n >= shortest]
