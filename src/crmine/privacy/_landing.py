"""Erasure from the landing files in ``raw/``: each file holding the people is rewritten
without their rows (and with their identifiers masked in other rows), as Parquet of the rows
exactly as the load parsed them, and its ``raw.*`` view repointed at the new file.

The bytes as received cannot be kept without the person, so a rewritten landing file is the
parsed text of the source (what ``raw.<entity>__<load>`` showed), not the original encoding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from crmine.privacy._sql import literal, quote, token_pattern
from crmine.privacy._subjects import Subjects
from crmine.privacy._tables import masked, search
from crmine.warehouse import Workspace
from crmine.warehouse._encryption import PARQUET_KEY, READ_OPTION, SEALED, is_encrypted

__all__ = ["LandingRewrite", "landing_views", "plan_landing_rewrites"]


@dataclass(slots=True)
class LandingRewrite:
    """One landing file to replace: its view, old and new file, rows removed and masked."""

    view: str
    old: Path
    new: Path
    rows_removed: int
    cells_masked: int
    columns: list[str] = field(default_factory=list)

    encrypted: bool = False

    def view_sql(self) -> str:
        option = f", {READ_OPTION}" if self.encrypted else ""
        reader = f"read_parquet({literal(str(self.new))}{option})"
        return f"CREATE OR REPLACE VIEW {self.view} AS SELECT * FROM {reader}"


_PATH = re.compile(r"'((?:[^']|'')+/raw/[^']+)'")


def landing_views(ws: Workspace) -> list[tuple[str, Path]]:
    """Each raw view (quoted) and the landing file it reads."""
    rows = ws.duck.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE schema_name = 'raw' "
        "AND database_name = current_database() ORDER BY 1"
    ).fetchall()
    found = []
    for name, sql in rows:
        m = _PATH.search(str(sql))
        if m:
            found.append((f"raw.{quote(str(name))}", Path(m[1].replace("''", "'"))))
    return found


def plan_landing_rewrites(ws: Workspace, subjects: Subjects, tag: str) -> list[LandingRewrite]:
    """Write the new landing files (the old ones stay until the erasure commits).

    Each file is rewritten by one DuckDB ``COPY`` of its view without the people's rows,
    searching only the columns that can hold an identifier (``crmine.privacy._columns``)."""
    strong = sorted(subjects.strong)
    if not strong:
        return []
    pattern = literal(token_pattern(strong))
    encrypted = is_encrypted(ws.config.extra)
    plans = []
    for view, old in landing_views(ws):
        cols = [str(r[0]) for r in ws.duck.execute(f"DESCRIBE {view}").fetchall()]
        found = search(ws, view, dict.fromkeys(cols, "VARCHAR"), sorted(subjects.ids), strong)
        if found.own is None and not found.named:
            continue
        # coalesce: a NULL cell must not make the whole test NULL (and drop the row)
        own = found.own or "false"
        named = "coalesce(" + (" OR ".join(found.named.values()) or "false") + ", false)"
        row = ws.duck.execute(
            f"SELECT count(*) FILTER (WHERE {own}), count(*) FILTER (WHERE NOT ({own}) AND "
            f"({named})) FROM {view}"
        ).fetchone()
        removed, n_masked = (int(row[0]), int(row[1])) if row else (0, 0)
        if not removed and not n_masked:
            continue
        stem = old.name.split(".", 1)[0]  # customers__l00001
        new = old.with_name(f"{stem}.{tag}.parquet")
        select = ", ".join(
            f"CASE WHEN {found.named[c]} THEN {masked(c, pattern)} ELSE {quote(c)} END "
            f"AS {quote(c)}" if c in found.named else f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}"
            for c in cols
        )  # fmt: skip
        sealing = f", ENCRYPTION_CONFIG {{footer_key: '{PARQUET_KEY}'}}" if encrypted else ""
        if encrypted:
            new = new.with_name(new.name.removesuffix(".parquet") + SEALED)
        ws.duck.execute(
            f"COPY (SELECT {select} FROM {view} WHERE NOT ({own})) TO {literal(str(new))} "
            f"(FORMAT parquet, COMPRESSION zstd{sealing})"
        )
        plans.append(LandingRewrite(view, old, new, removed, n_masked, cols, encrypted))
    return plans
