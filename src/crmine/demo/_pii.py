"""Personal data planted in free text, with its truth, to measure recognisers against.

The demo's ticket texts carry no personal data of their own; :func:`plant_pii` writes some of
it into a share of them, in English and Chinese, the way customers do ("call me on …",
"我的手机号是…"), and returns exactly what was planted where. Not part of ``generate`` (so the
demo company's texts stay as other analyses expect): call it on any texts.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

__all__ = ["PLANTED_KINDS", "card_number", "plant_pii", "resident_id"]

PLANTED_KINDS = ("email", "phone", "cn_mobile", "cn_resident_id", "card", "name")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_REGIONS = ("110105", "310104", "440106", "510107", "330106", "420106", "320102")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰")
_FIRST = ("Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Mateo")
_LAST = ("Smith", "Brown", "Taylor", "Wilson", "Garcia", "Martin", "Lee", "Walker", "Young")
_CARD_PREFIXES = ("4", "51", "52", "55", "37", "6011", "62")


def resident_id(rng: np.random.Generator) -> str:
    """A valid Chinese resident ID number (region, birth date, sequence, check character)."""
    born = dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 55)))
    body = f"{rng.choice(_REGIONS)}{born:%Y%m%d}{int(rng.integers(0, 1000)):03d}"
    return body + _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def card_number(rng: np.random.Generator) -> str:
    """A 16-digit (15 for 37…) card number of a real prefix passing the Luhn check."""
    prefix = str(rng.choice(_CARD_PREFIXES))
    length = 15 if prefix == "37" else 16
    body = prefix + "".join(str(d) for d in rng.integers(0, 10, length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body + "0")):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _value(kind: str, rng: np.random.Generator, chinese: bool) -> str:
    if kind == "email":
        user = f"{rng.choice(_FIRST).lower()}.{rng.choice(_LAST).lower()}{rng.integers(1, 999)}"
        return f"{user}@{rng.choice(['example.com', 'mail.example.cn', 'qq.example'])}"
    if kind == "phone":
        return str(rng.choice([
            f"+44 20 {rng.integers(1000, 9999)} {rng.integers(1000, 9999)}",
            f"+1 ({rng.integers(200, 999)}) {rng.integers(200, 999)}-{rng.integers(1000, 9999)}",
            f"(0{rng.integers(10, 99)}) {rng.integers(1000, 9999)} {rng.integers(1000, 9999)}",
        ]))  # fmt: skip
    if kind == "cn_mobile":
        number = f"1{rng.choice(list('3456789'))}{rng.integers(0, 10**9):09d}"
        style = int(rng.integers(0, 3))
        return [number, f"+86 {number[:3]} {number[3:7]} {number[7:]}",
                f"{number[:3]}-{number[3:7]}-{number[7:]}"][style]  # fmt: skip
    if kind == "cn_resident_id":
        return resident_id(rng)
    if kind == "card":
        n = card_number(rng)
        return " ".join(n[i : i + 4] for i in range(0, len(n), 4)) if rng.random() < 0.5 else n
    if chinese:
        return str(rng.choice(list(_SURNAMES))) + str(rng.choice(_GIVEN))
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


_EN = {
    "email": "Please reply to {v}.",
    "phone": "You can call me on {v} after six.",
    "cn_mobile": "My mobile is {v}.",
    "cn_resident_id": "My ID card number is {v}.",
    "card": "I paid with card {v} and was charged twice.",
    "name": "My name is {v}.",
}
_ZH = {
    "email": "请回复到{v}。",
    "phone": "请打电话 {v} 联系我。",
    "cn_mobile": "我的手机号是 {v}，谢谢。",
    "cn_resident_id": "身份证号 {v}",
    "card": "我用卡 {v} 付的款。",
    "name": "我叫{v}，",
}


def plant_pii(texts: pd.Series, *, share: float = 0.3, seed: int = 0
              ) -> tuple[pd.Series, pd.DataFrame]:  # fmt: skip
    """``texts`` with personal data added to ``share`` of them, and the truth: one row per
    planted value (``row``: position in ``texts``, ``kind``, ``value``, ``language``)."""
    rng = np.random.default_rng(seed)
    out = texts.fillna("").astype(str).to_numpy(dtype=object).copy()
    truth = []
    for i in np.flatnonzero(rng.random(len(out)) < share):
        chinese = bool(rng.random() < 0.5)
        for kind in rng.choice(PLANTED_KINDS, size=int(rng.integers(1, 3)), replace=False):
            value = _value(str(kind), rng, chinese)
            sentence = (_ZH if chinese else _EN)[str(kind)].format(v=value)
            out[i] = f"{out[i]} {sentence}".strip()
            truth.append({"row": int(i), "kind": str(kind), "value": value,
                          "language": "zh" if chinese else "en"})  # fmt: skip
    return pd.Series(out, index=texts.index, name=texts.name), pd.DataFrame(truth)
