"""The raw layer: every load keeps its source as received under ``<workspace>/raw/``, and
``raw.<entity>__<load>`` is a view reading it back exactly as the load parsed it."""

from __future__ import annotations

import gzip
import shutil
import sqlite3

import pandas as pd
import pytest

import crmine.warehouse._ingest as ingest_module
from crmine.warehouse import Workspace, ingest

ORDERS = (
    "order_id,customer_id,order_ts,product_id,quantity,unit_price,note\n"
    "1001,C1,2024-01-05 10:00:00,P1,2,10.0,  padded  \n"
    "1002,C2,2024-01-07 12:30:00,P1,1,10.0,\n"
    '1003,,2024-01-08 09:00:00,P3,3,2.0,"quoted, with comma"\n'
)


def _raw(ws: Workspace, table: str) -> list[tuple[object, ...]]:
    return ws.duck.execute(f"SELECT * FROM {table}").fetchall()


def _landed(ws: Workspace) -> list[str]:
    return sorted(p.name for p in (ws.root / "raw").iterdir())


def test_text_sources_land_as_received_and_the_view_reads_them_back(workspace, tmp_path):
    plain = tmp_path / "orders.csv"
    plain.write_text(ORDERS)
    packed = tmp_path / "more.csv.gz"
    with gzip.open(packed, "wt") as fh:
        fh.write(ORDERS.replace("100", "200"))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(ORDERS.replace("100", "300").replace("padded", "Köln").encode("latin-1"))
    for path in (plain, packed, latin):
        ingest(workspace, "orders", path)

    assert _landed(workspace) == [
        "orders__l00001.csv",
        "orders__l00002.csv.gz",
        "orders__l00003.csv",
    ]
    # the original bytes are kept; another encoding lands as its UTF-8 transcoding
    assert (workspace.root / "raw/orders__l00001.csv").read_bytes() == plain.read_bytes()
    assert (workspace.root / "raw/orders__l00002.csv.gz").read_bytes() == packed.read_bytes()
    assert "Köln" in (workspace.root / "raw/orders__l00003.csv").read_text(encoding="utf-8")

    expected = pd.read_csv(plain, dtype=str, keep_default_na=False).replace("", None)
    for n, table in enumerate(("raw.orders__l00001", "raw.orders__l00002", "raw.orders__l00003")):
        rows = workspace.read(table)
        assert list(rows.columns) == list(expected.columns)  # no column added
        assert len(rows) == 3
        assert rows["note"].tolist()[0] == ("  padded  " if n != 2 else "  Köln  ")
        assert rows["note"].tolist()[2] == "quoted, with comma"
        assert rows["order_id"].tolist() == [f"{n + 1}00{i}" for i in (1, 2, 3)]
    # the no-unpacked-copy rule: only landing files remain
    assert not any(".unpacked" in name for name in _landed(workspace))


def test_frames_land_as_parquet_with_text_values(workspace, tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "age": [31, 45],
            "signup": pd.to_datetime(["2024-01-02 03:04:05", "2024-02-03 00:00:00"]),
        }
    )
    ingest(workspace, "customers", frame)
    whitespace = tmp_path / "cdnow.txt"
    whitespace.write_text("00001 19970101 1 11.77\r\n00002 19970112 2 12.00\r\n")
    ingest(
        workspace,
        "orders",
        whitespace,
        mapping={
            "00001": "customer_id",
            "19970101": "order_ts",
            "1": "quantity",
            "11.77": "amount",
            "@row": "order_id",
        },
    )
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as lite:
        lite.execute("CREATE TABLE t (ticket_id TEXT, customer_id TEXT, opened TEXT)")
        lite.execute("INSERT INTO t VALUES ('T1', 'C1', '2024-03-01 10:00')")
    ingest(workspace, "tickets", f"sqlite:///{db}?table=t")

    assert _landed(workspace) == [
        "customers__l00001.parquet",
        "orders__l00002.parquet",
        "tickets__l00003.parquet",
    ]
    assert _raw(workspace, "raw.customers__l00001") == [
        ("C1", "31", "2024-01-02 03:04:05"),
        ("C2", "45", "2024-02-03 00:00:00"),
    ]
    assert _raw(workspace, "raw.orders__l00002") == [("00002", "19970112", "2", "12.00")]
    assert _raw(workspace, "raw.tickets__l00003") == [("T1", "C1", "2024-03-01 10:00")]


def test_parquet_source_is_copied_and_read_as_text(workspace, tmp_path):
    path = tmp_path / "products.parquet"
    pd.DataFrame({"product_id": ["P1", "P2"], "unit_price": [9.5, 20.0]}).to_parquet(path)
    ingest(workspace, "products", path)
    assert (workspace.root / "raw/products__l00001.parquet").read_bytes() == path.read_bytes()
    assert _raw(workspace, "raw.products__l00001") == [("P1", "9.5"), ("P2", "20.0")]


def test_raw_views_follow_a_moved_workspace(tmp_path):
    source = tmp_path / "orders.csv"
    source.write_text(ORDERS)
    with Workspace.init(tmp_path / "here, it's") as ws:  # a comma and a quote in the path
        ingest(ws, "orders", source)
    shutil.move(tmp_path / "here, it's", tmp_path / "there, it's")
    source.unlink()  # the view reads the workspace's own copy, not the original file
    with Workspace.open(tmp_path / "there, it's") as moved:
        assert [r[0] for r in _raw(moved, "raw.orders__l00001")] == ["1001", "1002", "1003"]
    with Workspace.open(tmp_path / "there, it's", read_only=True) as again:
        assert len(_raw(again, "raw.orders__l00001")) == 3


