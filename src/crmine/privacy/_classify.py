"""Classification of personal data per column (``crmine privacy scan``).

Every column of the warehouse gets a tag: ``direct_identifier`` (names a person on its own:
id, e-mail, phone, name, address, ID and card numbers), ``quasi_identifier`` (names a person
in combination: birth date, age, gender, postcode, city…), ``sensitive`` (harmful if
disclosed: income, health…) or ``none``. The tag comes from the data model's ``pii`` flags,
from the column's name, and from the recognisers run over a sample of its values - for a
structured column (most values are one e-mail, one phone…) and for free text (values that
contain some).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from crmine.privacy._detect import detect
from crmine.privacy._sql import base_tables, column_types, quote
from crmine.privacy._tables import is_id_column, target
from crmine.warehouse import Workspace
from crmine.warehouse._schema import ENTITIES

__all__ = ["TAGS", "classify_columns", "classify_values"]

TAGS = ("direct_identifier", "quasi_identifier", "sensitive", "none")
_DIRECT_NAMES = ("email", "e_mail", "phone", "mobile", "name", "address", "id_card",
                 "resident_id", "passport", "card_number", "iban", "姓名", "电话", "手机",
                 "身份证", "地址", "邮箱")  # fmt: skip
_NOT_A_PERSON = ("product_name", "campaign_name", "month_name", "day_name", "antecedent_names",
                 "consequent_names", "antecedent_name", "consequent_name", "view_name",
                 "table_name", "column_name")  # fmt: skip
_QUASI_NAMES = ("birth_date", "birthday", "age", "gender", "sex", "postcode", "postal_code",
                "zip", "zip_code", "city", "region", "country", "occupation", "education",
                "signup_date", "marital_status", "nationality")  # fmt: skip
_SENSITIVE_NAMES = (
    "income",
    "salary",
    "health",
    "religion",
    "ethnicity",
    "race",
    "political",
    "sexual",
    "diagnosis",
    "credit_score",
    "disability",
)
_SKIP_SCHEMAS = ("truth",)


def _schema_flags() -> set[tuple[str, str]]:
    return {(e.core_table, c.name) for e in ENTITIES.values() for c in e.columns if c.pii}


def _by_name(column: str) -> str | None:
    low = column.lower()
    if low in _NOT_A_PERSON:
        return None
    if is_id_column(low) or any(low == n or low.endswith("_" + n) or (n in low and len(n) > 2)
                                for n in _DIRECT_NAMES):  # fmt: skip
        return "direct_identifier"
    if any(low == n or low.endswith("_" + n) for n in _SENSITIVE_NAMES):
        return "sensitive"
    if any(low == n or low.endswith("_" + n) for n in _QUASI_NAMES):
        return "quasi_identifier"
    return None


def classify_values(values: pd.Series) -> dict[str, Any]:
    """What the recognisers find in a column's values: the share that *are* one piece of
    personal data (structured), the rows that *contain* some (free text), kinds counted."""
    texts = values.dropna().astype(str)
    whole: Counter[str] = Counter()
    inside: Counter[str] = Counter()
    rows_with = 0
    for text in texts:
        found = detect(text)
        if not found:
            continue
        rows_with += 1
        for f in found:
            inside[f.kind] += 1
        if len(found) == 1 and len(found[0].text) >= len(text.strip()) - 1:
            whole[found[0].kind] += 1
    n = len(texts)
    top, count = whole.most_common(1)[0] if whole else ("", 0)
    return {"sampled": n, "structured_kind": top, "structured_share": count / n if n else 0.0,
            "rows_with_pii": rows_with, "kinds": dict(inside)}  # fmt: skip


def classify_columns(ws: Workspace, *, sample: int = 2_000,
                     tables: list[str] | None = None) -> pd.DataFrame:  # fmt: skip
    """One row per column of every table: ``table``, ``column``, ``tag``, ``reason``,
    ``detected`` (kind), ``share`` (of sampled values that are one), ``rows_with_pii``."""
    flags = _schema_flags()
    rows = []
    for table in tables or base_tables(ws):
        if table.split(".")[0] in _SKIP_SCHEMAS:
            continue
        for column, sql_type in column_types(ws, table).items():
            tag, reason = "none", ""
            if (table, column) in flags:
                tag, reason = "direct_identifier", "data model (pii)"
            elif named := _by_name(column):
                tag, reason = named, "column name"
            found: dict[str, Any] = {"structured_kind": "", "structured_share": 0.0,
                                     "rows_with_pii": 0, "sampled": 0, "kinds": {}}  # fmt: skip
            if sql_type.upper() == "VARCHAR":
                values = ws.duck.execute(
                    f"SELECT {quote(column)} FROM {target(table)} WHERE {quote(column)} IS NOT "
                    f"NULL LIMIT {int(sample)}"
                ).df()[column]
                found = classify_values(values)
                if found["structured_share"] >= 0.5:
                    if tag != "direct_identifier":
                        tag, reason = "direct_identifier", "detected"
                    reason = (reason + f"; values are {found['structured_kind']}").lstrip("; ")
                elif found["rows_with_pii"]:
                    tag = "direct_identifier"
                    kinds = ", ".join(f"{k} {v}" for k, v in sorted(found["kinds"].items()))
                    reason = (reason + f"; free text naming people ({kinds})").lstrip("; ")
            rows.append({"table": table, "column": column, "tag": tag, "reason": reason,
                         "detected": found["structured_kind"] or
                         ",".join(sorted(found["kinds"])),
                         "share": round(float(found["structured_share"]), 3),
                         "rows_with_pii": int(found["rows_with_pii"]),
                         "sampled": int(found["sampled"])})  # fmt: skip
    return pd.DataFrame(rows, columns=["table", "column", "tag", "reason", "detected", "share",
                                       "rows_with_pii", "sampled"])  # fmt: skip
