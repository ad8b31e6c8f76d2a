"""Encryption at rest of a workspace (opt-in: ``[privacy] encrypted = true`` in crmine.toml).

The warehouse file, its WAL and DuckDB's temporary files are encrypted by DuckDB itself
(AES-GCM, ``ATTACH … (ENCRYPTION_KEY …)``); the landing files in ``raw/`` become Parquet files
encrypted with a key derived from the same secret (Parquet modular encryption), read back by
their ``raw.*`` views. DuckDB writes encrypted files only through the crypto of its ``httpfs``
extension, loaded from the ``duckdb-extension-httpfs`` package's file: nothing is downloaded.

The key comes from ``CRMINE_ENCRYPTION_KEY``, a key file (``CRMINE_ENCRYPTION_KEY_FILE`` or
``[privacy] key_file``, which must be outside the workspace), or a prompt on a terminal. A
workspace that is not marked encrypted opens exactly as before.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmine.exceptions import WorkspaceError

if TYPE_CHECKING:
    import duckdb

    from crmine.warehouse._workspace import Workspace

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "PARQUET_KEY",
    "attach_clause",
    "is_encrypted",
    "load_crypto",
    "seal_landing_files",
    "workspace_key",
]

KEY_ENV = "CRMINE_ENCRYPTION_KEY"
KEY_FILE_ENV = "CRMINE_ENCRYPTION_KEY_FILE"
PARQUET_KEY = "crmine_landing"  # the name the landing files' key is registered under
MIN_KEY = 12
SEALED = ".enc.parquet"  # the ending of an encrypted landing file
READ_OPTION = f"encryption_config = {{footer_key: '{PARQUET_KEY}'}}"


def is_encrypted(extra: dict[str, Any]) -> bool:
    table = extra.get("privacy")
    return isinstance(table, dict) and table.get("encrypted") is True


def _extension_file() -> Path:
    try:
        import duckdb_extension_httpfs
    except ImportError as exc:
        raise WorkspaceError(
            "an encrypted workspace needs the duckdb-extension-httpfs package (DuckDB's crypto "
            "for writing encrypted files): pip install 'duckdb-extension-httpfs==<duckdb "
            "version>'"
        ) from exc
    import duckdb

    folder = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    found = sorted(folder.glob(f"v{duckdb.__version__}/httpfs.duckdb_extension"))
    if not found:
        have = ", ".join(p.name for p in folder.iterdir()) if folder.is_dir() else "none"
        raise WorkspaceError(
            f"duckdb-extension-httpfs has no build for DuckDB {duckdb.__version__} (it has: "
            f"{have}); install the matching versions of duckdb and duckdb-extension-httpfs"
        )
    return found[0]


def _check(key: str, where: str) -> str:
    key = key.strip()
    if len(key) < MIN_KEY:
        raise WorkspaceError(f"the encryption key from {where} is too short: use at least "
                             f"{MIN_KEY} characters (e.g. `openssl rand -hex 32`)")  # fmt: skip
    return key


def workspace_key(root: Path, extra: dict[str, Any], *, prompt: bool = True) -> str:
    """The workspace's encryption key: environment, key file, or a prompt on a terminal."""
    if os.environ.get(KEY_ENV):
        return _check(os.environ[KEY_ENV], KEY_ENV)
    configured = (extra.get("privacy") or {}).get("key_file")
    file = os.environ.get(KEY_FILE_ENV) or configured
    if file:
        path = Path(str(file)).expanduser().resolve()
        if path.is_relative_to(root.resolve()):
            raise WorkspaceError(
                f"the key file {path} is inside the workspace it encrypts; "
                "move it outside (a copy of the folder must not carry it)"
            )
        if not path.is_file():
            raise WorkspaceError(
                f"encryption key file {path} not found (from "
                f"{KEY_FILE_ENV if os.environ.get(KEY_FILE_ENV) else 'key_file'})"
            )
        return _check(path.read_text(encoding="utf-8"), str(path))
    if prompt and sys.stdin.isatty():
        return _check(getpass.getpass(f"encryption key of {root}: "), "the prompt")
    raise WorkspaceError(
        f"{root} is an encrypted workspace: give its key in {KEY_ENV}, in a key file named by "
        f"{KEY_FILE_ENV} or [privacy] key_file, or run in a terminal to be asked for it"
    )


def _sql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def attach_clause(key: str, *, read_only: bool = False) -> str:
    return f"(ENCRYPTION_KEY {_sql(key)}{', READ_ONLY' if read_only else ''})"


def parquet_key(key: str) -> str:
    """The landing files' 256-bit key, derived from the workspace key."""
    digest = hashlib.sha256(b"crmine-landing\x00" + key.encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


def load_crypto(duck: duckdb.DuckDBPyConnection, key: str) -> None:
    """Load the crypto extension (from the package) and register the landing files' key."""
    duck.execute(f"LOAD {_sql(str(_extension_file()))}")
    duck.execute(f"PRAGMA add_parquet_key({_sql(PARQUET_KEY)}, {_sql(parquet_key(key))})")


def seal_landing_files(ws: Workspace) -> list[str]:
    """Rewrite every landing file its raw view reads in plaintext as Parquet encrypted with
    the workspace's key, repoint the view and delete the plaintext; returns the new files."""
    import re

    rows = ws.duck.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE schema_name = 'raw' "
        "AND database_name = current_database() ORDER BY 1"
    ).fetchall()
    sealed = []
    for name, sql in rows:
        found = re.search(r"'((?:[^']|'')+/raw/[^']+)'", str(sql))
        if not found or "encryption_config" in str(sql):
            continue
        old = Path(found[1].replace("''", "'"))
        new = old.with_name(old.name.split(".", 1)[0] + SEALED)
        if new == old:
            new = old.with_name(old.name.split(".", 1)[0] + ".k" + SEALED)
        view = f'raw."{name}"'
        ws.duck.execute(
            f"COPY (SELECT * FROM {view}) TO {_sql(str(new))} "
            f"(FORMAT parquet, ENCRYPTION_CONFIG {{footer_key: '{PARQUET_KEY}'}})"
        )
        with ws.transaction():
            ws.duck.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM "
                            f"read_parquet({_sql(str(new))}, {READ_OPTION})")  # fmt: skip
        if old != new:
            old.unlink(missing_ok=True)
        sealed.append(new.name)
    return sealed
