"""Consent: customers who opted out of marketing are left out of every list to act on.

A customer has opted out when their current row in ``core.dim_customer`` says so in a
consent column: ``marketing_opt_out`` (the canonical one) or a common name for it (true =
opted out), or a consent column that is false. Every path that writes a list of customers
to contact goes through one filter here: :func:`honour_consent` after an analysis wrote its
lists (the pipeline after each analysis, and every command running one analysis alone),
:func:`drop_opted_out` for a list or export written from a frame, and
:func:`opted_out_condition` for SQL (the cube's lists and exports, the API's segment and
target lists). How many were left out is recorded (``meta.consent_exclusions``) or returned,
so a retention list, a campaign target list or a next-best-offer list never names someone
who said no. Lists that answer the customer (ticket routing) are not marketing and keep them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import pandas as pd

    from crmine.contract import Analysis
    from crmine.warehouse._workspace import Workspace

__all__ = ["CONSENT_COLUMNS", "EXCLUSIONS", "NOT_MARKETING", "OPT_OUT_COLUMNS", "consent_where",
           "contact_marts", "drop_opted_out", "drop_opted_out_rows", "exclude_opted_out",
           "honour_consent", "opted_out_condition", "opted_out_sql", "record_exclusions"]

CUSTOMERS = "core.dim_customer"
IDENTITY = "core.customer_identity"
EXCLUSIONS = "meta.consent_exclusions"
# true = opted out
OPT_OUT_COLUMNS = ("marketing_opt_out", "opt_out", "opted_out", "do_not_contact",
                   "marketing_opt_out_flag", "unsubscribed")  # fmt: skip
# false = no consent
CONSENT_COLUMNS = ("consent", "marketing_consent")
# Actionable marts naming customers that are not marketing: routing a customer's own ticket
# answers them, whatever they said about marketing.
NOT_MARKETING = frozenset({"service_ticket_routing"})


def opted_out_condition(columns: Iterable[str], alias: str = "") -> str | None:
    """SQL true for a row whose consent columns (of ``columns``) say the customer opted out;
    None when there is no consent column. The one definition every filter uses."""
    have = {c.lower(): c for c in columns}
    prefix = f"{alias}." if alias else ""
    said = [f'TRY_CAST({prefix}"{have[c]}" AS BOOLEAN) IS TRUE'
            for c in OPT_OUT_COLUMNS if c in have]
    said += [f'TRY_CAST({prefix}"{have[c]}" AS BOOLEAN) IS FALSE'
             for c in CONSENT_COLUMNS if c in have]  # fmt: skip
    return f"({' OR '.join(said)})" if said else None


def consent_where(kinds: Mapping[str, str]) -> list[str]:
    """Cube filters (``column!=true`` …) keeping only the customers who did not opt out, for
    a cube of ``kinds`` (column -> kind): the lists and exports of ``crmine cube`` and of the
    API. A customer whose consent column is empty while others' is filled is left out too
    (the cube compares values; unknown consent is not taken as a yes)."""
    return ([f"{c}!=true" for c in OPT_OUT_COLUMNS if kinds.get(c) == "bool"]
            + [f"{c}=true" for c in CONSENT_COLUMNS if kinds.get(c) == "bool"])  # fmt: skip


def anyone_opted_out(ws: Workspace) -> bool:
    """Whether any current customer opted out (no consent recorded: nobody is left out)."""
    query = opted_out_sql(ws)
    row = ws.duck.execute(f"SELECT count(*) FROM ({query})").fetchone() if query else None
    return bool(row and row[0])


def _pseudonyms_sql(ws: Workspace, ids: str) -> str | None:
    """With ``[privacy] pseudonymise_analyses`` on, the pseudonyms of ``ids`` (marts name
    customers by them); None when it is off or the key is not at hand."""
    from crmine.exceptions import ConfigError
    from crmine.warehouse import _pseudonyms as p

    try:
        if not p.enabled(ws):
            return None
        if not p._installed(ws):
            p.install_key(ws, p.analysis_key())
    except ConfigError:
        return None
    return f"SELECT {p.MACRO}(id) FROM ({ids})"


def opted_out_sql(ws: Workspace) -> str | None:
    """A query of the ids of customers who opted out (None: no consent column is loaded):
    their own ids, the ids of the customers they were resolved into, and, with analyses on
    pseudonyms, the pseudonyms of both."""
    if not ws.has_table(CUSTOMERS):
        return None
    cols = ws.columns(CUSTOMERS)
    said = opted_out_condition(cols)
    if said is None:
        return None
    current = " AND is_current" if "is_current" in cols else ""
    ids = (f"SELECT DISTINCT CAST(customer_id AS VARCHAR) AS id FROM {CUSTOMERS} "
           f"WHERE {said}{current}")
    if ws.has_table(IDENTITY):
        ids = (f"SELECT id FROM ({ids}) UNION SELECT CAST(i.customer_id AS VARCHAR) FROM "
               f"{IDENTITY} i JOIN ({ids}) o ON CAST(i.source_id AS VARCHAR) = o.id")  # fmt: skip
    pseudonyms = _pseudonyms_sql(ws, ids)
    return f"SELECT id FROM ({ids})" + (f" UNION {pseudonyms}" if pseudonyms else "")


def drop_opted_out(ws: Workspace | None, frame: pd.DataFrame,
                   column: str = "customer_id") -> tuple[pd.DataFrame, int]:  # fmt: skip
    """``frame`` without the rows of customers who opted out - by the warehouse's consent
    (``ws``, matched on ``column``) and by the frame's own consent columns - and how many
    rows were dropped: the filter of every list and export written from a frame."""
    import pandas as pd

    out = pd.Series(False, index=frame.index)
    for col in frame.columns:
        low = str(col).lower()
        if low in OPT_OUT_COLUMNS:
            out |= _as_bool(frame[col]).eq(True).fillna(False).astype(bool)
        elif low in CONSENT_COLUMNS:
            out |= _as_bool(frame[col]).eq(False).fillna(False).astype(bool)
    query = opted_out_sql(ws) if ws is not None and column in frame.columns else None
    if query is not None:
        ids = {str(r[0]) for r in ws.duck.execute(query).fetchall()}  # type: ignore[union-attr]
        out |= frame[column].astype(str).isin(ids) & frame[column].notna()
    return frame[~out], int(out.sum())


def drop_opted_out_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, int | None]:
    """``frame`` without the rows whose own consent columns say the customer opted out, and
    how many were dropped; None when it has no consent column (nothing could be left out).
    The filter of a flat file scored with ``--data``: no warehouse is asked who opted out."""
    names = {str(c).lower() for c in frame.columns}
    if not names & {*OPT_OUT_COLUMNS, *CONSENT_COLUMNS}:
        return frame, None
    kept, dropped = drop_opted_out(None, frame)
    return kept.reset_index(drop=True), dropped


def _as_bool(values: pd.Series) -> pd.Series:
    """True / False / missing from booleans, 0/1 and yes/no/true/false text."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    text = values.astype("string").str.strip().str.lower()
    mapped = text.map({"true": True, "1": True, "yes": True, "y": True, "t": True,
                       "false": False, "0": False, "no": False, "n": False, "f": False,
                       "1.0": True, "0.0": False})  # fmt: skip
    return mapped.astype("boolean")


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


