"""Ingest: formats, encodings, mapping, row accounting, quarantine reasons, idempotency, SCD2,
atomicity and bad input — on real DuckDB files."""

from __future__ import annotations

import gzip
import sqlite3

import pandas as pd
import pytest

from crmine.exceptions import IngestError, SchemaError
from crmine.warehouse import Workspace, ingest

ORDERS_CSV = """order_id,customer_id,order_ts,product_id,quantity,unit_price
1001,C1,2024-01-05 10:00:00,P1,2,10.0
1001,C1,2024-01-05 10:00:00,P2,1,5.5
1002,C2,2024-01-07 12:30:00,P1,1,10.0
1003,,2024-01-08 09:00:00,P3,3,2.0
C1004,C1,2024-01-09 11:00:00,P1,-1,10.0
"""


def _count(ws: Workspace, sql: str) -> int:
    row = ws.duck.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _rejects(ws: Workspace) -> pd.DataFrame:
    return ws.read("quarantine.rejects").sort_values("row_number").reset_index(drop=True)


def test_orders_csv_accounting_returns_and_anonymous(workspace, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS_CSV)
    report = ingest(workspace, "orders", path)
    assert (report.rows_read, report.rows_staged, report.rows_quarantined) == (5, 5, 0)
    assert report.anonymous_rows == 1
    assert report.return_rows == 1
    assert report.new_customers == 2
    lines = workspace.read("core.fct_order_lines").sort_values(["order_id", "line_number"])
    assert list(lines["line_number"]) == [1, 2, 1, 1, 1]
    assert list(lines["amount"]) == [20.0, 5.5, 10.0, 6.0, -10.0]
    assert list(lines["status"]) == ["completed"] * 4 + ["returned"]
    assert lines["customer_id"].isna().sum() == 1
    # facts create placeholder dimensions so every line joins
    assert _count(workspace, "SELECT count(*) FROM core.dim_product") == 3
    assert _count(workspace, "SELECT count(*) FROM core.dim_customer WHERE origin = 'orders'") == 2


def test_every_reject_reason_with_row_column_and_raw_value(workspace, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "order_id,line_number,customer_id,order_ts,product_id,quantity,unit_price,status\n"
        "1,1,C1,2024-01-05,P1,1,10,completed\n"  # row 1 ok
        ",1,C1,2024-01-05,P1,1,10,completed\n"  # row 2 missing key
        "2,1,C1,not a date,P1,1,10,completed\n"  # row 3 unparseable date
        "3,1,C1,2024-01-05,P1,lots,10,completed\n"  # row 4 bad number
        "4,1,C1,2024-01-05,P1,1,-3,completed\n"  # row 5 negative price
        "1,1,C1,2024-01-06,P1,1,10,completed\n"  # row 6 duplicate key (1,1)
        "5,1,C1,2024-01-05,P1,1,10,teleported\n"  # row 7 unaccepted status
        "6,1,C2,2024-01-05,P1,1,10,shipped\n"  # row 8 ok (shipped -> completed)
    )
    report = ingest(workspace, "orders", path)
    assert report.rows_read == 8
    assert report.rows_staged == 2
    assert report.rows_quarantined == 6
    assert report.rejects_by_reason == {
        "missing key": 1,
        "unparseable date": 1,
        "bad number": 1,
        "negative price": 1,
        "duplicate key": 1,
        "unaccepted value": 1,
    }
    rej = _rejects(workspace)
    assert list(rej["row_number"]) == [2, 3, 4, 5, 6, 7]
    assert list(rej["column_name"]) == [
        "order_id",
        "order_ts",
        "quantity",
        "unit_price",
        "order_id+line_number",
        "status",
    ]
    assert list(rej["value"])[1:4] == ["not a date", "lots", "-3"]
    assert '"order_ts":"not a date"' in rej.loc[1, "raw_row"]
    assert rej["source"].unique().tolist() == ["bad.csv"]
    statuses = workspace.read("core.fct_order_lines")["status"].tolist()
    assert statuses == ["completed", "completed"]


