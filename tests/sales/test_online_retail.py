"""Online Retail (UCI): daily revenue forecast against seasonal naive over the final 4 weeks,
sales by country and product."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import shared_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retail(tmp_path_factory):
    from crmine.warehouse import Workspace, ingest

    path = shared_file("online_retail/online_retail.csv.gz")
    ws = Workspace.init(tmp_path_factory.mktemp("retail") / "ws")
    ingest(ws, "orders", path)
    yield ws
    ws.close()


def test_daily_revenue_beats_seasonal_naive_on_the_final_four_weeks(retail):
    from crmine.sales import forecast, sales_series

    daily = sales_series(retail, "D")
    # 2011-12-09 is a half day (the export stops at 12:50): forecast complete days only
    daily = daily[daily["ds"] < "2011-12-09"]
    frame = daily.assign(unique_id="online_retail")
    res = forecast(frame, freq="D", horizon=28, models=("ets", "theta", "combo"), n_windows=3)
    bt = res.backtest.iloc[0]
    # the shop never trades on Saturdays: those days are forecast as 0, not smoothed over
    sat = pd.to_datetime(res.forecast["ds"]).dt.dayofweek == 5
    assert (res.forecast.loc[sat, "yhat"] == 0).all()
    assert bt["mase"] / bt["naive_mase"] < 1.0, res.backtest
    assert bt["smape"] < bt["naive_smape"] + 5
    assert 0.6 <= bt["coverage_80"] <= 1.0


def test_sales_by_country_and_product(retail):
    from crmine.sales import sales_by, whale_curve

    country = sales_by(retail, ("country",)).set_index("country")
    assert len(country) == 38 and country.index[0] == "United Kingdom"
    assert country["revenue"].sum() > 9_000_000
    products = sales_by(retail, ("product",))
    assert len(products) > 3_900 and products["return_rate"].max() > 0
    # no unit cost or profit in this export: no whale curve rather than an invented one
    assert whale_curve(retail).empty
