"""Encryption at rest: no plaintext on disk, a clear error without the key, commands work
with it, rotation, erasure on an encrypted workspace."""

from __future__ import annotations

import pytest

from crmine.exceptions import WorkspaceError

KEY = "test-encryption-key-0001"
SECRET = "zed.secret@example.com"
CUSTOMERS = ("customer_id,name,email,phone\n"
             f"C1,Zed Quux,{SECRET},+44 20 7946 0001\n"
             "C2,Amy Roe,amy.roe@example.com,+44 20 7946 0002\n")  # fmt: skip
ORDERS = ("order_id,customer_id,order_ts,product_id,quantity,unit_price\n"
          "1,C1,2024-01-01 10:00:00,P1,1,10\n2,C2,2024-01-02 10:00:00,P1,2,10\n"
          "3,C1,2024-02-01 10:00:00,P2,1,7\n")  # fmt: skip


def _all_bytes(root) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


@pytest.fixture
def encrypted(tmp_path, monkeypatch):
    from crmine.features import build_customer_rfm
    from crmine.privacy import encrypt_workspace
    from crmine.warehouse import Workspace, ingest

    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", KEY)
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "orders.csv").write_text(ORDERS)
    ws = Workspace.init(tmp_path / "ws")
    ingest(ws, "customers", tmp_path / "customers.csv")
    assert SECRET.encode() in _all_bytes(ws.root / "raw")  # plaintext before
    encrypt_workspace(ws)
    ingest(ws, "orders", tmp_path / "orders.csv")  # a load into the encrypted workspace
    build_customer_rfm(ws)
    ws.close()
    return tmp_path / "ws"


def test_no_plaintext_on_disk_and_data_readable_with_the_key(encrypted):
    from crmine.warehouse import Workspace

    raw = _all_bytes(encrypted)
    for value in (SECRET, "Zed Quux", "amy.roe@example.com", "7946 0001"):
        assert value.encode() not in raw
    assert all(p.name.endswith(".enc.parquet") for p in (encrypted / "raw").iterdir())
    with Workspace.open(encrypted) as ws:
        assert ws.read("core.dim_customer")["email"].tolist().count(SECRET) == 1
        assert ws.duck.execute("SELECT count(*) FROM raw.orders__l00002").fetchone()[0] == 3
        assert len(ws.read("marts.customer_rfm")) == 2


def test_opening_without_or_with_a_wrong_key_fails_clearly(encrypted, monkeypatch):
    from crmine.warehouse import Workspace

    monkeypatch.delenv("CRMINE_ENCRYPTION_KEY")
    with pytest.raises(WorkspaceError, match="is an encrypted workspace: give its key"):
        Workspace.open(encrypted)
    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", "not-the-right-key")
    with pytest.raises(WorkspaceError, match="Wrong encryption key"):
        Workspace.open(encrypted)


def test_key_file_outside_the_workspace(encrypted, tmp_path, monkeypatch):
    from crmine.warehouse import Workspace

    monkeypatch.delenv("CRMINE_ENCRYPTION_KEY")
    inside = encrypted / "key.txt"
    inside.write_text(KEY)
    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY_FILE", str(inside))
    with pytest.raises(WorkspaceError, match="inside the workspace"):
        Workspace.open(encrypted)
    inside.unlink()
    outside = tmp_path / "key.txt"
    outside.write_text(KEY + "\n")
    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY_FILE", str(outside))
    with Workspace.open(encrypted, read_only=True) as ws:
        assert len(ws.read("core.dim_customer")) == 2


def test_rotation_re_encrypts_everything(encrypted, monkeypatch):
    from crmine.privacy import rotate_key
    from crmine.warehouse import Workspace

    with Workspace.open(encrypted) as ws:
        rotate_key(ws, "the-new-key-000002")
    with pytest.raises(WorkspaceError, match="Wrong encryption key"):
        Workspace.open(encrypted)
    monkeypatch.setenv("CRMINE_ENCRYPTION_KEY", "the-new-key-000002")
    with Workspace.open(encrypted) as ws:
        assert ws.duck.execute("SELECT count(*) FROM raw.customers__l00001").fetchone()[0] == 2
        assert len(ws.read("core.fct_order_lines")) == 3
    assert SECRET.encode() not in _all_bytes(encrypted)


def test_erasure_on_an_encrypted_workspace(encrypted):
    from crmine.privacy import erase, table_traces
    from crmine.warehouse import Workspace

    with Workspace.open(encrypted) as ws:
        receipt = erase(ws, ["C1"])
        assert receipt.verified, receipt.remaining
        assert receipt.tables["core.fct_order_lines"] == 2
        assert table_traces(ws, [SECRET, "C1"]) == []
    with Workspace.open(encrypted) as ws:  # still encrypted, still readable
        assert ws.read("core.dim_customer")["customer_id"].tolist() == ["C2"]
    assert all(p.name.endswith(".enc.parquet") for p in (encrypted / "raw").iterdir())
