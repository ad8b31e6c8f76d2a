"""Identity resolution in a workspace: records from ``core.dim_customer``, results in core.

Tables (all in schema ``core``):

* ``customer_identity`` - the crosswalk, one row per customer record of any source:
  source, source_id, customer_id (resolved), rule, match_probability, is_canonical,
  first_seen, run_id, resolved_at;
* ``identity_links`` - every merged pair with its rule, probability, match weight and the
  per-attribute details (what ``crmine identity explain`` shows);
* ``identity_history`` - every change of a record's customer: merges found by a resolve,
  splits, with the run, time and previous customer;
* ``identity_keep_apart`` - pairs a split separated: later resolves never link them again.

How analyses see one customer: facts keep the id their source gave (``customer_id`` of
``core.fct_order_lines`` etc. is never rewritten, so row accounting and every source id
survive a re-resolution or a split); :func:`resolved_table` adds the resolved
``customer_id`` and keeps the source's as ``source_customer_id``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmine._format import fmt_number
from crmine.exceptions import DataError, IngestError, SchemaError
from crmine.identity._resolve import Resolution, _clusters, resolve_records
from crmine.identity._settings import IdentitySettings, identity_settings
from crmine.warehouse._resolved import create_resolved_views

if TYPE_CHECKING:
    import ibis

    from crmine.warehouse import Workspace

__all__ = [
    "IdentityRun",
    "explain_customer",
    "identity_records",
    "resolve_identities",
    "resolved_table",
    "split_customer",
    "workspace_identity_settings",
]

IDENTITY = "core.customer_identity"
LINKS = "core.identity_links"
HISTORY = "core.identity_history"
KEEP_APART = "core.identity_keep_apart"


@dataclass(frozen=True, slots=True)
class IdentityRun:
    """One resolution of a workspace: its id, what it found, what changed."""

    run_id: str
    resolved_at: pd.Timestamp
    resolution: Resolution
    changed: int  # records whose customer differs from the previous resolution

    def summary(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "resolved_at": self.resolved_at,
                **self.resolution.summary(), "records_changed": self.changed}  # fmt: skip

    def to_frame(self) -> pd.DataFrame:
        return self.resolution.identity

    def __str__(self) -> str:
        return f"{self.resolution} in run {self.run_id}; {fmt_number(self.changed)} changed"


def workspace_identity_settings(ws: Workspace) -> IdentitySettings:
    """The ``[identity]`` table of the workspace's crmine.toml, checked."""
    from crmine.config import CONFIG_FILE

    return identity_settings(ws.config.extra.get("identity"), str(ws.root / CONFIG_FILE))