def test_one_unknown_customer_policy_for_every_entity(workspace, tmp_path):
    """Finding 11: orders made a placeholder customer, tickets and events a reject. Now every
    fact is kept and an unknown customer becomes a placeholder, with a note."""
    (tmp_path / "c.csv").write_text("customer_id,gender,city\nC1,F,Shanghai\nC2,M,Beijing\n")
    ingest(workspace, "customers", tmp_path / "c.csv")
    (tmp_path / "t.csv").write_text(
        "ticket_id,customer_id,opened_ts,category\nT1,C1,2024-02-01 10:00,billing\n"
        "T2,C9,2024-02-02 11:00,delivery\n"
    )
    (tmp_path / "e.csv").write_text(
        "customer_id,event_ts,event_type\nC1,2024-02-01 10:00,visit\nC8,2024-02-01,visit\n"
    )
    (tmp_path / "o.csv").write_text(
        "order_id,customer_id,order_ts,amount\nA1,C2,2024-02-01,5\nA2,C7,2024-02-01,5\n"
    )
    for entity, name, unknown in (("tickets", "t", "C9"), ("events", "e", "C8"),
                                  ("orders", "o", "C7")):  # fmt: skip
        report = ingest(workspace, entity, tmp_path / f"{name}.csv")
        assert (report.rows_staged, report.rows_quarantined, report.new_customers) == (2, 0, 1)
        assert any("1 customer(s) named here are in no customer file" in n for n in report.notes)
        origin = workspace.duck.execute(
            "SELECT origin FROM core.dim_customer WHERE customer_id = ?", [unknown]
        ).fetchone()
        assert origin == (entity,)
    assert _rejects(workspace).empty


def test_reload_is_idempotent_new_file_appends_overlap_is_unchanged(workspace, tmp_path):
    first = tmp_path / "jan.csv"
    first.write_text(ORDERS_CSV)
    ingest(workspace, "orders", first)
    again = ingest(workspace, "orders", first)
    assert again.skipped and again.load_id == "L00001"
    assert _count(workspace, "SELECT count(*) FROM core.fct_order_lines") == 5
    assert _count(workspace, "SELECT count(*) FROM meta.loads") == 1

    second = tmp_path / "feb.csv"
    second.write_text(
        "order_id,customer_id,order_ts,product_id,quantity,unit_price\n"
        "2001,C3,2024-02-01 10:00:00,P1,1,10.0\n"
        "1002,C2,2024-01-07 12:30:00,P1,1,10.0\n"  # already loaded from jan.csv
    )
    report = ingest(workspace, "orders", second)
    assert report.rows_staged == 1
    # a row already loaded with the same values is neither loaded again nor quarantined
    assert report.rejects_by_reason == {}
    assert report.rows_unchanged == 1
    assert _count(workspace, "SELECT count(*) FROM core.fct_order_lines") == 6
    assert _count(workspace, "SELECT rows_unchanged FROM meta.loads WHERE load_id = 'L00002'") == 1


def test_customer_history_scd2(workspace, tmp_path):
    import datetime as dt

    v1 = tmp_path / "customers_v1.csv"
    v1.write_text(
        "customer_id,city,income,loyalty_tier\nC1,Shanghai,1000,gold\nC2,Beijing,2000,silver\n"
    )
    r1 = ingest(workspace, "customers", v1, as_of=dt.datetime(2024, 1, 1))
    assert r1.new_customers == 2 and "loyalty_tier" in r1.extras
    # C1 moved; C2 unchanged; C3 new. A source without income keeps the known income.
    v2 = tmp_path / "customers_v2.csv"
    v2.write_text(
        "customer_id,city,loyalty_tier\nC1,Hangzhou,gold\nC2,Beijing,silver\nC3,Chengdu,bronze\n"
    )
    r2 = ingest(workspace, "customers", v2, as_of=dt.datetime(2024, 6, 1))
    assert (r2.new_customers, r2.customer_versions) == (1, 1)
    hist = workspace.read("core.dim_customer").sort_values(["customer_id", "valid_from"])
    c1 = hist[hist["customer_id"] == "C1"]
    assert c1["city"].tolist() == ["Shanghai", "Hangzhou"]
    assert c1["is_current"].tolist() == [False, True]
    assert c1["valid_to"].iloc[0] == pd.Timestamp("2024-06-01")
    assert c1["income"].tolist() == [1000.0, 1000.0]  # carried over
    assert c1["loyalty_tier"].tolist() == ["gold", "gold"]
    assert len(hist[hist["customer_id"] == "C2"]) == 1
    # same content from another file: no new versions
    v3 = tmp_path / "customers_v3.csv"
    v3.write_text(v2.read_text() + "\n")
    r3 = ingest(workspace, "customers", v3)
    assert (r3.new_customers, r3.customer_versions) == (0, 0)
    from crmine.warehouse import run_checks

    assert all(c.passed for c in run_checks(workspace))


