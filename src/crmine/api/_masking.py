"""Personal data masked for roles without PII rights: in rows, records and messages.

The personal columns are those the canonical schema flags ``pii=True`` (name, e-mail, phone,
address) and birth date and free text, wherever they appear. Messages (errors included) are
scrubbed of anything shaped like an e-mail address or a phone number, since a value can reach
a message from any column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crmine.warehouse._schema import ENTITIES

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MASK", "PII_COLUMNS", "mask_frame", "mask_record", "scrub"]

MASK = "***"
# The schema flags direct identifiers; a birth date (a quasi-identifier, which
# crmine.privacy classifies as such) and free text (tickets, surveys: people write names and
# addresses in them) are masked here too.
PII_COLUMNS = frozenset({c.name for e in ENTITIES.values() for c in e.columns if c.pii}
                        | {"birth_date", "text", "customer_name", "ticket_text",
                           "survey_text"})
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# A leading "+" or 10+ digits in a row: dates and grouped amounts are not phone numbers.
_PHONE = re.compile(r"(?<![\w.])\+\d[\d ()-]{7,}\d|(?<![\d.,])\d{10,15}(?![\d.,])")


def _masked(value: Any) -> Any:
    return None if value is None else MASK


def mask_frame(frame: pd.DataFrame, pii: bool) -> pd.DataFrame:
    """``frame`` with its personal columns masked unless ``pii`` (a copy when masking)."""
    hit = [c for c in frame.columns if str(c) in PII_COLUMNS]
    if pii or not hit:
        return frame
    out = frame.copy()
    for c in hit:
        out[c] = out[c].astype(object).where(out[c].isna(), MASK)
    return out


def mask_record(record: Mapping[str, Any], pii: bool) -> dict[str, Any]:
    """A mapping with personal keys masked unless ``pii`` (nested mappings and lists too)."""
    if pii:
        return dict(record)
    out: dict[str, Any] = {}
    for k, v in record.items():
        if k in PII_COLUMNS:
            out[k] = _masked(v)
        elif isinstance(v, Mapping):
            out[k] = mask_record(v, pii)
        elif isinstance(v, list):
            out[k] = [mask_record(x, pii) if isinstance(x, Mapping) else x for x in v]
        else:
            out[k] = v
    return out


def scrub(text: str, pii: bool = False) -> str:
    """``text`` with e-mail addresses and phone numbers masked unless ``pii``."""
    if pii:
        return text
    return _PHONE.sub(MASK, _EMAIL.sub(MASK, text))
