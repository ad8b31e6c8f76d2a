from __future__ import annotations

import sys
import warnings
from typing import TextIO

import typer
from rich.markup import escape

from crmine._plugins import import_plugins
from crmine.cli._common import err_console, fail
from crmine.exceptions import CrmineError, CrmineWarning

app = typer.Typer(
    name="crmine",
    help="Data mining on CRM data: warehouse, segmentation, churn, CLV, cross-sell, campaigns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Data mining on CRM data. Every command takes --workspace DIR and --json."""
    warnings.showwarning = _show_warning


_python_showwarning = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """crmine's own warnings are notes for the user: one line on stderr, no source line."""
    if issubclass(category, CrmineWarning):
        err_console.print(f"[yellow]note:[/yellow] {escape(str(message))}", soft_wrap=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


for _module in import_plugins("crmine.cli.commands"):
    _module.register(app)


def main() -> None:
    """Console entry point: a crmine error becomes a clear message and exit code 2."""
    try:
        app()
    except CrmineError as exc:
        fail(exc, json_mode="--json" in sys.argv)
