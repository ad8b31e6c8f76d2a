"""Extra customer sources naming the demo's customers differently: a web shop and a help desk.

``make_identity_sources(rng, customers)`` returns two customer tables - the shop's accounts
(ids ``A0000001``...) and the help desk's contacts (``H000001``...) - and the truth,
``truth.identity``: one row per record of every source (the CRM's too) with the person it
belongs to (``person_id``: the CRM customer id, or ``P...`` for people only one source knows).
Two records are a true pair when they share a ``person_id``.

What differs between the sources, as in real exports: Chinese names in characters in the CRM
and in pinyin in the shop (either order, any case), typos in names and e-mails, nicknames
(James/Jim), phone numbers formatted differently or with two adjacent digits transposed,
new e-mail addresses, moved customers (new address, sometimes a new city), missing birth
dates, a day and month written the other way round, a person with two shop accounts, people
only the shop or the help desk knows, and household members sharing a phone and address
with a customer (different people: not a pair).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmine.demo._customers import GIVEN, STREETS, SURNAMES

__all__ = ["make_identity_sources"]

SHOP_SHARE = 0.35  # share of CRM customers with a shop account
HELPDESK_SHARE = 0.2  # share of CRM customers the help desk knows
ONLY_SHARE = 0.08  # records of people the CRM does not know, as a share of a source
HOUSEHOLD_SHARE = 0.02  # a customer's household member, as a share of a source
SECOND_ACCOUNT_SHARE = 0.03  # shop customers with a second account

_PINYIN = {c: p for c, p in SURNAMES} | {c: p for c, p in GIVEN}
_NICK = {"James": "Jim", "Oliver": "Ollie", "Sophia": "Sophie", "Lucas": "Luke",
         "Ethan": "Eth", "Emma": "Em", "Chloe": "Chloé", "Noah": "Noah"}  # fmt: skip
_NICK_MATCHED = {"James", "Oliver", "Sophia", "Lucas", "Emma"}  # those crmine knows


def _pinyin_name(name: str, rng: np.random.Generator) -> str:
    """张秀英 -> "Xiuying Zhang", "ZHANG Xiuying" or "zhang xiuying"."""
    sur, given = _PINYIN.get(name[0], name[0]), _PINYIN.get(name[1:], name[1:])
    style = rng.integers(3)
    if style == 0:
        return f"{given.title()} {sur.title()}"
    if style == 1:
        return f"{sur.upper()} {given.title()}"
    return f"{sur} {given}"


def _typo(text: str, rng: np.random.Generator) -> str:
    """One keyboard slip: a letter dropped, doubled or swapped with its neighbour."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if len(letters) < 4:
        return text
    i = int(letters[1 + rng.integers(len(letters) - 2)])
    kind = rng.integers(3)
    if kind == 0:
        return text[:i] + text[i + 1:]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    if i + 1 < len(text) and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text[:i] + text[i] + text[i:]


def _transpose_digits(phone: str, rng: np.random.Generator) -> str:
    digits = [c for c in phone if c.isdigit()]
    for _ in range(10):  # two different adjacent digits among the last eight
        i = len(digits) - 8 + int(rng.integers(7))
        if digits[i] != digits[i + 1]:
            digits[i], digits[i + 1] = digits[i + 1], digits[i]
            break
    return "".join(digits)


def _plain_phone(phone: str, rng: np.random.Generator) -> str:
    digits = "".join(c for c in phone if c.isdigit())
    style = rng.integers(3)
    if style == 0:
        return digits[-11:]
    if style == 1:
        return "0086-" + digits[-11:]
    return f"+86 {digits[-11:-8]}-{digits[-8:-4]}-{digits[-4:]}"


def _new_email(name: str, rng: np.random.Generator) -> str:
    n = int(rng.integers(10, 99_999))
    domain = ("qq.com", "163.com", "gmail.com", "outlook.com")[int(rng.integers(4))]
    return f"user{n}@{domain}"


def _new_address(city: str, rng: np.random.Generator) -> str:
    street = STREETS[int(rng.integers(len(STREETS)))]
    return f"No. {int(rng.integers(1, 999))} {street}, {city}"


