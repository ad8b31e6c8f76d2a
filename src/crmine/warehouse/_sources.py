"""Reading a source: parsed as text for staging, and landed as received for the raw layer.

The raw layer is the landing folder ``<workspace>/raw/``: each load keeps its source file as
received (or as Parquet when DuckDB cannot read the original back), and ``raw.<entity>__<load>``
is a view over it. Copying a file costs milliseconds where persisting the same rows as a
DuckDB text table cost more than the whole typed load.

Supported: CSV/TSV/semicolon/pipe and whitespace-separated text (optionally gzipped) in UTF-8,
UTF-8 with BOM, GBK/GB18030 or Latin-1; Parquet; Excel (.xlsx); a table or query of a SQL
database given a URL (``sqlite:///path.db``); a pandas DataFrame.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import gzip
import hashlib
import os
import re
import shutil
import sqlite3
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmine.exceptions import IngestError
from crmine.warehouse._core import quote

__all__ = [
    "RawSource",
    "Source",
    "detect_encoding",
    "locate_source",
    "read_source",
    "sniff_delimiter",
]

_SAMPLE_BYTES = 1 << 20
_DELIMITERS = (",", "\t", ";", "|")


@dataclass(frozen=True, slots=True)
class RawSource:
    """What was read: the parsed table, its source columns, the landing file, the failures."""

    table: str
    columns: tuple[str, ...]
    rows: int
    fingerprint: str
    kind: str
    landed: Path  # the landing file under the workspace's raw/ folder
    view: str  # SELECT reading the landing file back, for the raw.* view
    encoding: str | None = None
    delimiter: str | None = None
    # Lines the CSV reader could not parse: (row number, line text, error).
    unparsed: tuple[tuple[int, str, str], ...] = ()
    # Lines decoded with each encoding, when the file was decoded line by line ("ascii":
    # lines the same in every encoding).
    line_encodings: dict[str, int] = field(default_factory=dict)
    # What the reader noticed and the load should say (duplicate header names, formula
    # cells of a workbook without a saved value).
    notes: tuple[str, ...] = ()


def _open_bytes(path: Path) -> bytes:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
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
    return _cjk_or_latin(sample)


def _cjk_or_latin(sample: bytes) -> str:
    """gb18030 for bytes that decode as GB18030 and look like Chinese text, else latin-1."""
    try:
        sample.decode("gb18030")
    except UnicodeDecodeError:
        return "latin-1"
    # Chinese text has its high bytes in runs of even length (two-byte characters); Latin-1
    # text has single accented letters between ASCII ones.
    runs = [len(m) for m in re.findall(rb"[\x80-\xff]+", sample)]
    odd = sum(1 for n in runs if n % 2)
    return "gb18030" if runs and odd / len(runs) < 0.1 else "latin-1"


def _line_encoding(line: bytes, primary: str) -> str:
    """The encoding one line decodes with: UTF-8 when it does (it rejects almost every other
    byte sequence), else the file's own when that is Latin-1, else GB18030 or Latin-1 as the
    line's bytes suggest."""
    try:
        line.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    return "latin-1" if primary == "latin-1" else _cjk_or_latin(line)


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def decode_lines(path: Path, primary: str, dest: Path) -> dict[str, int]:
    """Write a UTF-8 copy of a text file decoding each line with the encoding that works.

    A file may mix encodings (UTF-8 lines appended to a GBK export): decoding it with one
    encoding turns the other lines into mojibake (张三 -> 寮犱笁). Blocks of valid UTF-8 are
    copied as they are; the lines of other blocks are decoded one by one
    (:func:`_line_encoding`). Returns the number of lines decoded with each encoding
    ("ascii" for lines of ASCII only, the same in all of them; a block of a Latin-1 file
    without any UTF-8 character is decoded whole, all its lines counted as Latin-1).
    """
    counts: dict[str, int] = {}
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as src, open(dest, "wb") as out:
        rest, first = b"", True
        while True:
            block = src.read(1 << 22)
            data = rest + block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            if block and cut == 0:  # no line end yet
                rest = data
                continue
            chunk, rest = data[:cut], data[cut:]
            if first and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
            first = False
            try:
                chunk.decode("utf-8")
                out.write(chunk)
                if chunk.isascii():
                    lines = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") or not chunk else 1)
                    counts["ascii"] = counts.get("ascii", 0) + lines
                else:
                    for line in chunk.splitlines():
                        enc = "ascii" if line.isascii() else "utf-8"
                        counts[enc] = counts.get(enc, 0) + 1
            except UnicodeDecodeError:
                lines = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
                if primary == "latin-1" and chunk.decode("utf-8", "ignore").isascii():
                    # no UTF-8 character anywhere in the block: every line is Latin-1 (its
                    # lines count as Latin-1, ASCII ones included)
                    counts["latin-1"] = counts.get("latin-1", 0) + lines
                    out.write(chunk.decode("latin-1").encode("utf-8"))
                    continue
                # only the lines with bytes beyond ASCII need decoding; the rest are copied
                pos, others = 0, 0
                while (m := _NON_ASCII.search(chunk, pos)) is not None:
                    start = chunk.rfind(b"\n", 0, m.start()) + 1
                    end = chunk.find(b"\n", m.start())
                    end = len(chunk) if end < 0 else end
                    line = chunk[start:end]
                    enc = _line_encoding(line, primary)
                    counts[enc] = counts.get(enc, 0) + 1
                    others += 1
                    out.write(chunk[pos:start])
                    out.write(line.decode(enc).encode("utf-8"))
                    pos = end
                out.write(chunk[pos:])
                counts["ascii"] = counts.get("ascii", 0) + lines - others
            if not block:
                break
    return {k: v for k, v in counts.items() if v}


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


