"""Masking personal data (e-mails, phones, card and ID numbers) in every ticket text shown."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["EMAIL_PATTERN", "luhn_valid", "mask_pii", "mask_texts"]

EMAIL_PATTERN = _EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Chinese resident ID: 6-digit area, birth date, 3-digit sequence, check digit (or X).
_CN_ID = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])"
                    r"(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])")
# 13-19 digits, optionally grouped by spaces or dashes (a payment card, checked with Luhn).
_CARD = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
# Chinese mobiles (1[3-9] + 9 digits, optional +86) and international numbers.
_CN_MOBILE = re.compile(r"(?<![\d])(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?![\d])")
_INTL_PHONE = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ -]?\(?\d{1,4}\)?){2,5}(?!\d)")
# A local number in groups, not a piece of a longer run of digit groups (a card, an ID).
_PHONE = re.compile(r"(?<![\w-])(?<!\d )\(?\d{2,4}\)?[ -]\d{3,4}[ -]\d{3,4}(?![\d]|[ -]\d)")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check of payment card numbers.

    Examples
    --------
    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _id_valid(number: str) -> bool:
    body, check = number[:17], number[17].upper()
    return _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11] == check


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card]" if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)


def _cn_id(match: re.Match[str]) -> str:
    return "[id]" if _id_valid(match.group(0)) else match.group(0)


def mask_pii(text: str) -> str:
    """``text`` with e-mail addresses, phone numbers, payment card numbers (Luhn-valid) and
    Chinese resident ID numbers (check digit valid) replaced by ``[email]``, ``[phone]``,
    ``[card]`` and ``[id]``. Order numbers and amounts are left alone.

    Examples
    --------
    >>> mask_pii("call 13812345678 or mail li.wei@example.com, card 4111 1111 1111 1111")
    'call [phone] or mail [email], card [card]'
    >>> mask_pii("身份证11010519491231002X，订单O12345678")
    '身份证[id]，订单O12345678'
    """
    if not text:
        return text
    text = _EMAIL.sub("[email]", text)
    text = _CN_ID.sub(_cn_id, text)
    # Mobiles before cards: an 11-digit mobile can pass the Luhn check by chance, and the
    # mobile pattern cannot match inside a longer run of digits.
    text = _CN_MOBILE.sub("[phone]", text)
    text = _CARD.sub(_card, text)
    text = _INTL_PHONE.sub("[phone]", text)
    return _PHONE.sub("[phone]", text)


def mask_texts(texts: Iterable[str | None]) -> list[str]:
    """:func:`mask_pii` of every text (missing texts become empty strings)."""
    return [mask_pii(t) if isinstance(t, str) else "" for t in texts]
