"""Incremental order exports (issue 12): new lines for existing orders, corrections kept with
their history, cancellations, and re-exports that change nothing."""

from __future__ import annotations

import gzip

import pytest

from crmine.warehouse import ingest


def _csv(rows: list[tuple], with_id: bool, crlf: bool = False) -> str:
    """rows: (row id, order, product, quantity, sales[, status])."""
    head = (
        "Row ID," if with_id else ""
    ) + "Order ID,Order Date,Customer ID,Product ID,Quantity,Sales,Status"
    body = [
        (f"{r[0]}," if with_id else "")
        + f"{r[1]},2024-01-0{int(r[1][-1])},C{r[1][-1]},{r[2]},{r[3]},{r[4]},"
        + (r[5] if len(r) > 5 else "completed")
        for r in rows
    ]
    end = "\r\n" if crlf else "\n"
    return end.join([head, *body]) + end


DAY1 = [(1, "O1", "P1", 1, 10.0), (2, "O1", "P2", 2, 20.0), (3, "O2", "P1", 1, 10.0),
        (4, "O3", "P3", 3, 30.0)]  # fmt: skip


def _counts(ws):
    return ws.duck.execute(
        "SELECT count(*), sum(amount), count(*) FILTER (WHERE status = 'cancelled') "
        "FROM core.fct_order_lines"
    ).fetchone()


def test_day_two_export_adds_corrects_and_cancels_with_history(workspace, tmp_path):
    (tmp_path / "d1.csv").write_text(_csv(DAY1, True))
    first = ingest(workspace, "orders", tmp_path / "d1.csv")
    assert first.rows_staged == 4
    day2 = [
        (1, "O1", "P1", 1, 10.0),  # unchanged
        (2, "O1", "P2", 3, 30.0),  # corrected: 2 -> 3 units
        (3, "O2", "P1", 1, 10.0, "cancelled"),  # cancelled
        (5, "O1", "P4", 1, 5.0),  # a new line of an existing order
        (6, "O4", "P1", 2, 20.0),  # a new order
    ]
    (tmp_path / "d2.csv").write_text(_csv(day2, True))
    second = ingest(workspace, "orders", tmp_path / "d2.csv")
    assert (second.rows_read, second.rows_staged, second.rows_quarantined,
            second.rows_unchanged) == (5, 4, 0, 1)  # fmt: skip
    assert second.rows_corrected == 2
    assert "2 corrected" in second.summary()
    assert workspace.read("quarantine.rejects").empty
    # every sale once, with the latest values; O3 (not in day 2) stays as it was
    n, total, cancelled = _counts(workspace)
    assert (n, total, cancelled) == (6, pytest.approx(10 + 30 + 10 + 30 + 5 + 20), 1)
    lines = workspace.read("core.fct_order_lines")
    assert not lines.duplicated(["order_id", "line_number"]).any()
    o1p2 = lines[(lines.order_id == "O1") & (lines.product_id == "P2")].iloc[0]
    assert (o1p2.quantity, o1p2.amount, o1p2.load_id) == (3, 30.0, second.load_id)
    # the old values stay visible
    hist = workspace.read("core.fct_order_line_history").sort_values("order_id")
    assert list(hist.order_id) == ["O1", "O2"]
    assert list(hist.old_load_id) == [first.load_id] * 2
    assert list(hist.new_load_id) == [second.load_id] * 2
    assert hist.iloc[0].changed_columns == "quantity, amount"
    assert '"amount":20.0' in hist.iloc[0].old_values.replace(" ", "")
    assert '"amount":30.0' in hist.iloc[0].new_values.replace(" ", "")
    assert hist.iloc[1].changed_columns == "status"
    loads = workspace.duck.execute(
        "SELECT rows_read, rows_staged, rows_quarantined, rows_unchanged, rows_corrected "
        "FROM meta.loads WHERE load_id = ?",
        [second.load_id],
    ).fetchone()
    assert loads == (5, 4, 0, 1, 2)
    # the same day-2 rows again, re-ordered, with CRLF and gzipped: nothing changes
    with gzip.open(tmp_path / "d2b.csv.gz", "wt", newline="") as fh:
        fh.write(_csv(list(reversed(day2)), True, crlf=True))
    again = ingest(workspace, "orders", tmp_path / "d2b.csv.gz")
    assert (again.rows_staged, again.rows_quarantined, again.rows_unchanged,
            again.rows_corrected) == (0, 0, 5, 0)  # fmt: skip
    assert _counts(workspace)[0] == 6
    assert len(workspace.read("core.fct_order_line_history")) == 2
    assert workspace.read("quarantine.rejects").empty


