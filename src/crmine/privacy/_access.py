"""Subject access (``crmine privacy access``): everything the workspace holds about a person,
as one readable JSON document - their rows in every table, in every landing file, the model
versions trained with them and the erasures and privacy actions recorded."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from crmine.privacy._landing import landing_views
from crmine.privacy._model_files import trained_with
from crmine.privacy._sql import base_tables, column_types
from crmine.privacy._subjects import find_subjects
from crmine.privacy._tables import own_rows, target
from crmine.warehouse import Workspace

__all__ = ["subject_access", "write_subject_access"]


def _rows(ws: Workspace, source: str, condition: str) -> list[dict[str, Any]]:
    cur = ws.duck.execute(f"SELECT * FROM {source} WHERE {condition}")
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def subject_access(ws: Workspace, ids: Iterable[str] = (), *, emails: Iterable[str] = (),
                   phones: Iterable[str] = ()) -> dict[str, Any]:  # fmt: skip
    """The document: ``person`` (ids and identifiers), ``tables`` (schema.table -> rows),
    ``landing_files`` (file -> rows as received), ``models`` (versions trained with them),
    ``api_reads`` (the REST API's reads of their record, from the audit trail)."""
    subjects = find_subjects(ws, ids=ids, emails=emails, phones=phones)
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in base_tables(ws):
        condition = own_rows(table, column_types(ws, table), subjects)
        rows = _rows(ws, target(table), condition) if condition else []
        if rows:
            tables[table] = rows
    landing: dict[str, list[dict[str, Any]]] = {}
    for view, path in landing_views(ws):
        types = {str(r[0]): "VARCHAR" for r in ws.duck.execute(f"DESCRIBE {view}").fetchall()}
        condition = own_rows("raw.x", types, subjects)
        rows = _rows(ws, view, condition) if condition else []
        if rows:
            landing[f"raw/{path.name}"] = rows
    from crmine.privacy._audit import entries_about, record

    counts = {k: len(v) for k, v in {**tables, **landing}.items()}
    record(ws, "access", {"records": len(subjects.ids), "rows": sum(counts.values())})
    # who read the person's record through the REST API (the audit trail's lines about them)
    reads = [{"at": e["at"], **e["detail"]} for i in sorted(subjects.ids)
             for e in entries_about(ws, i)]  # fmt: skip
    return {
        "generated_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "workspace": str(ws.root),
        "person": {
            "customer_ids": sorted(subjects.ids),
            "emails": sorted(subjects.emails),
            "phones": sorted(subjects.phones),
            "names": sorted(subjects.names),
            "addresses": sorted(subjects.addresses),
        },
        "tables": tables,
        "landing_files": landing,
        "models": trained_with(ws, subjects),
        "api_reads": reads,
        "counts": counts,
    }


def write_subject_access(document: dict[str, Any], path: str | Path) -> Path:
    """Write the document as indented UTF-8 JSON (dates as ISO text); refused inside an
    encrypted workspace (the document is for the person: plaintext)."""
    from crmine.warehouse._sealed import refuse_plaintext_in_encrypted

    out = Path(path)
    refuse_plaintext_in_encrypted(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=_plain),
                   encoding="utf-8")  # fmt: skip
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)
