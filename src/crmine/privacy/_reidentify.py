"""Re-identification of pseudonymised results (``[privacy] pseudonymise_analyses``): the
pseudonyms of a mart or a target list turned back into customer ids, for the commands that
need identity (contacting the people on a list).

Holding the pseudonym key is not enough: once a workspace has users (``crmine users add``,
the REST API's roles), only a user whose role sees personal data unmasked - admin or
analyst, :data:`REIDENTIFY_ROLES` - may re-identify, named by their token (the API, a job,
``crmine privacy reidentify --token``). A viewer or marketer works on pseudonymised lists
and masked personal data everywhere else: turning a list of pseudonyms into ids would give
them what the API masks. A workspace without users has one operator, whoever holds the key
and the files. Every re-identification, allowed or refused, is recorded in the privacy audit
log: who, their role, the table, and counts - never an id.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pandas as pd

from crmine.exceptions import ConfigError, DataError
from crmine.privacy._pseudonymise import load_key
from crmine.warehouse import Workspace
from crmine.warehouse._pseudonyms import sql_pseudonym

if TYPE_CHECKING:
    from crmine.api._users import ApiUser

__all__ = ["REIDENTIFY_ROLES", "TOKEN_ENV", "ReidentifyRefused", "reidentify", "user_of_token"]

# The roles that see personal data unmasked in the API (crmine.api._policy.PII_ROLES).
REIDENTIFY_ROLES = frozenset({"admin", "analyst"})
TOKEN_ENV = "CRMINE_API_TOKEN"


class ReidentifyRefused(ConfigError):
    """The user may not re-identify (their role, or no user named where users exist)."""


def _has_users(ws: Workspace) -> bool:
    from crmine.api._users import USERS_TABLE

    if not ws.has_table(USERS_TABLE):
        return False
    row = ws.duck.execute(f"SELECT count(*) FROM {USERS_TABLE} WHERE revoked_at IS NULL"
                          ).fetchone()  # fmt: skip
    return bool(row and row[0])


def user_of_token(ws: Workspace, token: str | None) -> ApiUser | None:
    """The active user holding ``token`` (default ``$CRMINE_API_TOKEN``), None without one;
    an unknown or revoked token is refused."""
    from crmine.api._users import authenticate

    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        return None
    user = authenticate(ws.duck, token)
    if user is None:
        raise ReidentifyRefused("the token given for re-identification is unknown or revoked; "
                                "ask an admin for a token (`crmine users add NAME analyst`)")
    return user


def _customer_ids_sql(ws: Workspace) -> str:
    tables = [t for t in ws.tables("core") if "customer_id" in ws.columns(t)]
    if not tables:
        raise DataError("the warehouse holds no customer ids (no core table has customer_id)")
    return " UNION ".join(f"SELECT DISTINCT customer_id FROM {t}" for t in tables)


def _authorise(ws: Workspace, user: ApiUser | None, what: dict[str, object]) -> dict[str, object]:
    """Who re-identifies, for the audit line; refused (and recorded) when not allowed."""
    from crmine.privacy._audit import record

    if user is None:
        if _has_users(ws):
            record(ws, "reidentify_refused", {**what, "why": "no user named"})
            raise ReidentifyRefused(
                f"{ws.root} has users: re-identification is for admin and analyst roles. Pass "
                f"--token (or set {TOKEN_ENV}) with the token of such a user"
            )
        return {"user": None, "role": None, "as": "the workspace's operator (no users)"}
    if user.role not in REIDENTIFY_ROLES:
        record(ws, "reidentify_refused", {**what, "user": user.name, "role": user.role,
                                          "why": "role"})  # fmt: skip
        raise ReidentifyRefused(
            f"user {user.name!r} ({user.role}) may not re-identify customers: only "
            f"{' and '.join(sorted(REIDENTIFY_ROLES))} roles see personal data unmasked"
        )
    return {"user": user.name, "user_id": user.user_id, "role": user.role}


def reidentify(ws: Workspace, frame: pd.DataFrame, *, column: str = "customer_id",
               key: bytes | None = None, user: ApiUser | None = None,
               table: str | None = None) -> pd.DataFrame:  # fmt: skip
    """``frame`` with its pseudonyms in ``column`` replaced by the customer ids they stand for
    (a pseudonym of no current customer - erased since - becomes missing), for ``user`` (see
    the module: admin or analyst once the workspace has users). ``table`` names what was
    re-identified in the audit log."""
    what: dict[str, object] = {"table": table, "rows": len(frame)}
    who = _authorise(ws, user, what)
    if column not in frame.columns:
        raise DataError(f"no column {column!r} to re-identify; columns: {list(frame.columns)}")
    key = key or load_key()
    mapping = ws.duck.execute(
        f"SELECT {sql_pseudonym(key, 'customer_id')} AS pseudonym, customer_id "
        f"FROM ({_customer_ids_sql(ws)}) WHERE customer_id IS NOT NULL"
    ).df()
    lookup = dict(zip(mapping["pseudonym"], mapping["customer_id"], strict=True))
    out = frame.copy()
    out[column] = out[column].map(lookup)
    from crmine.privacy._audit import record

    record(ws, "reidentify", {**what, **who, "unmatched": int(out[column].isna().sum())})
    return out
