"""Data quality: the declared checks of core tables and a profile of everything loaded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import duckdb
import pandas as pd

from crmine.warehouse._core import quote
from crmine.warehouse._schema import CORE_TABLES, MART_TABLES, Check, CoreTable
from crmine.warehouse._workspace import Workspace

__all__ = ["CheckResult", "QualityReport", "quality_report", "run_checks"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    table: str
    check: str
    columns: str
    failures: int
    passed: bool
    example: str = ""


def _check_sql(table: str, check: Check) -> tuple[str, str]:
    """SQL counting failing rows and SQL fetching one example."""
    where = f"WHERE {check.where}" if check.where else ""
    cols = ", ".join(quote(c) for c in check.columns)
    if check.kind == "unique":
        base = (
            f"SELECT {cols}, count(*) AS n FROM {table} {where} GROUP BY {cols} HAVING count(*) > 1"
        )
        return f"SELECT coalesce(sum(n), 0) FROM ({base})", f"{base} LIMIT 1"
    if check.kind == "not_null":
        cond = " OR ".join(f"{quote(c)} IS NULL" for c in check.columns)
        cond = f"({cond})" + (f" AND ({check.where})" if check.where else "")
        return (
            f"SELECT count(*) FROM {table} WHERE {cond}",
            f"SELECT * FROM {table} WHERE {cond} LIMIT 1",
        )
    values = ", ".join("'" + v.replace("'", "''") + "'" for v in check.values)
    col = quote(check.columns[0])
    cond = f"{col} IS NOT NULL AND {col} NOT IN ({values})"
    return (
        f"SELECT count(*) FROM {table} WHERE {cond}",
        f"SELECT {col} FROM {table} WHERE {cond} LIMIT 1",
    )


def run_checks(ws: Workspace, tables: Sequence[CoreTable] = ()) -> list[CheckResult]:
    """Run every declared check (unique, not null, accepted values) on the tables present:
    the core tables', the shared marts' and those of ``tables`` (the analyses' marts)."""
    results = []
    seen: set[str] = set()
    for spec in (*CORE_TABLES, *MART_TABLES, *tables):
        if spec.name in seen:
            continue
        seen.add(spec.name)
        if not ws.has_table(spec.name):
            continue
        present = set(ws.columns(spec.name))
        for check in spec.checks:
            if not set(check.columns) <= present:
                continue
            count_sql, example_sql = _check_sql(spec.name, check)
            row = ws.duck.execute(count_sql).fetchone()
            failures = int(row[0]) if row else 0
            example = ""
            if failures:
                ex = ws.duck.execute(example_sql).fetchone()
                example = repr(ex) if ex else ""
            label = (
                check.kind
                + (f" ({', '.join(check.values)})" if check.values else "")
                + (f" where {check.where}" if check.where else "")
            )
            results.append(
                CheckResult(
                    spec.name, label, ", ".join(check.columns), failures, failures == 0, example
                )
            )
    return results


@dataclass(frozen=True, slots=True)
class QualityReport:
    """A profile of the warehouse.

    Attributes
    ----------
    tables
        One row per table: schema, table, rows, columns, duplicate_rows (exact duplicates over
        the business columns).
    columns
        One row per column: table, column, type, null_rate, distinct, min, max, outliers
        (values beyond 3 inter-quartile ranges from the quartiles, numeric columns).
    rejects
        Quarantined rows by entity and reason.
    loads
        The load log (meta.loads) with the exact duplicate rows of each source.
    checks
        Results of :func:`run_checks`.
    """

    tables: pd.DataFrame
    columns: pd.DataFrame
    rejects: pd.DataFrame
    loads: pd.DataFrame
    checks: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.tables


_TECH = ("load_id", "source_row", "valid_from", "valid_to", "is_current", "origin")
# Surrogate numbering makes every row distinct; exact duplicates are judged without it.
_NOT_FOR_DUPLICATES = (*_TECH, "line_number")


def _profile_table(ws: Workspace, name: str) -> tuple[dict[str, object], list[dict[str, object]]]:
    cols = ws.duck.execute(f"DESCRIBE {name}").fetchall()
    row = ws.duck.execute(f"SELECT count(*) FROM {name}").fetchone()
    n = int(row[0]) if row else 0
    business = [c[0] for c in cols if c[0] not in _NOT_FOR_DUPLICATES and not c[0].startswith("_")]
    dup = 0
    if n and business:
        sel = ", ".join(quote(c) for c in business)
        r = ws.duck.execute(
            f"SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c FROM {name} "
            f"GROUP BY {sel} HAVING count(*) > 1)"
        ).fetchone()
        dup = int(r[0]) if r else 0
    per_column = []
    if n:
        parts = []
        for col, typ, *_ in cols:
            q = quote(col)
            numeric = typ in ("DOUBLE", "BIGINT", "INTEGER", "FLOAT", "DECIMAL", "HUGEINT")
            ordered = numeric or typ in ("DATE", "TIMESTAMP")
            parts.append(
                f"SELECT '{col}' AS column, '{typ}' AS type, "
                f"count(*) FILTER (WHERE {q} IS NULL) / count(*) AS null_rate, "
                f"count(DISTINCT {q}) AS distinct, "
                + (
                    f"CAST(min({q}) AS VARCHAR) AS min, CAST(max({q}) AS VARCHAR) AS max, "
                    if ordered
                    else "NULL AS min, NULL AS max, "
                )
                + (
                    f"(SELECT count(*) FROM {name}, (SELECT quantile_cont({q}, 0.25) AS q1, "
                    f"quantile_cont({q}, 0.75) AS q3 FROM {name}) b WHERE {q} < q1 - 3 * (q3 - q1) "
                    f"OR {q} > q3 + 3 * (q3 - q1)) AS outliers"
                    if numeric
                    else "NULL::BIGINT AS outliers"
                )
                + f" FROM {name}"
            )
        frame = ws.duck.execute(" UNION ALL ".join(parts)).df()
        per_column = [{"table": name, **r} for r in frame.to_dict(orient="records")]
    schema, table = name.split(".", 1)
    return (
        {"schema": schema, "table": table, "rows": n, "columns": len(cols), "duplicate_rows": dup},
        per_column,
    )


def _loads(ws: Workspace) -> pd.DataFrame:
    """The load log, with the exact duplicate rows each source had (counted on its raw copy)."""
    if not ws.has_table("meta.loads"):
        return pd.DataFrame()
    loads = ws.duck.execute(
        "SELECT load_id, entity, source, kind, rows_read, rows_staged, rows_quarantined, "
        "finished_at FROM meta.loads ORDER BY load_id"
    ).df()
    duplicates: list[int | None] = []
    for load_id, entity in zip(loads["load_id"], loads["entity"], strict=True):
        raw = f"raw.{entity}__{load_id.lower()}"
        if not ws.has_table(raw):
            duplicates.append(None)
            continue
        try:
            cols = ", ".join(quote(c) for c in ws.columns(raw))
            row = ws.duck.execute(
                f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {raw} "
                f"GROUP BY {cols} HAVING count(*) > 1)"
            ).fetchone()
        except duckdb.Error:  # a landing file gone (or a moved workspace opened read-only)
            duplicates.append(None)
            continue
        duplicates.append(int(row[0]) if row else 0)
    loads.insert(7, "duplicate_rows", duplicates)
    return loads


def quality_report(ws: Workspace, *, schemas: tuple[str, ...] = ("core", "marts")) -> QualityReport:
    """Profile the tables of ``schemas``, the quarantine and the load log."""
    tables, columns = [], []
    for name in ws.tables():
        if name.split(".", 1)[0] in schemas:
            t, c = _profile_table(ws, name)
            tables.append(t)
            columns.extend(c)
    rejects = (
        ws.duck.execute(
            "SELECT entity, reason, count(*) AS rows, any_value(column_name) AS column, "
            "any_value(value) AS example_value FROM quarantine.rejects GROUP BY 1, 2 "
            "ORDER BY 1, 3 DESC"
        ).df()
        if ws.has_table("quarantine.rejects")
        else pd.DataFrame(columns=["entity", "reason", "rows", "column", "example_value"])
    )
    loads = _loads(ws)
    checks = pd.DataFrame([asdict(r) for r in run_checks(ws)])
    return QualityReport(pd.DataFrame(tables), pd.DataFrame(columns), rejects, loads, checks)