def _transcode(path: Path, encoding: str, dest: Path) -> None:
    """Write a UTF-8 copy of a text file in another encoding (DuckDB reads UTF-8)."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as src, open(dest, "w", encoding="utf-8", newline="") as dst:
        reader = codecs.getreader(encoding)(src)
        for chunk in iter(lambda: reader.read(1 << 22), ""):
            dst.write(chunk)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class Source:
    """A located source, not yet read: what it is and its fingerprint.

    The fingerprint comes first so that re-loading an identical source costs one hash, not a
    parse. A SQL source is queried here (its fingerprint is the rows it returns).
    """

    kind: str  # csv | parquet | excel | sql | dataframe
    path: Path | None = None
    frame: pd.DataFrame | None = None
    fingerprint: str = ""


def locate_source(
    source: str | Path | pd.DataFrame,
    *,
    query: str | None = None,
    sheet: str | int | None = None,
) -> Source:
    """Check that ``source`` exists and is of a supported kind; fingerprint it."""
    if isinstance(source, pd.DataFrame):
        return Source("dataframe", frame=source, fingerprint=_frame_fingerprint(source))
    text = str(source)
    if re.match(r"^[a-z][a-z0-9+]*://", text):
        frame, fp = _query_database(text, query)
        return Source("sql", frame=frame, fingerprint=fp)
    path = Path(source).expanduser()
    if not path.exists():
        raise IngestError(f"source file {path} does not exist; check the path (cwd: {Path.cwd()})")
    if path.is_dir():
        raise IngestError(f"source {path} is a folder; give one file (CSV, Parquet, Excel)")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        kind = "parquet"
    elif suffix in (".xlsx", ".xlsm"):
        kind = "excel"
    elif suffix == ".xls":
        raise IngestError(
            f"{path}: the old binary .xls format is not supported; save it as .xlsx or CSV"
        )
    else:
        kind = "csv"
    fp = fingerprint_file(path)
    if kind == "excel":  # another sheet of the same workbook is another source
        fp += f":{sheet if sheet is not None else 0}"
    return Source(kind, path=path, fingerprint=fp)


def read_source(
    con: duckdb.DuckDBPyConnection,
    src: Source,
    table: str,
    root: Path,
    landing: str,
    *,
    sheet: str | int | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> RawSource:
    """Parse ``src`` into the temporary ``table`` (all text, source order) and land it.

    The source is kept as received in a landing file under ``root`` (``landing`` is its path
    relative to ``root``, without suffix): the file itself when DuckDB can read it back as it
    is, else Parquet. ``RawSource.view`` reads the landing file again by its absolute path
    (a relative one would be looked up in the current directory first); a workspace opened at
    another place rewrites its views (``Workspace``).
    A row's 1-based number in the source follows from the temporary table's ``rowid`` (DuckDB
    keeps insertion order); no column is added, so the table is exactly what was read.
    """
    (root / landing).parent.mkdir(parents=True, exist_ok=True)
    if src.frame is not None:
        return _read_frame(con, src.frame, table, root, landing, src.fingerprint, src.kind)
    assert src.path is not None
    if src.kind == "parquet":
        return _read_parquet(con, src.path, table, root, landing, src.fingerprint)
    if src.kind == "excel":
        frame, header = _excel_frame(src.path, sheet)
        raw = _read_frame(con, frame, table, root, landing, src.fingerprint, "excel")
        notes = _duplicate_names(header, raw.columns) + _formula_cells(src.path, sheet)
        return dataclasses.replace(raw, notes=notes) if notes else raw
    raw = _read_text(
        con, src.path, table, root, landing, src.fingerprint, delimiter=delimiter, encoding=encoding
    )
    notes = _duplicate_names(_text_header(src.path, raw.delimiter), raw.columns)
    return dataclasses.replace(raw, notes=notes) if notes else raw


def _text_header(path: Path, delim: str | None) -> list[str]:
    """The names in a text file's first line, as written."""
    first = _open_bytes(path).split(b"\n", 1)[0].rstrip(b"\r")
    text = first.decode("utf-8-sig", errors="replace")
    if delim is None:
        return text.split()
    return next(csv.reader([text], delimiter=delim, quotechar='"'), [])


