from __future__ import annotations

import sys

import typer

from crmine._plugins import import_plugins
from crmine.cli._common import fail
from crmine.exceptions import CrmineError

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


for _module in import_plugins("crmine.cli.commands"):
    _module.register(app)


def main() -> None:
    """Console entry point: a crmine error becomes a clear message and exit code 2."""
    try:
        app()
    except CrmineError as exc:
        fail(exc, json_mode="--json" in sys.argv)
