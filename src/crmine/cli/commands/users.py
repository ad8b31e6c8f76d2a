"""``crmine users add|list|revoke``: API tokens and their roles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crmine.cli._common import JsonOpt, WorkspaceOpt, console, emit, errors_handled


def register(app: typer.Typer) -> None:
    users = typer.Typer(help="API users: tokens with roles (viewer, marketer, analyst, admin).",
                        no_args_is_help=True)
    app.add_typer(users, name="users")

    @users.command("add")
    def add_cmd(
        name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ + -).")],
        role: Annotated[str, typer.Option(
            "--role", help="viewer, marketer, analyst or admin.")] = "viewer",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Add a user and print its token, once: it is kept only hashed."""
        from crmine.api import add_user
        from crmine.cli._common import open_workspace

        with errors_handled(json_out), open_workspace(workspace) as ws:
            user, token = add_user(ws, name, role)
        info = {**user.to_dict(), "token": token}

        def render() -> None:
            console.print(f"user {user.name} ({user.role}) added. Token (shown only now):")
            console.print(token, highlight=False, soft_wrap=True)

        emit(info, json_out, render)

    @users.command("list")
    def list_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Users, their roles and whether they are active (never their tokens)."""
        from crmine.api import list_users
        from crmine.cli._common import open_workspace

        with errors_handled(json_out), open_workspace(workspace) as ws:
            rows = [u.to_dict() for u in list_users(ws)]
        emit(rows, json_out, None if rows else lambda: console.print("no API users yet"))

    @users.command("revoke")
    def revoke_cmd(
        name: Annotated[str, typer.Argument(help="User name or id.")],
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Revoke a user: its token stops working."""
        from crmine.api import revoke_user
        from crmine.cli._common import open_workspace

        with errors_handled(json_out), open_workspace(workspace) as ws:
            user = revoke_user(ws, name)
        emit(user.to_dict(), json_out,
             lambda: console.print(f"user {user.name} revoked"))
