"""The one set of rules that recognise personal data in free text, shared by the privacy
scanner (``crmine.privacy``) and the masking of every ticket text shown (``crmine.service``).

Presidio-style but without downloaded models: each kind is a pattern plus a validation rule
(a checksum, a valid date, a plausible length), so that order ids and amounts are not taken
for phone or card numbers. It sits below both packages: ``crmine.privacy`` imports the
pipeline, which imports every analysis, so an analysis cannot import it.

Kinds: ``email``, ``phone`` (international, with a + or separators), ``cn_mobile`` (Chinese
mobile numbers, 1[3-9] and 9 digits, optionally +86), ``cn_resident_id`` (18 characters: region,
valid birth date, sequence, ISO 7064 MOD 11-2 check character), ``card`` (13-19 digits of a
known card prefix passing the Luhn check), ``name`` (after a cue such as "my name is", "我叫").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

__all__ = ["EMAIL_PATTERN", "KINDS", "PLACEHOLDERS", "Finding", "detect", "luhn_ok", "mask",
           "resident_id_ok"]

KINDS = ("email", "phone", "cn_mobile", "cn_resident_id", "card", "name")
# What a masked text shows in place of each kind.
PLACEHOLDERS: Mapping[str, str] = {
    "email": "[email]", "phone": "[phone]", "cn_mobile": "[phone]", "cn_resident_id": "[id]",
    "card": "[card]", "name": "[name]",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str


def luhn_ok(number: str) -> bool:
    """The Luhn check of a card number (digits only).

    Examples
    --------
    >>> luhn_ok("4111111111111111"), luhn_ok("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident_id_ok(value: str) -> bool:
    """A Chinese resident ID: 17 digits and a check character, with a real birth date."""
    v = value.upper()
    if not re.fullmatch(r"\d{17}[\dX]", v):
        return False
    try:
        born = dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    if not dt.date(1900, 1, 1) <= born <= dt.date.today():
        return False
    check = _ID_CHECK[sum(int(c) * w for c, w in zip(v[:17], _ID_WEIGHTS, strict=True)) % 11]
    return v[17] == check


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# Boundaries (ASCII: a Chinese character next to a number is a boundary): not inside a
# longer run of letters or digits (an order id "Z9000011234567").
EMAIL_PATTERN = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w])",
    re.ASCII)  # fmt: skip
_CN_MOBILE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\w)", re.ASCII
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4})"
    r"{1,4}(?!\w)|(?<![\w+])\+\d{8,15}(?!\w)",
    re.ASCII,
)
_RESIDENT = re.compile(r"(?<![\w])\d{17}[\dXx](?![\w])", re.ASCII)
_CARD = re.compile(r"(?<![\w])(?:\d[ -]?){12,18}\d(?![\w])", re.ASCII)
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6(?:011|5)|62|35)")
_NAME_CUE = re.compile(
    r"(?:(?i:my name is|this is|i am|i'm|name:|dear|regards,|thanks,|signed)\s+)"
    r"([A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})"
    r"|(?:我叫|我是|姓名[:：]?|联系人[:：]?|本人)\s*([\u4e00-\u9fff]{2,3})"
)
_ANY_DIGIT = re.compile(r"\d")
_ANY_NAME_CUE = re.compile(r"(?i:name|this is|i am|i'm|dear|regards|thanks|signed)|我叫|我是|"
                           r"姓名|联系人|本人")  # fmt: skip


def _emails(text: str) -> Iterator[Finding]:
    for m in EMAIL_PATTERN.finditer(text):
        yield Finding("email", m.start(), m.end(), m[0])


def _cn_mobiles(text: str) -> Iterator[Finding]:
    for m in _CN_MOBILE.finditer(text):
        yield Finding("cn_mobile", m.start(), m.end(), m[0])


def _phones(text: str) -> Iterator[Finding]:
    for m in _PHONE.finditer(text):
        raw = m[0]
        n = len(_digits(raw))
        # A phone has 8-15 digits and is written with a + or with separators between groups;
        # a bare run of digits is an id or an amount, a dotted number a decimal or a date.
        if not 8 <= n <= 15 or re.fullmatch(r"\d+([.,]\d+)?", raw):
            continue
        if re.fullmatch(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}", raw) or (
            "." in raw and not raw.startswith("+")
        ):
            continue
        yield Finding("phone", m.start(), m.end(), raw)


def _resident_ids(text: str) -> Iterator[Finding]:
    for m in _RESIDENT.finditer(text):
        if resident_id_ok(m[0]):
            yield Finding("cn_resident_id", m.start(), m.end(), m[0])


def _cards(text: str) -> Iterator[Finding]:
    for m in _CARD.finditer(text):
        d = _digits(m[0])
        if 13 <= len(d) <= 19 and _CARD_PREFIX.match(d) and luhn_ok(d):
            yield Finding("card", m.start(), m.end(), m[0])


def _names(text: str) -> Iterator[Finding]:
    for m in _NAME_CUE.finditer(text):
        group = 1 if m[1] else 2
        yield Finding("name", m.start(group), m.end(group), m[group])


_RECOGNISERS: tuple[Callable[[str], Iterator[Finding]], ...] = (
    _emails, _resident_ids, _cards, _cn_mobiles, _phones, _names)  # fmt: skip


def detect(text: str | None) -> list[Finding]:
    """Every piece of personal data found in ``text``; an overlap keeps the first recogniser's
    (an ID number is not also a phone; a Chinese mobile is not also a generic phone)."""
    if not text:
        return []
    # Most ticket texts hold no digit, no @ and no name cue: skip the recognisers that
    # cannot match (the masking of a whole corpus is mostly this test).
    has_digit = _ANY_DIGIT.search(text) is not None
    found: list[Finding] = []
    for recognise in _RECOGNISERS:
        if recognise is _emails and "@" not in text:
            continue
        if recognise is _names and _ANY_NAME_CUE.search(text) is None:
            continue
        if recognise not in (_emails, _names) and not has_digit:
            continue
        for f in recognise(text):
            if not any(f.start < g.end and g.start < f.end for g in found):
                found.append(f)
    return sorted(found, key=lambda f: f.start)


def mask(text: str, placeholders: Mapping[str, str] = PLACEHOLDERS) -> str:
    """``text`` with every :func:`detect` span replaced by its kind's placeholder."""
    found = detect(text)
    if not found:
        return text
    parts, pos = [], 0
    for f in found:
        parts += [text[pos:f.start], placeholders.get(f.kind, f"[{f.kind}]")]
        pos = f.end
    return "".join([*parts, text[pos:]])
