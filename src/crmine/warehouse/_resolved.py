"""What analyses read: core tables with one customer per person once identities are resolved.

Facts keep the customer id their source gave (row accounting, splits and re-resolutions need
it). When ``core.customer_identity`` exists (``crmine identity resolve`` ran), the views of
schema ``resolved`` show every core table with a ``customer_id`` as analyses should see it:

* facts (order lines, events, tickets, subscriptions, surveys, campaign assignments):
  ``customer_id`` is the resolved customer, the source's id kept as ``source_customer_id``;
  nothing is dropped (the crosswalk has one row per customer record);
* ``dim_customer``: the records a merge folded into another customer are left out, so the
  merged customer appears once, with its canonical record's attributes.

Rows loaded after the last resolve keep their own id. Without a crosswalk every name reads
the core table itself, so a workspace that never resolved identities sees no change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmine.warehouse._workspace import Workspace

__all__ = ["RESOLVED_SCHEMA", "create_resolved_views", "resolved_name"]

RESOLVED_SCHEMA = "resolved"
IDENTITY = "core.customer_identity"


def _view_sql(table: str) -> str:
    if table == "dim_customer":
        return (
            "SELECT d.* REPLACE (coalesce(i.customer_id, d.customer_id) AS customer_id) "
            "FROM core.dim_customer d "
            f"LEFT JOIN {IDENTITY} i ON i.source_id = d.customer_id "
            "WHERE i.customer_id IS NULL OR i.is_canonical"
        )
    return (
        "SELECT f.* REPLACE (coalesce(i.customer_id, f.customer_id) AS customer_id), "
        f"f.customer_id AS source_customer_id FROM core.{table} f "
        f"LEFT JOIN {IDENTITY} i ON i.source_id = f.customer_id"
    )


def _customer_tables(ws: Workspace) -> list[str]:
    rows = ws.duck.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'core' "
        "AND column_name = 'customer_id' AND table_catalog = current_database() "
        "AND table_name NOT IN ('customer_identity', 'identity_links', 'identity_history', "
        "'identity_keep_apart') ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def create_resolved_views(ws: Workspace) -> list[str]:
    """(Re)create a ``resolved.<table>`` view for every core table with a ``customer_id``;
    returns their names. Views re-read their tables on every query: a column added later or a
    re-resolution shows at once."""
    ws.duck.execute(f"CREATE SCHEMA IF NOT EXISTS {RESOLVED_SCHEMA}")
    made = []
    for table in _customer_tables(ws):
        ws.duck.execute(
            f'CREATE OR REPLACE VIEW {RESOLVED_SCHEMA}."{table}" AS {_view_sql(table)}'
        )
        made.append(f"{RESOLVED_SCHEMA}.{table}")
    return made


def resolved_name(ws: Workspace, name: str) -> str:
    """The table an analysis should read for the core table ``name``: its ``resolved`` view
    when identities were resolved, else ``name`` itself."""
    from crmine.warehouse._pseudonyms import enabled, pseudonymised_name

    schema, _, table = name.partition(".")
    found = name
    if schema == "core" and ws.has_table(IDENTITY):
        view = f"{RESOLVED_SCHEMA}.{table}"
        if not ws.has_table(view) and ws.has_table(name) and not ws.read_only:
            create_resolved_views(ws)  # a table first loaded after the last resolve
        found = view if ws.has_table(view) else name
    # [privacy] pseudonymise_analyses: analyses see keyed pseudonyms, not ids
    return pseudonymised_name(ws, found) if schema == "core" and enabled(ws) else found
