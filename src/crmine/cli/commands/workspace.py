"""``crmine init``: create a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crmine.cli._common import JsonOpt, check_workspace_config, console, emit, errors_handled


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        directory: Annotated[
            Path, typer.Argument(help="Folder to create the workspace in.")
        ] = Path("."),
        encrypt: Annotated[
            bool,
            typer.Option(
                "--encrypt",
                help="Encrypt the warehouse and landing files (key: "
                "CRMINE_ENCRYPTION_KEY, CRMINE_ENCRYPTION_KEY_FILE or a prompt).",
            ),
        ] = False,
        json_out: JsonOpt = False,
    ) -> None:
        """Create a workspace: crmine.toml, warehouse.duckdb, models/ and reports/."""
        from crmine.warehouse import Workspace

        with errors_handled(json_out):
            check_workspace_config(directory)  # an existing workspace's file must be valid
        with errors_handled(json_out), Workspace.init(directory) as ws:
            if encrypt:
                from crmine.privacy import encrypt_workspace

                if not ws.config.extra.get("privacy", {}).get("encrypted"):
                    encrypt_workspace(ws)
            info = {
                "workspace": str(ws.root),
                "warehouse": str(ws.warehouse_path),
                "tables": ws.tables(),
            }
        emit(
            info,
            json_out,
            lambda: console.print(
                f"Workspace ready in [bold]{info['workspace']}[/bold]\n"
                f"  next: crmine ingest orders FILE --workspace {directory}"
            ),
        )
