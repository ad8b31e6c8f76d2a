"""Re-identification of pseudonymised results (``[privacy] pseudonymise_analyses``): the
pseudonyms of a mart or a target list turned back into customer ids, for the commands that
need identity (contacting the people on a list). It needs the pseudonym key, and every use
is recorded in the privacy audit log (counts only)."""

from __future__ import annotations

import pandas as pd

from crmine.exceptions import DataError
from crmine.privacy._pseudonymise import load_key
from crmine.warehouse import Workspace
from crmine.warehouse._pseudonyms import sql_pseudonym

__all__ = ["reidentify"]


def _customer_ids_sql(ws: Workspace) -> str:
    tables = [t for t in ws.tables("core") if "customer_id" in ws.columns(t)]
    if not tables:
        raise DataError("the warehouse holds no customer ids (no core table has customer_id)")
    return " UNION ".join(f"SELECT DISTINCT customer_id FROM {t}" for t in tables)


def reidentify(ws: Workspace, frame: pd.DataFrame, *, column: str = "customer_id",
               key: bytes | None = None) -> pd.DataFrame:  # fmt: skip
    """``frame`` with its pseudonyms in ``column`` replaced by the customer ids they stand for
    (a pseudonym of no current customer - erased since - becomes missing)."""
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

    record(ws, "reidentify", {"rows": len(out), "unmatched": int(out[column].isna().sum())})
    return out
