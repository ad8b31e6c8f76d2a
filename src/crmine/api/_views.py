"""What the API and dashboard show, as plain functions of a workspace (usable from Python):
a customer's 360-degree view, customer pages, segments, campaign KPIs, rules, the analyses
with their verdicts, the overview. Every query binds its values as parameters; nothing here
puts request text into SQL (cube filters go through :mod:`crmine.cube`'s parser)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crmine.api._masking import mask_frame, mask_record
from crmine.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

    from crmine.api._lookup import Lookup
    from crmine.warehouse import Workspace

__all__ = ["analyses_summary", "campaign_kpis", "customer_360", "customer_360_of",
           "customers_page", "overview", "records", "rules_table", "segments_overview"]

# Contact details added to listed customers (the cube keeps no personal data).
_CONTACT = ("name", "email", "phone")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN and infinities become null, times ISO 8601)."""
    if frame.empty:
        return []
    out: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso",
                                                         default_handler=str))
    return out


def _rows(ws: Workspace, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    return ws.duck.execute(sql, list(params)).df()


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


def fetch(ws: Workspace, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows of ``sql`` as JSON-ready dicts, straight from DuckDB (no DataFrame: a customer's
    360 view is a dozen small queries, and pandas would be most of its time)."""
    result = ws.duck.execute(sql, list(params))
    names = [d[0] for d in result.description or ()]
    return [{n: _plain(v) for n, v in zip(names, row, strict=True)}
            for row in result.fetchall()]


def _has(ws: Workspace, table: str) -> bool:
    return ws.has_table(table)


def consent_filters(ws: Workspace) -> list[str]:
    """Cube filters leaving out the customers who opted out (crmine.warehouse._consent)."""
    from crmine.cube import cube_columns
    from crmine.warehouse._consent import anyone_opted_out, consent_where

    return consent_where(cube_columns(ws)) if anyone_opted_out(ws) else []


def customers_page(ws: Workspace, where: Sequence[str], *, page: int, page_size: int,
                   pii: bool, columns: Sequence[str] | None = None,
                   contactable: bool = False) -> dict[str, Any]:
    """One page of the customers matching every cube filter, with contact details (masked
    unless ``pii``); ``contactable``: a list to act on, without those who opted out (how
    many were left out is ``consent_excluded``)."""
    from crmine.cube import query

    consent = consent_filters(ws) if contactable else []
    result = query(ws, where=[*where, *consent], list_customers=True, page=page,
                   page_size=page_size, columns=list(columns) if columns else None)
    left_out = query(ws, where=list(where)).count - result.count if consent else 0
    frame = result.customers if result.customers is not None else None
    rows = [] if frame is None else records(_with_contact(ws, frame, pii))
    return {"count": result.count, "where": [str(f) for f in result.filters],
            "page": result.page, "page_size": result.page_size, "pages": result.pages,
            "customers": rows, "consent_excluded": left_out}


def _with_contact(ws: Workspace, frame: pd.DataFrame, pii: bool) -> pd.DataFrame:
    if frame.empty or "customer_id" not in frame.columns or not _has(ws, "core.dim_customer"):
        return mask_frame(frame, pii)
    have = set(ws.columns("core.dim_customer"))
    cols = [c for c in _CONTACT if c in have]
    if not cols:
        return mask_frame(frame, pii)
    ids = [str(i) for i in frame["customer_id"].tolist()]
    current = " AND is_current" if "is_current" in have else ""
    contact = _rows(ws, f"SELECT CAST(customer_id AS VARCHAR) AS customer_id, "
                        f"{', '.join(cols)} FROM core.dim_customer WHERE CAST(customer_id AS "
                        f"VARCHAR) IN (SELECT unnest(?::VARCHAR[])){current}", [ids])
    contact = contact.drop_duplicates("customer_id")
    merged = frame.drop(columns=[c for c in cols if c in frame.columns]).merge(
        contact, on="customer_id", how="left")
    order = ["customer_id", *cols, *[c for c in merged.columns
                                     if c not in cols and c != "customer_id"]]
    return mask_frame(merged[order], pii)


def customer_360(ws: Workspace, customer_id: str, *, pii: bool, orders: int = 50
                 ) -> dict[str, Any] | None:
    """Everything known about one customer, or None when there is no such customer:
    attributes and their history, orders, tickets, segment, scores with reasons, next-best
    products, lifecycle stage."""
    cid = str(customer_id)
    from crmine.api._lookup import lookup_of

    lookup = lookup_of(ws)
    if lookup is not None:
        return customer_360_of(lookup, cid, pii=pii, orders=orders)
    return _customer_360_sql(ws, cid, pii=pii, orders=orders)


def customer_360_of(lookup: Lookup, customer_id: str, *, pii: bool, orders: int = 50
                    ) -> dict[str, Any] | None:
    """:func:`customer_360` from a serving copy's loaded per-customer tables (no
    connection needed)."""
    return _customer_360_lookup(lookup, str(customer_id), pii=pii, orders=orders)


# What the 360 shows of the retention list's row
_CHURN_KEYS = ("churn_risk", "churn_reasons", "risk_band", "value", "value_at_risk", "target",
               "rank")


def _customer_360_sql(ws: Workspace, cid: str, *, pii: bool, orders: int
                      ) -> dict[str, Any] | None:
    """:func:`customer_360` by queries (a warehouse without lookup tables)."""
    if not _has(ws, "core.dim_customer"):
        return None
    history = fetch(ws, "SELECT * EXCLUDE (load_id, source_row) FROM core.dim_customer "
                        "WHERE CAST(customer_id AS VARCHAR) = ? ORDER BY valid_from", [cid])
    if not history:
        return None
    current = [h for h in history if h.get("is_current", True)]
    attributes = (current or history)[-1]
    out: dict[str, Any] = {"customer_id": cid, "attributes": attributes, "history": history}

    def one(table: str) -> dict[str, Any] | None:
        if not _has(ws, table):
            return None
        rows = fetch(ws, f"SELECT * FROM {table} WHERE CAST(customer_id AS VARCHAR) = ? "
                         "LIMIT 1", [cid])
        return rows[0] if rows else None

    def many(table: str, order: str, limit: int) -> list[dict[str, Any]]:
        if not _has(ws, table):
            return []
        return fetch(ws, f"SELECT * EXCLUDE (load_id, source_row) FROM {table} WHERE "
                         f"CAST(customer_id AS VARCHAR) = ? ORDER BY {order} LIMIT ?",
                     [cid, int(limit)])

    out["orders"] = many("core.fct_order_lines", "order_ts DESC, order_id, line_number", orders)
    out["tickets"] = many("core.fct_tickets", "opened_ts DESC", 50)
    out["segment"] = one("marts.customer_segments")
    out["scores"] = one("marts.customer_scores")
    retention = one("marts.retention_list")
    out["churn"] = None if retention is None else {k: retention.get(k) for k in _CHURN_KEYS}
    out["next_best_products"] = (
        fetch(ws, "SELECT rank, product_id, product_name, score, because_bought FROM "
                  "marts.basket_recommendations WHERE CAST(customer_id AS VARCHAR) = ? "
                  "ORDER BY rank LIMIT 10", [cid])
        if _has(ws, "marts.basket_recommendations") else [])
    out["lifecycle"] = one("marts.lifecycle_stages")
    return mask_record(out, pii)


def _customer_360_lookup(lookup: Lookup, cid: str, *, pii: bool, orders: int
                         ) -> dict[str, Any] | None:
    """:func:`customer_360` from the serving copy's sorted per-customer tables: the same
    rows in the same order as its queries, in O(rows of the customer)."""
    def rows(table: str) -> list[dict[str, Any]]:
        if not lookup.has(table):
            return []
        return [{k: _plain(v) for k, v in r.items()} for r in lookup.rows(table, cid)]

    history = _ordered(rows("core.dim_customer"), [("valid_from", False)])
    if not history:
        return None
    current = [h for h in history if h.get("is_current", True)]
    out: dict[str, Any] = {"customer_id": cid, "attributes": (current or history)[-1],
                           "history": history}

    def one(table: str) -> dict[str, Any] | None:
        if not lookup.has(table):
            return None
        found = rows(table)
        return found[0] if found else None

    out["orders"] = _ordered(rows("core.fct_order_lines"), [
        ("order_ts", True), ("order_id", False), ("line_number", False)])[:max(int(orders), 0)]
    out["tickets"] = _ordered(rows("core.fct_tickets"), [("opened_ts", True)])[:50]
    out["segment"] = one("marts.customer_segments")
    out["scores"] = one("marts.customer_scores")
    retention = one("marts.retention_list")
    out["churn"] = None if retention is None else {k: retention.get(k) for k in _CHURN_KEYS}
    out["next_best_products"] = [
        {k: r.get(k) for k in ("rank", "product_id", "product_name", "score", "because_bought")}
        for r in _ordered(rows("marts.basket_recommendations"), [("rank", False)])[:10]]
    out["lifecycle"] = one("marts.lifecycle_stages")
    return mask_record(out, pii)


def _ordered(rows: list[dict[str, Any]], keys: Sequence[tuple[str, bool]]
             ) -> list[dict[str, Any]]:
    """``rows`` as DuckDB's ``ORDER BY`` on ``keys`` (name, descending) returns them: nulls
    last in either direction."""
    for name, descending in reversed(keys):
        if rows and name not in rows[0]:
            continue
        present = [r for r in rows if r.get(name) is not None]
        present.sort(key=lambda r: r[name], reverse=descending)  # stable, also reversed
        rows = present + [r for r in rows if r.get(name) is None]
    return rows


def segments_overview(ws: Workspace) -> dict[str, Any]:
    """The clusters' profiles and the RFM segments' summary."""
    def table(name: str) -> list[dict[str, Any]]:
        if not _has(ws, name):
            return []
        return records(_rows(ws, f"SELECT * EXCLUDE (model_version, scored_at) FROM {name}"))

    return {"clusters": table("marts.segment_profiles"),
            "rfm_segments": table("marts.segment_rfm_summary"),
            "rules": table("marts.segment_rules")}


def campaign_kpis(ws: Workspace) -> dict[str, Any]:
    """Campaign KPIs (per campaign, channel and overall) and the funnel."""
    def table(name: str) -> list[dict[str, Any]]:
        if not _has(ws, name):
            return []
        return records(_rows(ws, f"SELECT * EXCLUDE (model_version, scored_at) FROM {name}"))

    return {"kpis": table("marts.campaign_kpis"), "funnel": table("marts.funnel")}


def rules_table(ws: Workspace, *, product: str | None, min_lift: float, limit: int
                ) -> list[dict[str, Any]]:
    """Association rules by lift, optionally those naming ``product`` (id or name part)."""
    if not _has(ws, "marts.rules"):
        return []
    cols = [c for c in ("level", "antecedents_text", "consequents_text", "antecedent_names",
                        "consequent_names", "support", "confidence", "lift", "count", "rank")
            if c in ws.columns("marts.rules")]
    sql = f"SELECT {', '.join(cols)} FROM marts.rules WHERE lift >= ?"
    params: list[Any] = [float(min_lift)]
    if product:
        like = "%" + product.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql += (" AND (antecedents_text ILIKE ? ESCAPE '\\' OR consequents_text ILIKE ? "
                "ESCAPE '\\' OR antecedent_names ILIKE ? ESCAPE '\\' OR consequent_names "
                "ILIKE ? ESCAPE '\\')")
        params += [like] * 4
    sql += " ORDER BY lift DESC, support DESC LIMIT ?"
    return records(_rows(ws, sql, [*params, int(limit)]))


def _verdicts(ws: Workspace) -> dict[str, dict[str, Any]]:
    from crmine.contract import read_verdicts

    out = {}
    for row in records(read_verdicts(ws)):
        try:
            out[row["analysis"]] = json.loads(row["verdict_json"])
        except (TypeError, ValueError):
            out[row["analysis"]] = {"status": row.get("status"), "why": row.get("why")}
        out[row["analysis"]]["judged_at"] = row.get("judged_at")
    return out


def _last_run(ws: Workspace) -> dict[str, Any] | None:
    if not _has(ws, "meta.runs"):
        return None
    rows = records(_rows(ws, "SELECT run_id, started_at, finished_at, steps FROM meta.runs "
                             "ORDER BY finished_at DESC NULLS LAST LIMIT 1"))
    if not rows:
        return None
    run = rows[0]
    if isinstance(run.get("steps"), str):
        with contextlib.suppress(ValueError):
            run["steps"] = json.loads(run["steps"])
    return run


def analyses_summary(ws: Workspace, name: str | None = None, *, pii: bool = False,
                     preview: int = 20) -> list[dict[str, Any]]:
    """Every declared analysis (or ``name``, then with the first ``preview`` rows of its
    actionable marts, personal data masked unless ``pii``): title, verdict, marts with their
    row counts, model and its last step in a run — read from the declarations, so a new
    analysis appears by itself."""
    from crmine.contract import all_analyses

    declared = all_analyses()
    if name is not None and name not in declared:
        raise DataError(f"no analysis named {name[:80]!r}; known: {', '.join(sorted(declared))}")
    verdicts = _verdicts(ws)
    run = _last_run(ws) or {}
    steps = {s.get("step"): s for s in run.get("steps") or [] if isinstance(s, dict)}
    out = []
    for a in declared.values():
        if name is not None and a.name != name:
            continue
        marts = []
        for m in a.marts:
            rows = None
            if _has(ws, m.table):
                rows = int(_rows(ws, f"SELECT count(*) AS n FROM {m.table}")["n"].iloc[0])
            entry: dict[str, Any] = {"table": m.table, "grain": m.grain,
                                     "actionable": m.actionable, "rows": rows}
            if name is not None and m.actionable and rows:
                # the first rows of what people act on (retention list, targets …)
                entry["preview"] = [mask_record(r, pii) for r in fetch(
                    ws, f"SELECT * FROM {m.table} LIMIT {int(preview)}")]
            marts.append(entry)
        out.append({"name": a.name, "title": a.title, "fits": a.fits,
                    "verdict": verdicts.get(a.name), "last_run": steps.get(a.name),
                    "model": a.model.name if a.model else None, "marts": marts})
    return out


def overview(ws: Workspace) -> dict[str, Any]:
    """Headline KPIs, each analysis's verdict status and the last run."""
    kpis: dict[str, Any] = {}
    if _has(ws, "marts.customer_rfm"):
        row = _rows(ws, "SELECT count(*) AS customers, sum(total_spend) AS revenue, "
                        "sum(orders) AS orders FROM marts.customer_rfm").iloc[0]
        kpis.update(customers=int(row["customers"]), revenue=_num(row["revenue"]),
                    orders=_num(row["orders"]))
    elif _has(ws, "core.dim_customer"):
        kpis["customers"] = int(_rows(ws, "SELECT count(DISTINCT customer_id) AS n FROM "
                                          "core.dim_customer")["n"].iloc[0])
    if _has(ws, "marts.customer_scores"):
        cols = set(ws.columns("marts.customer_scores"))
        for col, label in (("predicted_clv_12m", "mean_clv_12m"), ("p_alive", "mean_p_alive"),
                           ("churn_risk", "mean_churn_risk")):
            if col in cols:
                kpis[label] = _num(_rows(ws, f'SELECT avg("{col}") AS v FROM '
                                             "marts.customer_scores")["v"].iloc[0])
    verdicts = _verdicts(ws)
    statuses = {n: v.get("status") for n, v in verdicts.items()}
    return {"kpis": kpis, "verdicts": [{"analysis": n, "status": s,
                                        "why": verdicts[n].get("why")}
                                       for n, s in sorted(statuses.items())],
            "last_run": _last_run(ws)}


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