def _swap_day_month(birth: pd.Timestamp) -> pd.Timestamp:
    if birth.day <= 12 and birth.day != birth.month:
        return birth.replace(month=birth.day, day=birth.month)
    return birth + pd.Timedelta(days=1)


def _derived(crm: Mapping[str, Any], rng: np.random.Generator, *,
             pinyin_p: float) -> dict[str, object]:  # fmt: skip
    """A record another source keeps of the CRM customer ``crm``, written its own way."""
    name = str(crm["name"])
    chinese = not name.isascii()
    email_how = rng.choice(["same", "typo", "new", "missing"], p=[0.5, 0.1, 0.3, 0.1])
    phone_how = rng.choice(["same", "transposed", "missing", "new"], p=[0.55, 0.15, 0.15, 0.15])
    birth_how = rng.choice(["same", "missing", "swapped"], p=[0.7, 0.2, 0.1])
    name_how = rng.choice(["same", "typo", "nickname"], p=[0.75, 0.15, 0.10])
    moved = rng.random() < 0.35
    if email_how != "same" and phone_how != "same":
        # nothing exact left: keep what a person would need to recognise the customer
        birth_how = "same"
        if moved:
            name_how = "same"
    shown = _pinyin_name(name, rng) if chinese and rng.random() < pinyin_p else name
    if name_how == "typo":  # names in characters are mistyped in pinyin, as people do
        shown = _typo(shown if shown.isascii() else _pinyin_name(name, rng), rng)
    elif name_how == "nickname" and not chinese:
        first, _, last = shown.partition(" ")
        shown = f"{_NICK.get(first, first)} {last}" if first in _NICK_MATCHED else shown
    email = str(crm["email"])
    if email_how == "typo":
        local, _, domain = email.partition("@")
        email = _typo(local, rng) + "@" + domain
    elif email_how == "new":
        email = _new_email(name, rng)
    elif email_how == "missing":
        email = ""
    else:
        email = email.upper() if rng.random() < 0.2 else email
    phone = str(crm["phone"])
    phone = {"same": _plain_phone(phone, rng), "transposed": _transpose_digits(phone, rng),
             "missing": "", "new": f"1{int(rng.integers(30_0000_0000, 99_9999_9999))}"
             }[str(phone_how)]  # fmt: skip
    birth = pd.Timestamp(crm["birth_date"])
    birth_out = {"same": birth, "missing": pd.NaT,
                 "swapped": _swap_day_month(birth)}[str(birth_how)]
    city = str(crm["city"])
    address = str(crm["address"])
    if moved:
        if rng.random() < 0.3:
            city = ("Shanghai", "Beijing", "Shenzhen", "Hangzhou")[int(rng.integers(4))]
        address = _new_address(city, rng)
    return {"name": shown, "email": email or None, "phone": phone or None,
            "birth_date": birth_out, "address": address, "city": city}  # fmt: skip


def _stranger(rng: np.random.Generator, crm: list[dict[str, Any]]) -> dict[str, object]:
    """Someone the CRM does not know, drawn from the same names and cities."""
    donor = crm[int(rng.integers(len(crm)))]
    name = str(donor["name"])  # the same name as a customer: a hard non-match
    birth = pd.Timestamp("1950-01-01") + pd.Timedelta(days=int(rng.integers(0, 20_000)))
    city = str(crm[int(rng.integers(len(crm)))]["city"])
    return {"name": name, "email": _new_email(name, rng),
            "phone": f"1{int(rng.integers(30_0000_0000, 99_9999_9999))}",
            "birth_date": birth, "address": _new_address(city, rng), "city": city}


