"""The two public datasets the foundation must load: Online Retail (no mapping) and CDNOW."""

from __future__ import annotations

import pandas as pd
import pytest

from crmine.features import build_customer_rfm
from crmine.warehouse import Workspace, ingest, quality_report
from tests.conftest import shared_file

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    path = shared_file("online_retail/online_retail.csv.gz")
    ws = Workspace.init(tmp_path_factory.mktemp("retail"))
    report = ingest(ws, "orders", path)
    yield ws, report
    ws.close()


def test_online_retail_every_row_accounted_for(retail):
    ws, report = retail
    # SOURCE.md: 541,909 rows; the two "Adjust bad debt" lines have negative prices.
    assert report.rows_read == 541_909
    assert report.rows_staged + report.rows_quarantined == 541_909
    assert report.rejects_by_reason == {"negative price": 2}
    rejects = ws.read("quarantine.rejects")
    # row numbers point at the source rows: the two "Adjust bad debt" invoices
    source = pd.read_csv(shared_file("online_retail/online_retail.csv.gz"), dtype=str)
    bad = source.index[source["InvoiceNo"].isin(["A563186", "A563187"])] + 1
    assert sorted(rejects["row_number"]) == sorted(bad.tolist())
    assert all('"StockCode":"B"' in raw for raw in rejects["raw_row"])
    # 135,080 lines without CustomerID, minus the two bad-debt lines (also anonymous)
    assert report.anonymous_rows == 135_078
    # cancellations (InvoiceNo C…, negative quantity) kept and flagged as returns
    row = ws.duck.execute(
        "SELECT count(*) FILTER (WHERE order_id LIKE 'C%'), "
        "count(*) FILTER (WHERE order_id LIKE 'C%' AND status = 'returned' AND is_return) "
        "FROM core.fct_order_lines"
    ).fetchone()
    assert row == (9_288, 9_288)
    assert report.columns == {
        "order_id": "InvoiceNo",
        "customer_id": "CustomerID",
        "order_ts": "InvoiceDate",
        "product_id": "StockCode",
        "product_name": "Description",
        "quantity": "Quantity",
        "unit_price": "UnitPrice",
        "country": "Country",
    }


def test_online_retail_ids_normalised_and_rfm_built(retail):
    ws, _ = retail
    ids = ws.duck.execute(
        "SELECT count(DISTINCT customer_id), min(customer_id), max(customer_id), "
        "count(*) FILTER (WHERE customer_id LIKE '%.%') FROM core.fct_order_lines"
    ).fetchone()
    assert ids == (4_372, "12346", "18287", 0)
    n = build_customer_rfm(ws, time_unit="D")
    assert n == 4_339  # customers with at least one completed purchase
    rfm = ws.read("marts.customer_rfm").set_index("customer_id")
    assert str(rfm["observation_end"].iloc[0])[:10] == "2011-12-09"
    # customer 12346 bought 74,215 units once and returned them all
    assert rfm.loc["12346", "frequency"] == 0
    assert rfm.loc["12346", "total_spend"] == pytest.approx(0.0)
    assert (rfm["frequency"] <= rfm["orders"]).all()


def test_online_retail_quality_report(retail):
    ws, _ = retail
    q = quality_report(ws, schemas=("core",))
    lines = q.tables.set_index("table").loc["fct_order_lines"]
    assert lines["rows"] == 541_907
    # SOURCE.md: 5,268 exact duplicate rows in the file; they are data (kept), and reported
    assert q.loads["duplicate_rows"].tolist() == [5_268]
    # two more pairs differ only in their description, which lives in dim_product
    assert lines["duplicate_rows"] == 5_270
    cols = q.columns.set_index(["table", "column"])
    assert cols.loc[("core.fct_order_lines", "customer_id"), "null_rate"] == pytest.approx(
        135_078 / 541_907
    )
    assert cols.loc[("core.fct_order_lines", "quantity"), "outliers"] > 0
    assert q.checks["passed"].all()
    assert q.rejects.to_dict("records")[0]["reason"] == "negative price"