def _duplicate_names(header: list[str], columns: tuple[str, ...]) -> tuple[str, ...]:
    """A note for each name the header gives more than one column (they are loaded under
    the names the reader gave them, which the note lists)."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        positions.setdefault(name.strip(), []).append(i)
    notes = []
    for name, where in positions.items():
        if len(where) < 2 or len(columns) != len(header):
            continue
        loaded = ", ".join(columns[i] for i in where[1:])
        notes.append(
            f"the header names {name!r} {len(where)} times (columns "
            f"{', '.join(str(i + 1) for i in where)}); the later ones are loaded as {loaded}: "
            "rename them in the file or map them explicitly"
        )
    return tuple(notes)


def _csv_options(delim: str) -> str:
    return (
        f"all_varchar = true, header = true, delim = {_sql_str(delim)}, quote = '\"', "
        "escape = '\"', null_padding = false, normalize_names = false"
    )


def _read_text(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    root: Path,
    landing: str,
    fp: str,
    *,
    delimiter: str | None,
    encoding: str | None,
    per_line: bool = False,
) -> RawSource:
    try:
        sample = _open_bytes(path)
    except (OSError, EOFError) as exc:
        raise IngestError(
            f"{path}: cannot be read ({short_error(exc)}); is it a valid text or .gz file?"
        ) from exc
    if not sample.strip():
        raise IngestError(f"{path} is empty: nothing to load")
    if b"\x00" in sample[:4096]:
        raise IngestError(
            f"{path} looks binary (NUL bytes), not CSV text; give a CSV, Parquet or .xlsx file"
        )
    enc = encoding or detect_encoding(sample)
    sample_text = sample.decode(enc if enc != "utf-8" else "utf-8", errors="ignore")
    delim = delimiter if delimiter is not None else sniff_delimiter(sample_text)
    # DuckDB reads UTF-8: another encoding lands as its UTF-8 transcoding, the rest as is.
    # Without a given encoding each line is decoded with the one that works for it (a file
    # may mix them); a UTF-8 file is only re-decoded so when DuckDB finds a line that is not.
    gz = path.suffix.lower() == ".gz"
    by_line = encoding is None and (per_line or enc not in _UTF8)
    line_encodings: dict[str, int] = {}
    landed = root / (landing + (".csv" if not gz or enc not in _UTF8 or by_line else ".csv.gz"))
    if by_line:
        line_encodings = decode_lines(path, enc, landed)
        enc = _encoding_label(line_encodings, enc)
    elif enc in _UTF8:
        shutil.copyfile(path, landed)
    else:
        _transcode(path, enc, landed)
    redecode = encoding is None and not by_line  # a UTF-8 copy: may hold other lines
    if delim is None:
        frame = _whitespace_frame(landed)
        landed.unlink()
        return _read_frame(con, frame, table, root, landing, fp, "text", enc, " ")
    options = _csv_options(delim)
    # DuckDB parses a gzipped file on one thread; unpacked first, it uses every core.
    unpacked = landed.with_name(landed.name + ".unpacked") if landed.suffix == ".gz" else None
    padded = False
    try:
        if unpacked is not None:
            padded = _gunzip(landed, unpacked, path)
        # A line with the wrong number of fields (an unquoted delimiter in a text field, a cut
        # line) is quarantined as an unparseable line rather than padded or widened.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * "
            f"FROM read_csv({_sql_str(str(unpacked or landed))}, {options}, store_rejects = true, "
            "rejects_table = '_crmine_rejects', rejects_scan = '_crmine_reject_scans')"
        )
        # After an unterminated quote DuckDB stops reading, and the rest of the file would be
        # missing without a word: such a file is read the forgiving way.
        cut = con.execute(
            "SELECT count(*) FROM _crmine_rejects WHERE error_type IN "
            "('UNTERMINATED QUOTES', 'UNQUOTED VALUE') OR error_message ILIKE '%unterminated%'"
        ).fetchone()
        if redecode:
            mixed = con.execute(
                "SELECT count(*) FROM _crmine_rejects WHERE error_type = 'INVALID ENCODING'"
            ).fetchone()
            if mixed and mixed[0]:
                raise _Redecode
        if cut and cut[0]:
            raise _ReadAgain
        unparsed = tuple(
            (int(r[0]), str(r[1]), str(r[2]))
            for r in con.execute(
                # one row per bad line, whatever number of errors the reader reported for it
                "SELECT line - 1, any_value(csv_line), string_agg(DISTINCT error_message, '; ') "
                "FROM _crmine_rejects GROUP BY line ORDER BY line"
            ).fetchall()
        )
    except _Redecode:
        landed.unlink(missing_ok=True)
        if unpacked is not None:
            unpacked.unlink(missing_ok=True)
        return _read_text(con, path, table, root, landing, fp, delimiter=delim, encoding=None,
                          per_line=True)  # fmt: skip
    except (duckdb.Error, _ReadAgain) as exc:
        # DuckDB refuses a whole file for one stray quote, a switch of line endings or a very
        # long line: read it line by line instead, quarantining only the lines that break.
        if redecode and not _valid_utf8(unpacked or landed):
            landed.unlink(missing_ok=True)
            if unpacked is not None:
                unpacked.unlink(missing_ok=True)
            return _read_text(con, path, table, root, landing, fp, delimiter=delim,
                              encoding=None, per_line=True)  # fmt: skip
        try:
            header, records, unparsed = _parse_lines(unpacked or landed, delim)
        except (OSError, UnicodeError, csv.Error) as again:
            landed.unlink(missing_ok=True)
            raise IngestError(
                f"{path}: not readable as delimited text ({short_error(again)}); check the "
                "file, or give --delimiter and --encoding"
            ) from exc
        landed.unlink(missing_ok=True)
        return _land_records(con, header, records, unparsed, table, root, landing, fp, enc, delim,
                             line_encodings)  # fmt: skip
    except (OSError, zlib.error) as exc:
        landed.unlink(missing_ok=True)
        raise IngestError(f"{path}: not readable as delimited text ({short_error(exc)})") from exc
    finally:
        if unpacked is not None and not padded:
            unpacked.unlink(missing_ok=True)
    if padded:  # DuckDB cannot read gzip with zero padding back: land the text instead
        assert unpacked is not None
        landed.unlink()
        landed = landed.with_suffix("")  # orders__l00001.csv
        os.replace(unpacked, landed)
    # Naming the columns spares DuckDB sniffing the file again when the view is made.
    columns = ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in _columns(con, table))
    view = (
        f"SELECT * FROM read_csv({_sql_str(str(landed))}, {options}, "
        f"columns = {{{columns}}}, auto_detect = false, ignore_errors = true)"
    )
    return _describe(con, table, fp, "csv", enc, delim, unparsed, landed, view, line_encodings)


class _ReadAgain(Exception):
    """DuckDB read the file but not all of it: parse it line by line instead."""


class _Redecode(Exception):
    """A file taken for UTF-8 holds lines that are not: decode it line by line."""


def _valid_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _encoding_label(counts: dict[str, int], primary: str) -> str:
    """The encodings a file's lines were decoded with, most used first ("utf-8+gb18030");
    the detected one when every line is ASCII."""
    used = sorted((k for k in counts if k != "ascii"), key=lambda k: -counts[k])
    return "+".join(used) if used else primary


def short_error(exc: BaseException, limit: int = 200) -> str:
    """The first line of an error, at most ``limit`` characters: never a whole raw row."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# A quoted field may hold line breaks; one spanning more lines than this is a stray quote.
