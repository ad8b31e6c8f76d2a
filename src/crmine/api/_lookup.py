"""One customer's rows without a scan: the serving copy's per-customer tables, sorted by
customer and memory-mapped, with a (customer → first row, row count) index in memory.

A DuckDB point query on a 22-million-row table costs 10-100 ms at any row-group size (it
decompresses a whole row group of every column read), so the customer 360 and real-time
scoring at a million customers cannot be queries. When a serving copy is prepared
(:func:`build_lookups`), each table the 360 view and the scoring read is exported once,
sorted by ``CAST(customer_id AS VARCHAR)`` (stable: a customer's rows keep the warehouse's
order), as an Arrow IPC file next to the copy. The files are memory-mapped, so they live in
the page cache rather than in the server's heap; a customer's rows are a zero-copy slice
found by a binary search of the sorted ids. Reading them costs O(rows of that customer).

The files belong to one copy (``<copy>.lookup/``) and are rebuilt with it; a copy without
them (the workspace's own file, a copy whose preparation failed) is read by SQL as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import pandas as pd

    from crmine.warehouse import Workspace

__all__ = ["LOOKUP_TABLES", "Lookup", "build_lookups", "loaded_lookup", "lookup_of"]

log = logging.getLogger(__name__)

# Tables read one customer at a time (the 360 view, churn features, next-best products), and
# which of their columns are kept: None for all of them. Bookkeeping columns of the core
# tables are never shown nor used as features.
_BOOKKEEPING = ("load_id", "source_row")
LOOKUP_TABLES: dict[str, tuple[str, ...] | None] = {
    "core.dim_customer": None,
    "core.fct_order_lines": None,
    "core.fct_tickets": None,
    "core.fct_subscriptions": None,
    "marts.customer_segments": None,
    "marts.customer_scores": None,
    "marts.customer_rfm": None,  # CLV's features
    "marts.retention_list": None,
    "marts.lifecycle_stages": None,
    "marts.basket_recommendations": ("customer_id", "rank", "product_id", "product_name",
                                     "score", "because_bought", "model_version"),
}
_SUFFIX = ".lookup"
_DONE = "complete.json"
_BATCH = 1 << 20  # rows taken and written at a time: bounds the build's extra memory


@dataclass(frozen=True)
class _Table:
    """One sorted table: ``keys[i]`` is the i-th customer (UTF-8 bytes, sorted), whose rows
    are ``data[starts[i] : starts[i] + counts[i]]``."""

    data: pa.Table
    keys: np.ndarray
    starts: np.ndarray
    counts: np.ndarray

    def span(self, customer_id: str) -> tuple[int, int]:
        key = customer_id.encode()
        i = int(np.searchsorted(self.keys, key))
        if i >= len(self.keys) or self.keys[i] != key:
            return 0, 0
        return int(self.starts[i]), int(self.counts[i])

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.starts.nbytes + self.counts.nbytes)


class Lookup:
    """The per-customer tables of one serving copy."""

    def __init__(self, folder: Path, tables: dict[str, _Table]) -> None:
        self.folder = folder
        self.tables = tables
        self.memo: dict[str, Any] = {}  # per-copy constants (data end, feature schema …)
        self.memo_lock = threading.Lock()

    def has(self, table: str) -> bool:
        return table in self.tables

    def slice(self, table: str, customer_id: str) -> pa.Table:
        """The customer's rows of ``table`` (zero-copy), in the warehouse's order."""
        t = self.tables[table]
        start, count = t.span(customer_id)
        return t.data.slice(start, count)

    def rows(self, table: str, customer_id: str) -> list[dict[str, Any]]:
        t = self.tables[table]
        start, count = t.span(customer_id)
        if not count:
            return []
        # column by column, then zipped: a fifth cheaper than Arrow's row-wise to_pylist
        columns = t.data.slice(start, count).to_pydict()
        names = list(columns)
        return [dict(zip(names, values, strict=True))
                for values in zip(*columns.values(), strict=True)]

    def index_bytes(self) -> int:
        """Memory the in-memory index takes (the tables themselves are memory-mapped)."""
        return sum(t.nbytes for t in self.tables.values())

    def file_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*.arrow"))


# -- finding the lookup of a connection ------------------------------------------------------
_LOADED: dict[Path, Lookup | None] = {}
_LOADED_LOCK = threading.Lock()


def loaded_lookup(path: Path) -> Lookup | None:
    """The lookup of the copy at ``path`` if it is already loaded (never loads: for callers
    that must not wait, such as the event loop)."""
    found = _LOADED.get(Path(path))
    return found if isinstance(found, Lookup) else None


def lookup_of(ws: Workspace) -> Lookup | None:
    """The lookup of the copy ``ws`` reads, or None when it has none (then read by SQL)."""
    path = Path(ws.warehouse_path)
    found = _LOADED.get(path, False)
    if found is not False:
        return found  # type: ignore[return-value]
    with _LOADED_LOCK:
        if path not in _LOADED:
            folder = path.with_name(path.name + _SUFFIX)
            loaded = None
            if (folder / _DONE).exists():
                try:
                    loaded = _load(folder)
                except (OSError, ValueError, pa.ArrowException) as exc:
                    log.warning("lookup tables of %s unreadable (%s): reading by SQL",
                                path, exc)
            _forget_gone()
            _LOADED[path] = loaded
        return _LOADED[path]


def _forget_gone() -> None:
    """Drop the lookups of copies deleted since (their mapped files go with them)."""
    for p in [p for p in _LOADED if not p.exists()]:
        del _LOADED[p]


def _load(folder: Path) -> Lookup:
    meta = json.loads((folder / _DONE).read_text())
    tables = {}
    for name in meta["tables"]:
        with np.load(folder / f"{name}.npz") as index:
            keys, starts, counts = index["keys"], index["starts"], index["counts"]
        source = pa.memory_map(str(folder / f"{name}.arrow"))
        data = pa.ipc.open_file(source).read_all()
        tables[name] = _Table(data, keys, starts, counts)
    return Lookup(folder, tables)


# -- building ----------------------------------------------------------------------------------
def build_lookups(ws: Workspace) -> dict[str, Any]:
    """Write the sorted per-customer tables of the copy ``ws`` has open for writing, next to
    it; returns what was built (tables, rows, seconds, bytes). A failure leaves no lookup
    (the copy is then read by SQL) and is logged, never raised: serving goes on."""
    path = Path(ws.warehouse_path)
    folder = path.with_name(path.name + _SUFFIX)
    tmp = folder.with_name(folder.name + ".tmp")
    _remove_orphans(path.parent)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.mkdir()
    t0 = time.perf_counter()
    built: dict[str, int] = {}
    try:
        for table, wanted in LOOKUP_TABLES.items():
            if not ws.has_table(table):
                continue
            have = ws.columns(table)
            if "customer_id" not in have:
                continue
            core = table.startswith("core.")
            cols = [c for c in (wanted or have)
                    if c in have and not (core and c in _BOOKKEEPING)]
            built[table] = _export(ws, table, cols, tmp)
        summary = {"tables": built, "seconds": round(time.perf_counter() - t0, 2)}
        (tmp / _DONE).write_text(json.dumps(summary))
        tmp.replace(folder)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        log.warning("no lookup tables for %s (%s: %s): the 360 view and scoring read by SQL",
                    path, type(exc).__name__, str(exc)[:200])
        return {"tables": {}, "error": str(exc)[:200]}
    with _LOADED_LOCK:
        _LOADED.pop(path, None)
    return summary


def _export(ws: Workspace, table: str, cols: list[str], folder: Path) -> int:
    schema, name = table.split(".")
    listed = ", ".join(f'"{c}"' for c in cols)
    result = ws.duck.execute(f'SELECT {listed} FROM {schema}."{name}"')
    data = result.to_arrow_table() if hasattr(result, "to_arrow_table") else \
        result.fetch_arrow_table()
    key = pc.cast(data["customer_id"], pa.string())
    order = pc.sort_indices(key)  # stable, NULL ids last
    key = key.take(order).combine_chunks()
    n = len(key) - key.null_count  # NULL ids never match an id asked for
    with pa.OSFile(str(folder / f"{table}.arrow"), "wb") as sink, \
            pa.ipc.new_file(sink, data.schema) as writer:
        for at in range(0, len(order), _BATCH):
            writer.write_table(data.take(order[at:at + _BATCH]), max_chunksize=_BATCH)
    del data
    keys = np.asarray(key.slice(0, n).cast(pa.binary()).to_numpy(zero_copy_only=False),
                      dtype=bytes)
    if n:
        new = np.flatnonzero(keys[1:] != keys[:-1]) + 1
        starts = np.concatenate([[0], new]).astype(np.int64)
    else:
        starts = np.zeros(0, dtype=np.int64)
    counts = np.diff(np.append(starts, n)).astype(np.int32)
    np.savez(folder / f"{table}.npz", keys=keys[starts], starts=starts, counts=counts)
    return int(n)


def _remove_orphans(folder: Path) -> None:
    """Lookups whose copy is gone (the serving pool deletes retired copies, not these)."""
    for p in folder.glob(f"*{_SUFFIX}*"):
        base = p.name.split(_SUFFIX)[0]
        if not (folder / base).exists():
            with contextlib.suppress(OSError):
                shutil.rmtree(p)


# -- pandas as the workspace reads it -----------------------------------------------------------
def to_pandas(ws: Workspace, lookup: Lookup, table: str, data: pa.Table,
              columns: list[str] | None = None) -> pd.DataFrame:
    """``data`` (rows of ``table``) as :meth:`Workspace.read` would return them: the same
    conversion (ibis's) from the same Arrow types, so features computed from it equal those
    computed from the whole table."""
    import ibis
    import pandas as pd
    import pyarrow.types as pat
    from ibis.backends.duckdb.converter import DuckDBPandasData

    key = f"schema:{table}"
    schema = lookup.memo.get(key)
    if schema is None:
        schema = ws.table(table).schema()
        lookup.memo[key] = schema
    if columns is not None:
        data = data.select(columns)
    schema = ibis.schema({c: schema[c] for c in data.column_names})
    frame = pd.DataFrame({
        name: (col.to_pylist() if pat.is_nested(col.type) or pat.is_dictionary(col.type)
               or col.null_count else col.to_pandas())
        for name, col in zip(data.column_names, data.columns, strict=True)})
    return DuckDBPandasData.convert_table(frame, schema)