def test_failed_load_leaves_warehouse_as_it_was(workspace, tmp_path, monkeypatch):
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS_CSV)
    ingest(workspace, "orders", path)
    before = {t: _count(workspace, f"SELECT count(*) FROM {t}") for t in workspace.tables()}

    import crmine.warehouse._ingest as ingest_module

    def explode(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(ingest_module, "merge_into_core", explode)
    more = tmp_path / "more.csv"
    more.write_text(ORDERS_CSV.replace("100", "900"))
    with pytest.raises(RuntimeError, match="simulated"):
        ingest(workspace, "orders", more)
    after = {t: _count(workspace, f"SELECT count(*) FROM {t}") for t in workspace.tables()}
    assert after == before  # no raw table, no staging, no quarantine, no load record


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        (
            "gb18030",
            "客户ID,订单号,下单时间,金额,城市\nC1,A1,2024-03-01 10:00:00,99.5,上海\n"
            "C2,A2,2024-03-02 11:00:00,10,北京\n",
        ),
        (
            "utf-8-sig",
            "客户ID,订单号,下单时间,金额,城市\nC1,A1,2024-03-01 10:00:00,99.5,上海\n"
            "C2,A2,2024-03-02 11:00:00,10,北京\n",
        ),
        (
            "latin-1",
            "CustomerID;InvoiceNo;InvoiceDate;Amount;City\nC1;A1;01/03/2024 10:00;99,50 ;Köln\n"
            "C2;A2;02/03/2024 11:00;10;Zürich\nC3;A3;28/02/2024 09:00;5;Wien\n",
        ),
    ],
)
def test_encodings_and_recognised_headers(workspace, tmp_path, encoding, text):
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode(encoding))
    report = ingest(workspace, "orders", path)
    assert report.encoding == encoding
    assert report.columns["customer_id"] in ("客户ID", "CustomerID")
    lines = workspace.read("core.fct_order_lines").sort_values("order_id")
    assert lines["customer_id"].tolist()[:2] == ["C1", "C2"]
    # day first is decided by the value no month-first reading can parse (28/02/2024)
    assert lines["order_ts"].dt.strftime("%m-%d").tolist()[:2] == ["03-01", "03-02"]
    # a city on an order line describes its customer: it goes to dim_customer, decoded
    assert report.extras == ()
    assert report.customer_attributes["city"] in ("城市", "City")
    cities = workspace.read("core.dim_customer").sort_values("customer_id")["city"]
    assert cities.tolist()[:2] in (["上海", "北京"], ["Köln", "Zürich"])
    assert lines["amount"].tolist()[:2] == [99.5, 10.0]  # "99,50 " read as a decimal comma
    assert report.rejects_by_reason == {}


def test_gzip_tsv_parquet_excel_and_sqlite(workspace, tmp_path):
    frame = pd.DataFrame(
        {
            "CustomerID": ["1.0", "2.0"],
            "Gender": ["F", "M"],
            "Age": [31, 45],
            "City": ["Shanghai", "Shenzhen"],
        }
    )
    tsv = tmp_path / "c.tsv.gz"
    with gzip.open(tsv, "wt", encoding="utf-8") as fh:
        frame.to_csv(fh, sep="\t", index=False)
    r = ingest(workspace, "customers", tsv)
    assert r.delimiter == "\t" and r.rows_staged == 2
    assert sorted(workspace.read("core.dim_customer")["customer_id"]) == ["1", "2"]

    pq = tmp_path / "p.parquet"
    pd.DataFrame(
        {"product_id": ["P1", "P2"], "category": ["books", "toys"], "unit_price": [9.5, 20.0]}
    ).to_parquet(pq)
    assert ingest(workspace, "products", pq).rows_staged == 2

    xlsx = tmp_path / "campaigns.xlsx"
    pd.DataFrame(
        {"campaign_id": ["K1"], "channel": ["email"], "cost": [100.0], "start_date": ["2024-01-01"]}
    ).to_excel(xlsx, index=False)
    assert ingest(workspace, "campaigns", xlsx).rows_staged == 1

    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as lite:
        lite.execute(
            "CREATE TABLE tickets (ticket_id TEXT, customer_id TEXT, opened TEXT, category TEXT)"
        )
        lite.executemany(
            "INSERT INTO tickets VALUES (?, ?, ?, ?)",
            [
                ("T1", "1", "2024-02-01 09:00", "billing"),
                ("T2", "2", "2024-02-03 09:00", "delivery"),
            ],
        )
    r = ingest(workspace, "tickets", f"sqlite:///{db}?table=tickets")
    assert r.rows_staged == 2 and r.kind == "sql"
    r = ingest(
        workspace,
        "tickets",
        f"sqlite:///{db}",
        query="SELECT * FROM tickets WHERE category = 'billing'",
        source_name="billing",
    )
    assert r.rows_staged == 1 and r.updated == 1  # the same ticket, replaced


