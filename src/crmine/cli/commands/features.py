"""``crmine rfm``: build the per-customer RFM mart."""

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
    @app.command("rfm")
    def rfm_cmd(
        end: Annotated[
            str | None,
            typer.Option("--end", help="Observation end date (default: last order day)."),
        ] = None,
        time_unit: Annotated[
            str | None,
            typer.Option("--time-unit", help="D, W or M (default: crmine.toml setting, D)."),
        ] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Build marts.customer_rfm (frequency, recency, T, monetary_value, spend, tenure)."""
        from crmine.features import build_customer_rfm

        with errors_handled(json_out), open_workspace(workspace) as ws:
            n = build_customer_rfm(ws, observation_end=end, time_unit=time_unit)
            mart = ws.read("marts.customer_rfm")
        columns = ["customer_id", "frequency", "recency", "T", "monetary_value", "total_spend"]
        stats = mart[columns[1:]].describe()

        def render() -> None:
            console.print(f"marts.customer_rfm: {n:,} customers")
            print_frame(stats.reset_index().rename(columns={"index": "statistic"}), "Summary")
            print_frame(mart[columns].head(10), "First customers")

        emit(
            {"customers": n, "table": "marts.customer_rfm", "summary": stats.reset_index()},
            json_out,
            render,
        )