def _source_label(source: str | None, origin: str | None) -> str:
    """A load's source as a short name: ``data/shop_2024.csv.gz`` -> ``shop_2024``."""
    if not source:
        return str(origin or "unknown")
    if "://" in source or source.startswith(("demo:", "dataframe")):
        return source
    name = Path(source).name
    for suffix in (".gz", ".csv", ".tsv", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm"):
        name = name.removesuffix(suffix)
    return name or source


def identity_records(ws: Workspace) -> pd.DataFrame:
    """Every customer record the warehouse knows (current rows of ``core.dim_customer``),
    with the source that first brought it and when.

    Raises
    ------
    SchemaError
        When no customers have been loaded yet.
    """
    if not ws.has_table("core.dim_customer"):
        raise SchemaError("no customers in the warehouse yet (core.dim_customer is missing); "
                          "load them with `crmine ingest customers FILE` first")  # fmt: skip
    cols = set(ws.columns("core.dim_customer"))
    attrs = ", ".join(f"d.{c}" if c in cols else f"NULL AS {c}"
                      for c in ("name", "email", "phone", "birth_date", "address", "city"))
    frame = ws.duck.execute(f"""
        WITH first AS (
            SELECT customer_id, arg_min(load_id, valid_from) AS load_id,
                   min(valid_from) AS first_seen
            FROM core.dim_customer GROUP BY 1
        )
        SELECT d.customer_id AS source_id, l.source AS load_source, d.origin,
               f.first_seen, {attrs}
        FROM core.dim_customer d JOIN first f USING (customer_id)
        LEFT JOIN meta.loads l ON l.load_id = f.load_id
        WHERE d.is_current
        ORDER BY f.first_seen, d.customer_id
    """).df()  # fmt: skip
    labels = {(s, o): _source_label(s, o) for s, o in
              frame[["load_source", "origin"]].drop_duplicates().itertuples(index=False)}
    frame.insert(0, "source", [labels[(s, o)] for s, o in
                               zip(frame["load_source"], frame["origin"], strict=True)])
    return frame.drop(columns=["load_source"])


def _read_crosswalk(ws: Workspace, path: str | Path) -> pd.DataFrame:
    file = Path(path)
    if not file.is_absolute():
        file = ws.root / file
    if not file.exists():
        raise IngestError(f"crosswalk file {file} not found; give a CSV of source_id,"
                          "customer_id lines (path relative to the workspace)")  # fmt: skip
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IngestError(f"crosswalk file {file}: not a readable CSV ({str(exc)[:150]}); "
                          "save it as UTF-8 CSV with columns source_id,customer_id") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if not {"source_id", "customer_id"} <= set(frame.columns):
        raise IngestError(f"crosswalk file {file}: needs columns source_id and customer_id; "
                          f"found {list(frame.columns)[:10]}")  # fmt: skip
    blank = frame.index[(frame["source_id"].str.strip() == "") |
                        (frame["customer_id"].str.strip() == "")]  # fmt: skip
    if len(blank):
        raise IngestError(f"crosswalk file {file}, line {int(blank[0]) + 2}: empty source_id "
                          "or customer_id; fill or delete the line")  # fmt: skip
    return frame


def _keep_apart(ws: Workspace) -> pd.DataFrame | None:
    return ws.read(KEEP_APART) if ws.has_table(KEEP_APART) else None


def resolve_identities(
    ws: Workspace,
    settings: IdentitySettings | None = None,
    *,
    crosswalk: str | Path | None = None,
    probabilistic: bool = True,
    spark: Any = None,
) -> IdentityRun:
    """Resolve every customer record of the workspace and store the crosswalk.

    Parameters
    ----------
    ws : Workspace
    settings : IdentitySettings, optional
        Default: the ``[identity]`` table of crmine.toml.
    crosswalk : path, optional
        A CSV of ``source_id,customer_id`` lines (overrides ``[identity] crosswalk``).
    probabilistic : bool, default True
        False: only the exact rules and the crosswalk.
    spark : SparkSession, optional
        The session Splink scores pairs on when ``[identity] backend = "spark"`` (default: a
        local one, :func:`crmine.identity.spark_session`).

    Returns
    -------
    IdentityRun

    Notes
    -----
    One transaction: the crosswalk, links and history of a run are written together or not
    at all. Splits made earlier (``core.identity_keep_apart``) are respected.
    """
    settings = settings or workspace_identity_settings(ws)
    records = identity_records(ws)
    cw_path = crosswalk if crosswalk is not None else settings.crosswalk
    cw = _read_crosswalk(ws, cw_path) if cw_path else None
    resolution = resolve_records(records, settings, crosswalk=cw, keep_apart=_keep_apart(ws),
                                 probabilistic=probabilistic, spark=spark)  # fmt: skip
    now = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
    run_id = f"idr-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    identity = resolution.identity.assign(
        first_seen=pd.to_datetime(records["first_seen"]).to_numpy(),
        run_id=run_id, resolved_at=now)
    previous = (ws.read(IDENTITY, ["source_id", "customer_id"]) if ws.has_table(IDENTITY)
                else pd.DataFrame({"source_id": [], "customer_id": []}))  # fmt: skip
    before = previous.set_index("source_id")["customer_id"]
    old = before.reindex(identity["source_id"]).to_numpy()
    moved = identity["customer_id"].to_numpy() != old
    # a record new to the warehouse and merged with nothing is no news
    moved &= ~(pd.isna(old) & (identity["rule"] == "none").to_numpy())
    history = identity.loc[moved].assign(previous_customer_id=old[moved])
    history = pd.DataFrame({
        "changed_at": now, "run_id": run_id,
        "action": np.where(history["rule"] == "none", "separate", "merge"),
        "source_id": history["source_id"], "customer_id": history["customer_id"],
        "previous_customer_id": history["previous_customer_id"].astype("string"),
        "rule": history["rule"], "match_probability": history["match_probability"],
        "note": "resolve",
    })  # fmt: skip
    links = resolution.links.assign(run_id=run_id)
    with ws.transaction():
        ws.write_table(IDENTITY, identity)
        ws.write_table(LINKS, links)
        create_resolved_views(ws)  # from now on the analyses count one customer per person
        if len(history):
            ws.write_table(HISTORY, history, mode="append")
        elif not ws.has_table(HISTORY):
            ws.write_table(HISTORY, history)
    return IdentityRun(run_id=run_id, resolved_at=now, resolution=resolution,
                       changed=int(moved.sum()))