def test_bad_input_names_file_and_columns_and_writes_nothing(workspace, tmp_path):
    with pytest.raises(IngestError, match="does not exist"):
        ingest(workspace, "orders", tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(IngestError, match="empty"):
        ingest(workspace, "orders", empty)
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(IngestError, match="binary"):
        ingest(workspace, "orders", binary)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("customer,when,what\nC1,2024-01-01,5\n")
    with pytest.raises(IngestError) as err:
        ingest(workspace, "orders", nocol)
    message = str(err.value)
    assert "nocol.csv" in message and "order_id" in message
    assert "Columns found: customer, when, what" in message
    with pytest.raises(SchemaError, match="unknown entity"):
        ingest(workspace, "invoices", nocol)
    with pytest.raises(IngestError, match="not a column of orders"):
        ingest(workspace, "orders", nocol, mapping={"what": "price"})
    assert workspace.tables("core") == [] and workspace.tables("raw") == []
    assert (
        not workspace.has_table("meta.loads")
        or _count(workspace, "SELECT count(*) FROM meta.loads") == 0
    )


def test_dataframe_source_and_date_formats(workspace):
    frame = pd.DataFrame(
        {
            "order_id": ["1", "2", "3"],
            "customer_id": ["A", "B", "A"],
            "order_ts": ["12/31/2023 23:10", "01/02/2024 08:00", "02/15/2024 18:45"],
            "amount": ["$1,200.50", "$80", "$15.25"],
        }
    )
    report = ingest(workspace, "orders", frame)
    assert report.formats["order_ts"] == "%m/%d/%Y %H:%M"
    assert report.formats["amount"] == "cleaned"
    lines = workspace.read("core.fct_order_lines").sort_values("order_id")
    assert lines["amount"].tolist() == [1200.5, 80.0, 15.25]
    assert lines["order_ts"].iloc[0] == pd.Timestamp("2023-12-31 23:10")


def test_unparseable_lines_are_quarantined_and_row_numbers_stay_true(workspace, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text(
        "order_id,customer_id,order_ts,amount\n"
        "1,C1,2024-01-01,10\n"
        "2,C1,2024-01-02,10,surplus,fields\n"  # row 2: more fields than the header
        "3,C2,2024-01-03,10\n"
        "4,C2,2024-01-04,10,x,y\n"  # row 4
        "5,C3,not a date,10\n"  # row 5: parsed, then rejected for its date
    )
    report = ingest(workspace, "orders", path)
    assert (report.rows_read, report.rows_staged, report.rows_quarantined) == (5, 2, 3)
    rej = _rejects(workspace)
    assert rej["row_number"].tolist() == [2, 4, 5]
    assert rej["reason"].tolist() == ["unparseable line", "unparseable line", "unparseable date"]
    assert '"order_id":"5"' in rej.loc[2, "raw_row"] and "_source_row" not in rej.loc[2, "raw_row"]
    staged = workspace.read("core.fct_order_lines").sort_values("order_id")
    assert staged["source_row"].tolist() == [1, 3]


def test_customer_attributes_are_standardised(workspace, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,gender,email,phone\n"
        "C1,female, John.Doe@Example.COM ,+86 (21) 5555-1234\n"
        "C2,Male,a@b.cn,021-5555 9876\n"
        "C3,f,,+\n"
        "C4,男,,\n"
        "C5,女,,\n"
        "C6,unknown,,\n"
        "C7,non-binary,,\n"
    )
    report = ingest(workspace, "customers", path)
    assert report.formats["gender"] == "standardised"
    rows = workspace.read("core.dim_customer").set_index("customer_id").sort_index()
    assert rows["gender"].tolist() == ["F", "M", "F", "M", "F", None, "non-binary"]
    assert rows.loc["C1", "email"] == "john.doe@example.com"
    assert rows.loc["C1", "phone"] == "+862155551234"
    assert rows.loc["C2", "phone"] == "02155559876"
    assert rows["phone"].isna().sum() == 5  # a lone "+" is no number


def test_unicode_padding_is_trimmed_like_spaces(workspace, tmp_path):
    """Ideographic (U+3000) and no-break (U+00A0) spaces around values, common in Chinese and
    spreadsheet exports, are trimmed like ASCII spaces; a value of only such spaces is empty."""
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,age,income,city\nC1\u3000,30\u3000,100,\u3000\n"
                    "C2,40,\u00a0200,上海\n", encoding="utf-8")  # fmt: skip
    report = ingest(workspace, "customers", path)
    assert report.rejects_by_reason == {} and report.rows_staged == 2
    rows = workspace.read("core.dim_customer").set_index("customer_id").sort_index()
    assert rows.index.tolist() == ["C1", "C2"]
    assert rows["age"].tolist() == [30, 40] and rows["income"].tolist() == [100.0, 200.0]
    assert rows["city"].isna().tolist() == [True, False]


def test_sparse_date_column_format_is_detected(workspace):
    """A date filled on one row in five, none on the probe's every-n-th sample rows: its
    (day-first) format is still found from the values themselves."""
    n = 100_000
    birth = ["31/12/1980" if i % 5 == 1 else "" for i in range(n)]
    frame = pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)], "birth_date": birth})
    report = ingest(workspace, "customers", frame)
    assert report.formats["birth_date"] == "%d/%m/%Y"
    assert report.rows_quarantined == 0
