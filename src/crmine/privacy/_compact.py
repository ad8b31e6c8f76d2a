"""Rewriting the warehouse file so that no freed page keeps erased bytes.

DuckDB reuses freed blocks but does not wipe them: after ``DELETE``, ``CHECKPOINT`` and
``VACUUM`` the deleted values are still in the file (measured: a deleted customer id kept 17
copies). ``COPY FROM DATABASE`` into a new file writes only live data; the new file then
replaces the old one.
"""

from __future__ import annotations

import os

from crmine.privacy._sql import literal
from crmine.warehouse import Workspace
from crmine.warehouse._encryption import attach_clause, is_encrypted, workspace_key
from crmine.warehouse._pseudonyms import SCHEMA as PSEUDONYMISED

__all__ = ["rewrite_database"]


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