def _require_resolved(ws: Workspace) -> None:
    if not ws.has_table(IDENTITY):
        raise SchemaError("no identity resolution yet (core.customer_identity is missing); "
                          "run `crmine identity resolve` first")  # fmt: skip


def _id_candidates(ident: str) -> list[str]:
    """``demo:shop:A1`` may be the id itself, or source ``demo`` or ``demo:shop`` + an id."""
    parts = ident.split(":")
    return [":".join(parts[i:]) for i in range(len(parts))]


def _customer_of(ws: Workspace, ident: str) -> str:
    """The resolved customer of ``ident``: a customer id, a record's source id, or
    ``SOURCE:ID``."""
    _require_resolved(ws)
    for candidate in _id_candidates(ident):
        row = ws.duck.execute(
            f"SELECT customer_id FROM {IDENTITY} WHERE customer_id = ? OR source_id = ? "
            "ORDER BY customer_id = ? DESC LIMIT 1", [candidate, candidate, candidate]
        ).fetchone()
        if row:
            return str(row[0])
    raise DataError(f"no customer or record {ident!r} in {IDENTITY}; give a customer_id or a "
                    "source id as `crmine identity resolve --json` lists them")  # fmt: skip


def explain_customer(ws: Workspace, ident: str) -> dict[str, Any]:
    """Why the records of one customer are one customer.

    Parameters
    ----------
    ident : str
        A resolved customer id, or any of its records' source ids (``SOURCE:ID`` too).

    Returns
    -------
    dict
        ``customer_id``; ``records`` (DataFrame: source, source_id, rule, match_probability,
        name, email, phone, birth_date, address, city); ``links`` (DataFrame: each merged
        pair, its rule, probability, match weight and per-attribute ``details``);
        ``history`` (DataFrame: every merge and split of these records).
    """
    customer = _customer_of(ws, ident)
    cols = set(ws.columns("core.dim_customer"))
    attrs = ", ".join(f"d.{c}" if c in cols else f"NULL AS {c}"
                      for c in ("name", "email", "phone", "birth_date", "address", "city"))
    records = ws.duck.execute(f"""
        SELECT i.source, i.source_id, i.is_canonical, i.rule, i.match_probability, {attrs}
        FROM {IDENTITY} i LEFT JOIN core.dim_customer d
          ON d.customer_id = i.source_id AND d.is_current
        WHERE i.customer_id = ? ORDER BY NOT i.is_canonical, i.source, i.source_id
    """, [customer]).df()  # fmt: skip
    ids = records["source_id"].tolist()
    links = ws.duck.execute(
        f"SELECT source_id_l, source_id_r, rule, match_probability, match_weight, details "
        f"FROM {LINKS} WHERE list_contains(?, source_id_l) AND list_contains(?, source_id_r) "
        "ORDER BY rule, match_probability DESC", [ids, ids]).df()
    links["details"] = [json.loads(d) if isinstance(d, str) and d else {}
                        for d in links["details"]]
    history = (ws.duck.execute(
        f"SELECT * FROM {HISTORY} WHERE list_contains(?, source_id) OR customer_id = ? "
        "OR previous_customer_id = ? ORDER BY changed_at, source_id",
        [ids, customer, customer]).df()
        if ws.has_table(HISTORY) else pd.DataFrame())  # fmt: skip
    return {"customer_id": customer, "records": records, "links": links, "history": history}