_MAX_QUOTED_LINES = 100


def _parse_lines(
    path: Path, delim: str
) -> tuple[list[str], list[list[str]], tuple[tuple[int, str, str], ...]]:
    """Parse a delimited text file record by record, the slow and forgiving way.

    Each physical line (ended by LF, CRLF or CR: a file may mix them) is a record unless a
    quoted field continues it on the next lines. A line whose quotes do not close within
    ``_MAX_QUOTED_LINES`` lines, or whose field count differs from the header's, is returned
    as unparsed with its row number and the rest of the file is read on.
    """
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        lines = fh.readlines()
    if not lines:
        raise IngestError(f"{path.name} is empty: nothing to load")

    def split(text: str) -> list[str]:
        return next(csv.reader([text], delimiter=delim, quotechar='"', doublequote=True))

    def strip(line: str) -> str:
        return line.rstrip("\r\n")

    header = split(strip(lines[0]).replace("\r\n", "\n"))
    width = len(header)
    seen: dict[str, int] = {}
    names = []
    for i, name in enumerate(header):
        name = name or f"column{i}"
        k = seen.get(name, 0)
        seen[name] = k + 1
        names.append(name if k == 0 else f"{name}_{k}")
    records: list[list[str]] = []
    unparsed: list[tuple[int, str, str]] = []
    i, row = 1, 0
    while i < len(lines):
        line = lines[i]
        if not line.strip("\r\n"):
            i += 1
            continue
        row += 1
        take = 1
        if line.count('"') % 2:  # a quoted field may go on over the next lines
            text, quotes = line, line.count('"')
            while quotes % 2 and take < _MAX_QUOTED_LINES and i + take < len(lines):
                text += lines[i + take]
                quotes += lines[i + take].count('"')
                take += 1
            fields = split(strip(text)) if quotes % 2 == 0 else None
            if fields is None or len(fields) != width:
                unparsed.append((row, strip(line), 'unterminated quote: a stray " in the line'))
                i += 1
                continue
        else:
            fields = split(strip(line))
            if len(fields) != width:
                unparsed.append((row, strip(line), f"expected {width} fields, found {len(fields)}"))
                i += 1
                continue
        records.append(fields)
        i += take
    return names, records, tuple(unparsed)


