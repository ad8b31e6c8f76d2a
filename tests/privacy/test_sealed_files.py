"""Saved models and reports of an encrypted workspace: written sealed (no plaintext on disk),
read back by everything that loads them, authenticated, re-sealed on key rotation."""

from __future__ import annotations

import pytest

from crmine.exceptions import WorkspaceError

KEY = "test-sealed-files-key-01"
NEW_KEY = "test-sealed-files-key-02"
SECRET = "zed.sealed@example.com"
CUSTOMERS = ("customer_id,name,email\n"
             f"CS7301,Zed Quux,{SECRET}\nCS7302,Amy Roe,amy.sealed@example.com\n")  # fmt: skip
ORDERS = ("order_id,customer_id,order_ts,product_id,quantity,unit_price\n"
          "1,CS7301,2024-01-01 10:00:00,P1,1,10\n"
          "2,CS7302,2024-01-02 10:00:00,P1,2,10\n")  # fmt: skip


def _all_bytes(root) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _model_holding_the_person() -> dict[str, object]:
    # like a segmenter keeping its customers' ids, plus a text that would show in a pickle
    return {"customers": ["CS7301", "CS7302"], "note": f"trained with {SECRET}"}


def _workspace(root, *, encrypt_first: bool):
    from crmine.features import build_customer_rfm
    from crmine.privacy import encrypt_workspace
    from crmine.report import build_report
    from crmine.warehouse import Workspace, ingest
    from crmine.warehouse._models import save_model

    ws = Workspace.init(root / "ws")
    if encrypt_first:
        encrypt_workspace(ws)
    ingest(ws, "customers", root / "customers.csv")
    ingest(ws, "orders", root / "orders.csv")
    build_customer_rfm(ws)
    save_model(_model_holding_the_person(), ws.models_dir, "segment", kind="test",
               metadata={"features": {"email": {"levels": {SECRET: 0.5}}}})  # fmt: skip
    build_report(ws)
    return ws


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", KEY)
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "orders.csv").write_text(ORDERS)
    return tmp_path


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """An encrypted workspace with a saved model and a report, built once for the module."""
    folder = tmp_path_factory.mktemp("sealed")
    (folder / "customers.csv").write_text(CUSTOMERS)
    (folder / "orders.csv").write_text(ORDERS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CRMINE_ENCRYPTION_KEY", KEY)
        _workspace(folder, encrypt_first=True).close()
    return folder / "ws"


@pytest.fixture
def sealed(template, tmp_path, monkeypatch):
    """A copy of the template for one test (the key in the environment)."""
    import shutil

    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", KEY)
    shutil.copytree(template, tmp_path / "ws")
    return tmp_path / "ws"


def test_models_and_report_are_sealed_and_read_back(sealed):
    from crmine.models import list_models
    from crmine.warehouse import Workspace
    from crmine.warehouse._models import MODEL_FILE, load_metadata, load_model
    from crmine.warehouse._sealed import MAGIC, read_bytes

    root = sealed
    assert SECRET.encode() not in _all_bytes(root)
    assert b"Zed Quux" not in _all_bytes(root)
    model_file = next((root / "models" / "segment").rglob(MODEL_FILE))
    report = root / "reports" / "index.html"
    for path in (model_file, model_file.with_name("metadata.json"), report):
        assert path.read_bytes()[:4] == MAGIC, path
    with Workspace.open(root, read_only=True) as ws:
        model, meta = load_model(ws.models_dir, "segment")
        assert model == _model_holding_the_person()
        assert meta["features"]["email"]["levels"] == {SECRET: 0.5}
        assert load_metadata(ws.models_dir, "segment")["kind"] == "test"
        assert list_models(ws.models_dir)["name"].tolist() == ["segment"]
    page = read_bytes(report).decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and "crmine report" in page


def test_a_changed_byte_or_a_wrong_key_fails_clearly(sealed):
    from crmine.warehouse._sealed import read_bytes

    report = sealed / "reports" / "index.html"
    with pytest.raises(WorkspaceError, match="cannot decrypt"):
        read_bytes(report, "not-the-key-at-all")
    data = bytearray(report.read_bytes())
    data[len(data) // 2] ^= 0x01
    report.write_bytes(bytes(data))
    with pytest.raises(WorkspaceError, match="changed after it was written"):
        read_bytes(report, KEY)


def test_encrypting_an_existing_workspace_seals_its_models_and_report(files, monkeypatch):
    from crmine.privacy import encrypt_workspace
    from crmine.warehouse._models import load_model

    ws = _workspace(files, encrypt_first=False)
    root = ws.root
    assert SECRET.encode() in _all_bytes(root / "models")  # the metadata, in plaintext
    encrypt_workspace(ws)
    assert SECRET.encode() not in _all_bytes(root)
    assert load_model(ws.models_dir, "segment")[0] == _model_holding_the_person()
    ws.close()


def test_rotation_re_seals_models_and_reports(sealed, monkeypatch):
    from crmine.privacy import rotate_key
    from crmine.warehouse import Workspace
    from crmine.warehouse._models import load_model
    from crmine.warehouse._sealed import read_bytes

    with Workspace.open(sealed) as ws:
        rotate_key(ws, NEW_KEY)
    root = sealed
    report = root / "reports" / "index.html"
    with pytest.raises(WorkspaceError, match="cannot decrypt"):
        read_bytes(report, KEY)
    assert read_bytes(report, NEW_KEY).startswith(b"<!DOCTYPE html>")
    assert not [p for p in root.rglob("*.rotating")]
    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", NEW_KEY)
    with Workspace.open(root, read_only=True) as ws:
        assert load_model(ws.models_dir, "segment")[0] == _model_holding_the_person()


def test_erasure_reads_sealed_models(sealed):
    from crmine.privacy import erase
    from crmine.warehouse import Workspace

    with Workspace.open(sealed) as ws:
        receipt = erase(ws, ["CS7301"])  # (a short id like C1 turns up in plotly.js)
    assert receipt.verified, receipt.remaining
    assert [v.split("/")[0] for v in receipt.models_deleted] == ["segment"]


def test_report_open_serves_the_decrypted_page_once_from_memory(sealed, monkeypatch):
    import json
    import urllib.error
    import urllib.request

    from typer.testing import CliRunner

    from crmine.cli import app

    fetched: list[bytes] = []

    def browser(url: str) -> bool:  # what the browser would do: fetch the page
        with urllib.request.urlopen(url, timeout=10) as got:
            fetched.append(got.read())
        return True

    monkeypatch.setattr("webbrowser.open", browser)
    root = sealed
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    got = CliRunner().invoke(app, ["report", "--open", "-w", str(root), "--json"])
    assert got.exit_code == 0, got.output
    info = json.loads(got.output)
    assert info["encrypted"] is True and info["opened"].startswith("http://127.0.0.1:")
    assert fetched and fetched[0].startswith(b"<!DOCTYPE html>") and b"crmine report" in fetched[0]
    with pytest.raises(urllib.error.URLError):  # served once: the server is gone
        urllib.request.urlopen(info["opened"], timeout=2)
    after = {p for p in root.rglob("*") if p.is_file()}
    assert after == set(before)  # no decrypted copy left beside the sealed one
    assert SECRET.encode() not in _all_bytes(root)


def test_plaintext_exports_are_refused_inside_an_encrypted_workspace(sealed, tmp_path):
    from crmine.privacy import write_subject_access
    from crmine.warehouse._sealed import refuse_plaintext_in_encrypted

    with pytest.raises(WorkspaceError, match="inside the encrypted workspace"):
        write_subject_access({"person": {"customer_ids": ["CS7301"]}}, sealed / "out" / "p.json")
    assert not (sealed / "out").exists()
    for name in ("scores.csv", "reports/retention.parquet"):
        with pytest.raises(WorkspaceError, match="write it outside the workspace"):
            refuse_plaintext_in_encrypted(sealed / name)
    refuse_plaintext_in_encrypted(tmp_path / "elsewhere.csv")  # outside: the user's call
    assert write_subject_access({"ok": 1}, tmp_path / "p.json").exists()
