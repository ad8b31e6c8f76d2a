"""Retention (``crmine privacy retain``): facts older than a configured period are deleted,
or anonymised (detached from their customer, so totals stay), everywhere they are kept - the
core fact table, its staging copy and its landing files - and the warehouse file is rewritten
so the freed pages do not keep them.

``[privacy] retention_days = 1095`` and ``retention_mode = "delete"`` (or ``"anonymise"``)
in crmine.toml, or the arguments of :func:`apply_retention`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from crmine.exceptions import ConfigError
from crmine.privacy._compact import rewrite_database
from crmine.privacy._landing import landing_views
from crmine.privacy._sql import literal, quote
from crmine.warehouse import Workspace
from crmine.warehouse._merge import FACT_TIME
from crmine.warehouse._schema import ENTITIES

__all__ = ["RetentionResult", "apply_retention"]

Mode = Literal["delete", "anonymise"]


@dataclass(slots=True)
class RetentionResult:
    cutoff: dt.datetime
    mode: str
    tables: dict[str, int] = field(default_factory=dict)  # rows deleted or anonymised
    landing_files: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _settings(ws: Workspace, days: int | None, mode: str | None) -> tuple[int, str]:
    table = ws.config.extra.get("privacy") or {}
    days = days if days is not None else table.get("retention_days")
    mode = mode or table.get("retention_mode", "delete")
    where = f"{ws.root / 'crmine.toml'} [privacy]"
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise ConfigError(f"{where}: retention_days must be a whole number of days >= 1 "
                          f"(got {days!r}); e.g. retention_days = 1095")  # fmt: skip
    if mode not in ("delete", "anonymise"):
        raise ConfigError(f'{where}: retention_mode = {mode!r}: use "delete" or "anonymise"')
    return days, mode


def _old(column: str, cutoff: dt.datetime) -> str:
    return f"coalesce(TRY_CAST({column} AS TIMESTAMP) < TIMESTAMP {literal(str(cutoff))}, false)"


def apply_retention(ws: Workspace, *, days: int | None = None, mode: Mode | None = None,
                    as_of: dt.datetime | None = None) -> RetentionResult:  # fmt: skip
    """Delete or anonymise facts older than ``days`` before ``as_of`` (default: now)."""
    days, how = _settings(ws, days, mode)
    cutoff = (as_of or dt.datetime.now(dt.UTC).replace(tzinfo=None)) - dt.timedelta(days=days)
    result = RetentionResult(cutoff, how)
    tag = "r" + uuid.uuid4().hex[:6]
    maps = {str(load): (str(ent), json.loads(cmap or "{}")) for load, ent, cmap in
            ws.duck.execute("SELECT load_id, entity, column_map FROM meta.loads").fetchall()
            } if ws.has_table("meta.loads") else {}  # fmt: skip
    rewrites = []
    for view, old in landing_views(ws):
        load = old.name.split("__", 1)[1].split(".", 1)[0].upper()
        entity, cmap = maps.get(load, ("", {}))
        source_ts = cmap.get(FACT_TIME.get(entity, ""))
        if not source_ts:
            continue
        condition = _old(quote(source_ts), cutoff)
        row = ws.duck.execute(f"SELECT count(*) FROM {view} WHERE {condition}").fetchone()
        if not row or not row[0]:
            continue
        new = old.with_name(f"{old.name.split('.', 1)[0]}.{tag}.parquet")
        if how == "delete":
            select = f"SELECT * FROM {view} WHERE NOT {condition}"
        else:
            cid = quote(cmap.get("customer_id", "customer_id"))
            select = f"SELECT * REPLACE (CASE WHEN {condition} THEN NULL ELSE {cid} END AS {cid}) FROM {view}"  # noqa: E501
        ws.duck.execute(f"COPY ({select}) TO {literal(str(new))} (FORMAT parquet)")
        rewrites.append((view, old, new))
        result.landing_files[f"raw/{old.name}"] = int(row[0])
    try:
        with ws.transaction():
            for entity, column in FACT_TIME.items():
                for table in (ENTITIES[entity].core_table, f"staging.{entity}"):
                    kind = ws.duck.execute(
                        "SELECT table_type FROM information_schema.tables WHERE "
                        "table_schema || '.' || table_name = ? AND table_catalog = "
                        "current_database()", [table]).fetchone()  # fmt: skip
                    if not kind or kind[0] != "BASE TABLE":
                        continue
                    cond = _old(quote(column), cutoff)
                    if how == "delete":
                        sql = f"DELETE FROM {table} WHERE {cond}"
                    else:
                        extra = ", is_anonymous = true" if entity == "orders" else ""
                        sql = (f"UPDATE {table} SET customer_id = NULL{extra} "
                               f"WHERE {cond} AND customer_id IS NOT NULL")  # fmt: skip
                    n = ws.duck.execute(sql).fetchone()
                    if n and n[0]:
                        result.tables[table] = int(n[0])
            for view, _old_path, new in rewrites:
                ws.duck.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM "
                                f"read_parquet({literal(str(new))})")  # fmt: skip
    except BaseException:
        for _view, _old_path, new in rewrites:
            new.unlink(missing_ok=True)
        raise
    for _view, old_path, _new in rewrites:
        old_path.unlink(missing_ok=True)
    rewrite_database(ws)
    from crmine.privacy._audit import record

    record(ws, "retention", {"cutoff": str(cutoff), "mode": how,
                             "rows": sum(result.tables.values())})  # fmt: skip
    return result