def test_cdnow_master_via_mapping(tmp_path):
    path = shared_file("cdnow/CDNOW_master.txt")
    with Workspace.init(tmp_path / "cdnow") as ws:
        ws.config.mappings["orders"] = {
            "date": "order_ts",
            "number_of_cds": "quantity",
            "dollar_value": "amount",
            "@row": "order_id",
        }
        ws.save_config()
        report = ingest(ws, "orders", path)
        assert report.delimiter == " "  # whitespace-separated fixed-width columns
        assert (report.rows_read, report.rows_quarantined) == (69_659, 0)
        assert report.formats["order_ts"] == "%Y%m%d"
        row = ws.duck.execute(
            "SELECT count(DISTINCT customer_id), min(order_ts)::DATE, max(order_ts)::DATE, "
            "round(sum(amount), 2), sum(quantity) FROM core.fct_order_lines"
        ).fetchone()
        # SOURCE.md: 23,570 customers, 1997-01-01..1998-06-30, $2,500,315.63, 167,881 CDs
        assert row == (
            23_570,
            pd.Timestamp("1997-01-01").date(),
            pd.Timestamp("1998-06-30").date(),
            2_500_315.63,
            167_881,
        )
        assert ws.read("core.fct_order_lines")["customer_id"].str.len().eq(5).all()


def test_online_retail_bgnbd_from_the_mart_equals_lifetimes(retail):
    """BG/NBD on Online Retail's daily mart gives a tiny dropout a (about 0.003), so P(alive)
    is near 1 for everyone: that is the maximum-likelihood answer for this one-year window
    (lifetimes finds the same), not a failed fit."""
    lifetimes = pytest.importorskip("lifetimes")
    from crmine.clv import BetaGeoModel

    ws, _ = retail
    build_customer_rfm(ws, time_unit="D")
    rfm = ws.read("marts.customer_rfm")[["frequency", "recency", "T"]]
    ours = BetaGeoModel().fit(rfm)
    ref = lifetimes.BetaGeoFitter().fit(rfm["frequency"], rfm["recency"], rfm["T"])
    for name in ("r", "alpha", "a", "b"):
        assert ours.params_[name] == pytest.approx(ref.params_[name], rel=1e-3), name
    assert ours.params_["a"] < 0.01
    assert ours.p_alive(rfm).mean() > 0.99


def test_online_retail_overview_revenue(retail):
    """Net revenue = sales − returns: the file's £9,747,747.93 of Quantity × UnitPrice plus the
    two quarantined −£11,062.06 "Adjust bad debt" lines."""
    from crmine.report import all_sections

    ws, _ = retail
    spec = next(s for s in all_sections() if s.key == "overview")
    html = spec.fn(ws).html
    for figure in ("10,666,685", "896,812", "9,769,872", "25,898", "135,078"):
        assert figure in html, figure
    net = ws.duck.execute("SELECT sum(amount) FROM core.fct_order_lines").fetchone()
    assert net is not None and net[0] == pytest.approx(9_747_747.93 + 2 * 11_062.06, abs=0.01)


def test_online_retail_clv_is_revenue_and_flags_an_unidentified_dropout(retail):
    """No unit costs in the file: CLV is revenue (margin 1). BG/NBD's dropout is not determined
    by one year of data: its forecast is then the gamma-Poisson rate the naive baseline is made
    of (skill 0 to nine decimals), so the CLV is withheld and the report says why instead of
    presenting P(alive) ≈ 1 as fact."""
    from crmine.clv import run_clv
    from crmine.report import all_sections

    ws, _ = retail
    build_customer_rfm(ws, time_unit="D")
    run = run_clv(ws)
    summary = run.summary()
    assert summary["margin"] == 1.0
    assert run.verdict.status == "not_informative"
    assert run.verdict.value is not None and abs(run.verdict.value) < 1e-3
    assert "dropout not identified" in run.verdict.why and "total_clv_12m" not in summary
    html = next(s for s in all_sections() if s.key == "clv").fn(ws).html
    assert "dropout not identified" in html
