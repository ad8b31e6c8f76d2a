"""The dashboard's analysis pages as plain functions of a workspace: one page per declared
analysis (verdict, headline figures, charts with their rows, lists) and any of its marts a
page at a time, sorted and filtered.

Lists that drive action are withheld when the analysis is not informative (the contract
writes them empty then; the page says so rather than showing an empty list). Sort, search
and filter columns are checked against the mart's own columns and quoted; values are bound
as parameters, so no request text becomes SQL. Roles without PII rights can neither see nor
sort by nor search in personal columns.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crmine.api._masking import PII_COLUMNS, mask_record
from crmine.api._pages_specs import PAGES, Block, ListSpec, PageSpec
from crmine.api._views import fetch
from crmine.exceptions import DataError

if TYPE_CHECKING:
    from crmine.contract import Analysis, Mart
    from crmine.warehouse import Workspace

__all__ = ["GATED", "MAX_EXPORT", "MartQuery", "analysis_page", "find_mart", "mart_rows",
           "verdict_of", "withheld"]

# Marts a dedicated route guards more closely than the pages do: reading them needs that
# route's roles too.
GATED = {"marts.rules": "rules_list", "marts.sequential_patterns": "rules_list"}
MAX_EXPORT = 1_000_000
_TABLE = re.compile(r"\bmarts\.(\w+)")
_NUMERIC = ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "NUMERIC", "HUGEINT", "BIGINT")


def _declared(name: str) -> Analysis:
    from crmine.contract import all_analyses

    declared = all_analyses()
    if name not in declared:
        raise DataError(f"no analysis named {name[:80]!r}; known: {', '.join(sorted(declared))}")
    return declared[name]


def verdict_of(ws: Workspace, name: str) -> dict[str, Any] | None:
    """The recorded verdict of analysis ``name`` as a dict (None when not judged yet): one
    bound query, not the whole verdict table through pandas."""
    from crmine.contract._record import VERDICTS_TABLE

    if not ws.has_table(VERDICTS_TABLE):
        return None
    rows = fetch(ws, f"SELECT * FROM {VERDICTS_TABLE} WHERE analysis = ? LIMIT 1", [name])
    if not rows:
        return None
    row = rows[0]
    try:
        out: dict[str, Any] = json.loads(row["verdict_json"])
    except (TypeError, ValueError, KeyError):
        out = {"status": row.get("status"), "why": row.get("why")}
    out["judged_at"] = row.get("judged_at")
    return out


def withheld(verdict: dict[str, Any] | None) -> bool:
    """Whether the analysis's actionable lists are withheld (it is not informative)."""
    return verdict is not None and verdict.get("status") == "not_informative"


def find_mart(analysis: Analysis, mart: str) -> Mart:
    """The declared mart ``mart`` (short name or ``marts.<name>``) of ``analysis``."""
    for m in analysis.marts:
        if mart in (m.name, m.table):
            return m
    names = ", ".join(m.name for m in analysis.marts) or "none"
    raise DataError(f"analysis {analysis.name!r} declares no mart {mart[:80]!r}; its marts: "
                    f"{names}")


def _catalog(ws: Workspace) -> dict[str, dict[str, str]]:
    """``schema.table`` -> column name -> DuckDB type, of every table, in one query (a page
    asks about dozens of tables; one catalog look each would be most of its time)."""
    out: dict[str, dict[str, str]] = {}
    for table, column, kind in ws.duck.execute(
            "SELECT schema_name || '.' || table_name, column_name, data_type FROM "
            "duckdb_columns() WHERE NOT internal AND database_name = current_database() "
            "ORDER BY schema_name, table_name, column_index").fetchall():
        out.setdefault(str(table), {})[str(column)] = str(kind)
    return out


def _columns(ws: Workspace, table: str) -> dict[str, str]:
    """Column name -> DuckDB type of ``table`` (empty when it does not exist)."""
    schema, _, name = table.partition(".")
    rows = ws.duck.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE NOT "
                           "internal AND database_name = current_database() AND schema_name = "
                           "? AND table_name = ? ORDER BY column_index",
                           [schema, name]).fetchall()
    return {str(c): str(t) for c, t in rows}


def _counts(ws: Workspace, tables: Sequence[str]) -> dict[str, int]:
    """Row counts of existing ``tables`` in one query."""
    if not tables:
        return {}
    sql = " UNION ALL ".join(f"SELECT {i} AS i, count(*) AS n FROM {t}"
                             for i, t in enumerate(tables))
    return {tables[int(i)]: int(n) for i, n in ws.duck.execute(sql).fetchall()}