def _land_records(
    con: duckdb.DuckDBPyConnection,
    header: list[str],
    records: list[list[str]],
    unparsed: tuple[tuple[int, str, str], ...],
    table: str,
    root: Path,
    landing: str,
    fp: str,
    enc: str,
    delim: str,
    line_encodings: dict[str, int] | None = None,
) -> RawSource:
    """Records parsed in Python land as Parquet (text, empty fields as NULL)."""
    columns = [
        pa.array([(r[j] or None) for r in records], type=pa.string()) for j in range(len(header))
    ]
    landed, view = _land_as_parquet(con, table, pa.table(columns, names=header), root, landing)
    return _describe(con, table, fp, "csv", enc, delim, unparsed, landed, view, line_encodings)


def _gunzip(path: Path, dest: Path, source: Path) -> bool:
    """Decompress a gzip file (every member of it) to ``dest``, 16 MB of output at a time.

    A file cut short (an interrupted download or copy) raises instead of loading the rows
    that happen to precede the cut; zero padding after the last member is ignored, as gzip
    does. Returns whether there was such padding.
    """
    padded = False
    step = 1 << 24
    with open(path, "rb") as src, open(dest, "wb") as out:
        unzip = zlib.decompressobj(wbits=31)
        data = src.read(1 << 20)
        while data:
            out.write(unzip.decompress(data, step))
            if unzip.eof:
                data = unzip.unused_data or src.read(1 << 20)
                if not data or data[:1] == b"\0":  # the end, or padding after it
                    padded = bool(data)
                    break
                unzip = zlib.decompressobj(wbits=31)  # the next member
                continue
            data = unzip.unconsumed_tail or src.read(1 << 20)
        out.write(unzip.flush())
        if not unzip.eof:
            raise IngestError(
                f"{source} is cut short: its gzip stream ends before the end marker, so rows "
                "are missing; copy or download the file again"
            )
    return padded


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, ...]:
    return tuple(r[0] for r in con.execute(f"DESCRIBE {table}").fetchall())


