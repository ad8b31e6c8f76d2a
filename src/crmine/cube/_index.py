"""An in-memory index of a stored cube, so a count costs about a millisecond, not a scan.

Built once per read-only copy of the warehouse (the API server's serving copy, which never
changes): the cube's rows in ``customer_id`` order, and

- for every text or true/false column with at most :data:`BITMAP_MAX_VALUES` distinct values,
  one bitmap per value (a bit per row, 64 rows a word);
- for numeric columns, the values as float64, loaded the first time a filter names them.

A count is then the population count of the AND of one bitmap per filter (``=`` with several
values is the OR of theirs, ``!=`` the complement within the rows that are not NULL, ranges a
vectorised comparison). The first pages of matching ids come from the same bits.

It answers exactly what the SQL path (:func:`crmine.cube._filters.where_sql`) would: NULLs
never match, values are the same coerced values, and anything it cannot express the same way
(text ranges, dates, columns with NaN, NaN in a filter, columns with many values) is left to
SQL (:meth:`CubeIndex.answerable` is False).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from crmine.cube._filters import Filter, checked_filters, quote

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["BITMAP_MAX_VALUES", "CubeIndex"]

BITMAP_MAX_VALUES = 64
# DuckDB types whose values compare in float64 exactly as DuckDB compares them with a DOUBLE
# literal (the SQL path's literal for a number); DECIMAL and HUGEINT do not.
_FLOAT_EXACT = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
                "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE")
_RANGE_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "=": np.equal, "!=": np.not_equal, ">": np.greater, ">=": np.greater_equal,
    "<": np.less, "<=": np.less_equal}


def _bits(mask: np.ndarray) -> np.ndarray:
    """A boolean row mask as a bitmap: uint64 words, row i at bit i % 64 of word i // 64."""
    packed = np.packbits(mask, bitorder="little")
    pad = (-len(packed)) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros(pad, np.uint8)])
    return packed.view(np.uint64)