def _numeric(kind: str) -> bool:
    return any(k in kind.upper() for k in _NUMERIC) and not kind.endswith("[]")


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _clean(rows: list[dict[str, Any]], pii: bool) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        fixed = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in r.items()}
        out.append(mask_record(fixed, pii))
    return out


def _readable(table: str, allowed: Any) -> bool:
    op = GATED.get(table)
    return op is None or bool(allowed(op))


def _block(ws: Workspace, block: Block, actionable: set[str], hold: bool, pii: bool,
           allowed: Any, catalog: dict[str, dict[str, str]]) -> dict[str, Any] | None:
    tables = {f"marts.{t}" for t in _TABLE.findall(block.sql)}
    out: dict[str, Any] = {"key": block.key, "title": block.title, "kind": block.kind,
                           "x": block.x, "y": list(block.y), "lo": block.lo, "hi": block.hi,
                           "group": block.group, "note": block.note, "rows": []}
    if any(t not in catalog for t in tables):
        return None
    if hold and (block.actionable or tables & actionable):
        return {**out, "withheld": True}
    if not all(_readable(t, allowed) for t in tables):
        return {**out, "forbidden": True}
    import duckdb

    try:
        rows = fetch(ws, block.sql)
    except duckdb.Error:  # a mart of an older version without a column: leave the block out
        return None
    return {**out, "rows": _clean(rows, pii)}


def _kpis(ws: Workspace, spec: PageSpec, catalog: dict[str, dict[str, str]],
          withhold: set[str]) -> list[dict[str, Any]]:
    """The headline figures; none over a mart in ``withhold`` (lists that are withheld)."""
    import duckdb

    out = []
    for k in spec.kpis:
        tables = {f"marts.{t}" for t in _TABLE.findall(k.sql)}
        if any(t not in catalog for t in tables) or tables & withhold:
            continue
        try:
            rows = fetch(ws, k.sql)
        except duckdb.Error:
            continue
        value = rows[0].get("v") if rows else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and \
                math.isfinite(value):
            out.append({"label": k.label, "value": value, "kind": k.kind})
    return out


def _list_spec(spec: PageSpec, mart: Mart) -> ListSpec | None:
    for ls in spec.lists:
        if ls.mart in (mart.name, mart.table):
            return ls
    return None


def analysis_page(ws: Workspace, name: str, *, pii: bool, allowed: Any = lambda op: True
                  ) -> dict[str, Any]:
    """The page of analysis ``name``: verdict, whether its lists are withheld, headline
    figures, blocks (charts with their rows, tables), lists and every mart it declares.

    ``allowed(operation_id)`` says whether the caller may use a route (gated marts).
    """
    analysis = _declared(name)
    spec = PAGES.get(name, PageSpec())
    verdict = verdict_of(ws, name)
    hold = withheld(verdict)
    actionable = {m.table for m in analysis.marts if m.actionable}
    catalog = _catalog(ws)
    blocks = [b for b in (_block(ws, blk, actionable, hold, pii, allowed, catalog)
                          for blk in spec.blocks) if b is not None]
    counts = _counts(ws, [m.table for m in analysis.marts if m.table in catalog])
    marts, lists = [], []
    for m in analysis.marts:
        cols = catalog.get(m.table, {})
        rows = counts.get(m.table)
        entry = {"name": m.name, "table": m.table, "grain": m.grain,
                 "actionable": m.actionable, "rows": rows,
                 "withheld": bool(hold and m.actionable),
                 "readable": _readable(m.table, allowed), "columns": list(cols)}
        marts.append(entry)
        ls = _list_spec(spec, m)
        # the page's declared lists; without any, every list the analysis says drives action
        if (ls is not None or (not spec.lists and m.actionable)) and cols:
            ls = ls or ListSpec(m.name)
            numeric = [c for c, t in cols.items() if _numeric(t)]
            lists.append({"mart": m.name, "title": ls.title or m.grain,
                          "sort": ls.sort if ls.sort in cols else "", "desc": ls.desc,
                          "columns": [c for c in ls.columns if c in cols] or
                          [c for c in cols if c not in ("model_version", "scored_at")],
                          "minimums": [c for c in ls.minimums if c in numeric],
                          "search": ls.search, "actionable": m.actionable,
                          "withheld": bool(hold and m.actionable),
                          "readable": entry["readable"], "rows": rows})
    return {"name": analysis.name, "title": analysis.title, "fits": analysis.fits,
            "verdict": verdict, "withheld": hold,
            "kpis": _kpis(ws, spec, catalog, actionable if hold else set()),
            "blocks": blocks, "lists": lists, "marts": marts}


