"""Normalised keys of identity records: e-mail, phone, name (pinyin, nicknames), address.

Every function maps a pandas Series to a Series of the same index, with missing values where
the input gives nothing to compare (an e-mail without ``@``, a phone with fewer than seven
digits). Work is done once per distinct value: exports repeat names and cities many times.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pandas as pd

__all__ = [
    "NICKNAMES",
    "address_key",
    "email_key",
    "name_key",
    "phone_key",
    "text_key",
    "to_pinyin",
]

# Common English nicknames and short forms -> the formal given name both sides map to.
NICKNAMES: dict[str, str] = {
    "bob": "robert", "bobby": "robert", "rob": "robert", "robbie": "robert",
    "bill": "william", "billy": "william", "will": "william", "willy": "william",
    "liam": "william", "jim": "james", "jimmy": "james", "jamie": "james",
    "mike": "michael", "mick": "michael", "mickey": "michael", "tom": "thomas",
    "tommy": "thomas", "dick": "richard", "rick": "richard", "ricky": "richard",
    "rich": "richard", "kate": "katherine", "katie": "katherine", "kathy": "katherine",
    "cathy": "katherine", "catherine": "katherine", "liz": "elizabeth", "beth": "elizabeth",
    "betty": "elizabeth", "lizzie": "elizabeth", "eliza": "elizabeth", "ed": "edward",
    "eddie": "edward", "ted": "edward", "ned": "edward", "joe": "joseph", "joey": "joseph",
    "jon": "jonathan", "johnny": "john", "jack": "john", "dan": "daniel", "danny": "daniel",
    "dave": "david", "davy": "david", "chris": "christopher", "matt": "matthew",
    "nick": "nicholas", "nicky": "nicholas", "alex": "alexander", "sasha": "alexander",
    "andy": "andrew", "drew": "andrew", "tony": "anthony", "steve": "stephen",
    "steven": "stephen", "ben": "benjamin", "benny": "benjamin", "sam": "samuel",
    "sammy": "samuel", "pat": "patricia", "patty": "patricia", "trish": "patricia",
    "jen": "jennifer", "jenny": "jennifer", "sue": "susan", "susie": "susan",
    "peggy": "margaret", "maggie": "margaret", "meg": "margaret", "greg": "gregory",
    "fred": "frederick", "freddie": "frederick", "charlie": "charles", "chuck": "charles",
    "harry": "henry", "hank": "henry", "larry": "lawrence", "len": "leonard",
    "lenny": "leonard", "abby": "abigail", "becky": "rebecca", "vicky": "victoria",
    "tori": "victoria", "manny": "emmanuel", "olly": "oliver", "ollie": "oliver",
    "soph": "sophia", "sophie": "sophia", "em": "emma", "emmy": "emma", "luke": "lucas",
    "zach": "zachary", "josh": "joshua", "nate": "nathan", "tim": "timothy",
    "timmy": "timothy", "ken": "kenneth", "kenny": "kenneth", "ron": "ronald",
    "ronnie": "ronald", "don": "donald", "donnie": "donald", "gerry": "gerald",
    "jerry": "gerald", "al": "albert", "bert": "albert", "frank": "francis",
}  # fmt: skip

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _per_distinct(values: pd.Series, fn: Callable[[str], str | None]) -> pd.Series:
    """``fn`` applied once per distinct non-missing value, mapped back onto ``values``."""
    text = values.astype("string")
    distinct = text.dropna().unique()
    table = {v: fn(str(v)) for v in distinct}
    return text.map(table, na_action="ignore").astype("string")


def to_pinyin(text: str) -> str:
    """Chinese characters in ``text`` as toneless pinyin syllables separated by spaces.

    Uses pypinyin's dictionary, shipped with the package (nothing is downloaded).

    Examples
    --------
    >>> to_pinyin("张伟")
    'zhang wei'
    >>> to_pinyin("Zhang Wei")
    'Zhang Wei'
    """
    if not _CJK.search(text):
        return text
    from pypinyin import Style, lazy_pinyin

    return " ".join(s.strip() for s in lazy_pinyin(text, style=Style.NORMAL) if s.strip())


def _ascii_fold(text: str) -> str:
    """Lower case without accents (``Zoë`` -> ``zoe``), after transliterating Chinese."""
    folded = unicodedata.normalize("NFKD", to_pinyin(text))
    return "".join(c for c in folded if not unicodedata.combining(c)).lower()


def text_key(values: pd.Series) -> pd.Series:
    """Lower-case ASCII words separated by single spaces (Chinese as pinyin); empty -> NA."""

    def one(v: str) -> str | None:
        out = _NON_ALNUM.sub(" ", _ascii_fold(v)).strip()
        return out or None

    return _per_distinct(values, one)


def name_key(values: pd.Series) -> pd.Series:
    """A person's name as sorted pinyin/ASCII tokens, nicknames replaced by the formal name.

    ``张伟``, ``Zhang Wei``, ``WEI ZHANG`` and ``zhang-wei`` share the key ``wei zhang``;
    ``Bob Smith`` and ``Robert Smith`` share ``robert smith``. Chinese given names written as
    one pinyin word (``Xiuying``) and as syllables (``Xiu Ying``, from characters) agree
    because pinyin from characters is joined per given name: the surname is the first
    character, the rest one token.

    Examples
    --------
    >>> name_key(pd.Series(["张秀英", "Xiuying Zhang", "Bob  Smith", None])).tolist()
    ['xiuying zhang', 'xiuying zhang', 'robert smith', <NA>]
    """

    def one(v: str) -> str | None:
        if _CJK.search(v):
            chars = [c for c in v if not c.isspace()]
            cjk = [c for c in chars if _CJK.match(c)]
            if len(cjk) == len(chars) and 2 <= len(chars) <= 4:
                # surname (one character; two-character surnames are rare) + given name
                sur, given = to_pinyin(chars[0]), to_pinyin("".join(chars[1:]))
                tokens = [sur.replace(" ", ""), given.replace(" ", "")]
            else:
                tokens = _NON_ALNUM.sub(" ", _ascii_fold(v)).split()
        else:
            tokens = _NON_ALNUM.sub(" ", _ascii_fold(v)).split()
        tokens = [NICKNAMES.get(t, t) for t in tokens]
        return " ".join(sorted(tokens)) or None

    return _per_distinct(values, one)


def email_key(values: pd.Series) -> pd.Series:
    """E-mail in lower case without spaces and without a ``+tag``; not an address -> NA.

    Examples
    --------
    >>> email_key(pd.Series([" Wei.Zhang+shop@Example.CN ", "n/a"])).tolist()
    ['wei.zhang@example.cn', <NA>]
    """

    def one(v: str) -> str | None:
        e = v.strip().lower().replace(" ", "")
        if not _EMAIL.match(e):
            return None
        local, domain = e.rsplit("@", 1)
        return local.split("+", 1)[0] + "@" + domain

    return _per_distinct(values, one)


def phone_key(values: pd.Series) -> pd.Series:
    """The last ten digits of a phone number (country code and trunk prefix dropped).

    ``+86 138 0013 8000``, ``0086-13800138000`` and ``13800138000`` share ``3800138000``;
    fewer than seven digits give NA.

    Examples
    --------
    >>> phone_key(pd.Series(["+86 138 0013 8000", "(0)13800138000", "12345"])).tolist()
    ['3800138000', '3800138000', <NA>]
    """

    def one(v: str) -> str | None:
        digits = "".join(c for c in v if c.isdigit())
        if len(digits) < 7:
            return None
        return digits[-10:]

    return _per_distinct(values, one)


def address_key(values: pd.Series) -> pd.Series:
    """An address as lower-case words, common words shortened (``road`` -> ``rd``)."""
    short = {"road": "rd", "street": "st", "avenue": "ave", "number": "no", "apartment": "apt",
             "building": "bldg", "floor": "fl", "lu": "rd", "jie": "st"}  # fmt: skip

    def one(v: str) -> str | None:
        words = _NON_ALNUM.sub(" ", _ascii_fold(v)).split()
        return " ".join(short.get(w, w) for w in words) or None

    return _per_distinct(values, one)
