"""Merging a staged load into core: SCD2 history for customers, upserts, appends.

- customers: type-2 history. A customer whose attributes changed gets a new version
  (``valid_from`` = the load's time); the old one is closed (``valid_to``, ``is_current`` false).
  Columns a source does not provide are carried over from the previous version.
- products, campaigns, campaign_assignments, tickets, subscriptions: the latest load of a key
  replaces it (a ticket closes, a contract ends).
- orders, events, surveys: appended by ingest (rows already in core with the same values
  are counted as unchanged and skipped; a corrected order line replaces its core row, the
  old values going to ``core.fct_order_line_history``).
- Facts naming a customer (or product) no file described yet create a placeholder row, marked
  by ``origin``, so that every fact joins to its dimension. This is the one unknown-customer
  policy for every fact entity (orders, events, tickets, subscriptions, surveys): the fact is
  kept, never rejected.
- Facts carrying their customer's or product's attributes (a denormalised export) fill the
  dimensions: a new customer version only when a value changed, the latest line's value when
  a file gives several (reported in ``quarantine.attribute_conflicts``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from crmine.warehouse._core import ensure_core_table, quote
from crmine.warehouse._schema import ENTITIES, Entity
from crmine.warehouse._staging import standard_text

__all__ = [
    "APPEND_ONLY",
    "AttributeConflict",
    "MergeResult",
    "merge_dimension_attributes",
    "merge_into_core",
]

_SCD_COLUMNS = (
    "customer_id",
    "valid_from",
    "valid_to",
    "is_current",
    "origin",
    "load_id",
    "source_row",
)
_UPSERT = ("products", "campaigns", "campaign_assignments", "tickets", "subscriptions",
           "marketing_spend", "marketing_outcomes", "promotion_calendar",
           "holidays")  # fmt: skip
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
    described: tuple[str, ...] = (),
) -> MergeResult:
    """Merge ``staging`` (this load's good rows) into the entity's core table.

    ``staged`` is a relation with every staged column, including those the core table does
    not keep (a product's name on an order line); placeholder dimension rows come from it.
    ``described`` names the dimensions (customer, product) whose rows
    :func:`merge_dimension_attributes` already made from this load: no placeholders needed.
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
    if "customer_id" in columns and "customer" not in described:
        new_customers = _placeholder_customers(con, ent, source, load_id)
    if ent.name == "orders" and "product_id" in columns and "product" not in described:
        _placeholder_products(con, source, load_id)
    return MergeResult(inserted=inserted, updated=updated, new_customers=new_customers)


def _merge_customers(
    con: duckdb.DuckDBPyConnection,
    staging: str,
    present: dict[str, str],
    valid_from: dt.datetime,
    *,
    origin: str = "customers",
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
            _lit(origin),
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


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# The time a fact happened: the latest one's attributes win when a file disagrees with itself.
FACT_TIME = {
    "orders": "order_ts",
    "events": "event_ts",
    "tickets": "opened_ts",
    "subscriptions": "start_date",
    "surveys": "response_ts",
}


@dataclass(frozen=True, slots=True)
class AttributeConflict:
    """One dimension attribute given different values for one key within a load."""

    dimension: str  # customer | product
    column: str
    keys: int  # how many keys had more than one value
    example_key: str
    example_values: str  # the values seen, ' | '-separated (at most 200 characters)

    def note(self) -> str:
        return (
            f"{self.keys:,} {self.dimension}(s) with more than one {self.column} in this file "
            f"(e.g. {self.example_key}: {self.example_values}); the latest line's value was "
            "kept (all conflicts: quarantine.attribute_conflicts)"
        )


def _ensure_conflicts_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS quarantine.attribute_conflicts (
            load_id VARCHAR, entity VARCHAR, dimension VARCHAR, key VARCHAR,
            column_name VARCHAR, "values" VARCHAR, kept VARCHAR
        )
        """
    )


def merge_dimension_attributes(
    con: duckdb.DuckDBPyConnection,
    ent: Entity,
    staged: str,
    customer: dict[str, str],
    product: dict[str, str],
    types: dict[str, str],
    load_id: str,
    *,
    valid_from: dt.datetime,
) -> tuple[MergeResult, list[AttributeConflict]]:
    """Merge the customer and product attributes a fact file repeats on every line.

    ``customer`` / ``product`` map a dimension column to its column in ``staged`` (this load's
    good rows); ``types`` gives the SQL type of the extra (non-canonical) ones. Per key, the
    value on the latest line wins (conflicts are returned and kept in
    ``quarantine.attribute_conflicts``); a missing value keeps the dimension's. Customers
    already known get a new SCD2 version only when a value changed; new ones are created with
    their attributes.
    """
    staged_cols = _columns(con, staged)
    ts = FACT_TIME.get(ent.name)
    # Latest by time, then by source row, as one BIGINT (a (time, row) struct key made the
    # aggregate twice as slow): whole seconds * 2^30 + row.
    order = (
        f"coalesce(CAST(floor(epoch({quote(ts)})) AS BIGINT), 0) * 1073741824 + _row"
        if ts in staged_cols
        else "_row"
    )
    conflicts: list[AttributeConflict] = []
    result = MergeResult()
    dimensions = (("customer", "customer_id", customer), ("product", "product_id", product))
    for dim, key, cols in dimensions:
        if not cols or key not in staged_cols:
            continue
        dim_ent = ENTITIES["customers" if dim == "customer" else "products"]
        canonical = set(dim_ent.column_names)
        present = ensure_core_table(
            con, dim_ent, {d: types.get(d, "VARCHAR") for d in cols if d not in canonical}
        )
        aggs = []
        for d, s in cols.items():
            # a customer's gender, e-mail and phone in the one form a customer file gives them
            # (so "Female" on one line and "F" on the next is no conflict)
            v = standard_text(d, f"CAST({quote(s)} AS VARCHAR)") if dim == "customer" else None
            v = v or quote(s)
            aggs.append(f"arg_max({v}, {order}) FILTER (WHERE {v} IS NOT NULL) AS {quote(d)}")
            # more than one value: min and max differ (cheaper than counting distinct values)
            aggs.append(f"min({v}) IS DISTINCT FROM max({v}) AS {quote('_n_' + d)}")
        extra = [f"min({quote(ts)}) AS _since" if ts in staged_cols else "NULL AS _since"]
        if dim == "product":
            for c in ("unit_price", "unit_cost"):
                extra.append(
                    f"median({c}) FILTER (WHERE {c} > 0) AS _{c}"
                    if c in staged_cols
                    else f"NULL::DOUBLE AS _{c}"
                )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _crmine_side AS
            SELECT {key}, {", ".join(aggs + extra)}, max(_row) AS source_row
            FROM {staged} WHERE {key} IS NOT NULL GROUP BY {key}
            """
        )
        for d, s in cols.items():
            n = _count(con, f"SELECT count(*) FROM _crmine_side WHERE {quote('_n_' + d)}")
            if not n:
                continue
            _ensure_conflicts_table(con)
            con.execute(
                f"""
                INSERT INTO quarantine.attribute_conflicts
                SELECT ?, ?, ?, CAST(s.{key} AS VARCHAR), ?,
                       left(string_agg(DISTINCT CAST(s.{quote(s)} AS VARCHAR), ' | '
                           ORDER BY CAST(s.{quote(s)} AS VARCHAR)), 200),
                       CAST(any_value(side.{quote(d)}) AS VARCHAR)
                FROM {staged} s JOIN _crmine_side side USING ({key})
                WHERE side.{quote("_n_" + d)}
                GROUP BY s.{key}
                """,
                [load_id, ent.name, dim, d],
            )
            row = con.execute(
                'SELECT key, "values" FROM quarantine.attribute_conflicts WHERE load_id = ? '
                "AND dimension = ? AND column_name = ? ORDER BY key LIMIT 1",
                [load_id, dim, d],
            ).fetchone()
            conflicts.append(
                AttributeConflict(dim, d, n, str(row[0]) if row else "", str(row[1]) if row else "")
            )
        cast = {d: f"TRY_CAST(side.{quote(d)} AS {present[d]})" for d in cols}
        if dim == "customer":
            merged = _merge_side_customers(con, ent, cols, cast, present, load_id, valid_from)
            result = MergeResult(
                inserted=result.inserted,
                updated=result.updated,
                new_customers=merged.new_customers,
                customer_versions=merged.customer_versions,
            )
        else:
            _merge_side_products(con, ent, cols, cast, load_id)
        con.execute("DROP TABLE _crmine_side")
    return result, conflicts


def _merge_side_customers(
    con: duckdb.DuckDBPyConnection,
    ent: Entity,
    cols: dict[str, str],
    cast: dict[str, str],
    present: dict[str, str],
    load_id: str,
    valid_from: dt.datetime,
) -> MergeResult:
    keep = ", ".join(f"coalesce({cast[d]}, c.{quote(d)}) AS {quote(d)}" for d in cols)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _crmine_side_known AS
        SELECT side.customer_id, {keep}, {_lit(load_id)} AS load_id, side.source_row
        FROM _crmine_side side
        JOIN core.dim_customer c ON c.customer_id = side.customer_id AND c.is_current
        """
    )
    known = _merge_customers(con, "_crmine_side_known", present, valid_from, origin=ent.name)
    con.execute("DROP TABLE _crmine_side_known")
    names = ", ".join(quote(d) for d in cols)
    values = ", ".join(cast[d] for d in cols)
    before = _count(con, "SELECT count(*) FROM core.dim_customer")
    con.execute(
        f"""
        INSERT INTO core.dim_customer (customer_id, {names}, valid_from, valid_to, is_current,
                                       origin, load_id, source_row)
        SELECT side.customer_id, {values}, CAST(coalesce(side._since, now()) AS TIMESTAMP),
               NULL, true, ?, ?, side.source_row
        FROM _crmine_side side
        WHERE NOT EXISTS (SELECT 1 FROM core.dim_customer c WHERE c.customer_id = side.customer_id)
        """,
        [ent.name, load_id],
    )
    new = _count(con, "SELECT count(*) FROM core.dim_customer") - before
    return MergeResult(new_customers=new, customer_versions=known.customer_versions)


def _merge_side_products(
    con: duckdb.DuckDBPyConnection,
    ent: Entity,
    cols: dict[str, str],
    cast: dict[str, str],
    load_id: str,
) -> None:
    sets = ", ".join(f"{quote(d)} = coalesce({cast[d]}, p.{quote(d)})" for d in cols)
    con.execute(
        f"""
        UPDATE core.dim_product p SET {sets},
               unit_price = coalesce(p.unit_price, side._unit_price),
               unit_cost = coalesce(p.unit_cost, side._unit_cost)
        FROM _crmine_side side WHERE p.product_id = side.product_id
        """
    )
    names = ", ".join(quote(d) for d in cols)
    values = ", ".join(cast[d] for d in cols)
    con.execute(
        f"""
        INSERT INTO core.dim_product (product_id, {names}, unit_price, unit_cost, origin,
                                      load_id, source_row)
        SELECT side.product_id, {values}, side._unit_price, side._unit_cost, ?, ?,
               side.source_row
        FROM _crmine_side side
        WHERE NOT EXISTS (SELECT 1 FROM core.dim_product p WHERE p.product_id = side.product_id)
        """,
        [ent.name, load_id],
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