class CubeIndex:
    """Bitmaps and value arrays of one cube table, for counts and pages of ids by filters.

    Use :meth:`build`; then :meth:`answerable`, :meth:`count` and :meth:`ids`. Safe to share
    between threads: everything is read-only once built, except numeric columns loaded on
    first use (under a lock).
    """

    def __init__(self, table: str, kinds: Mapping[str, str], types: Mapping[str, str],
                 ids: pa.Array, values: dict[str, list[Any]],
                 bitmaps: dict[str, dict[Any, np.ndarray]], valid: dict[str, np.ndarray]
                 ) -> None:
        self.table = table
        self.kinds = dict(kinds)
        self.rows = len(ids)
        self._types = dict(types)
        self._ids = ids
        self._values = values  # sorted distinct non-null values of the bitmap columns
        self._bitmaps = bitmaps
        self._valid = valid  # not-NULL rows, for columns that have NULLs
        self._all = _bits(np.ones(self.rows, bool))
        self._numbers: dict[str, np.ndarray | None] = {}  # None: has NaN, left to SQL
        self._lock = threading.Lock()

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, con: duckdb.DuckDBPyConnection, table: str, kinds: Mapping[str, str]
              ) -> CubeIndex:
        """Read ``table`` (a cube with unique ``customer_id``) once through ``con``."""
        import pyarrow.compute as pc

        types = {r[0]: str(r[1]).upper() for r in con.execute(f"DESCRIBE {table}").fetchall()}
        candidates = [c for c, t in types.items()
                      if c != "customer_id" and (t == "VARCHAR" or t == "BOOLEAN")]
        few: list[str] = []
        if candidates:
            counts = con.execute("SELECT " + ", ".join(
                f"count(DISTINCT {quote(c)})" for c in candidates) + f" FROM {table}"
            ).fetchall()[0]
            few = [c for c, n in zip(candidates, counts, strict=True)
                   if n <= BITMAP_MAX_VALUES]
        cols = ", ".join(quote(c) for c in ["customer_id", *few])
        data = con.execute(f"SELECT {cols} FROM {table} ORDER BY customer_id"
                           ).fetch_arrow_table()
        values: dict[str, list[Any]] = {}
        bitmaps: dict[str, dict[Any, np.ndarray]] = {}
        valid: dict[str, np.ndarray] = {}
        for c in few:
            encoded = pc.dictionary_encode(data.column(c)).combine_chunks()
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            nulls = encoded.indices.is_null().to_numpy(zero_copy_only=False)
            if nulls.any():
                codes = np.where(nulls, -1, codes)
                valid[c] = _bits(~nulls)
            dictionary = encoded.dictionary.to_pylist()
            bitmaps[c] = {v: _bits(codes == i) for i, v in enumerate(dictionary)}
            values[c] = sorted(dictionary)
        ids = data.column("customer_id").combine_chunks()
        return cls(table, kinds, types, ids, values, bitmaps, valid)

    def _numeric_column(self, column: str) -> bool:
        return self.kinds.get(column) == "number" and self._types.get(column) in _FLOAT_EXACT

    def load(self, con: duckdb.DuckDBPyConnection, columns: Sequence[str]) -> None:
        """Load the numeric ``columns`` not loaded yet (once per index, from ``con``)."""
        todo = [c for c in columns if self._numeric_column(c) and c not in self._numbers]
        if not todo:
            return
        import pyarrow.compute as pc

        with self._lock:
            for c in todo:
                if c in self._numbers:
                    continue
                col = con.execute(f"SELECT CAST({quote(c)} AS DOUBLE) AS v FROM {self.table} "
                                  "ORDER BY customer_id").fetch_arrow_table().column(0)
                if pc.any(pc.is_nan(col)).as_py():
                    self._numbers[c] = None  # NaN orders above every number in DuckDB
                    continue
                arr = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
                if col.null_count:
                    self._valid[c] = _bits(~np.isnan(arr))
                arr.setflags(write=False)
                self._numbers[c] = arr

    # -- answering ------------------------------------------------------------------------------
    def answerable(self, filters: Sequence[Filter]) -> bool:
        """Whether every filter can be answered from what is in memory now."""
        for f in filters:
            if not f.values:
                return False
            if f.column in self._bitmaps:
                if f.op not in ("=", "!="):
                    return False
            elif self._numbers.get(f.column) is not None:
                if f.op not in _RANGE_OPS:
                    return False
                try:
                    if any(math.isnan(float(v)) for v in f.values):
                        return False  # NaN compares differently in DuckDB than in numpy
                except (TypeError, ValueError):
                    pass  # not a number: checked_filters says so, as SQL would
            else:
                return False
        return True

    def loadable(self, filters: Sequence[Filter]) -> list[str]:
        """Numeric columns of ``filters`` that :meth:`load` could add."""
        return [f.column for f in filters if f.column not in self._bitmaps
                and f.column not in self._numbers and self._numeric_column(f.column)]

    def distinct(self, column: str, limit: int = 1000) -> list[Any]:
        """Sorted distinct values of a bitmap column (what the filters are checked against)."""
        return self._values[column][:limit]

    def mask(self, filters: Sequence[Filter]) -> np.ndarray:
        """The bitmap of the rows matching every filter (checked as the SQL path checks
        them: same errors, same coerced values)."""
        out = self._all
        for f, vals in checked_filters(self.kinds, filters, self.distinct):
            out = out & self._one(f, vals)
        return out

    def _one(self, f: Filter, vals: list[Any]) -> np.ndarray:
        not_null = self._valid.get(f.column, self._all)
        if f.column in self._bitmaps:
            maps = self._bitmaps[f.column]
            empty = np.zeros_like(self._all)
            hit = empty
            for v in vals:
                key = v.replace("\x00", "") if isinstance(v, str) else v  # as literal() does
                hit = hit | maps.get(key, empty)
            return hit if f.op == "=" else not_null & ~hit
        arr = self._numbers[f.column]
        assert arr is not None
        compare = _RANGE_OPS[f.op]
        if f.op in ("=", "!=") and len(vals) > 1:
            hit = np.isin(arr, np.asarray(vals, dtype=np.float64))
            return _bits(hit) if f.op == "=" else not_null & ~_bits(hit)
        bits = _bits(compare(arr, float(vals[0])))
        return bits & not_null if f.op == "!=" else bits

    def count(self, filters: Sequence[Filter]) -> int:
        """Customers matching every filter (call only when :meth:`answerable`)."""
        if not filters:
            return self.rows
        return int(np.bitwise_count(self.mask(filters)).sum())

    def ids(self, filters: Sequence[Filter], offset: int, limit: int) -> list[str]:
        """``customer_id`` of the matching rows ``offset`` .. ``offset + limit`` in
        ``customer_id`` order (the order of the SQL path's pages)."""
        bits = self.mask(filters)
        per_word = np.cumsum(np.bitwise_count(bits), dtype=np.int64)
        first = int(np.searchsorted(per_word, offset, side="right"))
        last = int(np.searchsorted(per_word, offset + limit, side="left")) + 1
        words = bits[first:last]
        rows = np.flatnonzero(np.unpackbits(words.view(np.uint8), bitorder="little"))
        before = int(per_word[first - 1]) if first > 0 else 0
        rows = rows[offset - before: offset - before + limit] + first * 64
        rows = rows[rows < self.rows]
        return [str(x) for x in self._ids.take(rows).to_pylist()]

    @property
    def nbytes(self) -> int:
        """Memory held: bitmaps, numeric arrays and the ids."""
        total = self._ids.nbytes + self._all.nbytes
        total += sum(b.nbytes for maps in self._bitmaps.values() for b in maps.values())
        total += sum(b.nbytes for b in self._valid.values())
        total += sum(a.nbytes for a in self._numbers.values() if a is not None)
        return int(total)
