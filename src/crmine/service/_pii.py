"""Masking personal data (e-mails, phones, card and ID numbers, names) in every ticket text
shown, with the spans of the shared recognisers (:mod:`crmine._pii_rules`, the ones the
privacy scanner uses)."""

from __future__ import annotations

from collections.abc import Iterable

from crmine._pii_rules import EMAIL_PATTERN, luhn_ok, mask

__all__ = ["EMAIL_PATTERN", "luhn_valid", "mask_pii", "mask_texts"]


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check of payment card numbers.

    Examples
    --------
    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    return luhn_ok(digits)


def mask_pii(text: str) -> str:
    """``text`` with e-mail addresses, phone numbers, payment card numbers (Luhn-valid),
    Chinese resident ID numbers (check character and birth date valid) and cued names
    replaced by ``[email]``, ``[phone]``, ``[card]``, ``[id]`` and ``[name]``. Order numbers
    and amounts are left alone.

    Examples
    --------
    >>> mask_pii("call 13812345678 or mail li.wei@example.com, card 4111 1111 1111 1111")
    'call [phone] or mail [email], card [card]'
    >>> mask_pii("身份证11010519491231002X，订单O12345678")
    '身份证[id]，订单O12345678'
    """
    return mask(text) if text else text


def mask_texts(texts: Iterable[str | None]) -> list[str]:
    """:func:`mask_pii` of every text (missing texts become empty strings)."""
    return [mask_pii(t) if isinstance(t, str) else "" for t in texts]
