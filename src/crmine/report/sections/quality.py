"""Data quality: rows accounted for per load, rejects by reason, checks, null rates."""

from __future__ import annotations

import plotly.express as px

from crmine.report import Section, kpis, note, plot, section, table
from crmine.warehouse import Workspace, quality_report


@section("quality", order=5, title="Data quality")
def quality(ws: Workspace) -> Section | None:
    if not ws.has_table("meta.loads"):
        return None
    q = quality_report(ws, schemas=("core",))
    read = int(q.loads["rows_read"].sum()) if len(q.loads) else 0
    quarantined = int(q.loads["rows_quarantined"].sum()) if len(q.loads) else 0
    failed = int((~q.checks["passed"]).sum()) if len(q.checks) else 0
    parts = [
        kpis(
            {
                "rows read": read,
                "rows staged": read - quarantined,
                "rows quarantined": quarantined,
                "checks passed": int(len(q.checks) - failed),
                "checks failed": failed,
            }
        ),
        table(q.loads, caption="Loads: rows read = rows staged + rows quarantined"),
    ]
    if len(q.rejects):
        parts.append(
            plot(
                px.bar(
                    q.rejects,
                    x="reason",
                    y="rows",
                    color="entity",
                    title="Quarantined rows by reason",
                ),
                height=300,
            )
        )
        parts.append(table(q.rejects, caption="Rejects by reason (see quarantine.rejects)"))
    else:
        parts.append(note("No row was quarantined."))
    nulls = q.columns[(q.columns["null_rate"] > 0) & (q.columns["null_rate"] < 1)]
    if len(nulls):
        parts.append(
            table(
                nulls[["table", "column", "null_rate", "distinct", "min", "max", "outliers"]],
                max_rows=30,
                caption="Partly missing columns (fully empty ones left out)",
            )
        )
    parts.append(table(q.checks, max_rows=40, caption="Declared checks"))
    return Section(
        "".join(parts),
        summary=f"{read:,} rows read, {quarantined:,} quarantined "
        f"with a reason, {failed} failed checks",
    )
