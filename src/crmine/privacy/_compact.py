"""Making sure no page of the warehouse file keeps erased bytes, without rewriting the file.

DuckDB neither wipes what it frees nor rewrites what it does not change: after ``DELETE``,
``CHECKPOINT`` and ``VACUUM`` a deleted customer id still had 17 copies in the file. Erasure
therefore (``crmine.privacy._tables``) first sets the erased rows' identifying cells to NULL
and then deletes them, so that the next checkpoint rewrites just the column segments that held
them; here:

1. the freed blocks are overwritten: a filler table of incompressible numbers takes every free
   block (DuckDB reuses free blocks before it grows the file), then is dropped;
2. the file's raw bytes are searched for the erased values; a hit in a block still in use (a
   block shared by several small segments keeps a rewritten segment's old bytes next to the
   live ones; a new segment may carry stale memory in its unused gap) has that block's
   segments rewritten too, and step 1 runs again. Touching one row of each segment's row
   group is cheap but was seen to leave the same blocks holding the bytes round after round
   (the rewritten segments went back into the same shared block); from the second round the
   tables owning those blocks are reloaded whole instead (in one transaction), which freed
   them at once on the demo;
3. if a trace is still found after a few rounds, or the file is encrypted (its bytes cannot
   be searched), the file is replaced by a copy of its live data (``COPY FROM DATABASE``).

At a million customers steps 1-2 take seconds where the whole copy takes minutes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from crmine.privacy._sql import literal, quote
from crmine.privacy._traces import MIN_BYTES, _encodings, byte_offsets, unexplained
from crmine.warehouse import Workspace
from crmine.warehouse._encryption import attach_clause, is_encrypted, workspace_key
from crmine.warehouse._pseudonyms import SCHEMA as PSEUDONYMISED

__all__ = ["Purge", "purge_freed_pages", "rewrite_database", "wipe_free_blocks"]

FILLER = "meta._crmine_wipe"
# Rounds of "rewrite the blocks still holding a trace, wipe again" before the full rewrite.
MAX_ROUNDS = 3
# Reload the tables still holding erased bytes only while they are this share of the rows.
MAX_RELOAD_SHARE = 0.25
# DuckDB's file header: three 4 KiB headers before the first block.
_HEADER = 3 * 4096


@dataclass(slots=True)
class Purge:
    """How the warehouse file was cleaned: ``method`` "in place" (scrubbed segments, wiped
    free blocks) or "rewritten" (copied, with ``why``); sizes before and after."""

    method: str
    before: int
    after: int
    rounds: int = 0
    blocks_wiped: int = 0
    segments_rewritten: int = 0
    tables_reloaded: int = 0
    why: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


def _size(ws: Workspace) -> tuple[int, int, int]:
    """(block size, total blocks, free blocks) of the warehouse file."""
    row = ws.duck.execute(
        "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size() "
        "WHERE database_name = current_database()"
    ).fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else (262_144, 0, 0)


def wipe_free_blocks(ws: Workspace) -> int:
    """Overwrite every free block of the warehouse file; returns how many there were.

    Two columns of 64-bit hashes (no compression shrinks them) sized to the free space are
    written and checkpointed, taking the free blocks first; dropping the table frees them
    again, now holding only hashes. Repeated while free blocks remain."""
    ws.duck.execute("CHECKPOINT")
    block, _, free = _size(ws)
    wiped = 0
    for _ in range(4):  # the filler's own metadata can leave a block or two over
        if free == 0:
            break
        rows = free * block // 16 + 1
        ws.duck.execute(f"DROP TABLE IF EXISTS {FILLER}")
        ws.duck.execute(f"CREATE TABLE {FILLER} AS SELECT hash(i) AS a, hash(-1 - i) AS b "
                        f"FROM range({rows}) t(i)")  # fmt: skip
        ws.duck.execute("CHECKPOINT")
        wiped += free
        free = _size(ws)[2]
    ws.duck.execute(f"DROP TABLE IF EXISTS {FILLER}")
    ws.duck.execute("CHECKPOINT")
    return wiped


def _segments_by_block(ws: Workspace, blocks: set[int]) -> dict[str, set[tuple[int, int]]]:
    """Table -> (row group, column number) of every segment stored in ``blocks``."""
    out: dict[str, set[tuple[int, int]]] = {}
    tables = ws.duck.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
        "current_database() AND NOT temporary"
    ).fetchall()
    wanted = "[" + ", ".join(str(b) for b in sorted(blocks)) + "]::BIGINT[]"
    for schema, table in tables:
        rows = ws.duck.execute(
            f"SELECT DISTINCT row_group_id, column_id FROM pragma_storage_info("
            f"{literal(f'{schema}.{table}')}) WHERE list_contains({wanted}, block_id) OR "
            f"len(list_intersect({wanted}, additional_block_ids)) > 0"
        ).fetchall()
        if rows:
            name = f"{quote(str(schema))}.{quote(str(table))}"
            out[name] = {(int(g), int(c)) for g, c in rows}
    return out


def _row_group_starts(ws: Workspace, table: str) -> dict[int, int]:
    """Row group -> its first row id (row ids run on across row groups)."""
    plain = ".".join(p.strip('"').replace('""', '"') for p in table.split(".", 1))
    rows = ws.duck.execute(
        "SELECT row_group_id, sum(count) OVER (ORDER BY row_group_id) - count FROM ("
        f"SELECT row_group_id, sum(count) AS count FROM pragma_storage_info({literal(plain)}) "
        "WHERE column_id = 0 AND segment_type <> 'VALIDITY' GROUP BY 1)"
    ).fetchall()
    return {int(g): int(s) for g, s in rows}


def _rewrite_segments(ws: Workspace, blocks: set[int]) -> int:
    """Make the next checkpoint rewrite every segment stored in ``blocks``: one live row of
    each row group is updated to its own value in each of those columns (an update makes
    DuckDB write the row group's column afresh). Returns the segments touched."""
    touched = 0
    for table, where in _segments_by_block(ws, blocks).items():
        columns = [r[0] for r in ws.duck.execute(f"SELECT * FROM {table} LIMIT 0").description]
        starts = _row_group_starts(ws, table)
        by_group: dict[int, set[str]] = {}
        for group, column in where:
            if column < len(columns):
                by_group.setdefault(group, set()).add(columns[column])
        for group, cols in sorted(by_group.items()):
            start = starts.get(group, 0)
            sets = ", ".join(f"{quote(c)} = {quote(c)}" for c in sorted(cols))
            ws.duck.execute(
                f"UPDATE {table} SET {sets} WHERE rowid = (SELECT min(rowid) FROM {table} "
                f"WHERE rowid >= {start} AND rowid < {start + 122_880})"
            )
            touched += len(cols)
    return touched


def _reload_tables(ws: Workspace, blocks: set[int]) -> int:
    """Rewrite every table with a segment in ``blocks`` as a whole (its rows copied out,
    deleted and inserted again, in one transaction, so nothing is lost on a failure): all
    its row groups are written afresh and its old blocks freed. Returns the tables, or 0
    when they hold more than :data:`MAX_RELOAD_SHARE` of the rows (copying the whole file
    is then cheaper: at a million customers reloading 9 tables took 170 s, the copy 68 s)."""
    tables = list(_segments_by_block(ws, blocks))
    sizes = {f"{quote(str(schema))}.{quote(str(name))}": int(rows or 0)
             for schema, name, rows in ws.duck.execute(
                 "SELECT schema_name, table_name, estimated_size FROM duckdb_tables() "
                 "WHERE database_name = current_database() AND NOT temporary").fetchall()}
    if sum(sizes.get(t, 0) for t in tables) > MAX_RELOAD_SHARE * sum(sizes.values()):
        return 0
    for table in tables:
        with ws.transaction():
            ws.duck.execute(f"CREATE OR REPLACE TEMP TABLE {_RELOAD} AS SELECT * FROM {table}")
            ws.duck.execute(f"DELETE FROM {table}")
            ws.duck.execute(f"INSERT INTO {table} SELECT * FROM {_RELOAD}")
            ws.duck.execute(f"DROP TABLE {_RELOAD}")
    return len(tables)


_RELOAD = "temp._crmine_reload"


def _blocks_holding(ws: Workspace, patterns: list[bytes],
                    containers: dict[bytes, list[bytes]]) -> tuple[set[int], int]:  # fmt: skip
    """Blocks of the warehouse file whose raw bytes hold one of ``patterns`` (not as part of
    a live value ``containers`` names), and hits in the file's headers (before the first
    block)."""
    block = _size(ws)[0]
    hits = unexplained(ws.warehouse_path, byte_offsets(ws.warehouse_path, patterns),
                       containers)
    offsets = [o for found in hits.values() for o in found]
    return {(o - _HEADER) // block for o in offsets if o >= _HEADER}, sum(
        o < _HEADER for o in offsets
    )


def purge_freed_pages(ws: Workspace, needles: Iterable[str],
                      containers: dict[bytes, list[bytes]] | None = None) -> Purge:
    """Leave no erased value in any page of the warehouse file (module docstring);
    ``containers``: live values holding an erased one, whose bytes are not its trace
    (:func:`crmine.privacy._traces.live_containers`)."""
    import time

    path = ws.warehouse_path
    before = path.stat().st_size
    patterns = _encodings(v for v in needles if len(v) >= MIN_BYTES)
    if is_encrypted(ws.config.extra):
        # the bytes are ciphertext: a search proves nothing, so no old page is trusted
        before, after = rewrite_database(ws)
        return Purge("rewritten", before, after, why="encrypted: its bytes cannot be searched")
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    # derived views calling a macro only a keyed connection holds: dropped as by a rewrite,
    # made again on the next analysis read
    ws.duck.execute(f"DROP SCHEMA IF EXISTS {PSEUDONYMISED} CASCADE")
    ws.duck.execute("CHECKPOINT")
    seconds["checkpoint"] = time.perf_counter() - started
    result = Purge("in place", before, before, seconds=seconds)
    why = "the rounds did not clear them"
    for round_ in range(MAX_ROUNDS + 1):
        t0 = time.perf_counter()
        result.blocks_wiped += wipe_free_blocks(ws)
        seconds["wipe"] = seconds.get("wipe", 0.0) + time.perf_counter() - t0
        t0 = time.perf_counter()
        blocks, in_header = _blocks_holding(ws, patterns, containers or {})
        seconds["scan"] = seconds.get("scan", 0.0) + time.perf_counter() - t0
        result.rounds = round_ + 1
        if not blocks and not in_header:
            result.after = path.stat().st_size
            return result
        if in_header or round_ == MAX_ROUNDS:
            why = "the file header held them" if in_header else why
            break
        t0 = time.perf_counter()
        if round_ == 0:
            touched = _rewrite_segments(ws, blocks)
            result.segments_rewritten += touched
        else:
            touched = _reload_tables(ws, blocks)
            result.tables_reloaded += touched
        if not touched:  # a metadata block (statistics), or tables too large to reload
            why = ("the tables still holding the bytes are too large to reload" if round_
                   else "a metadata block held them")  # fmt: skip
            break
        ws.duck.execute("CHECKPOINT")
        seconds["segments"] = seconds.get("segments", 0.0) + time.perf_counter() - t0
    t0 = time.perf_counter()
    _, after = rewrite_database(ws)
    seconds["rewrite"] = time.perf_counter() - t0
    result.method, result.after = "rewritten", after
    result.why = f"a trace was left in place after {result.rounds} round(s): {why}"
    return result


def rewrite_database(ws: Workspace) -> tuple[int, int]:
    """Replace the warehouse file by a copy of its live data; returns its sizes before, after."""
    path = ws.warehouse_path
    fresh = path.with_name(path.name + ".rewrite")
    fresh.unlink(missing_ok=True)
    before = path.stat().st_size
    # the pseudonymised views are derived and call a macro only a connection with the key
    # holds: not copied, they are made again on the next analysis read
    ws.duck.execute(f"DROP SCHEMA IF EXISTS {PSEUDONYMISED} CASCADE")
    ws.duck.execute("CHECKPOINT")
    current = ws.duck.execute("SELECT current_database()").fetchone()
    name = str(current[0]) if current else "main"
    clause = ""
    if is_encrypted(ws.config.extra):  # the copy is encrypted with the same key
        key = getattr(ws, "_encryption_key", None) or workspace_key(ws.root, ws.config.extra)
        clause = " " + attach_clause(key)
    ws.duck.execute(f"ATTACH {literal(str(fresh))} AS _crmine_rewrite{clause}")
    try:
        ws.duck.execute(f'COPY FROM DATABASE "{name}" TO _crmine_rewrite')
    finally:
        ws.duck.execute("DETACH _crmine_rewrite")
    ws.con.disconnect()  # not close(): the old file is about to be replaced
    os.replace(fresh, path)
    for leftover in (path.with_name(path.name + ".wal"), fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    ws.reconnect()
    return before, path.stat().st_size
