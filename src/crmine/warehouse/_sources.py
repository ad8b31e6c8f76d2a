"""Reading a source into a ``raw.*`` table exactly as read: every value as text, every row.

Supported: CSV/TSV/semicolon/pipe and whitespace-separated text (optionally gzipped) in UTF-8,
UTF-8 with BOM, GBK/GB18030 or Latin-1; Parquet; Excel (.xlsx); a table or query of a SQL
database given a URL (``sqlite:///path.db``); a pandas DataFrame.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import os
import re
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmine.exceptions import IngestError

__all__ = ["RawSource", "detect_encoding", "read_source", "sniff_delimiter"]

_SAMPLE_BYTES = 1 << 20
_DELIMITERS = (",", "\t", ";", "|")


@dataclass(frozen=True, slots=True)
class RawSource:
    """What was read: the raw table, its source columns and the parse failures."""

    table: str
    columns: tuple[str, ...]
    rows: int
    fingerprint: str
    kind: str
    encoding: str | None = None
    delimiter: str | None = None
    # Lines the CSV reader could not parse: (row number, line text, error).
    unparsed: tuple[tuple[int, str, str], ...] = ()


def _open_bytes(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return fh.read(_SAMPLE_BYTES)


def detect_encoding(sample: bytes) -> str:
    """The text encoding of ``sample``: utf-8, utf-8-sig, gb18030 or latin-1.

    UTF-8 is tried first because it rejects almost every non-UTF-8 byte sequence; GB18030 (a
    superset of GBK/GB2312) next, accepted only when its text is mostly CJK; Latin-1 accepts
    anything and comes last.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(sample) - 4:  # a multi-byte character cut by the sample end
            return "utf-8"
    try:
        sample.decode("gb18030")
    except UnicodeDecodeError:
        return "latin-1"
    # Chinese text has its high bytes in runs of even length (two-byte characters); Latin-1
    # text has single accented letters between ASCII ones.
    runs = [len(m) for m in re.findall(rb"[\x80-\xff]+", sample)]
    odd = sum(1 for n in runs if n % 2)
    return "gb18030" if runs and odd / len(runs) < 0.1 else "latin-1"


