"""Pseudonymised export with k-anonymity / l-diversity, consent, and the audit chain."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

KEY = b"test-key-0123456789abcdef"


@pytest.fixture
def demo_copy(demo_workspace, tmp_path):
    from crmine.warehouse import Workspace

    demo_workspace.duck.execute("CHECKPOINT")
    target = tmp_path / "ws"
    shutil.copytree(demo_workspace.root, target, ignore=shutil.ignore_patterns("*.wal"))
    ws = Workspace.open(target)
    yield ws
    ws.close()


def test_pseudonyms_are_keyed_and_stable():
    from crmine.privacy import pseudonym

    assert pseudonym("C000001", KEY) == pseudonym("C000001", KEY)
    assert pseudonym("C000001", KEY) != pseudonym("C000002", KEY)
    assert pseudonym("C000001", KEY) != pseudonym("C000001", b"another-key-0123456")


def test_generalisation_reaches_k_and_l():
    from crmine.privacy import anonymise

    rng = np.random.default_rng(0)
    n = 3_000
    frame = pd.DataFrame({"age": rng.integers(18, 90, n), "gender": rng.choice(["F", "M"], n),
                          "postcode": [f"{rng.integers(100000, 999999)}" for _ in range(n)],
                          "income": rng.integers(10, 200, n) * 1000.0})  # fmt: skip
    raw_smallest = frame.groupby(["age", "gender", "postcode"]).size().min()
    assert raw_smallest == 1  # everyone is unique before
    result = anonymise(frame, ["age", "gender", "postcode"], k=10, sensitive="income", l_div=3)
    groups = result.frame.groupby(["age", "gender", "postcode"])
    assert groups.size().min() >= 10 and result.smallest_group >= 10
    assert groups["income"].nunique().min() >= 3 and result.l_diversity >= 3
    assert result.suppressed <= 0.05 * n
    assert result.levels["postcode"] > 0 and result.levels["age"] > 0
    assert len(result.frame) + result.suppressed == n


def test_export_drops_identifiers_and_honours_opt_out(demo_copy, tmp_path):
    from crmine.privacy import pseudonym, pseudonymised_export

    ws = demo_copy
    # the demo's own opt-outs (marketing_opt_out) cleared: this checks another common name
    ws.duck.execute("UPDATE core.dim_customer SET marketing_opt_out = false")
    ws.duck.execute("ALTER TABLE core.dim_customer ADD COLUMN opt_out BOOLEAN")
    ws.duck.execute("UPDATE core.dim_customer SET opt_out = customer_id < 'C000101'")
    opted = ws.duck.execute("SELECT count(*) FROM core.dim_customer WHERE opt_out AND "
                            "is_current").fetchone()[0]  # fmt: skip
    out = tmp_path / "share.csv"
    result = pseudonymised_export(ws, "core.dim_customer", out, key=KEY,
                                  quasi=["age", "gender", "city"], k=5)  # fmt: skip
    written = pd.read_csv(out)
    assert result.opted_out == opted == 100
    assert {"name", "email", "phone", "address"} & set(written.columns) == set()
    assert written.groupby(["age", "gender", "city"], dropna=False).size().min() >= 5
    ids = set(ws.read("core.dim_customer")["customer_id"])
    assert not ids & set(written["customer_id"])
    assert pseudonym("C000001", KEY) not in set(written["customer_id"])  # opted out
    text = out.read_text()
    emails = ws.read("core.dim_customer")["email"].dropna().head(200)
    assert not any(e in text for e in emails)


def test_audit_chain_detects_an_edited_line(demo_copy, tmp_path):
    from crmine.privacy import audit_entries, pseudonymised_export, verify
    from crmine.privacy._audit import AUDIT_FILE

    ws = demo_copy
    pseudonymised_export(ws, "core.dim_customer", tmp_path / "a.csv", key=KEY, quasi=["age"])
    entries = audit_entries(ws)
    assert [e["action"] for e in entries].count("load") == ws.duck.execute(
        "SELECT count(*) FROM meta.loads"
    ).fetchone()[0]
    assert entries[-1]["action"] == "export"
    assert verify(ws).ok
    path = ws.root / AUDIT_FILE
    lines = path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["detail"]["rows_read"] = 1
    path.write_text("\n".join([lines[0], json.dumps(edited), *lines[2:]]) + "\n")
    check = verify(ws)
    assert not check.ok and check.broken_at == 2 and "edited" in check.why
    path.write_text("\n".join([lines[0], *lines[2:]]) + "\n")  # a line removed
    assert verify(ws).broken_at == 2


def test_retention_deletes_old_facts_everywhere(demo_copy):
    import datetime as dt

    from crmine.privacy import apply_retention

    ws = demo_copy
    as_of = dt.datetime(2026, 6, 30)
    cutoff = as_of - dt.timedelta(days=730)
    old = ws.duck.execute("SELECT count(*) FROM core.fct_order_lines WHERE order_ts < ?",
                          [cutoff]).fetchone()[0]  # fmt: skip
    total = ws.duck.execute("SELECT count(*) FROM core.fct_order_lines").fetchone()[0]
    assert 0 < old < total
    result = apply_retention(ws, days=730, as_of=as_of)
    assert result.tables["core.fct_order_lines"] == old
    assert ws.duck.execute("SELECT min(order_ts) >= ? FROM core.fct_order_lines",
                           [cutoff]).fetchone()[0]  # fmt: skip
    raw = [r[0] for r in ws.duck.execute("SELECT view_name FROM duckdb_views() WHERE "
                                         "view_name LIKE 'orders__%'").fetchall()]  # fmt: skip
    assert len(raw) == 1
    assert ws.duck.execute(f"SELECT count(*) FROM raw.{raw[0]}").fetchone()[0] == total - old


def test_retention_needs_a_period(demo_copy):
    from crmine.exceptions import ConfigError
    from crmine.privacy import apply_retention

    with pytest.raises(ConfigError, match="retention_days"):
        apply_retention(demo_copy)
