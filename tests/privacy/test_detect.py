"""Recognisers of personal data: recall on PII planted in the demo's ticket texts (English
and Chinese), few false positives on order ids, amounts and dates, checksums that bite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def planted():
    from crmine.demo import generate
    from crmine.demo._pii import plant_pii

    company = generate(n_customers=1_500, seed=3)
    texts = company.tables["tickets"]["text"].reset_index(drop=True)
    return texts, *plant_pii(texts, share=0.4, seed=1)


def _norm(kind: str, text: str) -> str:
    return text.lower() if kind == "email" else "".join(ch for ch in text if ch.isalnum())


def test_recall_on_planted_pii_is_at_least_95_percent(planted):
    from crmine.privacy import detect

    _, texts, truth = planted
    assert len(truth) > 500 and set(truth["language"]) == {"en", "zh"}
    found = {i: {(f.kind, _norm(f.kind, f.text)) for f in detect(t)} for i, t in texts.items()}
    truth["hit"] = [(k, _norm(k, v)) in found[r] for r, k, v in
                    truth[["row", "kind", "value"]].itertuples(index=False)]  # fmt: skip
    recall = truth.groupby("kind")["hit"].mean()
    for kind in ("email", "phone", "cn_mobile", "cn_resident_id", "card"):
        assert recall[kind] >= 0.95, (kind, recall[kind])
    assert recall["name"] >= 0.9


_CUES = ("call me on", "my email is", "我的电话是", "我的邮箱是")


def test_the_demos_own_ticket_pii_is_found(planted):
    """The demo writes a phone or e-mail into some ticket texts itself (PII to be masked)."""
    from crmine.privacy import detect

    original, *_ = planted
    with_pii = [t for t in original.dropna() if any(c in t.lower() for c in _CUES)]
    assert len(with_pii) > 50
    found = [t for t in with_pii if {f.kind for f in detect(t)} & {"email", "cn_mobile"}]
    assert len(found) >= 0.95 * len(with_pii)


def test_few_false_positives_on_clean_text_ids_and_amounts(planted):
    from crmine.privacy import detect

    original, *_ = planted
    rng = np.random.default_rng(0)
    clean = [t for t in original.dropna() if not any(c in t.lower() for c in _CUES)]
    decoys = [*clean,
              *(f"order {rng.integers(10**5, 10**7)} total {rng.uniform(1, 9999):.2f}"
                for _ in range(500)),
              *(f"invoice INV-{rng.integers(10**9, 10**12)} on 2025-0{rng.integers(1, 9)}-1"
                f"{rng.integers(0, 9)}" for _ in range(500)),
              *(str(rng.integers(10**12, 10**16)) for _ in range(500))]  # fmt: skip
    hits = [f for text in decoys for f in detect(text)]
    assert len(hits) <= 0.01 * len(decoys), hits[:10]


def test_checksums_reject_near_misses():
    from crmine.demo._pii import card_number, resident_id
    from crmine.privacy._detect import luhn_ok, resident_id_ok

    rng = np.random.default_rng(5)
    for _ in range(200):
        rid, card = resident_id(rng), card_number(rng)
        assert resident_id_ok(rid) and luhn_ok(card)
        bad_check = rid[:17] + ("0" if rid[17] != "0" else "1")
        assert not resident_id_ok(bad_check)
        assert not luhn_ok(card[:-1] + str((int(card[-1]) + 1) % 10))
    assert not resident_id_ok("110105194913310021")  # month 13


def test_scan_tags_demo_columns(demo_workspace):
    from crmine.privacy import classify_columns

    frame = classify_columns(demo_workspace, tables=["core.dim_customer", "core.fct_order_lines"])
    tag = {(t, c): g for t, c, g in frame[["table", "column", "tag"]].itertuples(index=False)}
    for col in ("customer_id", "name", "email", "phone", "address"):
        assert tag[("core.dim_customer", col)] == "direct_identifier"
    for col in ("gender", "age", "city"):
        assert tag[("core.dim_customer", col)] == "quasi_identifier"
    assert tag[("core.dim_customer", "income")] == "sensitive"
    for col in ("order_id", "product_id", "amount", "channel"):
        assert tag[("core.fct_order_lines", col)] == "none"
    detected = frame.set_index(["table", "column"])["detected"]
    assert detected[("core.dim_customer", "email")] == "email"
    assert detected[("core.dim_customer", "phone")] == "cn_mobile"


def test_free_text_with_pii_is_flagged():
    from crmine.privacy._classify import classify_values

    found = classify_values(pd.Series(["fine, thanks", "call me on 13812345678 please", None]))
    assert found["rows_with_pii"] == 1 and found["kinds"] == {"cn_mobile": 1}