def sniff_delimiter(text: str) -> str | None:
    """The field delimiter, or None for whitespace-separated columns (e.g. CDNOW)."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    best, best_score = None, 0.0
    for d in _DELIMITERS:
        counts = [ln.count(d) for ln in lines]
        if min(counts) > 0 and max(counts) == min(counts):
            score = 2.0 + min(counts)
        else:
            score = sum(1 for c in counts if c > 0) / len(counts)
        if score > best_score:
            best, best_score = d, score
    if best_score >= 0.9:
        return best
    tokens = [len(ln.split()) for ln in lines]
    if min(tokens) > 1 and max(tokens) == min(tokens):
        return None  # whitespace-separated, fixed columns
    return best or ","


def fingerprint_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _transcode(path: Path, encoding: str) -> Path:
    """A temporary UTF-8 copy of a text file in another encoding (DuckDB reads UTF-8)."""
    opener = gzip.open if path.suffix == ".gz" else open
    fd, name = tempfile.mkstemp(prefix="crmine-", suffix=".csv")
    with opener(path, "rb") as src, os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
        reader = codecs.getreader(encoding)(src)
        for chunk in iter(lambda: reader.read(1 << 22), ""):
            dst.write(chunk)
    return Path(name)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def read_source(
    con: duckdb.DuckDBPyConnection,
    source: str | Path | pd.DataFrame,
    raw_table: str,
    *,
    query: str | None = None,
    sheet: str | int | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> RawSource:
    """Load ``source`` into ``raw_table``, all text, rows in source order.

    A row's 1-based number in the source follows from the raw table's ``rowid`` (DuckDB keeps
    insertion order); no column is added, so the raw table is exactly what was read.
    """
    if isinstance(source, pd.DataFrame):
        return _read_frame(con, source, raw_table)
    text = str(source)
    if re.match(r"^[a-z][a-z0-9+]*://", text):
        return _read_database(con, text, raw_table, query=query)
    path = Path(source).expanduser()
    if not path.exists():
        raise IngestError(f"source file {path} does not exist; check the path (cwd: {Path.cwd()})")
    if path.is_dir():
        raise IngestError(f"source {path} is a folder; give one file (CSV, Parquet, Excel)")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return _read_parquet(con, path, raw_table)
    if suffixes and suffixes[-1] in (".xlsx", ".xlsm"):
        return _read_excel(con, path, raw_table, sheet)
    if suffixes and suffixes[-1] == ".xls":
        raise IngestError(
            f"{path}: the old binary .xls format is not supported; save it as .xlsx or CSV"
        )
    return _read_text(con, path, raw_table, delimiter=delimiter, encoding=encoding)


def _read_text(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    raw_table: str,
    *,
    delimiter: str | None,
    encoding: str | None,
) -> RawSource:
    try:
        sample = _open_bytes(path)
    except (OSError, EOFError) as exc:
        raise IngestError(
            f"{path}: cannot be read ({exc}); is it a valid text or .gz file?"
        ) from exc
    if not sample.strip():
        raise IngestError(f"{path} is empty: nothing to load")
    if b"\x00" in sample[:4096]:
        raise IngestError(
            f"{path} looks binary (NUL bytes), not CSV text; give a CSV, Parquet or .xlsx file"
        )
    enc = encoding or detect_encoding(sample)
    readable = path
    if enc not in ("utf-8", "utf-8-sig"):
        readable = _transcode(path, enc)
    sample_text = sample.decode(enc if enc != "utf-8" else "utf-8", errors="ignore")
    delim = delimiter if delimiter is not None else sniff_delimiter(sample_text)
    fp = fingerprint_file(path)
    try:
        if delim is None:
            return _read_whitespace(con, path, readable, raw_table, enc, fp)
        # A line with the wrong number of fields (an unquoted delimiter in a text field, a cut
        # line) is quarantined as an unparseable line rather than padded or widened.
        con.execute(
            f"CREATE OR REPLACE TABLE {raw_table} AS SELECT * "
            f"FROM read_csv({_sql_str(str(readable))}, all_varchar = true, header = true, "
            f"delim = {_sql_str(delim)}, quote = '\"', escape = '\"', null_padding = false, "
            "store_rejects = true, rejects_table = '_crmine_rejects', "
            "rejects_scan = '_crmine_reject_scans', normalize_names = false)"
        )
        unparsed = tuple(
            (int(r[0]), str(r[1]), str(r[2]))
            for r in con.execute(
                # one row per bad line, whatever number of errors the reader reported for it
                "SELECT line - 1, any_value(csv_line), string_agg(DISTINCT error_message, '; ') "
                "FROM _crmine_rejects GROUP BY line ORDER BY line"
            ).fetchall()
        )
    except duckdb.Error as exc:
        raise IngestError(f"{path}: not readable as delimited text ({exc})") from exc
    finally:
        if readable != path:
            readable.unlink(missing_ok=True)
    return _describe(con, raw_table, fp, "csv", enc, delim, unparsed)


def _read_whitespace(
    con: duckdb.DuckDBPyConnection, path: Path, readable: Path, raw_table: str, enc: str, fp: str
) -> RawSource:
    """Whitespace-separated columns (fixed width, e.g. CDNOW): split each line on blanks."""
    frame = pd.read_csv(
        readable,
        sep=r"\s+",
        dtype=str,
        keep_default_na=False,
        encoding="utf-8-sig" if enc == "utf-8-sig" else "utf-8",
        compression="gzip" if readable.suffix == ".gz" else None,
    )
    _register_frame(con, frame, raw_table)
    return _describe(con, raw_table, fp, "text", enc, " ", ())


def _register_frame(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, raw_table: str) -> None:
    """Store ``frame`` as text, every value as it would appear in a CSV export."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S")
        columns.append(column.cast(pa.string()))
    text = pa.table(columns, names=[str(c) for c in frame.columns])
    con.register("_crmine_frame", text)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {raw_table} AS SELECT * FROM _crmine_frame")
    finally:
        con.unregister("_crmine_frame")


