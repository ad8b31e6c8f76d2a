"""``crmine cube``: count, list, export and group customers by any dimensions."""

from __future__ import annotations

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


def register(app: typer.Typer) -> None:
    @app.command("cube")
    def cube_cmd(
        where: Annotated[list[str] | None, typer.Option(
            "--where", help="Filter column=value (several values: a,b; also != > >= < <=). "
                            "Repeat for AND.")] = None,
        by: Annotated[list[str] | None, typer.Option(
            "--by", help="Group by this dimension (repeat to drill down).")] = None,
        measure: Annotated[list[str] | None, typer.Option(
            "--measure", help="customers, revenue, orders, aov, a numeric column, "
                              "sum:col …")] = None,
        list_: Annotated[bool, typer.Option("--list", help="List the matching customers.")] = False,
        page: Annotated[int, typer.Option("--page", help="Page of the list.")] = 1,
        page_size: Annotated[int, typer.Option("--page-size", help="Rows per page.")] = 50,
        export: Annotated[Path | None, typer.Option(
            "--export", help="Write all matching customers to FILE.csv or FILE.parquet.")] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Filter customers on any dimensions: the count, the list, groups with measures."""
        from crmine.cube import query

        with errors_handled(json_out), open_workspace(workspace) as ws:
            res = query(ws, where=where or [], by=by or None, measures=measure or None,
                        list_customers=list_, page=page, page_size=page_size, export=export)

        def render() -> None:
            conds = " and ".join(str(f) for f in res.filters) or "all customers"
            console.print(f"[bold]{res.count:,}[/bold] customers ({conds})")
            if res.groups is not None:
                print_frame(res.groups, "By " + ", ".join(res.by))
            if res.customers is not None:
                print_frame(res.customers, f"Page {res.page} of {res.pages}")
            if res.exported is not None:
                console.print(f"exported to {res.exported}")

        emit(res.to_dict(), json_out, render)
