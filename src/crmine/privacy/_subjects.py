"""Who a privacy request is about: from customer ids, e-mails or phones to every id the
warehouse holds for the person (SCD2 versions, identity crosswalk) and the values that
identify them (e-mail, phone, name, address), so that every copy can be found."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from crmine.exceptions import DataError
from crmine.warehouse import Workspace

__all__ = ["Subjects", "digits", "find_subjects"]

IDENTITY = "core.customer_identity"
# Values shorter than this are too common to search the whole workspace for (an initial, "F").
MIN_NEEDLE = 4


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@dataclass(frozen=True, slots=True)
class Subjects:
    """The people a request names: their ids and the values that identify them.

    ``strong`` values (ids, e-mails, phones) identify one person wherever they appear: a row
    holding one is the person's. ``weak`` ones (name, address) are shared by other people
    and are searched for only to prove nothing of the person is left.
    """

    ids: frozenset[str]
    emails: frozenset[str]
    phones: frozenset[str]
    names: frozenset[str]
    addresses: frozenset[str]

    @property
    def strong(self) -> frozenset[str]:
        return self.ids | self.emails | self.phones

    @property
    def needles(self) -> frozenset[str]:
        """Every value to search for when proving erasure."""
        return frozenset(v for v in self.strong | self.names | self.addresses
                         if len(v) >= 2)  # fmt: skip

    def __len__(self) -> int:
        return len(self.ids)


def _customer_columns(ws: Workspace) -> set[str]:
    return set(ws.columns("core.dim_customer")) if ws.has_table("core.dim_customer") else set()


def _lookup(ws: Workspace, column: str, values: list[str], *, phone: bool = False) -> set[str]:
    if column not in _customer_columns(ws) or not values:
        return set()
    if phone:
        wanted = [digits(v) for v in values if len(digits(v)) >= 6]
        # "+86 180…" and "180…" are one number: compare the digits, allowing a country code
        rows = ws.duck.execute(
            "SELECT DISTINCT customer_id FROM core.dim_customer, unnest(?::VARCHAR[]) w(d) "
            "WHERE regexp_replace(phone, '\\D', '', 'g') = d OR (length(d) >= 8 AND "
            "regexp_replace(phone, '\\D', '', 'g') LIKE '%' || d) OR (length(d) > 8 AND "
            "length(regexp_replace(phone, '\\D', '', 'g')) >= 8 AND "
            "d LIKE '%' || regexp_replace(phone, '\\D', '', 'g'))",
            [wanted],
        ).fetchall()
    else:
        rows = ws.duck.execute(
            f"SELECT DISTINCT customer_id FROM core.dim_customer "
            f"WHERE lower(trim({column})) IN (SELECT lower(trim(unnest(?::VARCHAR[]))))",
            [values],
        ).fetchall()
    return {str(r[0]) for r in rows}


def _linked(ws: Workspace, ids: set[str]) -> set[str]:
    """Every record the identity crosswalk joins to these ids (one person, many sources)."""
    if not ws.has_table(IDENTITY) or not ids:
        return ids
    rows = ws.duck.execute(
        f"WITH people AS (SELECT DISTINCT customer_id FROM {IDENTITY} "
        "WHERE customer_id IN (SELECT unnest(?::VARCHAR[])) "
        "OR source_id IN (SELECT unnest(?::VARCHAR[]))) "
        f"SELECT source_id FROM {IDENTITY} WHERE customer_id IN (SELECT * FROM people) "
        "UNION SELECT customer_id FROM people",
        [sorted(ids), sorted(ids)],
    ).fetchall()
    return ids | {str(r[0]) for r in rows}


def _values(ws: Workspace, ids: set[str], column: str) -> frozenset[str]:
    if column not in _customer_columns(ws) or not ids:
        return frozenset()
    rows = ws.duck.execute(
        f"SELECT DISTINCT trim(CAST({column} AS VARCHAR)) FROM core.dim_customer "
        "WHERE customer_id IN (SELECT unnest(?::VARCHAR[])) AND {column} IS NOT NULL".replace(
            "{column}", column
        ),
        [sorted(ids)],
    ).fetchall()
    return frozenset(str(r[0]) for r in rows if r[0])


def find_subjects(ws: Workspace, *, ids: Iterable[str] = (), emails: Iterable[str] = (),
                  phones: Iterable[str] = ()) -> Subjects:  # fmt: skip
    """The people named by ``ids``/``emails``/``phones``, expanded through the crosswalk.

    An id the warehouse does not know is still erased (it may sit in a landing file, a
    quarantined row or a mart); an e-mail or phone that matches no customer is an error,
    since there is nothing to erase by.
    """
    ids = [str(i).strip() for i in ids if str(i).strip()]
    emails, phones = list(emails), list(phones)
    if not ids and not emails and not phones:
        raise DataError("name at least one customer: CUSTOMER_ID..., --email or --phone")
    found = set(ids)
    for kind, values in (("email", emails), ("phone", phones)):
        hit = _lookup(ws, kind, values, phone=kind == "phone")
        if values and not hit:
            shown = ", ".join(v[:60] for v in values[:3])
            raise DataError(f"no customer in core.dim_customer has {kind} {shown}; check the "
                            f"value, or erase by CUSTOMER_ID")  # fmt: skip
        found |= hit
    found = _linked(ws, found)
    email_values = _values(ws, found, "email") | {e.strip() for e in emails}
    phone_values = _values(ws, found, "phone") | {p.strip() for p in phones}
    return Subjects(
        ids=frozenset(found),
        emails=frozenset(e for e in email_values if len(e) >= MIN_NEEDLE),
        phones=frozenset(p for p in phone_values if len(digits(p)) >= 6),
        names=_values(ws, found, "name"),
        addresses=_values(ws, found, "address"),
    )