def split_customer(ws: Workspace, ident: str, *, record: str | None = None) -> dict[str, Any]:
    """Undo a merge: separate one record (``record``) or every record of a customer.

    The separated pairs go to ``core.identity_keep_apart`` (later resolves never link them
    again); records still linked to each other by other links stay together. Each record
    whose customer changes gets a ``split`` row in ``core.identity_history``.

    Returns
    -------
    dict
        ``customer_id`` (the customer split), ``customers`` (the ids after the split) and
        ``moved`` (DataFrame: source_id, previous and new customer_id).
    """
    customer = _customer_of(ws, ident)
    members = ws.duck.execute(
        f"SELECT * FROM {IDENTITY} WHERE customer_id = ? ORDER BY source_id", [customer]).df()
    ids = members["source_id"].tolist()
    if len(ids) < 2:
        raise DataError(f"customer {customer} has one record ({ids[0]}); nothing to split")
    if record is not None:
        target = next((c for c in _id_candidates(record) if c in ids), None)
        if target is None:
            raise DataError(f"record {record!r} is not one of customer {customer}'s records "
                            f"({', '.join(ids[:10])}); see `crmine identity explain "
                            f"{customer}`")  # fmt: skip
        pairs = [(target, other) for other in ids if other != target]
    else:
        pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]]
    now = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
    run_id = f"ids-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    apart = pd.DataFrame({"source_id_l": [min(p) for p in pairs],
                          "source_id_r": [max(p) for p in pairs], "split_at": now,
                          "run_id": run_id})
    links = ws.duck.execute(
        f"SELECT * FROM {LINKS} WHERE list_contains(?, source_id_l) "
        "AND list_contains(?, source_id_r)", [ids, ids]).df()
    blocked = set(zip(apart["source_id_l"], apart["source_id_r"], strict=True))
    keep = [(min(a, b), max(a, b)) not in blocked
            for a, b in zip(links["source_id_l"], links["source_id_r"], strict=True)]
    kept = links[keep]
    index = {s: i for i, s in enumerate(ids)}
    edges = pd.DataFrame({"id_l": kept["source_id_l"].map(index).to_numpy(dtype=np.int64),
                          "id_r": kept["source_id_r"].map(index).to_numpy(dtype=np.int64),
                          "rule": kept["rule"].to_numpy(),
                          "match_probability": kept["match_probability"].to_numpy()})
    prepared = pd.DataFrame({"record_id": np.arange(len(ids)), "source": members["source"],
                             "source_id": ids, "first_seen": members["first_seen"]})
    settings = workspace_identity_settings(ws)
    regrouped = _clusters(prepared, edges, settings)
    moved = regrouped["customer_id"].to_numpy() != members["customer_id"].to_numpy()
    new = members.assign(customer_id=regrouped["customer_id"].to_numpy(),
                         rule=regrouped["rule"].to_numpy(),
                         match_probability=regrouped["match_probability"].to_numpy(),
                         is_canonical=regrouped["is_canonical"].to_numpy())
    history = pd.DataFrame({
        "changed_at": now, "run_id": run_id, "action": "split",
        "source_id": new.loc[moved, "source_id"], "customer_id": new.loc[moved, "customer_id"],
        "previous_customer_id": customer, "rule": new.loc[moved, "rule"],
        "match_probability": new.loc[moved, "match_probability"],
        "note": f"split of {customer}" + (f" (record {record})" if record else ""),
    })  # fmt: skip
    with ws.transaction():
        ws.write_table(KEEP_APART, apart, mode="append")
        ws.duck.execute(f"DELETE FROM {IDENTITY} WHERE customer_id = ?", [customer])
        ws.write_table(IDENTITY, new, mode="append")
        ws.duck.register("_crmine_apart", apart)
        try:
            ws.duck.execute(f"""DELETE FROM {LINKS} WHERE EXISTS (SELECT 1 FROM _crmine_apart a
                WHERE least({LINKS}.source_id_l, {LINKS}.source_id_r) = a.source_id_l
                  AND greatest({LINKS}.source_id_l, {LINKS}.source_id_r) = a.source_id_r)""")
        finally:
            ws.duck.unregister("_crmine_apart")
        ws.write_table(HISTORY, history, mode="append")
    return {"customer_id": customer,
            "customers": sorted(set(new["customer_id"])),
            "moved": pd.DataFrame({"source_id": new.loc[moved, "source_id"],
                                   "previous_customer_id": customer,
                                   "customer_id": new.loc[moved, "customer_id"]}
                                  ).reset_index(drop=True)}  # fmt: skip


def resolved_table(ws: Workspace, name: str = "core.fct_order_lines") -> ibis.Table:
    """A core table as analyses see it: one customer per person (the ``resolved.*`` view).

    For a fact table ``customer_id`` becomes the resolved customer; the id the source gave is
    kept as ``source_customer_id``. Rows whose customer was never resolved (loaded after the
    last resolve) keep their own id; rows without a customer stay without one. Nothing is
    dropped: the result has exactly the rows of ``name``. For ``core.dim_customer`` the
    records a merge folded into another customer are left out.
    """
    if "customer_id" not in ws.table(name).columns:
        raise SchemaError(f"{name} has no customer_id column; columns: "
                          f"{list(ws.table(name).columns)[:20]}")  # fmt: skip
    _require_resolved(ws)
    return ws.table(ws.resolved(name))
