"""Pseudonymised export (``crmine export --pseudonymise``): shareable files without identity.

Direct identifiers are dropped, except the customer id, replaced by a keyed pseudonym
(HMAC-SHA256: the same customer gets the same pseudonym in every export made with the key,
and without the key nobody can compute one from an id). Chosen quasi-identifiers are
generalised - age and income into bands, dates to month then year, postcodes truncated, city
to region to country - until every combination is shared by at least ``k`` rows
(k-anonymity); rows still in smaller groups are suppressed. With a sensitive column, every
group must also hold at least ``l`` distinct values of it (l-diversity) or is suppressed.
Customers who opted out (their consent in the warehouse, or a consent / opt-out column of
the table) are left out of every export (``crmine.warehouse._consent.drop_opted_out``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmine.exceptions import ConfigError, DataError
from crmine.privacy._classify import _by_name, _schema_flags
from crmine.privacy._tables import is_id_column
from crmine.warehouse import Workspace
from crmine.warehouse._consent import drop_opted_out

__all__ = ["KEY_ENV", "Anonymised", "anonymise", "pseudonym", "pseudonymised_export"]

KEY_ENV = "CRMINE_PSEUDONYM_KEY"
MAX_LEVEL = 4


def pseudonym(value: object, key: bytes) -> str:
    """The keyed pseudonym of ``value``: 16 hex digits of HMAC-SHA256."""
    digest = hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return "p" + digest[:16]


def load_key(key_file: str | Path | None = None) -> bytes:
    """The pseudonym key: ``key_file``, else the environment variable, else an error."""
    if key_file is not None:
        path = Path(key_file).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"pseudonym key file {path} not found; create one with "
                "`openssl rand -hex 32 > FILE` and keep it outside the workspace"
            )
        return path.read_bytes().strip()
    value = os.environ.get(KEY_ENV, "")
    if len(value) < 16:
        raise ConfigError(f"a pseudonymised export needs a secret key of at least 16 "
                          f"characters: set {KEY_ENV} or pass --key-file FILE")  # fmt: skip
    return value.encode("utf-8")


def _band(values: pd.Series, width: float) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce")
    lo = np.floor(v / width) * width
    return pd.Series([f"{a:g}-{a + width:g}" if pd.notna(a) else None for a in lo],
                     index=values.index, dtype=object)  # fmt: skip


def generalise(column: str, values: pd.Series, level: int, frame: pd.DataFrame) -> pd.Series:
    """``values`` of the quasi-identifier ``column`` at generalisation ``level`` (0: as is;
    ``MAX_LEVEL``: suppressed to "*")."""
    if level <= 0:
        return values.astype(object)
    if level >= MAX_LEVEL:
        return pd.Series("*", index=values.index, dtype=object)
    low = column.lower()
    if low in ("age",):
        return _band(values, (5, 10, 20)[level - 1])
    if "income" in low or "salary" in low:
        return _band(values, (10_000, 25_000, 50_000)[level - 1])
    if "post" in low or "zip" in low:
        text = values.astype(str).str.replace(" ", "")
        return text.str[: max(1, text.str.len().max() - 2 * level)] + "*"
    if pd.api.types.is_datetime64_any_dtype(values) or low.endswith(("date", "_ts")):
        ts = pd.to_datetime(values, errors="coerce")
        return (
            ts.dt.strftime("%Y-%m"),
            ts.dt.year.astype("Int64").astype(str),
            (ts.dt.year // 10 * 10).astype("Int64").astype(str) + "s",
        )[level - 1]
    if low == "city":  # city -> region -> country
        for coarser in ("region", "country")[level - 1 :]:
            if coarser in frame.columns:
                return frame[coarser].astype(object)
        return pd.Series("*", index=values.index, dtype=object)
    if low == "region" and level >= 1 and "country" in frame.columns:
        return frame["country"].astype(object)
    if pd.api.types.is_numeric_dtype(values):
        v = pd.to_numeric(values, errors="coerce")
        edges = np.unique(np.nanquantile(v, np.linspace(0, 1, (10, 4, 2)[level - 1] + 1)))
        return pd.cut(v, edges, include_lowest=True).astype(str).astype(object)
    return pd.Series("*", index=values.index, dtype=object)  # categories: kept or suppressed


@dataclass(slots=True)
class Anonymised:
    """The export's rows and how they were made k-anonymous (and l-diverse)."""

    frame: pd.DataFrame
    k: int
    levels: dict[str, int]
    suppressed: int
    smallest_group: int
    l_diversity: int | None = None
    dropped_columns: list[str] = field(default_factory=list)
    opted_out: int = 0

    def summary(self) -> dict[str, Any]:
        return {"rows": len(self.frame), "k": self.k, "smallest_group": self.smallest_group,
                "generalisation": self.levels, "suppressed_rows": self.suppressed,
                "l_diversity": self.l_diversity, "dropped_columns": self.dropped_columns,
                "opted_out": self.opted_out}  # fmt: skip


