"""Encrypting a workspace at rest (``crmine init --encrypt``, ``crmine privacy encrypt``),
rotating its key (``crmine privacy rotate-key``) and sealing landing files, saved models
and reports (``crmine.warehouse._sealed``).

Encrypting copies the live data into a new, encrypted warehouse file (``COPY FROM DATABASE``)
that replaces the old one - so no plaintext page survives in it - marks the workspace
``[privacy] encrypted = true`` and rewrites every landing file in ``raw/`` as encrypted
Parquet. Rotation copies into a file encrypted with the new key and re-encrypts the landing
files. A landing file a later load writes in plaintext is sealed when that workspace closes.
"""

from __future__ import annotations

import os
from pathlib import Path

from crmine.exceptions import WorkspaceError
from crmine.privacy._landing import landing_views
from crmine.privacy._sql import literal
from crmine.warehouse import Workspace
from crmine.warehouse._encryption import (
    READ_OPTION,
    SEALED,
    attach_clause,
    is_encrypted,
    load_crypto,
    parquet_key,
    seal_landing_files,
    workspace_key,
)
from crmine.warehouse._sealed import read_bytes, reseal, seal_key, sealed_files, write_bytes

__all__ = ["encrypt_workspace", "rotate_key", "seal_landing_files"]


def _copy_into(ws: Workspace, key: str) -> None:
    """Replace the warehouse file by a copy of its live data encrypted with ``key``."""
    path = ws.warehouse_path
    fresh = path.with_name(path.name + ".encrypting")
    fresh.unlink(missing_ok=True)
    ws.duck.execute("CHECKPOINT")
    row = ws.duck.execute("SELECT current_database()").fetchone()
    name = str(row[0]) if row else path.stem
    ws.duck.execute(f"ATTACH {literal(str(fresh))} AS _crmine_enc {attach_clause(key)}")
    try:
        ws.duck.execute(f'COPY FROM DATABASE "{name}" TO _crmine_enc')
    finally:
        ws.duck.execute("DETACH _crmine_enc")
    ws.con.disconnect()  # not close(): nothing to seal while the file is being replaced
    os.replace(fresh, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


def encrypt_workspace(ws: Workspace, key: str | None = None) -> list[str]:
    """Encrypt ``ws`` in place (it is reopened encrypted); returns the landing files sealed."""
    if is_encrypted(ws.config.extra):
        raise WorkspaceError(f"{ws.root} is already encrypted; use `crmine privacy rotate-key` "
                             "to change its key")  # fmt: skip
    if ws.read_only:
        raise WorkspaceError("open the workspace for writing to encrypt it")
    key = key or workspace_key(ws.root, ws.config.extra)
    load_crypto(ws.duck, key)
    _copy_into(ws, key)
    ws.config.extra.setdefault("privacy", {})["encrypted"] = True
    ws.save_config()
    _reopen(ws, key)
    reseal(ws.root, None, key)  # saved models and reports written before, sealed now
    return seal_landing_files(ws)


def _reopen(ws: Workspace, key: str) -> None:
    """Reconnect with ``key`` (the key just set, whatever the environment holds)."""
    ws._encryption_key = key
    ws.reconnect()


def rotate_key(ws: Workspace, new_key: str) -> list[str]:
    """Re-encrypt the warehouse and the landing files with ``new_key``."""
    if not is_encrypted(ws.config.extra):
        raise WorkspaceError(f"{ws.root} is not encrypted; encrypt it with "
                             "`crmine privacy encrypt`")  # fmt: skip
    new_key = new_key.strip()
    if len(new_key) < 12:
        raise WorkspaceError("the new key is too short: use at least 12 characters")
    # landing files first, while the old key can read them: written with the new key
    ws.duck.execute(f"PRAGMA add_parquet_key('crmine_new', {literal(parquet_key(new_key))})")
    moved = []
    for view, path in landing_views(ws):
        stem = path.name.split(".", 1)[0]
        other = SEALED if path.name.endswith(".k" + SEALED) else ".k" + SEALED
        new = path.with_name(stem + other)
        ws.duck.execute(f"COPY (SELECT * FROM {view}) TO {literal(str(new))} (FORMAT parquet, "
                        "ENCRYPTION_CONFIG {footer_key: 'crmine_new'})")  # fmt: skip
        moved.append((view, path, new))
    old_key = seal_key(ws)
    staged = _stage_files(ws, old_key, new_key)
    try:
        _copy_into(ws, new_key)
    except BaseException:
        for _view, _path, new in moved:
            new.unlink(missing_ok=True)
        for _path, tmp in staged:
            tmp.unlink(missing_ok=True)
        raise
    for path, tmp in staged:  # the warehouse is on the new key: so are models and reports
        os.replace(tmp, path)
    _reopen(ws, new_key)  # the landing key registered now is the new key's
    with ws.transaction():
        for view, _path, new in moved:
            ws.duck.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM "
                            f"read_parquet({literal(str(new))}, {READ_OPTION})")  # fmt: skip
    for _view, path, _new in moved:
        path.unlink(missing_ok=True)
    return [new.name for _v, _p, new in moved]


def _stage_files(ws: Workspace, old_key: str | None, new_key: str) -> list[tuple[Path, Path]]:
    """Models and reports sealed with ``new_key`` beside the originals (hidden names), to
    replace them once the warehouse is re-encrypted."""
    staged = []
    try:
        for path in sealed_files(ws.root):
            tmp = path.with_name(f".{path.name}.rotating")
            write_bytes(tmp, read_bytes(path, old_key), new_key)
            staged.append((path, tmp))
    except BaseException:
        for _path, tmp in staged:
            tmp.unlink(missing_ok=True)
        raise
    return staged


def key_from_file(path: str | Path) -> str:
    return Path(path).expanduser().read_text(encoding="utf-8").strip()