def contact_marts(analysis: str | Analysis) -> list[str]:
    """The marts of ``analysis`` (a declaration or its name) that list customers to act on:
    actionable, not a service list (those without a ``customer_id`` are skipped when
    filtered)."""
    if isinstance(analysis, str):
        from crmine.contract import all_analyses

        found = all_analyses().get(analysis)
        if found is None:
            return []
        analysis = found
    return [m.table for m in analysis.marts if m.actionable and m.name not in NOT_MARKETING]


def honour_consent(ws: Workspace, analysis: str | Analysis) -> dict[str, int]:
    """Remove the opted-out customers from every list ``analysis`` wrote to act on and record
    how many (``meta.consent_exclusions``): mart -> rows left out. The pipeline calls it after
    each analysis, and so does every command that runs one analysis alone."""
    name = analysis if isinstance(analysis, str) else analysis.name
    removed = {}
    for table in contact_marts(analysis):
        if (n := exclude_opted_out(ws, table)) is not None:
            removed[table.split(".", 1)[1]] = n
    if removed:
        record_exclusions(ws, name, removed)
    return removed


def record_exclusions(ws: Workspace, analysis: str, removed: dict[str, int]) -> None:
    """Keep, per analysis, how many opted-out customers each of its lists left out."""
    ws.duck.execute(f"CREATE TABLE IF NOT EXISTS {EXCLUSIONS} (analysis VARCHAR, mart VARCHAR, "
                    "excluded BIGINT, recorded_at TIMESTAMP)")  # fmt: skip
    ws.duck.execute(f"DELETE FROM {EXCLUSIONS} WHERE analysis = ?", [analysis])
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for mart, n in sorted(removed.items()):
        ws.duck.execute(f"INSERT INTO {EXCLUSIONS} VALUES (?, ?, ?, ?)", [analysis, mart, n, now])
