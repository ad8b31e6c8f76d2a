"""Definitions (DDL) of the core, quarantine and meta tables, created on first use."""

from __future__ import annotations

import duckdb

from crmine.warehouse._schema import SQL_TYPES, Entity

__all__ = [
    "DIMENSION_ONLY",
    "TECHNICAL_COLUMNS",
    "ensure_core_table",
    "ensure_history_table",
    "ensure_meta_tables",
    "quote",
]

# Columns every core row carries besides the entity's own: where it came from.
TECHNICAL_COLUMNS = {"load_id": "VARCHAR", "source_row": "BIGINT"}

# Columns some core tables add to the canonical ones.
_ENTITY_EXTRA: dict[str, dict[str, str]] = {
    "customers": {
        "valid_from": "TIMESTAMP",
        "valid_to": "TIMESTAMP",
        "is_current": "BOOLEAN",
        # "customers" for a row from a customer file; "orders" etc. for a placeholder made
        # because a fact referenced a customer no customer file described yet.
        "origin": "VARCHAR",
    },
    "products": {"origin": "VARCHAR"},
    "orders": {"is_return": "BOOLEAN", "is_anonymous": "BOOLEAN"},
}


# Source columns that describe a dimension rather than the fact: used to fill the dimension
# (a product's name), not repeated on every fact row.
DIMENSION_ONLY: dict[str, tuple[str, ...]] = {"orders": ("product_name",)}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_meta_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS meta.loads (
            load_id VARCHAR PRIMARY KEY, entity VARCHAR, source VARCHAR, kind VARCHAR,
            fingerprint VARCHAR, encoding VARCHAR, delimiter VARCHAR, column_map VARCHAR,
            started_at TIMESTAMP, finished_at TIMESTAMP, rows_read BIGINT, rows_staged BIGINT,
            rows_quarantined BIGINT, rows_unchanged BIGINT DEFAULT 0
        )
        """
    )
    # Workspaces made before rows_unchanged existed.
    con.execute("ALTER TABLE meta.loads ADD COLUMN IF NOT EXISTS rows_unchanged BIGINT DEFAULT 0")
    con.execute("ALTER TABLE meta.loads ADD COLUMN IF NOT EXISTS rows_corrected BIGINT DEFAULT 0")
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS quarantine.rejects (
            load_id VARCHAR, entity VARCHAR, source VARCHAR, row_number BIGINT,
            reason VARCHAR, column_name VARCHAR, value VARCHAR, raw_row VARCHAR
        )
        """
    )


def ensure_history_table(con: duckdb.DuckDBPyConnection) -> None:
    """``core.fct_order_line_history``: one row per correction of an order line.

    A line exported again under its key with other values (a corrected quantity, a
    cancellation) replaces the core row, which therefore always holds the line as last
    exported (analyses read core and see current lines only); the values it had, the values
    it got, the columns that changed and both loads are kept here.
    """
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS core.fct_order_line_history (
            order_id VARCHAR, line_number BIGINT, changed_columns VARCHAR,
            old_values VARCHAR, new_values VARCHAR, old_load_id VARCHAR,
            new_load_id VARCHAR, corrected_at TIMESTAMP
        )
        """
    )


def core_columns(entity: Entity) -> dict[str, str]:
    """Canonical + entity-specific + technical columns of the entity's core table."""
    skip = DIMENSION_ONLY.get(entity.name, ())
    cols = {c.name: SQL_TYPES[c.type] for c in entity.columns if c.name not in skip}
    cols.update(_ENTITY_EXTRA.get(entity.name, {}))
    cols.update(TECHNICAL_COLUMNS)
    return cols


def ensure_core_table(
    con: duckdb.DuckDBPyConnection, entity: Entity, extras: dict[str, str]
) -> dict[str, str]:
    """Create the entity's core table if needed and add any new extra columns.

    Returns the table's columns and types after the change. An existing numeric extra column
    that now receives text is widened to VARCHAR rather than losing values.
    """
    table = entity.core_table
    cols = core_columns(entity)
    schema, name = table.split(".")
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name = ? AND table_catalog = current_database()",
        [schema, name],
    ).fetchone()
    if not (exists and exists[0]):  # new: with its extra columns at once (an ALTER each is
        # quadratic in the width: 2,000 extras took 6 s)
        wide = {**{c: t for c, t in extras.items() if c not in cols}, **cols}
        defs = ", ".join(f"{quote(n)} {t}" for n, t in {**cols, **wide}.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({defs})")
    present = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? AND table_catalog = current_database()",
            [schema, name],
        ).fetchall()
    )
    for col, typ in extras.items():
        if col not in present:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {quote(col)} {typ}")
            present[col] = typ
        elif present[col] != typ and typ == "VARCHAR" and col not in cols:
            con.execute(f"ALTER TABLE {table} ALTER {quote(col)} TYPE VARCHAR")
            present[col] = "VARCHAR"
    return present