class MartQuery:
    """A validated request for a mart's rows: sort column and direction, free-text search,
    numeric minimums ``column:value``, paging."""

    def __init__(self, ws: Workspace, table: str, *, pii: bool, sort: str | None = None,
                 desc: bool = False, q: str | None = None,
                 minimum: Sequence[str] = ()) -> None:
        self.table = table
        self.columns = _columns(ws, table)
        visible = {c: t for c, t in self.columns.items() if pii or c not in PII_COLUMNS}
        self.where: list[str] = []
        self.params: list[Any] = []
        if sort:
            if sort not in visible:
                raise _field_error("sort", f"cannot sort {table} by {sort[:80]!r}; columns: "
                                           f"{', '.join(visible)}")
            self.order = f"{_quote(sort)} {'DESC' if desc else 'ASC'} NULLS LAST"
        else:
            self.order = ""
        if q:
            texts = [c for c, t in visible.items() if t.upper() in ("VARCHAR", "VARCHAR[]")]
            if texts:
                like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") \
                    + "%"
                self.where.append("(" + " OR ".join(
                    f"CAST({_quote(c)} AS VARCHAR) ILIKE ? ESCAPE '\\'" for c in texts) + ")")
                self.params += [like] * len(texts)
            else:
                self.where.append("FALSE")
        for i, m in enumerate(minimum):
            column, sep, value = m.rpartition(":")
            if not sep or column not in visible or not _numeric(visible[column]):
                raise _field_error(f"minimum.{i}", f"minimum {m[:80]!r} is not "
                                   "'column:number' over a numeric column of " + table)
            try:
                number = float(value)
            except ValueError:
                raise _field_error(f"minimum.{i}", f"minimum {m[:80]!r}: {value[:40]!r} is "
                                                   "not a number") from None
            if not math.isfinite(number):
                raise _field_error(f"minimum.{i}", f"minimum {m[:80]!r} is not finite")
            self.where.append(f"{_quote(column)} >= ?")
            self.params.append(number)

    def sql(self, select: str = "*") -> str:
        sql = f"SELECT {select} FROM {self.table}"
        if self.where:
            sql += " WHERE " + " AND ".join(self.where)
        return sql

    def count(self, ws: Workspace) -> int:
        row = ws.duck.execute(self.sql("count(*)"), self.params).fetchone()
        return int(row[0]) if row else 0

    def rows(self, ws: Workspace, *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        order = f" ORDER BY {self.order}" if self.order else ""
        return fetch(ws, self.sql() + order + " LIMIT ? OFFSET ?",
                     [*self.params, int(limit), int(offset)])


def _field_error(field: str, message: str) -> Exception:
    from crmine.api._errors import ApiError

    return ApiError(422, message, field=f"query.{field}")


def mart_rows(ws: Workspace, name: str, mart: str, *, pii: bool, page: int, page_size: int,
              sort: str | None = None, desc: bool = False, q: str | None = None,
              minimum: Sequence[str] = ()) -> dict[str, Any]:
    """One page of mart ``mart`` of analysis ``name`` (personal data masked unless
    ``pii``); an actionable mart of a not-informative analysis is withheld (no rows)."""
    analysis = _declared(name)
    m = find_mart(analysis, mart)
    hold = m.actionable and withheld(verdict_of(ws, name))
    query = MartQuery(ws, m.table, pii=pii, sort=sort, desc=desc, q=q, minimum=minimum)
    base = {"analysis": name, "mart": m.name, "table": m.table, "grain": m.grain,
            "actionable": m.actionable, "withheld": hold, "page": page,
            "page_size": page_size, "columns": list(query.columns)}
    if not query.columns or hold:
        return {**base, "count": 0, "pages": 0, "rows": []}
    count = query.count(ws)
    rows = query.rows(ws, limit=page_size, offset=(page - 1) * page_size)
    return {**base, "count": count, "pages": -(-count // page_size),
            "rows": _clean(rows, pii)}
