"""Merging a staged load into core: SCD2 history for customers, upserts, appends.

- customers: type-2 history. A customer whose attributes changed gets a new version
  (``valid_from`` = the load's time); the old one is closed (``valid_to``, ``is_current`` false).
  Columns a source does not provide are carried over from the previous version.
- products, campaigns, campaign_assignments, tickets, subscriptions: the latest load of a key
  replaces it (a ticket closes, a contract ends).
- orders, events, surveys: appended (duplicate order lines were quarantined in staging).
- Facts naming a customer (or product) no file described yet create a placeholder row, marked
  by ``origin``, so that every fact joins to its dimension.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from crmine.warehouse._core import ensure_core_table, quote
from crmine.warehouse._schema import ENTITIES, Entity

__all__ = ["APPEND_ONLY", "MergeResult", "merge_into_core"]

_SCD_COLUMNS = (
    "customer_id",
    "valid_from",
    "valid_to",
    "is_current",
    "origin",
    "load_id",
    "source_row",
)
_UPSERT = ("products", "campaigns", "campaign_assignments", "tickets", "subscriptions")
# Only ever appended; ingest writes these straight into core (staging is a view of the load).
APPEND_ONLY = ("orders", "events", "surveys")


@dataclass(frozen=True, slots=True)
class MergeResult:
    inserted: int = 0
    updated: int = 0
    new_customers: int = 0
    customer_versions: int = 0


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def merge_into_core(
    con: duckdb.DuckDBPyConnection,
    ent: Entity,
    staging: str,
    present: dict[str, str],
    load_id: str,
    *,
    valid_from: dt.datetime,
    staged: str | None = None,
) -> MergeResult:
    """Merge ``staging`` (this load's good rows) into the entity's core table.

    ``staged`` is a relation with every staged column, including those the core table does
    not keep (a product's name on an order line); placeholder dimension rows come from it.
    """
    if ent.name == "customers":
        return _merge_customers(con, staging, present, valid_from)
    core = ent.core_table
    cols = ", ".join(quote(c) for c in _columns(con, staging))
    updated = 0
    if ent.name in _UPSERT:
        cond = " AND ".join(f"c.{quote(k)} = s.{quote(k)}" for k in ent.key)
        updated = _count(
            con,
            f"SELECT count(*) FROM {core} c WHERE EXISTS (SELECT 1 FROM {staging} s WHERE {cond})",
        )
        con.execute(f"DELETE FROM {core} c WHERE EXISTS (SELECT 1 FROM {staging} s WHERE {cond})")
    if ent.name not in APPEND_ONLY:
        con.execute(f"INSERT INTO {core} ({cols}) SELECT {cols} FROM {staging}")
    inserted = _count(con, f"SELECT count(*) FROM {staging}") - updated
    new_customers = 0
    source = staged or staging
    columns = _columns(con, source)
    if "customer_id" in columns:
        new_customers = _placeholder_customers(con, ent, source, load_id)
    if ent.name == "orders" and "product_id" in columns:
        _placeholder_products(con, source, load_id)
    return MergeResult(inserted=inserted, updated=updated, new_customers=new_customers)


def _merge_customers(
    con: duckdb.DuckDBPyConnection, staging: str, present: dict[str, str], valid_from: dt.datetime
) -> MergeResult:
    provided = [c for c in _columns(con, staging) if c not in _SCD_COLUMNS]
    changed = (
        " OR ".join(f"s.{quote(c)} IS DISTINCT FROM c.{quote(c)}" for c in provided) or "false"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _crmine_changed AS
        SELECT s.*, c.customer_id IS NULL AS _is_new
        FROM {staging} s
        LEFT JOIN core.dim_customer c ON c.customer_id = s.customer_id AND c.is_current
        WHERE c.customer_id IS NULL OR {changed}
        """
    )
    new = _count(con, "SELECT count(*) FROM _crmine_changed WHERE _is_new")
    versions = _count(con, "SELECT count(*) FROM _crmine_changed WHERE NOT _is_new")
    con.execute(
        "UPDATE core.dim_customer SET valid_to = ?, is_current = false WHERE is_current AND "
        "customer_id IN (SELECT customer_id FROM _crmine_changed WHERE NOT _is_new)",
        [valid_from],
    )
    carried = [c for c in present if c not in provided and c not in _SCD_COLUMNS]
    select = ", ".join(
        [f"ch.{quote(c)}" for c in provided]
        + [f"p.{quote(c)}" for c in carried]
        + [
            "ch.customer_id",
            "?::TIMESTAMP",
            "NULL::TIMESTAMP",
            "true",
            "'customers'",
            "ch.load_id",
            "ch.source_row",
        ]
    )
    target = ", ".join(quote(c) for c in [*provided, *carried, *_SCD_COLUMNS])
    con.execute(
        f"""
        INSERT INTO core.dim_customer ({target})
        SELECT {select}
        FROM _crmine_changed ch
        LEFT JOIN core.dim_customer p
          ON p.customer_id = ch.customer_id AND NOT p.is_current AND p.valid_to = ?
        """,
        [valid_from, valid_from],
    )
    con.execute("DROP TABLE _crmine_changed")
    return MergeResult(
        inserted=new, updated=versions, new_customers=new, customer_versions=versions
    )


def _placeholder_customers(
    con: duckdb.DuckDBPyConnection, ent: Entity, staging: str, load_id: str
) -> int:
    """Customers referenced by a fact but described by no customer file yet."""
    ensure_core_table(con, ENTITIES["customers"], {})
    staged = _columns(con, staging)
    ts = {
        "orders": "order_ts",
        "events": "event_ts",
        "tickets": "opened_ts",
        "subscriptions": "start_date",
        "surveys": "response_ts",
    }.get(ent.name)
    since = f"min({ts})" if ts in staged else "now()"
    country = f"arg_max(country, {ts})" if "country" in staged and ts in staged else "NULL"
    before = _count(con, "SELECT count(*) FROM core.dim_customer")
    con.execute(
        f"""
        INSERT INTO core.dim_customer (customer_id, country, valid_from, valid_to, is_current,
                                       origin, load_id)
        SELECT customer_id, {country}, CAST({since} AS TIMESTAMP), NULL, true, ?, ?
        FROM {staging} s
        WHERE customer_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM core.dim_customer c WHERE c.customer_id = s.customer_id)
        GROUP BY customer_id
        """,
        [ent.name, load_id],
    )
    return _count(con, "SELECT count(*) FROM core.dim_customer") - before


def _placeholder_products(con: duckdb.DuckDBPyConnection, staging: str, load_id: str) -> None:
    ensure_core_table(con, ENTITIES["products"], {})
    staged = _columns(con, staging)
    name = "arg_max(product_name, order_ts)" if "product_name" in staged else "NULL"
    price = "median(unit_price) FILTER (WHERE unit_price > 0)" if "unit_price" in staged else "NULL"
    con.execute(
        f"""
        INSERT INTO core.dim_product (product_id, product_name, unit_price, origin, load_id)
        SELECT product_id, {name}, {price}, 'orders', ?
        FROM {staging} s
        WHERE product_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM core.dim_product p WHERE p.product_id = s.product_id)
        GROUP BY product_id
        """,
        [load_id],
    )
