"""Forecast regressors from the warehouse's calendars (crmine.sales._calendar): a promotion's
days weighted by the share of each node's revenue it covers, the week after it, holidays
where they are kept, future periods the order lines have not reached yet."""

from __future__ import annotations

import pandas as pd
import pytest

from crmine.sales._calendar import workspace_regressors
from crmine.warehouse import Workspace
from crmine.warehouse._core import ensure_core_table
from crmine.warehouse._schema import entity

WEEK = pd.tseries.frequencies.to_offset("7D")
GRID = pd.date_range("2025-01-06", periods=10, freq="7D")  # Mondays; weeks 8-9 are future


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """Eight weeks of sales: web sells books 300 and toys 100 a week, the store books 100."""
    ws = Workspace.init(tmp_path_factory.mktemp("calendar") / "ws")
    con = ws.duck
    con.execute("CREATE SCHEMA IF NOT EXISTS core")
    for name in ("products", "orders", "promotion_calendar", "holidays"):
        ensure_core_table(con, entity(name), {})
    con.execute("INSERT INTO core.dim_product (product_id, category) "
                "VALUES ('B', 'books'), ('T', 'toys')")  # fmt: skip
    lines = [
        (f"O{w}{k}", 1, f"C{k}", GRID[w] + pd.Timedelta(days=2), product, 1.0, amount,
         "completed", channel, country)
        for w in range(8)
        for k, (product, amount, channel, country) in enumerate(
            [("B", 300.0, "web", "CN"), ("T", 100.0, "web", "CN"), ("B", 100.0, "store", "UK")]
        )
    ]  # fmt: skip
    con.executemany(
        "INSERT INTO core.fct_order_lines (order_id, line_number, customer_id, order_ts, "
        "product_id, quantity, amount, status, channel, country) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*row[:3], row[3].to_pydatetime(), *row[4:]) for row in lines],
    )
    con.execute("""
        INSERT INTO core.dim_promotion_calendar (promotion_id, start_date, end_date, category,
                                                 channel)
        VALUES ('books-week', DATE '2025-01-13', DATE '2025-01-19', 'books', NULL),
               ('web-future', DATE '2025-03-03', DATE '2025-03-09', NULL, 'web')
    """)
    con.execute("""
        INSERT INTO core.dim_holidays (date, name, country, region)
        VALUES (DATE '2025-01-29', 'spring', NULL, NULL),
               (DATE '2025-02-04', 'bank', 'UK', NULL)
    """)
    yield ws
    ws.close()


def _values(reg, column: str, node: str) -> pd.Series:
    f = reg.frame[reg.frame["unique_id"] == node]
    return f.set_index("ds")[column]


def test_a_promotion_is_weighted_by_the_revenue_it_covers(shop):
    reg = workspace_regressors(shop, ["channel"], GRID, WEEK)
    assert reg is not None
    assert set(reg.regressors) == {"promotion", "after_promotion", "holiday:spring",
                                   "holiday:bank"}  # fmt: skip
    # books are 400 of 500 in all, 300 of 400 on the web, all of the store
    week2 = GRID[1]
    for node, share in (("total", 0.8), ("total/web", 0.75), ("total/store", 1.0)):
        promo = _values(reg, "promotion", node)
        assert promo[week2] == pytest.approx(share)
        # the shop-wide web promotion lies beyond the order lines: web's share of revenue
        future = {"total": 0.8, "total/web": 1.0, "total/store": 0.0}[node]
        assert promo[GRID[8]] == pytest.approx(future)
        assert promo.drop([week2, GRID[8]]).abs().max() < 1e-12
        # the pull-forward window is the week after
        after = _values(reg, "after_promotion", node)
        assert after[GRID[2]] == pytest.approx(share)
        assert after[GRID[9]] == pytest.approx(future)
    assert reg.promotions == 2 and reg.promotions_end == "2025-03-09"


def test_holidays_count_where_they_are_kept(shop):
    reg = workspace_regressors(shop, ["channel"], GRID, WEEK)
    spring = _values(reg, "holiday:spring", "total")
    assert spring[GRID[3]] == pytest.approx(1 / 7) and spring.drop(GRID[3]).abs().max() < 1e-12
    # a UK bank holiday: the store's sales are in the UK, the web's in China
    bank = {n: _values(reg, "holiday:bank", n)[GRID[4]] for n in ("total", "total/web",
                                                                  "total/store")}  # fmt: skip
    assert bank == pytest.approx({"total": 0.2 / 7, "total/web": 0.0, "total/store": 1 / 7})
    assert reg.holidays == 2 and reg.holidays_end == "2025-02-04"


def test_no_calendar_gives_no_regressors(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    try:
        assert workspace_regressors(ws, ["channel"], GRID, WEEK) is None
    finally:
        ws.close()
