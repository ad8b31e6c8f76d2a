"""Real exports (issue 12): denormalised order files, non-finite numbers, implausible dates,
DuckDB pseudo-column names, stray quotes and line-ending switches, huge fields."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.warehouse import ingest

SEGMENTS = ("Consumer", "Corporate", "Home Office")
REGIONS = {"West": ("California", "Washington"), "East": ("New York", "Ohio")}
CATEGORIES = {"Furniture": ("Chairs", "Tables"), "Technology": ("Phones", "Copiers"),
              "Office Supplies": ("Paper", "Binders")}  # fmt: skip


def superstore_like(n_customers: int = 40, n_orders: int = 150, seed: int = 0) -> pd.DataFrame:
    """A denormalised orders export in the shape of the well-known Superstore sample (made up
    here): every line repeats its customer's name, segment and place and its product's
    category, with ship mode, discount, sales and profit."""
    rng = np.random.default_rng(seed)
    cust = pd.DataFrame(
        {
            "Customer ID": [f"CU-{i:04d}" for i in range(n_customers)],
            "Customer Name": [f"Person {i}" for i in range(n_customers)],
            "Segment": rng.choice(SEGMENTS, n_customers),
            "Region": rng.choice(list(REGIONS), n_customers),
        }
    )
    cust["State"] = [REGIONS[r][i % 2] for i, r in enumerate(cust["Region"])]
    cust["City"] = cust["State"] + " City"
    products = [
        (f"{cat[:3].upper()}-{sub[:3].upper()}-{k}", cat, sub, f"{sub} model {k}")
        for cat, subs in CATEGORIES.items()
        for sub in subs
        for k in range(3)
    ]
    rows = []
    row_id = 0
    for o in range(n_orders):
        c = cust.iloc[int(rng.integers(n_customers))]
        day = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 700)))
        ship = rng.choice(["Standard Class", "Second Class", "First Class"])
        for _line in range(int(rng.integers(1, 4))):
            pid, cat, sub, name = products[int(rng.integers(len(products)))]
            qty = int(rng.integers(1, 6))
            sales = round(qty * float(rng.uniform(5, 300)), 2)
            row_id += 1
            rows.append(
                {
                    "Row ID": row_id, "Order ID": f"US-{o:05d}",
                    "Order Date": day.strftime("%m/%d/%Y"), "Ship Mode": ship,
                    "Customer ID": c["Customer ID"], "Customer Name": c["Customer Name"],
                    "Segment": c["Segment"], "Country": "United States", "City": c["City"],
                    "State": c["State"], "Region": c["Region"], "Product ID": pid,
                    "Category": cat, "Sub-Category": sub, "Product Name": name,
                    "Sales": sales, "Quantity": qty, "Discount": 0.0,
                    "Profit": round(sales * 0.25, 2),
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def _one(ws, sql: str, params=None):
    row = ws.duck.execute(sql, params or []).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def test_denormalised_orders_fill_customer_and_product_dimensions(workspace, tmp_path):
    frame = superstore_like()
    path = tmp_path / "superstore.csv"
    frame.to_csv(path, index=False)
    report = ingest(workspace, "orders", path)
    assert report.rows_read == len(frame) == report.rows_staged
    assert {"name", "segment", "city", "state", "region", "country"} <= set(
        report.customer_attributes
    )
    assert {"category", "subcategory", "product_name"} <= set(report.product_attributes)
    assert report.columns["sales_method"] == "Ship Mode"
    assert report.columns["profit"] == "Profit"
    assert report.columns["line_id"] == "Row ID"

    cust = workspace.read("core.dim_customer")
    truth = frame.drop_duplicates("Customer ID").set_index("Customer ID")
    assert len(cust) == truth.shape[0]
    cust = cust.set_index("customer_id")
    for col, src in (("segment", "Segment"), ("region", "Region"), ("state", "State"),
                     ("city", "City"), ("name", "Customer Name")):  # fmt: skip
        assert (cust[col] == truth.loc[cust.index, src]).all(), col
    # the attributes describe the customer, not every order line
    assert "segment" not in workspace.columns("core.fct_order_lines")

    prod = workspace.read("core.dim_product").set_index("product_id")
    ptruth = frame.drop_duplicates("Product ID").set_index("Product ID")
    assert (prod["category"] == ptruth.loc[prod.index, "Category"]).all()
    assert (prod["subcategory"] == ptruth.loc[prod.index, "Sub-Category"]).all()

    # cost = sales - profit, so the margin is the planted 25 %
    lines = workspace.read("core.fct_order_lines")
    margin = 1 - (lines["unit_cost"] * lines["quantity"]).sum() / lines["amount"].sum()
    assert margin == pytest.approx(0.25, abs=1e-6)
    from crmine.clv._workspace import _margin

    assert _margin(workspace)[0] == pytest.approx(0.25, abs=1e-6)

    # the cube filters by segment and region
    from crmine.cube import query

    res = query(workspace, where=["segment=Corporate", "region=West"])
    expected = ((truth["Segment"] == "Corporate") & (truth["Region"] == "West")).sum()
    assert res.count == expected > 0
    # category-level baskets (cross-sell by category)
    from crmine.basket._workspace import product_hierarchy

    assert set(product_hierarchy(workspace, "category")) == set(CATEGORIES)

    # the same rows exported again (re-ordered, another file): nothing changes, nothing rejected
    frame.sample(frac=1.0, random_state=3).to_csv(tmp_path / "again.csv", index=False)
    again = ingest(workspace, "orders", tmp_path / "again.csv")
    assert (again.rows_unchanged, again.rows_staged, again.rows_quarantined) == (len(frame), 0, 0)
    assert again.customer_versions == 0 and again.conflicts == {}
    assert len(workspace.read("core.dim_customer")) == truth.shape[0]


def test_denormalised_second_export_versions_only_changed_customers(workspace, tmp_path):
    frame = superstore_like(seed=1)
    frame.to_csv(tmp_path / "day1.csv", index=False)
    ingest(workspace, "orders", tmp_path / "day1.csv")
    first = workspace.read("core.dim_customer")
    moved = first["customer_id"].iloc[0]
    later = superstore_like(seed=1)
    later["Order ID"] = later["Order ID"].str.replace("US-", "US2-")
    later.loc[later["Customer ID"] == moved, "Segment"] = "Enterprise"
    later.to_csv(tmp_path / "day2.csv", index=False)
    report = ingest(workspace, "orders", tmp_path / "day2.csv")
    assert report.customer_versions == 1
    assert report.new_customers == 0
    cust = workspace.read("core.dim_customer")
    assert len(cust) == len(first) + 1
    hist = cust[cust["customer_id"] == moved].sort_values("valid_from")
    assert list(hist["segment"]) == [first.set_index("customer_id").loc[moved, "segment"],
                                     "Enterprise"]  # fmt: skip
    assert list(hist["is_current"]) == [False, True]
    # columns the order file lacks are carried over from the earlier version
    assert hist["name"].notna().all()


def test_conflicting_attributes_within_a_load_are_reported(workspace, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "Order ID,Order Date,Customer ID,Segment,Product ID,Category,Sales\n"
        "1,2024-01-01,C1,Consumer,P1,Chairs,10\n"
        "2,2024-03-01,C1,Corporate,P1,Chairs,10\n"
        "3,2024-02-01,C1,Consumer,P1,Tables,10\n"
    )
    report = ingest(workspace, "orders", path)
    assert report.conflicts == {"customer.segment": 1, "product.category": 1}
    assert any("Consumer | Corporate" in n and "latest" in n for n in report.notes)
    assert "note:" in report.summary()
    # the latest order wins
    assert _one(workspace, "SELECT segment FROM core.dim_customer") == "Corporate"
    assert _one(workspace, "SELECT category FROM core.dim_product") == "Chairs"
    kept = workspace.read("quarantine.attribute_conflicts")
    assert sorted(kept["column_name"]) == ["category", "segment"]
    assert set(kept["kept"]) == {"Corporate", "Chairs"}


def test_customer_file_then_denormalised_orders_keeps_one_version_when_equal(workspace, tmp_path):
    (tmp_path / "c.csv").write_text("customer_id,name,city\nC1,Ann,Paris\nC2,Bob,Lyon\n")
    ingest(workspace, "customers", tmp_path / "c.csv")
    (tmp_path / "o.csv").write_text(
        "order_id,order_ts,customer_id,customer_name,city,amount,customer_tier\n"
        "1,2024-01-01,C1,Ann,Paris,5,gold\n2,2024-01-02,C2,,Lyon,5,\n"
    )
    report = ingest(workspace, "orders", tmp_path / "o.csv")
    assert report.customer_attributes["customer_tier"] == "customer_tier"
    cust = workspace.read("core.dim_customer").sort_values(["customer_id", "valid_from"])
    # C1 gains a tier (a new version); C2 changes nothing (a blank name is not a change)
    assert list(cust["customer_id"]) == ["C1", "C1", "C2"]
    assert list(cust["customer_tier"].fillna("-")) == ["-", "gold", "-"]
    assert list(cust["name"]) == ["Ann", "Ann", "Bob"]


@pytest.mark.parametrize("bad", ["NaN", "inf", "-inf", "Infinity", "1e309"])
def test_non_finite_numbers_are_bad_numbers(workspace, tmp_path, bad):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,order_ts,customer_id,amount,score\n"
        f"1,2024-01-01,C1,10,1.5\n2,2024-01-02,C1,{bad},2\n3,2024-01-03,C2,5,{bad}\n"
    )
    report = ingest(workspace, "orders", path)
    assert report.rejects_by_reason == {"bad number": 2}
    assert report.rows_staged == 1
    rej = workspace.read("quarantine.rejects").sort_values("row_number")
    assert list(rej["row_number"]) == [2, 3]
    assert list(rej["column_name"]) == ["amount", "score"]
    assert _one(workspace, "SELECT sum(amount) FROM core.fct_order_lines") == 10.0


def test_implausible_dates_and_impossible_orders_are_quarantined(workspace, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,order_ts,customer_id,amount\n"
        "1,2024-01-01,C1,10\n2,0001-01-01,C1,5\n3,9999-12-31,C1,5\n4,10000-01-01,C1,5\n"
        "5,2035-06-01,C1,5\n6,1899-12-31,C1,5\n"
    )
    report = ingest(workspace, "orders", path)
    assert report.rejects_by_reason == {"implausible date": 5}
    assert report.rows_read == 6 and report.rows_staged == 1
    # one such row once grew dim_date to millions of days
    assert _one(workspace, "SELECT count(*) FROM core.dim_date") == 1

    (tmp_path / "c.csv").write_text(
        "customer_id,birth_date\nC1,1980-05-01\nC2,2090-01-01\nC3,1850-01-01\n"
    )
    report = ingest(workspace, "customers", tmp_path / "c.csv")
    assert report.rejects_by_reason == {"implausible date": 2}

    (tmp_path / "t.csv").write_text(
        "ticket_id,customer_id,opened_ts,closed_ts,csat\n"
        "T1,C1,2024-01-02,2024-01-03,5\nT2,C1,2024-01-05,2024-01-04,4\nT3,C1,2024-01-05,,-1\n"
        "T4,C1,2024-01-05,,6\n"
    )
    report = ingest(workspace, "tickets", tmp_path / "t.csv")
    assert report.rejects_by_reason == {"closed before opened": 1, "out of range": 2}
    (tmp_path / "s.csv").write_text(
        "customer_id,response_ts,nps\nC1,2024-01-02,10\nC1,2024-01-03,11\nC1,2024-01-04,0\n"
    )
    assert ingest(workspace, "surveys", tmp_path / "s.csv").rejects_by_reason == {"out of range": 1}
    (tmp_path / "sub.csv").write_text(
        "subscription_id,customer_id,start_date,end_date\nS1,C1,2024-01-01,2023-01-01\n"
        "S2,C1,2024-01-01,2024-06-01\n"
    )
    assert ingest(workspace, "subscriptions", tmp_path / "sub.csv").rejects_by_reason == {
        "end before start": 1
    }
    (tmp_path / "camp.csv").write_text(
        "campaign_id,start_date,end_date\nK1,2024-02-01,2024-01-01\nK2,2024-01-01,2024-01-05\n"
    )
    assert ingest(workspace, "campaigns", tmp_path / "camp.csv").rejects_by_reason == {
        "end before start": 1
    }


def test_plausible_date_range_is_configurable(workspace, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,order_ts,customer_id,amount\n1,1850-01-01,C1,10\n2,2030-01-01,C1,5\n")
    report = ingest(workspace, "orders", path, min_date="1800-01-01", max_date="2040-12-31")
    assert report.rows_staged == 2
    from crmine.exceptions import CrmineError

    with pytest.raises(CrmineError, match="YYYY-MM-DD"):
        ingest(workspace, "orders", path, source_name="again", min_date="soon")


def test_a_column_named_rowid_loads(workspace, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("ROWID,order_id,order_ts,customer_id,amount\n7,1,2024-01-01,C1,10\n"
                    "8,2,2024-01-02,C1,oops\n")  # fmt: skip
    report = ingest(workspace, "orders", path)
    assert (report.rows_staged, report.rows_quarantined) == (1, 1)
    assert workspace.read("quarantine.rejects")["row_number"].tolist() == [2]
    frame = pd.DataFrame({"rowid": ["a", "b"], "customer_id": ["C1", "C2"]})
    assert ingest(workspace, "customers", frame).rows_staged == 2


def _orders_text(n: int = 40) -> list[str]:
    return [f"{i},C{i % 7},2024-01-{i % 28 + 1:02d},{i}.5\n" for i in range(1, n + 1)]


def test_a_stray_quote_quarantines_only_its_line(workspace, tmp_path):
    lines = _orders_text()
    lines[9] = '10,"C3,2024-01-11,10.5\n'  # an opening quote that never closes
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,order_ts,amount\n" + "".join(lines))
    report = ingest(workspace, "orders", path)
    assert (report.rows_read, report.rows_staged, report.rows_quarantined) == (40, 39, 1)
    rej = workspace.read("quarantine.rejects")
    assert rej["row_number"].tolist() == [10]
    assert rej["reason"].tolist() == ["unparseable line"]
    assert "quote" in rej["value"].iloc[0]
    got = workspace.read("core.fct_order_lines").sort_values("source_row")
    assert got["source_row"].tolist() == [*range(1, 10), *range(11, 41)]
    assert got["order_id"].tolist() == [str(i) for i in [*range(1, 10), *range(11, 41)]]
    # a quoted field spanning lines is still one field
    path2 = tmp_path / "orders2.csv"
    path2.write_text(
        "order_id,customer_id,order_ts,amount,note\n"
        '101,C1,2024-01-01,5,"two\nlines"\n102,C1,2024-01-02,6,"x\n103,C1,2024-01-03,7,ok\n'
    )
    report = ingest(workspace, "orders", path2)
    assert (report.rows_read, report.rows_staged, report.rows_quarantined) == (3, 2, 1)


def test_a_switch_from_lf_to_crlf_loads_every_row(workspace, tmp_path):
    lines = _orders_text()
    body = "".join(lines[:20]) + "".join(ln.replace("\n", "\r\n") for ln in lines[20:])
    path = tmp_path / "orders.csv"
    path.write_bytes(("order_id,customer_id,order_ts,amount\n" + body).encode())
    report = ingest(workspace, "orders", path)
    assert (report.rows_read, report.rows_staged, report.rows_quarantined) == (40, 40, 0)
    amounts = workspace.read("core.fct_order_lines")["amount"]
    assert amounts.sum() == pytest.approx(sum(i + 0.5 for i in range(1, 41)))


def test_a_huge_field_loads_and_errors_stay_short(workspace, tmp_path):
    lines = _orders_text()
    secret = "personal-data " * 800_000  # an 11 MB field
    lines[4] = f"5,C5,2024-01-06,5.5,{secret}\n"
    path = tmp_path / "orders.csv"
    header = "order_id,customer_id,order_ts,amount,note\n"
    path.write_text(header + "".join(ln.rstrip("\n") + ",x\n" for ln in lines[:4]) + lines[4]
                    + "".join(ln.rstrip("\n") + ",x\n" for ln in lines[5:]))  # fmt: skip
    report = ingest(workspace, "orders", path)
    assert report.rows_staged == 40
    # a file that is not a table at all: the error is short and shows no raw row
    bad = tmp_path / "garbage.csv"
    bad.write_text(("x" * 5000 + '"' + "\n") * 3 + secret[:20000] + "\n")
    from crmine.exceptions import IngestError

    with pytest.raises(IngestError) as err:
        ingest(workspace, "orders", bad)
    assert len(str(err.value)) < 600
    assert "x" * 201 not in str(err.value) and "max_line_size" not in str(err.value)


def _lines_csv(rows: list[tuple[str, str, int, float]], with_id: bool) -> str:
    head = (
        "Row ID," if with_id else ""
    ) + "Order ID,Order Date,Customer ID,Product ID,Quantity,Sales"
    body = [
        (f"{rid}," if with_id else "") + f"{o},2024-01-0{int(o[-1])},C{o[-1]},{p},{q},{s}"
        for rid, (o, p, q, s) in enumerate(rows, 1)
    ]
    return "\n".join([head, *body]) + "\n"


@pytest.mark.parametrize("with_id", [True, False])
def test_incremental_exports_add_new_lines_and_ignore_rows_already_loaded(
    workspace, tmp_path, with_id
):
    day1 = [("O1", "P1", 1, 10.0), ("O1", "P2", 2, 20.0), ("O2", "P1", 1, 10.0)]
    (tmp_path / "d1.csv").write_text(_lines_csv(day1, with_id))
    first = ingest(workspace, "orders", tmp_path / "d1.csv")
    assert first.rows_staged == 3
    # day 2 re-exports everything, with a new line for O1 and a new order
    day2 = [*day1, ("O1", "P3", 1, 5.0), ("O3", "P2", 1, 20.0)]
    (tmp_path / "d2.csv").write_text(_lines_csv(day2, with_id))
    second = ingest(workspace, "orders", tmp_path / "d2.csv")
    assert (second.rows_read, second.rows_staged, second.rows_quarantined) == (5, 2, 0)
    assert second.rows_unchanged == 3
    assert "3 already loaded" in second.summary()
    lines = workspace.read("core.fct_order_lines")
    assert len(lines) == 5
    assert lines["amount"].sum() == pytest.approx(65.0)
    assert not lines.duplicated(["order_id", "line_number"]).any()
    assert sorted(lines.loc[lines["order_id"] == "O1", "product_id"]) == ["P1", "P2", "P3"]
    # only the new line, in an export of its own, is added once
    (tmp_path / "d3.csv").write_text(_lines_csv([*day2, ("O1", "P3", 1, 5.0)], with_id))
    third = ingest(workspace, "orders", tmp_path / "d3.csv")
    assert third.rows_unchanged == 5 and third.rows_quarantined == 0
    assert third.rows_staged == 1  # a second P3 line of O1 (a row of its own)
    assert workspace.read("quarantine.rejects").empty


def test_a_corrected_line_with_its_own_key_is_a_correction_not_a_reject(workspace, tmp_path):
    day1 = [("O1", "P1", 1, 10.0), ("O1", "P2", 2, 20.0)]
    (tmp_path / "d1.csv").write_text(_lines_csv(day1, True))
    ingest(workspace, "orders", tmp_path / "d1.csv")
    (tmp_path / "d2.csv").write_text(
        _lines_csv([("O1", "P1", 1, 10.0), ("O1", "P2", 3, 30.0)], True)
    )
    report = ingest(workspace, "orders", tmp_path / "d2.csv")
    assert report.rows_unchanged == 1
    assert (report.rows_corrected, report.rows_quarantined) == (1, 0)
    assert workspace.read("core.fct_order_lines")["amount"].sum() == pytest.approx(40.0)


def test_a_stray_quote_deep_in_a_large_file_loses_no_later_row(workspace, tmp_path):
    rows = [f"{i},C{i % 50},2024-01-{i % 28 + 1:02d},{i}.5\n" for i in range(1, 30_001)]
    rows[20_000] = '20001,"C1,2024-01-02,5\n'
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,order_ts,amount\n" + "".join(rows))
    report = ingest(workspace, "orders", path)
    assert (report.rows_read, report.rows_staged, report.rows_quarantined) == (30_000, 29_999, 1)
    assert workspace.read("quarantine.rejects")["row_number"].tolist() == [20_001]


def test_tickets_and_events_carry_customer_and_product_attributes(workspace, tmp_path):
    (tmp_path / "t.csv").write_text(
        "ticket_id,customer_id,opened_ts,category,Customer Name,Segment\n"
        "T1,C1,2024-01-02,billing,Ann,Consumer\nT2,C2,2024-01-03,delivery,Bob,Corporate\n"
    )
    report = ingest(workspace, "tickets", tmp_path / "t.csv")
    assert report.customer_attributes == {"name": "Customer Name", "segment": "Segment"}
    assert report.product_attributes == {}  # a ticket's category is the ticket's own
    cust = workspace.read("core.dim_customer").set_index("customer_id")
    assert cust.loc["C2", "segment"] == "Corporate" and cust.loc["C1", "name"] == "Ann"
    assert sorted(workspace.read("core.fct_tickets")["category"]) == ["billing", "delivery"]
    (tmp_path / "e.csv").write_text(
        "customer_id,event_ts,event_type,product_id,Product Category,Brand\n"
        "C1,2024-01-02,view,P1,Shoes,Acme\nC2,2024-01-03,view,P2,Hats,Zeta\n"
    )
    report = ingest(workspace, "events", tmp_path / "e.csv")
    assert report.product_attributes == {"category": "Product Category", "brand": "Brand"}
    prod = workspace.read("core.dim_product").set_index("product_id")
    assert prod.loc["P2", "category"] == "Hats" and prod.loc["P1", "brand"] == "Acme"


def test_customer_contact_fields_on_a_fact_file_are_standardised(workspace):
    """Gender, e-mail and phone on an order export take the form a customer file gives them
    ("Customer E-mail" is the customer's e-mail), so spellings of one value are no conflict."""
    report = ingest(workspace, "orders", pd.DataFrame({
        "order_id": ["o1", "o2", "o3"], "customer_id": ["c1", "c2", "c1"],
        "order_ts": ["2024-01-01", "2024-01-02", "2024-01-03"], "amount": [1.0, 2.0, 3.0],
        "Customer E-mail": ["Ann@X.CC", "bo@y.cc", "ann@x.cc"], "gender": ["female", "男", "F"],
        "phone": ["(555) 123-4567", "+86 138 0013 8000", "555 123 4567"],
        "Product Category": ["toys", "food", "toys"],
        "product_id": ["p1", "p2", "p1"]}))  # fmt: skip
    customers = workspace.read("core.dim_customer").set_index("customer_id")
    assert customers.loc["c1", ["email", "phone", "gender"]].tolist() == [
        "ann@x.cc", "5551234567", "F"]
    assert customers.loc["c2", ["email", "phone", "gender"]].tolist() == [
        "bo@y.cc", "+8613800138000", "M"]
    assert report.conflicts == {}
    assert workspace.read("core.dim_product").set_index("product_id")["category"].to_dict() == {
        "p1": "toys", "p2": "food"}
