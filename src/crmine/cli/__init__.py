"""The ``crmine`` command line: a thin adapter over the Python API.

Each command group lives in one module of ``crmine/cli/commands/`` that defines
``register(app: typer.Typer) -> None``; every command takes ``--workspace`` and ``--json``
(see :mod:`crmine.cli._common`).
"""

from __future__ import annotations

from crmine.cli._app import app, main

__all__ = ["app", "main"]
