"""Analyses on pseudonyms (``[privacy] pseudonymise_analyses = true``).

With the setting on, every core table an analysis reads through ``ws.resolved(name)`` is
shown as a view of schema ``pseudonymised`` whose ``customer_id`` is the keyed pseudonym of
the id (HMAC-SHA256, ``p`` + 16 hex digits: the same as ``crmine export --pseudonymise``
with the same key), so features, models and marts hold pseudonyms, not ids.

The key comes from the same place as the export's (``CRMINE_PSEUDONYM_KEY``) and is never
written to the warehouse: the HMAC is a TEMP macro of the connection, and the views call it
by name, so a connection without the key cannot read them (an error, never an id).
Re-identification (``crmine.privacy.reidentify``) needs the key too.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from crmine.exceptions import ConfigError

if TYPE_CHECKING:
    from crmine.warehouse._workspace import Workspace

__all__ = ["ID_COLUMNS", "KEY_ENV", "MACRO", "SCHEMA", "analysis_key", "enabled", "install_key",
           "pseudonymised_name", "sql_pseudonym"]  # fmt: skip

KEY_ENV = "CRMINE_PSEUDONYM_KEY"
SCHEMA = "pseudonymised"
MACRO = "crmine_pseudonym"
_BLOCK = 64  # SHA-256's block size: HMAC pads the key to it


def enabled(ws: Workspace) -> bool:
    value = (ws.config.extra.get("privacy") or {}).get("pseudonymise_analyses", False)
    if not isinstance(value, bool):
        raise ConfigError(f"{ws.root / 'crmine.toml'}: [privacy] pseudonymise_analyses = "
                          f"{value!r}: use true or false")  # fmt: skip
    return value


def analysis_key() -> bytes:
    value = os.environ.get(KEY_ENV, "")
    if len(value) < 16:
        raise ConfigError(
            f"[privacy] pseudonymise_analyses is on: analyses need the pseudonym key (at "
            f"least 16 characters) in {KEY_ENV}, the same key as `crmine export --pseudonymise`"
        )
    return value.encode("utf-8")


def sql_pseudonym(key: bytes, expr: str) -> str:
    """SQL computing ``crmine.privacy.pseudonym(expr, key)`` (HMAC-SHA256, first 16 hex)."""
    import hashlib

    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(_BLOCK, b"\0")
    inner = bytes(b ^ 0x36 for b in padded).hex()
    outer = bytes(b ^ 0x5C for b in padded).hex()
    return (f"'p' || left(sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || "
            f"encode(CAST({expr} AS VARCHAR))))), 16)")  # fmt: skip


def install_key(ws: Workspace, key: bytes) -> None:
    """The pseudonym macro of this connection (TEMP: it is never written to the file)."""
    ws.duck.execute(f"CREATE OR REPLACE TEMP MACRO {MACRO}(x) AS {sql_pseudonym(key, 'x')}")


def _installed(ws: Workspace) -> bool:
    row = ws.duck.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [MACRO]
    ).fetchone()
    return bool(row and row[0])


# Columns of a core table (or its resolved view) naming a customer by id: all become
# pseudonyms (a resolved view keeps the source's id as source_customer_id).
ID_COLUMNS = ("customer_id", "source_customer_id")


def pseudonymised_name(ws: Workspace, name: str) -> str:
    """The view an analysis reads for ``name`` (a core table or its resolved view) with its
    customer ids (:data:`ID_COLUMNS`) as pseudonyms; ``name`` itself when it holds none.

    The view is (re)made once per connection and whenever what it reads changed (another
    source or other columns), not on every call: analyses ask for it many times a run."""
    schema, _, table = name.partition(".")
    if not ws.has_table(name):
        return name
    columns = tuple(ws.columns(name))
    if "customer_id" not in columns:
        return name
    if not _installed(ws):
        install_key(ws, analysis_key())
    view = f"{SCHEMA}.{table}"
    if ws.read_only:
        if not ws.has_table(view):
            raise ConfigError(f"{view} does not exist yet and the workspace is open read-only;"
                              " run `crmine run` once with pseudonymise_analyses on")  # fmt: skip
        return view
    made: dict[str, tuple[str, tuple[str, ...]]] = ws.__dict__.setdefault(
        "_pseudonymised_views", {})
    if made.get(view) == (name, columns) and ws.has_table(view):
        return view
    replaced = ", ".join(f"{MACRO}({c}) AS {c}" for c in ID_COLUMNS if c in columns)
    ws.duck.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    ws.duck.execute(
        f'CREATE OR REPLACE VIEW {SCHEMA}."{table}" AS SELECT * REPLACE '
        f'({replaced}) FROM {schema}."{table}"'
    )
    made[view] = (name, columns)
    return view
