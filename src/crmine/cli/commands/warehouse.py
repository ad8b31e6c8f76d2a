"""``crmine ingest``, ``crmine quality``, ``crmine check``, ``crmine tables``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from crmine.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    emit,
    errors_handled,
    open_workspace,
    print_frame,
)
from crmine.exceptions import IngestError


def _parse_maps(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        if "=" not in item:
            raise IngestError(
                f"--map {item!r}: write SOURCE_COLUMN=canonical_column, "
                "e.g. --map 'Invoice No=order_id'"
            )
        src, canon = item.rsplit("=", 1)
        mapping[src.strip()] = canon.strip()
    return mapping


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_cmd(
        entity: Annotated[
            str,
            typer.Argument(
                help="customers, products, orders, events, campaigns, campaign_assignments, "
                "tickets, subscriptions, surveys, marketing_spend or marketing_outcomes."
            ),
        ],
        source: Annotated[
            str,
            typer.Argument(
                help="CSV/TSV/text (.gz ok), Parquet, .xlsx, or sqlite:///file.db?table=NAME."
            ),
        ],
        map_: Annotated[
            list[str],
            typer.Option(
                "--map",
                help="SOURCE_COLUMN=canonical_column (repeatable); @row=order_id numbers rows.",
            ),
        ] = [],  # noqa: B006
        query: Annotated[str | None, typer.Option(help="SQL query for a database source.")] = None,
        sheet: Annotated[
            str | None, typer.Option(help="Excel sheet name (default: the first).")
        ] = None,
        delimiter: Annotated[
            str | None, typer.Option(help="Field delimiter (default: detected).")
        ] = None,
        encoding: Annotated[
            str | None,
            typer.Option(help="Text encoding (default: detected: utf-8, gb18030, latin-1)."),
        ] = None,
        source_name: Annotated[
            str | None, typer.Option(help="Name recorded for the source.")
        ] = None,
        save_mapping: Annotated[
            bool, typer.Option(help="Remember --map in crmine.toml for this entity.")
        ] = False,
        min_date: Annotated[
            str | None,
            typer.Option(help="Earliest plausible date, YYYY-MM-DD (default 1900-01-01); "
                         "earlier dates are quarantined as implausible."),
        ] = None,
        max_date: Annotated[
            str | None,
            typer.Option(help="Latest plausible date, YYYY-MM-DD (default: a year after the "
                         "load; birth dates: today)."),
        ] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Load a source into the warehouse: every row staged or quarantined with a reason."""
        from crmine._progress import stage
        from crmine.warehouse import ingest

        with errors_handled(json_out):
            mapping = _parse_maps(map_)
            with open_workspace(workspace) as ws:
                with stage(f"loading {entity} from {source}"):
                    report = ingest(
                        ws,
                        entity,
                        source,
                        mapping=mapping,
                        query=query,
                        sheet=sheet,
                        delimiter=delimiter,
                        encoding=encoding,
                        source_name=source_name,
                        min_date=min_date,
                        max_date=max_date,
                    )
                if save_mapping and mapping:
                    ws.config.mappings.setdefault(report.entity, {}).update(mapping)
                    ws.save_config()

        def render() -> None:
            console.print(report.summary(), markup=False, highlight=False)  # holds data values
            if report.rows_quarantined:
                console.print(
                    "  inspect rejects: [bold]crmine quality[/bold] or table quarantine.rejects"
                )
            if report.entity == "orders" and not report.skipped:
                console.print(
                    f"  anonymous lines kept: {report.anonymous_rows:,}; returns flagged: "
                    f"{report.return_rows:,}; new customers: {report.new_customers:,}"
                )
            if report.customer_versions:
                console.print(
                    "  customers with changed attributes (new SCD2 versions): "
                    f"{report.customer_versions:,}"
                )

        emit(asdict(report), json_out, render)

    @app.command("quality")
    def quality_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Data quality: rows, null rates, duplicates, rejects by reason, date ranges, outliers."""
        from crmine.warehouse import quality_report

        with errors_handled(json_out), open_workspace(workspace, read_only=True) as ws:
            q = quality_report(ws)
        data = {
            "tables": q.tables,
            "columns": q.columns,
            "rejects": q.rejects,
            "loads": q.loads,
            "checks": q.checks,
        }

        def render() -> None:
            print_frame(q.tables, "Tables")
            if len(q.rejects):
                print_frame(q.rejects, "Quarantined rows by reason")
            cols = q.columns[(q.columns["null_rate"] > 0) | (q.columns["outliers"].fillna(0) > 0)]
            print_frame(cols, "Columns with nulls or outliers", max_rows=40)
            failed = q.checks[~q.checks["passed"]] if len(q.checks) else q.checks
            console.print(f"checks: {len(q.checks) - len(failed)} passed, {len(failed)} failed")

        emit(data, json_out, render)

    @app.command("check")
    def check_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Run the declared checks of the core tables and of every analysis's marts (unique,
        not null, accepted values).

        Exits with code 1 when a check fails.
        """
        from crmine.contract import check_marts

        with errors_handled(json_out), open_workspace(workspace, read_only=True) as ws:
            results = check_marts(ws)
        rows = [asdict(r) for r in results]
        failed = [r for r in results if not r.passed]

        def render() -> None:
            for r in results:
                mark = (
                    "[green]PASS[/green]"
                    if r.passed
                    else f"[red]FAIL[/red] ({r.failures:,} rows, e.g. {r.example})"
                )
                console.print(f"{mark} {r.table}: {r.check} ({r.columns})")
            console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")

        emit(
            {"checks": rows, "passed": len(results) - len(failed), "failed": len(failed)},
            json_out,
            render,
        )
        if failed:
            raise typer.Exit(1)

    @app.command("tables")
    def tables_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """List the warehouse tables with their row counts."""
        with errors_handled(json_out), open_workspace(workspace, read_only=True) as ws:
            rows = []
            for name in ws.tables():
                n = ws.duck.execute(f"SELECT count(*) FROM {name}").fetchone()
                rows.append({"table": name, "rows": int(n[0]) if n else 0})
        import pandas as pd

        emit(rows, json_out, lambda: print_frame(pd.DataFrame(rows), "Tables", max_rows=200))
