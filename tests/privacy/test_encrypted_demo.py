"""An encrypted demo company after a full run (``crmine demo --encrypt``): no file of the
workspace holds a customer's value in plaintext; every saved model and the report read back
with the key; the planted opt-outs are on no list to act on, and how many were left out is
recorded."""

from __future__ import annotations

import pytest

from crmine.privacy._traces import _count_in_stream, _encodings, _file_chunks, _trie_pattern

KEY = "test-encrypted-demo-key-1"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encrypted_demo(tmp_path_factory):
    from crmine.demo._workspace import build_demo_workspace
    from crmine.pipeline import run_pipeline
    from crmine.report import build_report

    mp = pytest.MonkeyPatch()
    mp.setenv("CRMINE_ENCRYPTION_KEY", KEY)
    ws, _ = build_demo_workspace(tmp_path_factory.mktemp("encdemo") / "ws", n_customers=2_000,
                                 seed=0, encrypt=True)  # fmt: skip
    # the analyses writing customer lists and models (and what they need): the rest of the
    # pipeline writes the same kinds of files
    steps = run_pipeline(ws, only=["churn", "response", "basket", "segment", "lifecycle"])
    build_report(ws)
    ws.close()
    yield ws.root, steps
    mp.undo()


def _customer_values(ws) -> set[str]:
    """Every customer's id, e-mail, phone, name and address (6 characters or more: shorter
    ones turn up by chance in megabytes of encrypted bytes)."""
    values: set[str] = set()
    for col in ("customer_id", "email", "phone", "name", "address"):
        values |= {str(r[0]) for r in ws.duck.execute(
            f"SELECT DISTINCT {col} FROM core.dim_customer WHERE {col} IS NOT NULL").fetchall()}
    return {v for v in values if len(v) >= 6}


def _files_holding(root, values, files=None) -> list[str]:
    patterns = _encodings(values)  # UTF-8, UTF-16 and UTF-32 forms
    every = _trie_pattern(patterns)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if files is None else files
    return [str(p.relative_to(root)) for p in files
            if _count_in_stream(_file_chunks(p), patterns, every)]


def test_no_file_holds_a_customer_value_in_plaintext(encrypted_demo, monkeypatch):
    from crmine.warehouse import Workspace

    root, steps = encrypted_demo
    assert all(s.ok for s in steps), [s.error for s in steps if not s.ok]
    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", KEY)
    with Workspace.open(root, read_only=True) as ws:
        values = _customer_values(ws)
    assert len(values) > 7_000  # 2,000 ids, e-mails, phones, most names and addresses
    kinds = {p.relative_to(root).parts[0] for p in root.rglob("*") if p.is_file()}
    assert {"models", "raw", "reports"} <= kinds
    assert _files_holding(root, values) == []
    # the scan finds what is there: the decrypted report names customers
    from crmine.warehouse._sealed import read_bytes

    page = root / "plain.html"
    page.write_bytes(read_bytes(root / "reports" / "index.html", KEY))
    try:
        assert _files_holding(root, values, [page]) == ["plain.html"]
    finally:
        page.unlink()


def test_every_saved_model_loads_with_the_key(encrypted_demo, monkeypatch):
    from crmine.models import list_models
    from crmine.warehouse import Workspace
    from crmine.warehouse._models import load_model

    root, _ = encrypted_demo
    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", KEY)
    with Workspace.open(root, read_only=True) as ws:
        names = sorted(set(list_models(ws.models_dir)["name"]))
        assert {"churn", "clv", "segment"} <= set(names)
        for name in names:
            model, meta = load_model(ws.models_dir, name)
            assert model is not None and meta["name"] == name


def test_opted_out_customers_are_on_no_list_to_act_on(encrypted_demo, monkeypatch):
    from crmine.contract import all_analyses
    from crmine.warehouse import Workspace

    root, steps = encrypted_demo
    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", KEY)
    with Workspace.open(root, read_only=True) as ws:
        out = {str(r[0]) for r in ws.duck.execute(
            "SELECT customer_id FROM core.dim_customer WHERE marketing_opt_out").fetchall()}
        assert 70 <= len(out) <= 130  # the demo plants 5 % of 2,000
        checked = []
        for a in all_analyses().values():
            for mart in a.marts:
                if mart.actionable and ws.has_table(mart.table) and \
                        "customer_id" in ws.columns(mart.table):
                    ids = {str(r[0]) for r in ws.duck.execute(
                        f"SELECT DISTINCT customer_id FROM {mart.table}").fetchall()}
                    assert not ids & out, mart.table
                    checked.append(mart.name)
        assert {"retention_list", "response_targets", "basket_recommendations"} <= set(checked)
        excluded = dict(ws.duck.execute(
            "SELECT mart, excluded FROM meta.consent_exclusions").fetchall())
    # the lists would have named opted-out customers: how many were left out is reported
    assert excluded["retention_list"] > 0 and excluded["basket_recommendations"] > 0
    by_step = {s.name: s.summary.get("consent_excluded", {}) for s in steps}
    assert by_step["churn"]["retention_list"] == excluded["retention_list"]
