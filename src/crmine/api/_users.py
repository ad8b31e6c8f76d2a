"""API users: a name, a role and a token, kept hashed (argon2) in ``meta.api_users``.

A token reads ``crm_<user id>_<secret>``: the id finds the row, the secret is checked against
its argon2 hash, so a stolen warehouse file does not give anyone a working token. Tokens are
shown once, when made; a lost token is revoked and a new user added.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmine.exceptions import ConfigError, DataError

if TYPE_CHECKING:
    import duckdb

    from crmine.warehouse import Workspace

__all__ = ["ROLES", "USERS_TABLE", "ApiUser", "TokenCache", "add_user", "authenticate",
           "list_users", "revoke_user"]

USERS_TABLE = "meta.api_users"
# Least to most: what each role is for is in crmine.api._policy.
ROLES = ("viewer", "marketer", "analyst", "admin")
_NAME = re.compile(r"^[\w.@+-]{1,64}$")
_TOKEN = re.compile(r"^crm_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True, slots=True)
class ApiUser:
    user_id: str
    name: str
    role: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "name": self.name, "role": self.role,
                "created_at": self.created_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
                "active": self.revoked_at is None}


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = "
                        "current_database() AND schema_name = 'meta' AND table_name = "
                        "'api_users'").fetchone()
    if found and found[0]:
        return  # nothing to write (the server reads a read-only copy)
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(f"CREATE TABLE IF NOT EXISTS {USERS_TABLE} (user_id VARCHAR PRIMARY KEY, "
                "name VARCHAR NOT NULL, role VARCHAR NOT NULL, token_hash VARCHAR NOT NULL, "
                "created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role


def add_user(ws: Workspace, name: str, role: str) -> tuple[ApiUser, str]:
    """Add user ``name`` with ``role``; returns the user and its token (shown only now)."""
    _check_role(role)
    if not _NAME.match(name):
        raise DataError(f"user name {name[:80]!r}: use 1-64 letters, digits or . _ @ + -")
    con = ws.duck
    _ensure(con)
    active = con.execute(f"SELECT count(*) FROM {USERS_TABLE} WHERE name = ? AND revoked_at "
                         "IS NULL", [name]).fetchone()
    if active and active[0]:
        raise DataError(f"user {name!r} exists and is active; revoke it first "
                        f"(crmine users revoke {name}) or choose another name")
    user_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = f"crm_{user_id}_{secret}"
    created = _now()
    con.execute(f"INSERT INTO {USERS_TABLE} VALUES (?, ?, ?, ?, ?, NULL)",
                [user_id, name, role, _hasher().hash(secret), created])
    return ApiUser(user_id, name, role, created), token


def list_users(ws: Workspace) -> list[ApiUser]:
    """Every user, revoked ones too (with when), oldest first."""
    _ensure(ws.duck)
    rows = ws.duck.execute(f"SELECT user_id, name, role, created_at, revoked_at FROM "
                           f"{USERS_TABLE} ORDER BY created_at, name").fetchall()
    return [ApiUser(*r) for r in rows]


def revoke_user(ws: Workspace, name_or_id: str) -> ApiUser:
    """Revoke the active user named ``name_or_id`` (or with that id): its token stops working."""
    _ensure(ws.duck)
    row = ws.duck.execute(
        f"SELECT user_id, name, role, created_at, revoked_at FROM {USERS_TABLE} "
        "WHERE (name = ? OR user_id = ?) AND revoked_at IS NULL", [name_or_id, name_or_id]
    ).fetchone()
    if row is None:
        known = ", ".join(u.name for u in list_users(ws) if u.revoked_at is None) or "none"
        raise DataError(f"no active API user {name_or_id[:80]!r}; active users: {known}")
    when = _now()
    ws.duck.execute(f"UPDATE {USERS_TABLE} SET revoked_at = ? WHERE user_id = ?", [when, row[0]])
    return ApiUser(row[0], row[1], row[2], row[3], revoked_at=when)


def authenticate(con: duckdb.DuckDBPyConnection, token: str) -> ApiUser | None:
    """The active user holding ``token``, or None (unknown, malformed or revoked)."""
    m = _TOKEN.match(token or "")
    if not m:
        return None
    _ensure(con)
    row = con.execute(f"SELECT user_id, name, role, created_at, revoked_at, token_hash FROM "
                      f"{USERS_TABLE} WHERE user_id = ? AND revoked_at IS NULL",
                      [m.group(1)]).fetchone()
    if row is None:
        return None
    from argon2.exceptions import VerificationError

    try:
        _hasher().verify(row[5], m.group(2))
    except VerificationError:
        return None
    return ApiUser(*row[:5])


class TokenCache:
    """Tokens already verified, so argon2 (slow on purpose, ~50 ms) runs once per token and
    server process, not per request. Keyed by a keyed hash of the token, never the token;
    revocation through the API drops the user's entries at once."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._users: dict[bytes, ApiUser] = {}
        self._lock = threading.Lock()

    def _digest(self, token: str) -> bytes:
        return hmac.digest(self._key, token.encode(), "sha256")

    def get(self, token: str) -> ApiUser | None:
        with self._lock:
            return self._users.get(self._digest(token))

    def put(self, token: str, user: ApiUser) -> None:
        with self._lock:
            self._users[self._digest(token)] = user

    def clear(self) -> None:
        with self._lock:
            self._users = {}

    def drop(self, user_id: str) -> None:
        with self._lock:
            self._users = {k: u for k, u in self._users.items() if u.user_id != user_id}
