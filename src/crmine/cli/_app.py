from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings
from types import ModuleType
from typing import Any, TextIO

import typer
import typer.main
from rich.markup import escape
from typer.core import TyperGroup

from crmine.cli._common import err_console, fail
from crmine.exceptions import CrmineError, CrmineWarning

_COMMANDS = "crmine.cli.commands"


def _command_modules() -> list[str]:
    """The command modules' names (``crmine/cli/commands/*.py``), without importing them."""
    pkg = importlib.import_module(_COMMANDS)
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


class LazyGroup(TyperGroup):
    """The root command group, importing a command's module only when that command runs.

    Each module of ``crmine/cli/commands/`` registers its commands with ``register(app)``;
    importing all of them imports every analysis's dependencies (pandas, scikit-learn...),
    about a second before any work. ``crmine cube ...`` imports ``commands/cube.py`` only: a
    command is first looked for in the module of its name, then in all (``--help`` and
    commands registered by a module of another name, e.g. ``ingest``, load them all).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()

    def _load(self, names: list[str]) -> None:
        scratch = typer.Typer()
        todo = [n for n in names if n not in self._loaded]
        if not todo:
            return
        for name in todo:
            module: ModuleType = importlib.import_module(f"{_COMMANDS}.{name}")
            module.register(scratch)
            self._loaded.add(name)
        if not scratch.registered_commands and not scratch.registered_groups:
            return
        # a named scratch callback keeps typer from collapsing a lone command into the root
        scratch.callback()(lambda: None)
        group = typer.main.get_group(scratch)
        for cmd_name, cmd in group.commands.items():
            self.commands.setdefault(cmd_name, cmd)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            module = cmd_name.replace("-", "_")
            if module in _command_modules():
                self._load([module])
            if cmd_name not in self.commands:
                self._load(_command_modules())
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        self._load(_command_modules())
        return sorted(super().list_commands(ctx))

    def invoke(self, ctx: Any) -> Any:
        # The standalone main catches Ctrl-C before main() sees it (click prints "Aborted!",
        # typer 0.29 exits 130 silently): carry it past as an ordinary exception instead, so
        # main() can say what it means.
        try:
            return super().invoke(ctx)
        except BaseException as exc:
            if _is_interrupt(exc):
                raise Interrupted() from exc
            raise


class Interrupted(Exception):
    """Ctrl-C during a command, on its way past click to :func:`main`."""


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, also as DuckDB's own error when it arrives mid-query."""
    duckdb = sys.modules.get("duckdb")  # not imported just to check: the CLI starts lazily
    return isinstance(exc, KeyboardInterrupt) or (
        duckdb is not None and isinstance(exc, duckdb.InterruptException)
    )


app = typer.Typer(
    name="crmine",
    help="Data mining on CRM data: warehouse, segmentation, churn, CLV, cross-sell, campaigns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
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


def main() -> None:
    """Console entry point: a crmine error becomes a clear message and exit code 2."""
    try:
        app()
    except CrmineError as exc:
        fail(exc, json_mode="--json" in sys.argv)
    except (Interrupted, KeyboardInterrupt):
        # Loads and runs roll back on interrupt: say so instead of printing a traceback.
        err_console.print("interrupted: nothing of the unfinished work was written")
        sys.exit(130)