def _household(rng: np.random.Generator, crm: Mapping[str, Any]) -> dict[str, object]:
    """A customer's partner or child: same phone and address, another person."""
    name = str(crm["name"])
    if name.isascii():
        other = f"{('Mia', 'Noah', 'Ava', 'Ethan')[int(rng.integers(4))]} {name.split(' ')[-1]}"
    else:  # another given name, not one sounding alike (伟/娜, not 敏/明)
        own = _PINYIN.get(name[1:], "")
        others = [g for g, p in GIVEN if p[:1] != own[:1]]
        other = name[0] + others[int(rng.integers(len(others)))]
    birth = pd.Timestamp(crm["birth_date"])
    birth = birth + pd.Timedelta(days=int(rng.integers(900, 9_000)) * (1 if birth.year < 1985
                                                                       else -1))
    return {"name": other, "email": None, "phone": _plain_phone(str(crm["phone"]), rng),
            "birth_date": birth, "address": crm["address"], "city": crm["city"]}


def _source(rng: np.random.Generator, crm: list[dict[str, Any]], *, share: float, prefix: str,
            width: int, pinyin_p: float, second_accounts: float
            ) -> tuple[pd.DataFrame, list[str]]:  # fmt: skip
    n = len(crm)
    known = np.sort(rng.choice(n, size=max(1, round(share * n)), replace=False))
    rows: list[dict[str, object]] = []
    persons: list[str] = []
    for i in known:
        rows.append(_derived(crm[i], rng, pinyin_p=pinyin_p))
        persons.append(str(crm[i]["customer_id"]))
        if rng.random() < second_accounts:
            rows.append(_derived(crm[i], rng, pinyin_p=pinyin_p))
            persons.append(str(crm[i]["customer_id"]))
    n_only = round(ONLY_SHARE * len(rows))
    for k in range(n_only):
        rows.append(_stranger(rng, crm))
        persons.append(f"P{prefix}{k:06d}")
    n_house = round(HOUSEHOLD_SHARE * len(rows))
    for k, i in enumerate(rng.choice(n, size=n_house, replace=False)):
        rows.append(_household(rng, crm[i]))
        persons.append(f"Q{prefix}{k:06d}")
    order = rng.permutation(len(rows))
    frame = pd.DataFrame([rows[j] for j in order])
    frame.insert(0, "customer_id", [f"{prefix}{k + 1:0{width}d}" for k in range(len(rows))])
    frame["birth_date"] = pd.to_datetime(frame["birth_date"]).dt.normalize()
    return frame, [persons[j] for j in order]


def make_identity_sources(rng: np.random.Generator, customers: pd.DataFrame
                          ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:  # fmt: skip
    """The shop's and the help desk's customer tables and ``truth.identity``.

    Parameters
    ----------
    rng : numpy Generator
        Its own stream: the rest of the company does not change with it.
    customers : DataFrame
        The CRM's canonical customers table.

    Returns
    -------
    sources : dict
        ``{"shop": DataFrame, "helpdesk": DataFrame}`` with canonical customer columns
        (customer_id, name, email, phone, birth_date, address, city).
    truth : DataFrame
        source (as the demo workspace loads it: ``demo:customers``, ``demo:shop``,
        ``demo:helpdesk``), source_id, person_id: every record of the CRM and both sources.
    """
    crm = customers[["customer_id", "name", "email", "phone", "birth_date", "address",
                     "city"]].reset_index(drop=True)  # fmt: skip
    rows = crm.to_dict("records")
    shop, shop_persons = _source(rng, rows, share=SHOP_SHARE, prefix="A", width=7, pinyin_p=0.8,
                                 second_accounts=SECOND_ACCOUNT_SHARE)
    desk, desk_persons = _source(rng, rows, share=HELPDESK_SHARE, prefix="H", width=6,
                                 pinyin_p=0.3, second_accounts=0.0)
    truth = pd.concat(
        [
            pd.DataFrame({"source": "demo:customers", "source_id": crm["customer_id"].astype(str),
                          "person_id": crm["customer_id"].astype(str)}),
            pd.DataFrame({"source": "demo:shop", "source_id": shop["customer_id"],
                          "person_id": shop_persons}),
            pd.DataFrame({"source": "demo:helpdesk", "source_id": desk["customer_id"],
                          "person_id": desk_persons}),
        ],
        ignore_index=True,
    )  # fmt: skip
    return {"shop": shop, "helpdesk": desk}, truth