_UTF8 = ("utf-8", "utf-8-sig")
_PSEUDO_COLUMNS = ("rowid",)


def _whitespace_frame(path: Path) -> pd.DataFrame:
    """Whitespace-separated columns (fixed width, e.g. CDNOW): split each line on blanks."""
    return pd.read_csv(
        path,
        sep=r"\s+",
        dtype=str,
        keep_default_na=False,
        encoding="utf-8-sig",
        compression="gzip" if path.suffix.lower() == ".gz" else None,
    )


def _text_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as text, every value as it would appear in a CSV export."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            # Whole seconds print without a fraction (Arrow's %S shows the unit's digits);
            # sub-second values keep theirs.
            with contextlib.suppress(pa.ArrowInvalid):
                column = column.cast(pa.timestamp("s", column.type.tz))
            column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S")
        columns.append(column.cast(pa.string()))
    return pa.table(columns, names=[str(c) for c in frame.columns])


def _read_frame(
    con: duckdb.DuckDBPyConnection,
    frame: pd.DataFrame,
    table: str,
    root: Path,
    landing: str,
    fp: str,
    kind: str,
    enc: str | None = None,
    delim: str | None = None,
) -> RawSource:
    """A frame (DataFrame, Excel sheet, SQL result, whitespace text) lands as Parquet."""
    landed, view = _land_as_parquet(con, table, _text_table(frame), root, landing)
    return _describe(con, table, fp, kind, enc, delim, (), landed, view)


def _land_as_parquet(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, root: Path,
                     landing: str) -> tuple[Path, str]:  # fmt: skip
    """``data`` as the temp table ``table`` and as the landing file ``<landing>.parquet``;
    returns the file and the SQL reading it back."""
    con.register("_crmine_frame", data)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM _crmine_frame")
    finally:
        con.unregister("_crmine_frame")
    landed = root / (landing + ".parquet")
    con.execute(f"COPY {table} TO {_sql_str(str(landed))} (FORMAT parquet)")
    return landed, f"SELECT * FROM read_parquet({_sql_str(str(landed))})"


def _frame_fingerprint(frame: pd.DataFrame) -> str:
    h = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    h.update(",".join(map(str, frame.columns)).encode())
    return h.hexdigest()


