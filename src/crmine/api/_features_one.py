"""Today's model features of a few customers, from their rows alone.

The declared ``ModelSpec.features(ws)`` computes every customer's features (minutes and
gigabytes at a million customers). Churn's features are per customer once the few
population-wide facts they depend on are fixed (the data end, whether contracts exist,
whether customers have SCD2 history, which tables hold rows), so for scoring one customer
they are computed here from that customer's rows in the serving copy's lookup tables
(:mod:`crmine.api._lookup`), with the churn package's own feature functions: the rows are
those the full computation sees, read into pandas the same way, so the features are equal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from crmine.api._lookup import Lookup, to_pandas

if TYPE_CHECKING:
    from crmine.warehouse import Workspace

__all__ = ["FEATURES_OF", "churn_features_of", "clv_features_of"]

_CHURN_BOOKKEEPING = ("load_id", "source_row", "origin", "source_customer_id")
_ORDER_COLUMNS = ("order_id", "customer_id", "order_ts", "amount", "quantity", "unit_cost",
                  "is_return")


def _facts(ws: Workspace, lookup: Lookup) -> dict[str, Any] | None:
    """What churn's features depend on beyond one customer's rows, once per copy; None when
    the per-customer path cannot give the full computation's answer (identities resolved or
    pseudonymised: the features read other tables)."""
    from crmine.churn._labels import behaviour_aggregates
    from crmine.churn._workspace import CUSTOMERS, ORDERS, SUBSCRIPTIONS, TICKETS, _source, data_end

    with lookup.memo_lock:
        if "churn" in lookup.memo:
            return lookup.memo["churn"]
        facts: dict[str, Any] | None = {}
        tables = (SUBSCRIPTIONS, ORDERS, TICKETS, CUSTOMERS)
        for table in tables:
            present = ws.has_table(table)
            if present != lookup.has(table) or (present and ws.resolved(table) != table):
                facts = None
                break
        if facts is not None:
            facts["as_of"] = data_end(ws)
            facts["source"] = _source(ws)
            facts["rows"] = {t: ws.has_table(t) and bool(ws.duck.execute(
                f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}  # type: ignore[index]
            if facts["rows"][ORDERS] and "is_return" in ws.columns(ORDERS):
                # order_features gives return_share only when someone bought in the year
                as_of = pd.Timestamp(facts["as_of"])
                facts["return_share"] = bool(ws.duck.execute(
                    f"SELECT count(*) FROM {ORDERS} WHERE customer_id IS NOT NULL AND "
                    "order_ts < ? AND order_ts >= ?",
                    [as_of.to_pydatetime(), (as_of - pd.Timedelta(days=365)).to_pydatetime()]
                ).fetchone()[0])  # type: ignore[index]
            if ws.has_table(CUSTOMERS):
                cols = [c for c in ws.columns(CUSTOMERS) if c not in _CHURN_BOOKKEEPING]
                repeated = ws.duck.execute(
                    f"SELECT count(*) > count(DISTINCT customer_id) FROM {CUSTOMERS}"
                ).fetchone()[0]  # type: ignore[index]
                # behaviour_aggregates looks at the columns and whether ids repeat
                probe = pd.DataFrame([["x"] * len(cols)] * (2 if repeated else 0), columns=cols)
                facts["aggregates"] = behaviour_aggregates(probe)
        lookup.memo["churn"] = facts
        return facts


def _rows(ws: Workspace, lookup: Lookup, table: str, ids: Sequence[str],
          columns: Sequence[str] | None = None) -> pd.DataFrame:
    data = pa.concat_tables([lookup.slice(table, c) for c in ids])
    keep = [c for c in (columns or data.column_names)
            if c in data.column_names and c not in _CHURN_BOOKKEEPING]
    return to_pandas(ws, lookup, table, data, keep).reset_index(drop=True)


def _ticket_settings(ws: Workspace) -> dict[str, float]:
    """The service settings churn's ticket features use (as ``churn._workspace._tables``)."""
    from crmine.churn._workspace import REPEAT_DAYS, SLA_HOURS

    return {"repeat_days": float(ws.setting("service.repeat_days", REPEAT_DAYS)),
            "sla_hours": float(ws.setting("service.sla_hours", SLA_HOURS))}


def churn_features_of(ws: Workspace, lookup: Lookup, ids: Sequence[str]
                      ) -> pd.DataFrame | None:
    """``crmine.churn.current_features(ws)`` restricted to ``ids`` (those active at the data
    end; the others are absent, as there), or None when only the full computation can say."""
    from crmine.churn._workspace import (
        CUSTOMERS,
        ORDERS,
        SUBSCRIPTIONS,
        TICKETS,
        Population,
        _active_customers,
        _Tables,
        churn_features,
    )

    facts = _facts(ws, lookup)
    if facts is None:
        return None
    rows = facts["rows"]

    def read(table: str, columns: Sequence[str] | None = None) -> pd.DataFrame | None:
        return _rows(ws, lookup, table, ids, columns) if rows[table] else None

    orders = read(ORDERS, _ORDER_COLUMNS)
    if orders is not None:
        orders = orders[orders["customer_id"].notna()]
    tables = _Tables(read(SUBSCRIPTIONS), orders, read(TICKETS), read(CUSTOMERS),
                     _ticket_settings(ws))
    as_of = facts["as_of"]
    active = _active_customers(tables, facts["source"], as_of)
    # what depends on every customer is taken from the whole tables
    population = Population(rows, facts.get("aggregates", []),
                            bool(facts.get("return_share")))
    X = churn_features(tables, as_of, active, population=population)
    X.insert(1, "cutoff", as_of)
    X.attrs["as_of"] = as_of
    return X


def clv_features_of(ws: Workspace, lookup: Lookup, ids: Sequence[str]) -> pd.DataFrame | None:
    """``crmine.clv.current_summary(ws)`` restricted to ``ids``: their rows of
    ``marts.customer_rfm``, which is what the full path reads (None without that mart)."""
    from crmine.clv._summary import rfm_from_mart

    if not lookup.has(RFM) or not ws.has_table(RFM):
        return None
    rows = _rows(ws, lookup, RFM, ids)
    return rfm_from_mart(rows).reset_index()


RFM = "marts.customer_rfm"

# Models whose features have a per-customer path (the others compute every customer's once).
FEATURES_OF: dict[str, Callable[[Workspace, Lookup, Sequence[str]], pd.DataFrame | None]] = {
    "churn": churn_features_of,
    "clv": clv_features_of,
}