def test_without_a_line_key_a_cancellation_updates_the_line(workspace, tmp_path):
    (tmp_path / "d1.csv").write_text(_csv(DAY1, False))
    ingest(workspace, "orders", tmp_path / "d1.csv")
    day2 = [
        ("", "O1", "P1", 1, 10.0),
        ("", "O1", "P2", 2, 20.0, "cancelled"),
        ("", "O1", "P4", 1, 5.0),  # a new line of an existing order
    ]
    (tmp_path / "d2.csv").write_text(_csv(day2, False))
    second = ingest(workspace, "orders", tmp_path / "d2.csv")
    assert (second.rows_staged, second.rows_unchanged, second.rows_corrected,
            second.rows_quarantined) == (2, 1, 1, 0)  # fmt: skip
    lines = workspace.read("core.fct_order_lines")
    assert len(lines) == 5
    assert sorted(lines.loc[lines.order_id == "O1", "line_number"]) == [1, 2, 3]
    assert lines.loc[lines.product_id == "P2", "status"].tolist() == ["cancelled"]
    hist = workspace.read("core.fct_order_line_history")
    assert hist.changed_columns.tolist() == ["status"]
    # the older export again (re-ordered, CRLF): its lines are known, none is quarantined
    reordered = [DAY1[3], DAY1[0], DAY1[2], DAY1[1]]
    (tmp_path / "d1b.csv").write_text(_csv(reordered, False, crlf=True))
    third = ingest(workspace, "orders", tmp_path / "d1b.csv")
    assert third.rows_quarantined == 0 and workspace.read("quarantine.rejects").empty
    assert len(workspace.read("core.fct_order_lines")) == 5


def test_duplicate_key_within_one_file_is_still_quarantined(workspace, tmp_path):
    rows = [(1, "O1", "P1", 1, 10.0), (1, "O1", "P1", 2, 20.0)]
    (tmp_path / "d.csv").write_text(_csv(rows, True))
    report = ingest(workspace, "orders", tmp_path / "d.csv")
    assert report.rejects_by_reason == {"duplicate key": 1}


@pytest.mark.parametrize("first", ["utf-8", "gbk"])
def test_a_file_mixing_utf8_and_gbk_lines_decodes_each_line(workspace, tmp_path, first):
    """Finding 1: 张三 must not become 寮犱笁, whichever encoding the file starts with."""
    other = "gbk" if first == "utf-8" else "utf-8"
    head = b"order_id,customer_id,order_ts,product_id,amount\n"
    lines = [
        (f"A{i},张三,2024-01-0{i},P商品,{i}.5\n").encode(first if i <= 3 else other)
        for i in range(1, 7)
    ]
    path = tmp_path / "mixed.csv"
    path.write_bytes(head + b"".join(lines))
    report = ingest(workspace, "orders", path)
    assert (report.rows_read, report.rows_staged, report.rows_quarantined) == (6, 6, 0)
    core = workspace.read("core.fct_order_lines")
    assert set(core["customer_id"]) == {"张三"}
    assert set(core["product_id"]) == {"P商品"}
    assert report.line_encodings == {"ascii": 1, "utf-8": 3, "gb18030": 3}
    assert any("mixes encodings" in n and "utf-8 3" in n for n in report.notes)


def test_a_utf8_file_with_a_latin1_line_deep_inside(workspace, tmp_path):
    body = "".join(f"A{i},C{i},2024-01-01,{i}\n" for i in range(30_000))
    path = tmp_path / "late.csv"
    path.write_bytes(
        b"order_id,customer_id,order_ts,amount\n"
        + body.encode()
        + "Z1,Zoë,2024-01-01,1\n".encode("latin-1")
        + "Z2,Zoë,2024-01-01,1\n".encode()
    )
    report = ingest(workspace, "orders", path)
    assert report.rows_staged == 30_002
    names = workspace.duck.execute(
        "SELECT customer_id FROM core.fct_order_lines WHERE order_id LIKE 'Z%' ORDER BY 1"
    ).fetchall()
    assert names == [("Zoë",), ("Zoë",)]
    assert report.line_encodings["latin-1"] == 1 and report.line_encodings["utf-8"] == 1


