"""A light English suffix stripper, so that "refund", "refunds", "refunded" and "refunding"
are one term (no download, no dependency). Deliberately light: plurals, -ed and -ing, a
final e and a doubled final consonant; derivations (-ment, -ly, -ation) are left alone, as
stripping them merges words that mean different things in a ticket ("deliver" / "delivery").

Examples
--------
>>> [stem(w) for w in ("refunds", "refunded", "refunding", "refund")]
['refund', 'refund', 'refund', 'refund']
>>> [stem(w) for w in ("charge", "charged", "charges", "charging")]
['charg', 'charg', 'charg', 'charg']
>>> [stem(w) for w in ("shipped", "shipping", "billed", "deliveries", "addresses", "status")]
['ship', 'ship', 'bill', 'delivery', 'address', 'status']
>>> [stem(w) for w in ("cancel", "cancelled", "canceled", "cancelling", "arrive", "arrived")]
['cancel', 'cancel', 'cancel', 'cancel', 'arriv', 'arriv']
"""

from __future__ import annotations

import re

__all__ = ["stem"]

_VOWEL = re.compile(r"[aeiouy]")
_KEEP_DOUBLE = frozenset("lsz")  # "bill", "miss", "buzz" keep their double letter
_MIN_STEM = 3


def _tidy(base: str) -> str:
    """After -ed / -ing: undouble ("shipp" -> "ship"; "bill" and "miss" keep theirs) and
    drop a final e ("arriv" for "arrived" as for "arrive")."""
    if (len(base) > _MIN_STEM and base[-1] == base[-2] and base[-1] not in _KEEP_DOUBLE
            and base[-1] not in "aeiou"):
        return base[:-1]
    return base[:-1] if base.endswith("e") and len(base) > _MIN_STEM else base


def _final(w: str) -> str:
    """British doubled l of long words ("cancell" of "cancelled" -> "cancel", as is
    "install" -> "instal" with "installed"), and a final e ("charge" -> "charg")."""
    if w.endswith("ll") and len(w) >= 6:
        return w[:-1]
    return w[:-1] if w.endswith("e") and len(w) > _MIN_STEM + 1 else w


def stem(word: str) -> str:
    """The stem of a lower-case English word (the word itself when too short to strip)."""
    if len(word) <= _MIN_STEM or not word.isascii():
        return word
    w = word
    if w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("ied") and len(w) > 4:
        return w[:-3] + "y"
    for suffix in ("ed", "ing"):
        base = w[: -len(suffix)]
        if w.endswith(suffix) and len(base) >= _MIN_STEM and _VOWEL.search(base):
            return _final(_tidy(base))
    return _final(w)
