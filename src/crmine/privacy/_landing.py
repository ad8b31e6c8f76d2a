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

from crmine.privacy._sql import could_hold, literal, quote, token_pattern
from crmine.privacy._subjects import Subjects
from crmine.privacy._tables import MASK
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
    """Write the new landing files (the old ones stay until the erasure commits)."""
    strong = sorted(subjects.strong)
    if not strong:
        return []
    lowered = "(SELECT lower(unnest([" + ", ".join(literal(v) for v in strong) + "])))"
    pattern = literal(token_pattern(strong))
    shortest = min(len(v) for v in strong)
    plans = []
    for view, old in landing_views(ws):
        cols = [str(r[0]) for r in ws.duck.execute(f"DESCRIBE {view}").fetchall()]
        text = [quote(c) for c in cols]
        # coalesce: a NULL cell must not make the whole test NULL (and drop the row)
        own = (
            "coalesce("
            + " OR ".join(f"lower(trim(CAST({c} AS VARCHAR))) IN {lowered}" for c in text)
            + ", false)"
        )
        # only a cell longer than the shortest value can name someone inside other text
        longer = {quote(c) for c in could_hold(ws, view, cols, shortest + 1)}
        tests = [f"regexp_matches(CAST({c} AS VARCHAR), {pattern})" for c in text if c in longer]
        named = "coalesce(" + (" OR ".join(tests) or "false") + ", false)"
        row = ws.duck.execute(
            f"SELECT count(*) FILTER (WHERE {own}), count(*) FILTER (WHERE NOT ({own}) AND "
            f"({named})) FROM {view}"
        ).fetchone()
        removed, masked = (int(row[0]), int(row[1])) if row else (0, 0)
        if not removed and not masked:
            continue
        stem = old.name.split(".", 1)[0]  # customers__l00001
        new = old.with_name(f"{stem}.{tag}.parquet")
        select = ", ".join(
            f"regexp_replace(CAST({c} AS VARCHAR), {pattern}, '\\1{MASK}\\3', 'g') AS {c}"
            if c in longer
            else f"CAST({c} AS VARCHAR) AS {c}"
            for c in text
        )
        encrypted = is_encrypted(ws.config.extra)
        sealing = f", ENCRYPTION_CONFIG {{footer_key: '{PARQUET_KEY}'}}" if encrypted else ""
        if encrypted:
            new = new.with_name(new.name.removesuffix(".parquet") + SEALED)
        ws.duck.execute(
            f"COPY (SELECT {select} FROM {view} WHERE NOT ({own})) TO {literal(str(new))} "
            f"(FORMAT parquet, COMPRESSION zstd{sealing})"
        )
        plans.append(LandingRewrite(view, old, new, removed, masked, cols, encrypted))
    return plans