def _smallest(frame: pd.DataFrame, quasi: list[str]) -> int:
    if not quasi or frame.empty:
        return len(frame)
    return int(frame.groupby(quasi, dropna=False).size().min())


def anonymise(frame: pd.DataFrame, quasi: list[str], *, k: int, sensitive: str | None = None,
              l_div: int = 2, max_suppressed: float = 0.05) -> Anonymised:  # fmt: skip
    """Generalise ``quasi`` (greedy: the column with most distinct values first) until every
    group has ``k`` rows or only ``max_suppressed`` of rows would need suppressing; then
    suppress the small (and, with ``sensitive``, the not ``l_div``-diverse) groups."""
    missing = [c for c in [*quasi, *([sensitive] if sensitive else [])] if c not in frame]
    if missing:
        raise DataError(f"quasi-identifier/sensitive column(s) {missing} not in the table; "
                        f"columns: {list(frame.columns)[:30]}")  # fmt: skip
    if k < 1:
        raise DataError(f"k must be at least 1, not {k}")
    levels = dict.fromkeys(quasi, 0)
    original = frame.copy()
    out = frame.copy()

    def small_rows(data: pd.DataFrame) -> pd.Series:
        if not quasi:
            return pd.Series(False, index=data.index)
        size = data.groupby(quasi, dropna=False)[quasi[0]].transform("size")
        bad = size < k
        if sensitive:
            div = data.groupby(quasi, dropna=False)[sensitive].transform("nunique")
            bad |= div < l_div
        return bad

    while quasi and small_rows(out).mean() > max_suppressed:
        open_cols = [c for c in quasi if levels[c] < MAX_LEVEL]
        if not open_cols:
            break
        col = max(open_cols, key=lambda c: out[c].nunique(dropna=False))
        levels[col] += 1
        out[col] = generalise(col, original[col], levels[col], original)
    bad = small_rows(out)
    out = out[~bad]
    l_value = int(out.groupby(quasi, dropna=False)[sensitive].nunique().min()) \
        if sensitive and quasi and not out.empty else None  # fmt: skip
    return Anonymised(
        out.reset_index(drop=True), k, levels, int(bad.sum()), _smallest(out, quasi), l_value
    )


def pseudonymised_export(ws: Workspace, table: str, out: str | Path, *, key: bytes,
                         quasi: list[str] | None = None, k: int = 5,
                         sensitive: str | None = None, l_div: int = 2,
                         max_suppressed: float = 0.05) -> Anonymised:  # fmt: skip
    """Write ``table`` pseudonymised and k-anonymised to ``out`` (.csv or .parquet)."""
    frame = ws.read(table)
    if table == "core.dim_customer" and "is_current" in frame:
        frame = frame[frame["is_current"].fillna(True)]
    frame, opted_out = drop_opted_out(ws, frame)  # the one consent filter
    flags = {c for t, c in _schema_flags() if t == table}
    quasi = list(quasi or [])
    dropped = []
    for col in list(frame.columns):
        if col in quasi or col == sensitive:
            continue
        if is_id_column(col):
            frame[col] = [pseudonym(v, key) if pd.notna(v) else None for v in frame[col]]
        elif (
            col in flags
            or _by_name(col) == "direct_identifier"
            or col in ("load_id", "source_row", "origin")
        ):
            frame = frame.drop(columns=col)
            dropped.append(col)
    result = anonymise(frame, quasi, k=k, sensitive=sensitive, l_div=l_div,
                       max_suppressed=max_suppressed)  # fmt: skip
    result.dropped_columns, result.opted_out = dropped, opted_out
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".parquet":
        result.frame.to_parquet(tmp, index=False)
    else:
        result.frame.to_csv(tmp, index=False)
    tmp.replace(path)  # all or nothing: no half-written export
    from crmine.privacy._audit import record

    record(ws, "export", {"table": table, "file": path.name, **result.summary()})
    return result
