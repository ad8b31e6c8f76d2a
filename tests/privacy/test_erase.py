"""Erasure reaches every copy: tables, SCD2 and identity history, quarantine, landing files,
marts, models, reports and the DuckDB file's bytes; row accounting still adds up."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
from typer.testing import CliRunner

from tests.privacy.conftest import PERSON, demo_order_lines

pytestmark = pytest.mark.slow  # one demo, a segment fit and an erasure: about a minute


def test_the_scan_found_the_person_before_erasure(erased, privacy_template, monkeypatch):
    """The proof below means something only if the scan sees the person where they are."""
    from crmine.privacy import _traces

    ws, _, before, needles, _ = erased
    # both byte scanners find them at the same offsets of the database file before erasure
    patterns = _traces._encodings(n for n in needles if len(n) >= _traces.MIN_BYTES)
    by_grep = _traces.byte_offsets(privacy_template / "warehouse.duckdb", patterns)
    monkeypatch.setattr(_traces, "_grep_offsets", lambda path, patterns: None)
    assert by_grep and _traces.byte_offsets(privacy_template / "warehouse.duckdb",
                                            patterns) == by_grep  # fmt: skip
    assert {"na.xu1357@example.cn", "+8613242129823", "徐娜",
            "No. 216 Renmin Road, Hangzhou"} <= set(needles)  # fmt: skip
    found = {t.where.removeprefix(str(ws.root) + "/"): t.how for t in before}
    assert found["warehouse.duckdb"] == "bytes"
    assert found["core.dim_customer"] == "cells"
    assert found["quarantine.rejects"] == "cells"
    assert any(w.startswith("raw/orders__") and w.endswith(".csv") for w in found)
    assert any(w.startswith("models/segment/") for w in found)  # the segmenter keeps its ids


def test_erasure_leaves_no_trace_anywhere(erased, monkeypatch):
    from crmine.privacy import _traces, file_traces, table_traces

    ws, receipt, before, needles, (lines, own, landing) = erased
    assert receipt.verified, receipt.remaining
    assert table_traces(ws, needles) == []
    assert file_traces(ws.root, needles) == []  # database bytes, landing files, models, report
    assert not (ws.root / "warehouse.duckdb.wal").exists()
    # the database's bytes once more by the Python scanner (where no grep can be run)
    monkeypatch.setattr(_traces, "_grep_offsets", lambda path, patterns: None)
    patterns = _traces._encodings(n for n in needles if len(n) >= _traces.MIN_BYTES)
    assert len(patterns) >= 3 * 4  # id, e-mail, phone and address in three encodings
    assert _traces.byte_offsets(ws.warehouse_path, patterns) == {}
    assert landing > 100 and own == landing + 1  # the demo's lines + the good late_orders line
    # exactly the person's rows went; everyone else's stay
    assert ws.duck.execute("SELECT count(*) FROM core.fct_order_lines").fetchone()[0] == lines - own
    assert receipt.tables["core.fct_order_lines"] == own
    assert receipt.tables["core.dim_customer"] == 1
    assert receipt.tables["quarantine.rejects"] == 1
    assert receipt.models_deleted and receipt.models_deleted[0].startswith("segment/")
    # the report is rebuilt when it named the person, else left as it is (aggregates only)
    held = any(t.where.endswith("reports/index.html") for t in before)
    assert ("reports/index.html" in receipt.reports) == held


def test_receipt_times_every_phase_and_says_how_the_file_was_purged(erased):
    ws, receipt, *_ = erased
    steps = ["subjects", "landing files", "tables", "serving copies", "models", "reports",
             "warehouse file", "check tables", "check files"]  # fmt: skip
    assert list(receipt.phases) == steps
    assert all(receipt.phases[s] >= 0 for s in steps)
    # each phase and the total are rounded to 0.01 s
    assert receipt.seconds >= sum(receipt.phases.values()) - 0.005 * (len(steps) + 1)
    # the server's copy of the warehouse as it was is gone with its lookup tables
    assert len(receipt.serving_copies) == 1 and not any((ws.root / ".serving").iterdir())
    purge = receipt.warehouse_purge
    assert set(purge) == {"method", "rounds", "blocks_wiped", "segments_rewritten",
                          "tables_reloaded", "why", "seconds"}  # fmt: skip
    assert purge["method"] in ("in place", "rewritten")
    if purge["method"] == "rewritten":
        assert purge["why"]
    else:
        assert purge["why"] == "" and purge["rounds"] >= 1
    assert purge["blocks_wiped"] >= 0 and purge["segments_rewritten"] >= 0
    assert purge["seconds"] and all(v >= 0 for v in purge["seconds"].values())
    assert set(purge["seconds"]) <= {"checkpoint", "wipe", "scan", "segments", "rewrite"}
    assert receipt.warehouse_bytes[0] > 0 and receipt.warehouse_bytes[1] > 0
    stored = json.loads(ws.duck.execute(
        "SELECT receipt FROM meta.erasure_receipts WHERE receipt_id = ?",
        [receipt.receipt_id]).fetchone()[0])  # fmt: skip
    assert stored["phases"] == receipt.phases
    assert stored["warehouse_purge"] == purge


def test_another_customers_text_naming_the_person_is_masked(erased):
    ws, receipt, *_ = erased
    assert receipt.masked == {"core.fct_tickets.text": 1, "staging.tickets.text": 1}
    text = ws.duck.execute("SELECT text FROM core.fct_tickets WHERE ticket_id = 'T900001'"
                           ).fetchone()[0]  # fmt: skip
    assert text == "Please also send the invoice to [erased] thanks"


def test_receipt_names_no_one_and_is_kept(erased):
    ws, receipt, _, needles, _ = erased
    stored = ws.duck.execute("SELECT receipt FROM meta.erasure_receipts WHERE receipt_id = ?",
                             [receipt.receipt_id]).fetchone()[0]  # fmt: skip
    text = json.dumps(receipt.to_dict(), default=str) + stored
    assert not any(n.lower() in text.lower() for n in needles)
    assert json.loads(stored)["tables"]["core.dim_customer"] == 1


def test_row_accounting_counts_erased_rows(erased):
    from crmine.privacy import load_accounting

    ws = erased[0]
    rows = {r["load_id"]: r for r in load_accounting(ws)}
    for row in rows.values():
        assert row["adds_up"]
        assert row["landing_rows_now"] + row["landing_rows_erased"] == row["rows_read"]
    orders = next(r for r in rows.values() if r["entity"] == "orders")
    landing = erased[4][2]
    assert (orders["landing_rows_erased"], orders["core_rows_erased"]) == (landing, landing)
    late = next(r for r in rows.values() if str(r["source"]).endswith("late_orders.csv"))
    # 3 lines: the person's staged line and quarantined line went
    assert (late["rows_read"], late["landing_rows_erased"], late["landing_rows_now"]) == (3, 2, 1)


def test_models_that_held_the_person_are_deleted(erased):
    from crmine.models import list_models

    ws, receipt, *_ = erased
    assert not (ws.models_dir / "segment" / "latest").exists()  # the next run fits a new one
    listed = list_models(ws.models_dir)
    assert listed.empty or "segment" not in set(listed["name"])
    assert receipt.models_flagged == []  # no other model was saved in this workspace


def test_erase_by_email_and_phone_find_the_same_person(fresh_workspace):
    from crmine.privacy import find_subjects

    ws = fresh_workspace
    assert find_subjects(ws, emails=[" Na.Xu1357@EXAMPLE.cn"]).ids == {PERSON}
    assert find_subjects(ws, phones=["132 4212 9823"]).ids == {PERSON}
    assert find_subjects(ws, phones=["+86 132-4212-9823"]).ids == {PERSON}


def test_unknown_email_is_a_clear_error(fresh_workspace):
    from crmine.exceptions import DataError
    from crmine.privacy import erase

    with pytest.raises(DataError, match=r"no customer in core\.dim_customer has email"):
        erase(fresh_workspace, emails=["nobody@nowhere.test"])
    with pytest.raises(DataError, match="name at least one customer"):
        erase(fresh_workspace, [])


def test_subject_access_lists_the_persons_rows(fresh_workspace):
    from crmine.privacy import subject_access

    landing = demo_order_lines(fresh_workspace)
    doc = subject_access(fresh_workspace, [PERSON])
    assert doc["person"]["emails"] == ["na.xu1357@example.cn"]
    assert doc["counts"]["core.fct_order_lines"] == landing + 1
    assert doc["counts"]["quarantine.rejects"] == 1
    assert doc["counts"]["raw/orders__l00003.parquet"] == landing > 100
    assert {m["model"] for m in doc["models"]} == {"segment"}
    assert all(r["customer_id"] == PERSON for r in doc["tables"]["core.fct_events"])


def test_every_analysis_still_runs_after_erasure(erased):
    """Last in this module: it refits everything on the erased workspace."""
    from crmine.pipeline import run_pipeline
    from crmine.privacy import table_traces

    ws, _, _, needles, _ = erased
    results = run_pipeline(ws)
    failed = {r.name: r.error for r in results if not r.ok}
    assert failed == {}
    assert (ws.models_dir / "segment" / "latest").exists()  # refitted without the person
    assert table_traces(ws, needles) == []


def test_erase_refit_refits_the_model_without_the_person(privacy_template, tmp_path):
    import joblib

    from crmine.cli import app
    from crmine.models import score_table
    from crmine.segment._workspace import current_cluster_input
    from crmine.warehouse import Workspace

    folder = tmp_path / "ws"
    shutil.copytree(privacy_template, folder)
    base = folder / "models" / "segment"
    old_version = (base / "latest").read_text().strip()
    old_meta = json.loads((base / old_version / "metadata.json").read_text())
    old_bytes = (base / old_version / "model.joblib").read_bytes()
    held = pickle.dumps(joblib.load(base / old_version / "model.joblib"), protocol=4)
    assert PERSON.encode("utf-32-le") in held or PERSON.encode() in held  # the fit held them

    result = CliRunner().invoke(app, ["erase", PERSON, "--refit", "-w", str(folder), "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    receipt = json.loads(result.stdout)
    assert receipt["verified"], receipt["remaining"]
    assert receipt["models_refitted"] == ["segment"]
    assert receipt["models_deleted"] == [f"segment/{old_version}"]

    new_version = (base / "latest").read_text().strip()
    assert new_version != old_version and not (base / old_version).exists()
    model_file = base / new_version / "model.joblib"
    assert model_file.read_bytes() != old_bytes
    refitted = pickle.dumps(joblib.load(model_file), protocol=4)
    assert not any(PERSON.encode(enc) in refitted for enc in ("utf-8", "utf-16-le", "utf-32-le"))
    new_meta = json.loads((base / new_version / "metadata.json").read_text())
    # the training set is the one before less exactly the person
    assert new_meta["customers"] == old_meta["customers"] - 1
    assert not new_meta.get("privacy", {}).get("needs_refit", False)

    ws = Workspace.open(folder)
    try:
        frame = current_cluster_input(ws)
        assert PERSON not in set(frame["customer_id"])
        scores = score_table(ws.models_dir, "segment", frame)
        assert len(scores) == len(frame) and scores["cluster"].notna().all()
        assert scores.attrs["version"] == new_version
        stored = json.loads(ws.duck.execute(
            "SELECT receipt FROM meta.erasure_receipts WHERE receipt_id = ?",
            [receipt["receipt_id"]]).fetchone()[0])  # fmt: skip
        assert stored["models_refitted"] == ["segment"]
    finally:
        ws.close()


def test_receipt_summary_names_refitted_models():
    from crmine.privacy import ErasureReceipt

    receipt = ErasureReceipt("erasure-x", None, "ids", 1, 1,  # type: ignore[arg-type]
                             models_deleted=["segment/v1"], models_refitted=["segment"])
    assert "1 model(s) refitted now (segment)" in receipt.summary()
    flagged = ErasureReceipt("erasure-y", None, "ids", 1, 1,  # type: ignore[arg-type]
                             models_flagged=["churn/v1"])
    assert "refit at the next run" in flagged.summary()