def test_raw_views_read_their_own_workspace_whatever_the_current_folder(tmp_path, monkeypatch):
    """Every workspace's first load lands as raw/orders__l00001.csv: run from inside one
    workspace, another's view must still read its own file."""
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(ORDERS)
    second.write_text(ORDERS.replace("100", "500"))
    with Workspace.init(tmp_path / "A") as a:
        ingest(a, "orders", first)
    with Workspace.init(tmp_path / "B") as b:
        ingest(b, "orders", second)
    monkeypatch.chdir(tmp_path / "A")
    with Workspace.open(tmp_path / "B", read_only=True) as b:
        assert _raw(b, "raw.orders__l00001")[0][0] == "5001"


def test_unparseable_lines_are_absent_from_the_view_as_from_the_load(workspace, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text("order_id,customer_id,order_ts,amount\n1,C1,2024-01-01,10\n2,C1,x,1,2\n")
    report = ingest(workspace, "orders", path)
    assert report.rejects_by_reason == {"unparseable line": 1}
    assert _raw(workspace, "raw.orders__l00001") == [("1", "C1", "2024-01-01", "10")]


def test_identical_reload_is_recognised_before_reading(workspace, tmp_path, monkeypatch):
    path = tmp_path / "orders.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(ORDERS)
    ingest(workspace, "orders", path)

    def must_not_read(*args, **kwargs):
        raise AssertionError("an identical source was read again")

    monkeypatch.setattr(ingest_module, "read_source", must_not_read)
    again = ingest(workspace, "orders", path)
    assert again.skipped and again.load_id == "L00001" and again.rows_read == 3


def test_a_failed_load_leaves_no_landing_file(workspace, tmp_path, monkeypatch):
    first = tmp_path / "orders.csv"
    first.write_text(ORDERS)
    ingest(workspace, "orders", first)

    def explode(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(ingest_module, "merge_into_core", explode)
    packed = tmp_path / "more.csv.gz"
    with gzip.open(packed, "wt") as fh:
        fh.write(ORDERS.replace("100", "900"))
    with pytest.raises(RuntimeError, match="simulated"):
        ingest(workspace, "orders", packed)
    assert _landed(workspace) == ["orders__l00001.csv"]
    assert workspace.tables("raw") == ["raw.orders__l00001"]
    # and the parse tables of the failed load are gone from the session
    temp = workspace.duck.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name LIKE '_crmine%'"
    ).fetchone()
    assert temp == (0,)


def test_bad_input_lands_nothing(workspace, tmp_path):
    from crmine.exceptions import IngestError

    nocol = tmp_path / "nocol.csv"
    nocol.write_text("customer,when,what\nC1,2024-01-01,5\n")
    with pytest.raises(IngestError, match="Columns found"):
        ingest(workspace, "orders", nocol)
    # cut short past the first megabyte: the sample reads fine, the rest is missing
    whole = gzip.compress(
        b"order_id,customer_id,order_ts,amount\n" + b"1,C1,2024-01-01,5\n" * 200_000
    )
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(whole[:-200])
    with pytest.raises(IngestError, match=r"broken\.csv\.gz is cut short"):
        ingest(workspace, "orders", broken)
    landed = workspace.root / "raw"
    assert not landed.exists() or not any(landed.iterdir())
    assert workspace.tables("raw") == []


def test_hostile_parquet_column_names_are_data_not_sql(workspace, tmp_path):
    evil = 'x" AS VARCHAR) AS y FROM (SELECT 1 AS "x"); CREATE TABLE main.pwned AS SELECT 1; --'
    path = tmp_path / "p.parquet"
    pd.DataFrame({"product_id": ["P1"], evil: ["v"]}).to_parquet(path)
    ingest(workspace, "products", path)
    assert not workspace.has_table("main.pwned")
    assert _raw(workspace, "raw.products__l00001") == [("P1", "v")]


def test_gzip_edge_cases(workspace, tmp_path):
    """Several gzip members, zero padding after the last one, an upper-case .GZ suffix."""
    body = ORDERS.split("\n", 1)[1]
    path = tmp_path / "orders.CSV.GZ"
    path.write_bytes(
        gzip.compress(ORDERS.encode())
        + gzip.compress(body.replace("100", "700").encode())
        + b"\0" * 512
    )
    report = ingest(workspace, "orders", path)
    assert report.rows_read == 6 and report.rows_quarantined == 0
    # DuckDB does not read padded gzip back: the text itself lands
    assert _landed(workspace) == ["orders__l00001.csv"]
    assert len(_raw(workspace, "raw.orders__l00001")) == 6


def test_model_names_and_versions_cannot_leave_the_models_folder(tmp_path):
    from crmine.exceptions import WorkspaceError
    from crmine.models import load_model, save_model

    save_model([1], tmp_path / "models", "demo", kind="x")
    for name, version in (("../etc", None), ("demo", "../../secret"), ("demo", ".hidden")):
        with pytest.raises(WorkspaceError, match="not valid"):
            load_model(tmp_path / "models", name, version=version)