def _read_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, root: Path, landing: str, fp: str
) -> RawSource:
    landed = root / (landing + ".parquet")
    shutil.copyfile(path, landed)

    try:
        cols = con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({_sql_str(str(landed))})"
        ).fetchall()
        casts = ", ".join(f"CAST({quote(c[0])} AS VARCHAR) AS {quote(c[0])}" for c in cols)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {casts} "
            f"FROM read_parquet({_sql_str(str(landed))})"
        )
    except duckdb.Error as exc:
        landed.unlink(missing_ok=True)
        reason = short_error(exc).replace(str(landed), path.name)
        raise IngestError(f"{path}: not a readable Parquet file ({reason})") from exc
    view = f"SELECT {casts} FROM read_parquet({_sql_str(str(landed))})"
    return _describe(con, table, fp, "parquet", None, None, (), landed, view)


def _excel_frame(path: Path, sheet: str | int | None) -> tuple[pd.DataFrame, list[str]]:
    """The sheet as text, and its header row as written (pandas renames repeated names)."""
    try:
        frame = pd.read_excel(
            path, sheet_name=sheet if sheet is not None else 0, dtype=str, engine="openpyxl"
        )
        header = pd.read_excel(
            path, sheet_name=sheet if sheet is not None else 0, header=None, nrows=1,
            dtype=str, engine="openpyxl",
        )  # fmt: skip
        names = ["" if pd.isna(v) else str(v) for v in header.iloc[0]] if len(header) else []
        return frame, names
    except ValueError as exc:
        raise IngestError(
            f"{path}: sheet {sheet!r} not found or unreadable ({short_error(exc)})"
        ) from exc
    except Exception as exc:  # openpyxl raises many kinds for a corrupt file
        raise IngestError(f"{path}: not a readable .xlsx workbook ({short_error(exc)})") from exc


def _formula_cells(path: Path, sheet: str | int | None) -> tuple[str, ...]:
    """A note naming the formula cells that have no saved value (a workbook written by a
    program that does not compute formulas): they read as empty."""
    import openpyxl

    try:
        formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
        values = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # read once already; a second failure only loses the note
        return ()
    try:
        name = sheet if isinstance(sheet, str) else formulas.sheetnames[sheet or 0]
        missing = []
        for frow, vrow in zip(formulas[name].iter_rows(), values[name].iter_rows(), strict=False):
            for f, v in zip(frow, vrow, strict=False):
                if f.data_type == "f" and v.value is None:
                    missing.append(f"{f.coordinate} {str(f.value)[:40]}")
    finally:
        formulas.close()
        values.close()
    if not missing:
        return ()
    return (
        f"{len(missing):,} formula cell(s) of sheet {name!r} have no saved value and load as "
        f"empty (e.g. {'; '.join(missing[:3])}); open the workbook in Excel or LibreOffice "
        "and save it to compute them",
    )


def _query_database(url: str, query: str | None) -> tuple[pd.DataFrame, str]:
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
        raise IngestError(f"{url}: query failed ({short_error(exc)})") from exc
    h = hashlib.sha256(f"{url}\n{sql}".encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return frame, h.hexdigest()


def _describe(
    con: duckdb.DuckDBPyConnection,
    table: str,
    fp: str,
    kind: str,
    enc: str | None,
    delim: str | None,
    unparsed: tuple[tuple[int, str, str], ...],
    landed: Path,
    view: str,
    line_encodings: dict[str, int] | None = None,
) -> RawSource:
    cols = _columns(con, table)
    # A column named like one of DuckDB's pseudo-columns (rowid) would hide it: renamed, to a
    # name that is recognised as the same (normalised names ignore the underscore).
    taken = {c.lower() for c in cols}
    renamed = []
    for c in cols:
        if c.lower() in _PSEUDO_COLUMNS:
            new, i = f"{c[:3]}_{c[3:]}", 2
            while new.lower() in taken:
                new, i = f"{c[:3]}_{c[3:]}_{i}", i + 1
            taken.add(new.lower())
            con.execute(f"ALTER TABLE {table} RENAME COLUMN {quote(c)} TO {quote(new)}")
            renamed.append(new)
        else:
            renamed.append(c)
    cols = tuple(renamed)
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    rows = int(row[0]) if row else 0
    return RawSource(
        table, cols, rows, fp, kind, landed, view, enc, delim, unparsed, line_encodings or {}
    )
