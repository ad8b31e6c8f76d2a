"""What every command shares: the --workspace/--json options, output and error rendering."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from crmine.exceptions import CrmineError

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
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return to_jsonable(value.to_dict())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def emit(data: Any, json_mode: bool, render: Callable[[], None] | None = None) -> None:
    """Print ``data`` as JSON in ``--json`` mode, else call ``render`` (or pretty-print it)."""
    if json_mode:
        sys.stdout.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n")
    elif render is not None:
        render()
    else:
        console.print(data)


def print_frame(df: pd.DataFrame, title: str = "", max_rows: int = 30) -> None:
    """A DataFrame as a rich table on the terminal."""
    t = Table(title=title or None, show_lines=False)
    for col in df.columns:
        t.add_column(
            str(col), justify="right" if pd.api.types.is_numeric_dtype(df[col]) else "left"
        )
    for row in df.head(max_rows).itertuples(index=False):
        t.add_row(*(_cell(v) for v in row))
    console.print(t)
    if len(df) > max_rows:
        console.print(
            f"[dim]… {len(df) - max_rows:,} more rows (use --json or export for all)[/dim]"
        )


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:,.4g}"
    return "" if v is None or v is pd.NA else str(v)


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


def read_flat_file(path: Path) -> pd.DataFrame:
    """A flat table (CSV/TSV/text, optionally .gz; Parquet; Excel) for the ``--data`` options.

    Encoding and delimiter are detected as ``crmine ingest`` does (European exports use ';').
    """
    import gzip

    from crmine.exceptions import IngestError
    from crmine.warehouse._sources import detect_encoding, sniff_delimiter

    if not path.exists():
        raise IngestError(f"file {path} not found; check the path (cwd: {Path.cwd()})")
    name = path.name.lower()
    stem = name.removesuffix(".gz")
    if stem.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if stem.endswith((".xlsx", ".xlsm")):
        return pd.read_excel(path)
    if not stem.endswith((".csv", ".tsv", ".txt")):
        raise IngestError(f"{path}: give a .csv, .tsv, .txt, .parquet or .xlsx file")
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        sample = fh.read(1 << 16)
    encoding = detect_encoding(sample)
    sep = sniff_delimiter(sample.decode(encoding, errors="ignore"))
    return pd.read_csv(path, sep=sep if sep is not None else r"\s+", encoding=encoding)


def open_workspace(folder: Path, *, read_only: bool = False) -> Any:
    from crmine.warehouse import Workspace

    return Workspace.open(folder, read_only=read_only)