def test_a_wide_file_is_probed_by_value_and_typed_as_a_narrow_one(workspace, tmp_path):
    """Finding 3 (wide files hang): 400 extra columns take the unpivoted probe; the result
    must be what the per-column probe gives (numbers typed, padding trimmed, text kept)."""
    n = 400
    head = "order_id,customer_id,order_ts,amount," + ",".join(f"a{j}" for j in range(n))
    rows = []
    for r in range(20):
        values = [
            (" 7 " if (r, j) == (3, 5) else str(r * j)) if j % 2 else f"t{j}" for j in range(n)
        ]
        values[9] = "" if r % 2 else "inf"  # a non-finite number keeps a column text
        rows.append(f"O{r},C{r},2024-01-02,{r}.5," + ",".join(values))
    path = tmp_path / "wide.csv"
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    report = ingest(workspace, "orders", path)
    assert (report.rows_staged, report.rows_quarantined) == (20, 0)
    assert len(report.extras) == n
    types = dict(workspace.duck.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'fct_order_lines'"
    ).fetchall())  # fmt: skip
    assert (types["a5"], types["a4"], types["a9"]) == ("DOUBLE", "VARCHAR", "VARCHAR")
    a5 = workspace.duck.execute(
        "SELECT a5 FROM core.fct_order_lines WHERE order_id = 'O3'"
    ).fetchone()
    assert a5 == (7.0,)


def test_duplicate_header_names_are_reported(workspace, tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("order_id,customer_id,order_ts,amount,amount\nA1,C1,2024-01-01,5,6\n")
    report = ingest(workspace, "orders", path)
    assert report.rows_staged == 1
    assert any("names 'amount' 2 times (columns 4, 5)" in n and "amount_1" in n
               for n in report.notes)  # fmt: skip


def test_excel_formula_cells_without_a_saved_value_are_named(workspace, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["order_id", "customer_id", "order_ts", "quantity", "unit_price", "amount"])
    sheet.append(["A1", "C1", "2024-01-01", 2, 5.0, "=D2*E2"])  # openpyxl saves no value
    sheet.append(["A2", "C1", "2024-01-02", 1, 4.0, 4.0])
    book.save(tmp_path / "o.xlsx")
    report = ingest(workspace, "orders", tmp_path / "o.xlsx")
    notes = [n for n in report.notes if "formula cell" in n]
    assert notes and "1 formula cell(s)" in notes[0] and "F2 =D2*E2" in notes[0]


@pytest.mark.parametrize(
    ("entity", "table", "text"),
    [
        ("events", "core.fct_events",
         "customer_id,event_ts,event_type\nC1,2024-02-01 10:00,visit\nC1,2024-02-01 10:00,visit\n"
         "C2,2024-02-01,visit\n"),
        ("surveys", "core.fct_surveys",
         "customer_id,response_ts,nps\nC1,2024-02-01,9\nC2,2024-02-02,3\n"),
    ],
)  # fmt: skip
def test_facts_without_a_key_re_exported_add_nothing(workspace, tmp_path, entity, table, text):
    """Events and survey answers have no key: a re-export (re-ordered, CRLF, gzipped) used
    to be appended again, doubling every count."""
    (tmp_path / "a.csv").write_text(text)
    first = ingest(workspace, entity, tmp_path / "a.csv")
    lines = text.splitlines()
    with gzip.open(tmp_path / "b.csv.gz", "wt", newline="") as fh:
        fh.write("\r\n".join([lines[0], *reversed(lines[1:])]) + "\r\n")
    again = ingest(workspace, entity, tmp_path / "b.csv.gz")
    n = len(lines) - 1
    assert (again.rows_read, again.rows_staged, again.rows_unchanged) == (n, 0, n)
    # one more of an existing row is new: identical rows are matched one for one
    (tmp_path / "c.csv").write_text(text + lines[1] + "\n")
    third = ingest(workspace, entity, tmp_path / "c.csv")
    assert (third.rows_staged, third.rows_unchanged) == (1, n)
    assert workspace.duck.execute(f"SELECT count(*) FROM {table}").fetchone() == (n + 1,)
    assert first.rows_staged == n and workspace.read("quarantine.rejects").empty


def test_subscriptions_without_an_end_date_load(workspace, tmp_path):
    (tmp_path / "s.csv").write_text("customer_id,start_date,plan\nC1,2024-01-01,gold\n")
    report = ingest(workspace, "subscriptions", tmp_path / "s.csv")
    assert report.rows_staged == 1
    churned = workspace.duck.execute("SELECT churned FROM core.fct_subscriptions").fetchone()
    assert churned == (None,)
