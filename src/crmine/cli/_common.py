"""What every command shares: the --workspace/--json options, output and error rendering."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from crmine._format import fmt_number
from crmine.exceptions import CrmineError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from rich.table import Table

    from crmine.contract import Verdict
    from crmine.warehouse import Workspace
else:
    # pandas, numpy and rich's tables are imported on first use, not with the CLI: a short
    # command (a cube count) should not pay ~0.5 s for them. to_jsonable only looks at modules
    # something has already imported (a value cannot be a DataFrame if pandas is not loaded).
    class _OnFirstUse:
        def __init__(self, module: str, attr: str | None = None) -> None:
            self._module, self._attr = module, attr

        def _target(self) -> Any:
            import importlib

            mod = importlib.import_module(self._module)
            return getattr(mod, self._attr) if self._attr else mod

        def __getattr__(self, name: str) -> Any:
            return getattr(self._target(), name)

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return self._target()(*args, **kwargs)

    np = _OnFirstUse("numpy")
    pd = _OnFirstUse("pandas")
    Table = _OnFirstUse("rich.table", "Table")


def _loaded(name: str) -> Any:
    """The module ``name`` if something has imported it already, else None."""
    return sys.modules.get(name)

console = Console(stderr=False, soft_wrap=True)
err_console = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", help="Workspace folder (default: current directory).", file_okay=False
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas values to plain JSON types (NaN becomes null)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    pd = _loaded("pandas")
    np = _loaded("numpy")
    if pd is not None and isinstance(value, pd.DataFrame):
        return [to_jsonable(r) for r in value.to_dict(orient="records")]
    if pd is not None and isinstance(value, pd.Series):
        return to_jsonable(value.to_dict())
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.datetime, dt.date)):  # pandas' Timestamp is a datetime
        return value.isoformat()
    if pd is not None and (value is pd.NaT or value is pd.NA):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def emit(data: Any, json_mode: bool, render: Callable[[], None] | None = None) -> None:
    """Print ``data`` as JSON in ``--json`` mode, else call ``render`` (or pretty-print it:
    tables as tables, numbers with grouped digits)."""
    if json_mode:
        sys.stdout.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n")
    elif render is not None:
        render()
    elif isinstance(data, pd.DataFrame):
        print_frame(data)
    elif isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        print_frame(pd.DataFrame(data))
    elif isinstance(data, dict):
        print_fields(data)
    else:
        console.print(_shown(data) if _is_number(data) else data)


def print_fields(data: dict[str, Any], indent: int = 0) -> None:
    """A nested mapping as indented ``key: value`` lines, numbers as :func:`fmt_number`
    prints them and tables as tables (the human twin of ``--json``)."""
    pad = "  " * indent
    for key, value in data.items():
        label = escape(str(key))
        if isinstance(value, pd.DataFrame):
            print_frame(value, title=f"{pad}{key}")
        elif isinstance(value, dict):
            console.print(f"{pad}{label}:", highlight=False)
            print_fields(value, indent + 1)
        elif isinstance(value, (list, tuple)) and value and all(
                isinstance(v, dict) for v in value):
            print_frame(pd.DataFrame(list(value)), title=f"{pad}{key}")
        else:
            console.print(f"{pad}{label}: {escape(_shown(value))}", highlight=False)


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown(v) for v in value)
    if _is_number(value):
        return fmt_number(value, digits=4)
    return "–" if value is None else str(value)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


# Integer columns that are labels, not quantities: printed without thousands separators.
_LABEL_COLUMNS = ("id", "year", "version", "code", "zip", "postcode", "phone")


def _is_label(column: object) -> bool:
    name = str(column).lower()
    return any(name == w or name.endswith(("_" + w, " " + w)) for w in _LABEL_COLUMNS)


def print_frame(df: pd.DataFrame, title: str = "", max_rows: int = 30) -> None:
    """A DataFrame as a rich table on the terminal (numbers as :func:`fmt_number` prints
    them, except integer label columns such as ``*_id`` and ``year``)."""
    t = Table(title=title or None, show_lines=False)
    for col in df.columns:
        t.add_column(
            str(col), justify="right" if pd.api.types.is_numeric_dtype(df[col]) else "left"
        )
    grouped = [not _is_label(c) for c in df.columns]
    for row in df.head(max_rows).itertuples(index=False):
        t.add_row(*(_cell(v, grouped=g) for v, g in zip(row, grouped, strict=True)))
    console.print(t)
    if len(df) > max_rows:
        console.print(
            f"[dim]… {len(df) - max_rows:,} more rows (use --json or export for all)[/dim]"
        )


def _cell(v: Any, *, grouped: bool = True) -> str:
    if v is None or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else fmt_number(v, digits=4)
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        return fmt_number(v) if grouped else str(v)
    return str(v)


def fail(exc: BaseException, *, json_mode: bool, code: int = 2) -> NoReturn:
    """Report an error on stderr (and as JSON on stdout in --json mode); exit non-zero."""
    payload = {"error": {"type": type(exc).__name__, "message": str(exc)}}
    if json_mode:
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    err_console.print(
        f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True
    )
    raise SystemExit(code)


@contextmanager
def errors_handled(json_mode: bool) -> Iterator[None]:
    """Turn crmine errors raised inside a command into a clean message and exit code 2."""
    try:
        yield
    except CrmineError as exc:
        fail(exc, json_mode=json_mode)


def read_flat_file(path: Path, *, sheet: str | None = None,
                   column: str | None = None) -> pd.DataFrame:  # fmt: skip
    """A flat table (CSV/TSV/text, optionally .gz; Parquet; Excel) for the ``--data`` options.

    Encoding and delimiter are detected as ``crmine ingest`` does (European exports use ';').
    In a workbook, ``sheet`` names the sheet to read; without it, the first sheet holding
    ``column`` (e.g. the target) is read, not a data dictionary that happens to come first;
    errors list the sheets and their columns.
    """
    import gzip

    import pandas as pd

    from crmine.exceptions import IngestError, MissingColumnError
    from crmine.warehouse._sources import detect_encoding, sniff_delimiter

    if not path.exists():
        raise IngestError(f"file {path} not found; check the path (cwd: {Path.cwd()})")
    name = path.name.lower()
    stem = name.removesuffix(".gz")
    if stem.endswith((".xlsx", ".xlsm")):
        book = pd.ExcelFile(path)
        sheets = [str(s) for s in book.sheet_names]
        if sheet is not None:
            if sheet not in sheets:
                raise IngestError(f"{path} has no sheet {sheet!r}; its sheets: "
                                  f"{', '.join(sheets)}")  # fmt: skip
            return book.parse(sheet)
        if column is None:
            return book.parse(sheets[0])
        headers = {s: [str(c) for c in book.parse(s, nrows=0).columns] for s in sheets}
        for s in sheets:
            if column in headers[s]:
                return book.parse(s)
        listing = "; ".join(f"{s!r} ({', '.join(cols[:8])}{', …' if len(cols) > 8 else ''})"
                            for s, cols in headers.items())  # fmt: skip
        raise MissingColumnError(
            f"no sheet of {path} has a column {column!r}; sheets: {listing}; name the sheet "
            "with --sheet NAME or the column with --target"
        )
    if sheet is not None:
        raise IngestError(f"--sheet applies to Excel workbooks (.xlsx), not {path.name}")
    if stem.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if not stem.endswith((".csv", ".tsv", ".txt")):
        raise IngestError(f"{path}: give a .csv, .tsv, .txt, .parquet or .xlsx file")
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        sample = fh.read(1 << 16)
    encoding = detect_encoding(sample)
    sep = sniff_delimiter(sample.decode(encoding, errors="ignore"))
    return pd.read_csv(path, sep=sep if sep is not None else r"\s+", encoding=encoding)


def consented_rows(frame: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows of a ``--data`` file that may be scored into a list (its consent columns
    honoured, ``crmine.warehouse._consent``) and what the filter did, for the output:
    ``consent_excluded`` (None: no consent column, nobody left out) and ``consent`` in words."""
    from crmine.warehouse._consent import drop_opted_out_rows

    kept, excluded = drop_opted_out_rows(frame)
    said = (f"{path.name} has no consent or opt-out column (such as marketing_opt_out): "
            "nobody was left out" if excluded is None else
            f"{excluded:,} customer(s) who opted out of marketing left out ({path.name})")
    return kept, {"consent_excluded": excluded, "consent": said}  # fmt: skip


