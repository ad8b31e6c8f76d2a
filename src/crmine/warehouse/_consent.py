"""Consent: customers who opted out of marketing are left out of every list to act on.

A customer has opted out when their current row in ``core.dim_customer`` says so in a
consent column: ``marketing_opt_out`` (the canonical one) or a common name for it (true =
opted out), or a consent column that is false. The pipeline removes them from every
actionable mart with a ``customer_id`` after each analysis ran and records how many it left
out (``meta.consent_exclusions``), so a retention list, a campaign target list or a
next-best-offer list never names someone who said no.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmine.warehouse._workspace import Workspace

__all__ = ["CONSENT_COLUMNS", "EXCLUSIONS", "OPT_OUT_COLUMNS", "exclude_opted_out", "opted_out_sql",
           "record_exclusions"]

CUSTOMERS = "core.dim_customer"
EXCLUSIONS = "meta.consent_exclusions"
# true = opted out
OPT_OUT_COLUMNS = ("marketing_opt_out", "opt_out", "opted_out", "do_not_contact",
                   "marketing_opt_out_flag", "unsubscribed")  # fmt: skip
# false = no consent
CONSENT_COLUMNS = ("consent", "marketing_consent")


def opted_out_sql(ws: Workspace) -> str | None:
    """A query of the ids of customers who opted out (None: no consent column is loaded)."""
    if not ws.has_table(CUSTOMERS):
        return None
    cols = set(ws.columns(CUSTOMERS))
    said = [f'TRY_CAST("{c}" AS BOOLEAN) IS TRUE' for c in OPT_OUT_COLUMNS if c in cols]
    said += [f'TRY_CAST("{c}" AS BOOLEAN) IS FALSE' for c in CONSENT_COLUMNS if c in cols]
    if not said:
        return None
    current = " AND is_current" if "is_current" in cols else ""
    return (f"SELECT DISTINCT CAST(customer_id AS VARCHAR) FROM {CUSTOMERS} "
            f"WHERE ({' OR '.join(said)}){current}")  # fmt: skip


def exclude_opted_out(ws: Workspace, table: str) -> int | None:
    """Delete the opted-out customers' rows from ``table``; the rows removed, or None when
    the table names no customer or no consent is recorded."""
    query = opted_out_sql(ws)
    if query is None or not ws.has_table(table) or "customer_id" not in ws.columns(table):
        return None
    schema, name = table.split(".", 1)
    target = f'{schema}."{name}"'
    where = f"CAST(customer_id AS VARCHAR) IN ({query})"
    row = ws.duck.execute(f"SELECT count(*) FROM {target} WHERE {where}").fetchone()
    removed = int(row[0]) if row else 0
    if removed:
        ws.duck.execute(f"DELETE FROM {target} WHERE {where}")
    return removed


def record_exclusions(ws: Workspace, analysis: str, removed: dict[str, int]) -> None:
    """Keep, per analysis, how many opted-out customers each of its lists left out."""
    ws.duck.execute(f"CREATE TABLE IF NOT EXISTS {EXCLUSIONS} (analysis VARCHAR, mart VARCHAR, "
                    "excluded BIGINT, recorded_at TIMESTAMP)")  # fmt: skip
    ws.duck.execute(f"DELETE FROM {EXCLUSIONS} WHERE analysis = ?", [analysis])
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for mart, n in sorted(removed.items()):
        ws.duck.execute(f"INSERT INTO {EXCLUSIONS} VALUES (?, ?, ?, ?)", [analysis, mart, n, now])
