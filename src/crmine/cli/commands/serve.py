"""``crmine serve``: the REST API and dashboard of a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crmine.cli._common import WorkspaceOpt, console, errors_handled


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: Annotated[str, typer.Option(
            "--host", help="Address to listen on. Loopback by default: pass 0.0.0.0 (or an "
                           "interface address) to let other machines in.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=1, max=65535,
                                          help="Port to listen on.")] = 8000,
        workspace: WorkspaceOpt = Path("."),
    ) -> None:
        """Serve the REST API (/api/v1, OpenAPI at /docs) and the dashboard (/) of a workspace.

        Tokens: `crmine users add NAME --role viewer|marketer|analyst|admin`. Ctrl-C stops
        gracefully: requests in flight finish, background jobs roll back.
        """
        from crmine.cli._common import check_workspace_config

        with errors_handled(False):
            check_workspace_config(workspace)
            from crmine.api import serve
            from crmine.exceptions import WorkspaceError
            from crmine.warehouse import Workspace

            try:  # a missing workspace: the clear error now (and a killed run recovered)
                Workspace.open(workspace).close()
            except WorkspaceError as exc:
                if "lock" not in str(exc).lower():
                    raise
                # another process is writing it: the last complete copy is served
            console.print(f"crmine API and dashboard on http://{host}:{port}/ "
                          f"(workspace {workspace.resolve()}); Ctrl-C to stop")
            serve(workspace, host=host, port=port)