def _read_frame(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, raw_table: str) -> RawSource:
    h = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    h.update(",".join(map(str, frame.columns)).encode())
    _register_frame(con, frame, raw_table)
    return _describe(con, raw_table, h.hexdigest(), "dataframe", None, None, ())


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path, raw_table: str) -> RawSource:
    try:
        cols = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_sql_str(str(path))})").fetchall()
        casts = ", ".join(f'CAST("{c[0]}" AS VARCHAR) AS "{c[0]}"' for c in cols)
        con.execute(
            f"CREATE OR REPLACE TABLE {raw_table} AS SELECT {casts} "
            f"FROM read_parquet({_sql_str(str(path))})"
        )
    except duckdb.Error as exc:
        raise IngestError(f"{path}: not a readable Parquet file ({exc})") from exc
    return _describe(con, raw_table, fingerprint_file(path), "parquet", None, None, ())


def _read_excel(
    con: duckdb.DuckDBPyConnection, path: Path, raw_table: str, sheet: str | int | None
) -> RawSource:
    try:
        frame = pd.read_excel(
            path, sheet_name=sheet if sheet is not None else 0, dtype=str, engine="openpyxl"
        )
    except ValueError as exc:
        raise IngestError(f"{path}: sheet {sheet!r} not found or unreadable ({exc})") from exc
    except Exception as exc:  # openpyxl raises many kinds for a corrupt file
        raise IngestError(f"{path}: not a readable .xlsx workbook ({exc})") from exc
    _register_frame(con, frame, raw_table)
    return _describe(con, raw_table, fingerprint_file(path), "excel", None, None, ())


def _read_database(
    con: duckdb.DuckDBPyConnection, url: str, raw_table: str, *, query: str | None
) -> RawSource:
    """A table (``sqlite:///file.db?table=customers``) or a query of a SQLite database."""
    m = re.match(r"^sqlite:///(?P<path>[^?]+)(\?table=(?P<table>[\w.]+))?$", url)
    if not m:
        raise IngestError(
            f"unsupported database URL {url!r}; use sqlite:///path/to/file.db?table=NAME "
            "or sqlite:///path/to/file.db with --query 'SELECT …'"
        )
    db = Path(m["path"])
    if not db.exists():
        raise IngestError(f"SQLite database {db} does not exist")
    sql = query or (f'SELECT * FROM "{m["table"]}"' if m["table"] else None)
    if sql is None:
        raise IngestError(f"{url}: name a table (?table=NAME) or give --query")
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as lite:
            frame = pd.read_sql_query(sql, lite)
    except Exception as exc:
        raise IngestError(f"{url}: query failed ({exc})") from exc
    _register_frame(con, frame, raw_table)
    h = hashlib.sha256(f"{url}\n{sql}".encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return _describe(con, raw_table, h.hexdigest(), "sql", None, None, ())


def _describe(
    con: duckdb.DuckDBPyConnection,
    raw_table: str,
    fp: str,
    kind: str,
    enc: str | None,
    delim: str | None,
    unparsed: tuple[tuple[int, str, str], ...],
) -> RawSource:
    cols = tuple(r[0] for r in con.execute(f"DESCRIBE {raw_table}").fetchall())
    row = con.execute(f"SELECT count(*) FROM {raw_table}").fetchone()
    rows = int(row[0]) if row else 0
    return RawSource(raw_table, cols, rows, fp, kind, enc, delim, unparsed)