def open_workspace(folder: Path, *, read_only: bool = False) -> Workspace:
    """The workspace in ``folder``, opened once its crmine.toml has been checked
    (:func:`check_workspace_config`): a misspelt setting stops the command with a clear
    error (exit code 2 under :func:`errors_handled`) instead of being silently ignored."""
    from crmine.warehouse import Workspace

    check_workspace_config(folder)
    return Workspace.open(folder, read_only=read_only)


def check_workspace_config(folder: Path) -> None:
    """Check ``folder/crmine.toml`` (when there is one) before any work is done.

    Wrong value types anywhere in the file, and ``[settings]`` keys that no analysis declares
    or values of the wrong type, are a :class:`~crmine.exceptions.ConfigError` naming the
    nearest valid key or the expected type (``crmine.contract.validate_settings``).
    """
    from crmine.config import CONFIG_FILE, load_config

    root = folder.expanduser().resolve()
    if not (root / CONFIG_FILE).exists():
        return
    config = load_config(root)
    from crmine.contract import validate_settings

    validate_settings(config.settings, str(root / CONFIG_FILE))
    if "identity" in config.extra:
        from crmine.identity import identity_settings

        identity_settings(config.extra["identity"], str(root / CONFIG_FILE))


VERDICT_COLOURS = {"informative": "green", "weak": "yellow", "not_informative": "red"}


def print_verdict(verdict: Verdict | Mapping[str, Any] | None, *, indent: str = "") -> None:
    """A verdict in plain words, first: status and why, its further checks, what to try and
    the warnings raised during the fit (a :class:`crmine.contract.Verdict` or its dict)."""
    if verdict is None:
        return
    v = verdict.to_dict() if hasattr(verdict, "to_dict") else dict(verdict)
    colour = VERDICT_COLOURS[v["status"]]
    label = v["status"].replace("_", " ")
    console.print(f"{indent}[bold {colour}]Verdict: {label}[/bold {colour}] "
                  f"({escape(v['metric'])}): {escape(v['why'])}")  # fmt: skip
    for check in v.get("checks", []):
        console.print(f"{indent}  [dim]{escape(check['metric'])}: "
                      f"{check['status'].replace('_', ' ')}.[/dim] {escape(check['why'])}")
    if v.get("what_to_try"):
        console.print(f"{indent}  What to try: {escape(v['what_to_try'])}")
    for warning in v.get("warnings", []):
        console.print(f"{indent}  [yellow]warning during the fit:[/yellow] {escape(warning)}")
