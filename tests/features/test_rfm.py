"""marts.customer_rfm: lifetimes conventions, and identical results on DuckDB and Spark."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from crmine.exceptions import ConfigError
from crmine.features import build_customer_rfm, customer_rfm
from tests.conftest import shared_file

RFM_COLUMNS = [
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "orders",
    "total_spend",
    "avg_basket",
    "tenure_days",
]


def _lines() -> pd.DataFrame:
    """Hand-checkable order lines: a repeat buyer, a one-off, a returner, an anonymous line."""
    rows = [
        # customer A: 3 purchase days (two orders on 01-03 count once), spend 10 | 5+5 | 30
        ("o1", "A", "2024-01-01 09:00", 10.0, "completed"),
        ("o2", "A", "2024-01-03 10:00", 5.0, "completed"),
        ("o3", "A", "2024-01-03 18:00", 5.0, "completed"),
        ("o4", "A", "2024-01-10 12:00", 30.0, "completed"),
        # customer B: one purchase, then a return
        ("o5", "B", "2024-01-05 08:00", 20.0, "completed"),
        ("o6", "B", "2024-01-06 08:00", -20.0, "returned"),
        # anonymous and after the observation end: ignored
        ("o7", None, "2024-01-05 08:00", 99.0, "completed"),
        ("o8", "A", "2024-02-01 08:00", 99.0, "completed"),
    ]
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_ts", "amount", "status"])
    df["order_ts"] = pd.to_datetime(df["order_ts"])
    return df


def test_rfm_by_hand():
    t = ibis.memtable(_lines())
    out = customer_rfm(t, observation_end="2024-01-20", time_unit="D").to_pandas()
    out = out.set_index("customer_id")
    a, b = out.loc["A"], out.loc["B"]
    assert (a.frequency, a.recency, a["T"]) == (2.0, 9.0, 19.0)
    assert a.monetary_value == pytest.approx((10.0 + 30.0) / 2)  # repeat periods only
    assert (a.orders, a.total_spend) == (4, 50.0)
    assert a.avg_basket == pytest.approx(12.5)
    assert a.tenure_days == 19
    assert (b.frequency, b.recency, b["T"], b.monetary_value) == (0.0, 0.0, 15.0, 0.0)
    assert b.total_spend == 0.0  # the return nets the purchase out
    assert list(out.index) == ["A", "B"]


def test_time_units_weeks_and_months():
    t = ibis.memtable(_lines())
    weeks = customer_rfm(t, observation_end="2024-01-20", time_unit="W").to_pandas()
    a = weeks.set_index("customer_id").loc["A"]
    # 2024-01-01 is a Monday: days 1 and 3 share week 1, day 10 is week 2, the 20th week 3
    assert (a.frequency, a.recency, a["T"]) == (1.0, 1.0, 2.0)
    months = customer_rfm(t, observation_end="2024-03-31", time_unit="M").to_pandas()
    a = months.set_index("customer_id").loc["A"]
    assert (a.frequency, a.recency, a["T"]) == (1.0, 1.0, 2.0)
    with pytest.raises(ConfigError, match="time_unit"):
        customer_rfm(t, time_unit="Q")


@pytest.mark.data
@pytest.mark.parametrize("unit", ["D", "W"])
def test_matches_lifetimes_on_cdnow(unit):
    lifetimes_utils = pytest.importorskip("lifetimes.utils")
    raw = pd.read_csv(
        shared_file("cdnow/CDNOW_master.txt"), sep=r"\s+", dtype={"customer_id": str, "date": str}
    )
    tx = pd.DataFrame(
        {
            "order_id": np.arange(len(raw)).astype(str),
            "customer_id": raw["customer_id"],
            "order_ts": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["dollar_value"],
            "status": "completed",
        }
    )
    ours = customer_rfm(ibis.memtable(tx), observation_end="1997-09-30", time_unit=unit)
    ours = ours.to_pandas().set_index("customer_id")
    early = tx[tx["order_ts"] <= "1997-09-30"]
    ref = lifetimes_utils.summary_data_from_transaction_data(
        early,
        "customer_id",
        "order_ts",
        monetary_value_col="amount",
        observation_period_end="1997-09-30",
        freq=unit,
    )
    assert len(ours) == len(ref) == 23_570
    joined = ours.join(ref, rsuffix="_ref")
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(joined[col], joined[f"{col}_ref"], rtol=1e-9, atol=1e-9)


def test_build_mart_in_workspace(workspace, tmp_path):
    from crmine.warehouse import ingest

    ingest(workspace, "orders", _lines().assign(product_id="P1"))
    n = build_customer_rfm(workspace, observation_end="2024-01-20")
    mart = workspace.read("marts.customer_rfm").set_index("customer_id")
    assert n == 2 and mart.loc["A", "frequency"] == 2.0
    assert mart["time_unit"].unique().tolist() == ["D"]
    assert str(mart["observation_end"].iloc[0])[:10] == "2024-01-20"


@pytest.fixture(scope="module")
def spark_backend(spark_session):
    return ibis.pyspark.connect(spark_session)


@pytest.mark.spark
@pytest.mark.parametrize("unit", ["D", "W", "M"])
def test_duckdb_and_spark_give_identical_rfm(spark_backend, unit):
    rng = np.random.default_rng(7)
    n = 5_000
    lines = pd.DataFrame(
        {
            "order_id": [f"o{i // 2}" for i in range(n)],
            "customer_id": rng.choice([f"c{i:03d}" for i in range(300)] + [None], n).astype(object),
            "order_ts": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 500 * 24 * 60, n), unit="min"),
            "amount": rng.gamma(2.0, 20.0, n).round(2),
            "status": rng.choice(["completed", "completed", "completed", "returned"], n),
        }
    )
    duck = ibis.duckdb.connect()
    results = []
    for con in (duck, spark_backend):
        table = con.create_table(f"lines_{unit.lower()}", lines, overwrite=True)
        expr = customer_rfm(table, observation_end="2024-05-31", time_unit=unit)
        out = con.to_pandas(expr).sort_values("customer_id").reset_index(drop=True)
        results.append(out)
    duck_out, spark_out = results
    assert len(duck_out) == len(spark_out) > 250
    assert duck_out["customer_id"].tolist() == spark_out["customer_id"].tolist()
    for col in RFM_COLUMNS:
        np.testing.assert_allclose(
            duck_out[col].astype(float), spark_out[col].astype(float), rtol=1e-12, err_msg=col
        )
    for col in ("first_order_ts", "last_order_ts"):
        assert (pd.to_datetime(duck_out[col]) == pd.to_datetime(spark_out[col])).all()


@pytest.mark.data
def test_monthly_mart_equals_rfm_summary_on_cdnow():
    """Calendar months: the mart (Ibis) and clv.rfm_summary (DuckDB SQL) agree customer for
    customer on CDNOW (lifetimes' own "M" summary fails on current pandas)."""
    from crmine.clv import rfm_summary

    raw = pd.read_csv(
        shared_file("cdnow/CDNOW_master.txt"), sep=r"\s+", dtype={"customer_id": str, "date": str}
    )
    tx = pd.DataFrame({
        "order_id": np.arange(len(raw)).astype(str), "customer_id": raw["customer_id"],
        "order_ts": pd.to_datetime(raw["date"], format="%Y%m%d"),
        "amount": raw["dollar_value"], "status": "completed",
    })  # fmt: skip
    mart = customer_rfm(ibis.memtable(tx), observation_end="1997-09-30", time_unit="M")
    mart = mart.to_pandas().set_index("customer_id").sort_index()
    summary = rfm_summary(tx, "customer_id", "order_ts", "amount",
                          observation_period_end="1997-09-30", time_unit="M")  # fmt: skip
    assert list(summary.index) == list(mart.index) and len(summary) == 23_570
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(summary[col], mart[col], rtol=1e-12, err_msg=col)
    assert summary["T"].max() == 8  # January to September 1997


def test_monthly_calibration_holdout_split():
    from crmine.clv import calibration_holdout_split

    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "a"],
        "date": pd.to_datetime(["2024-01-05", "2024-01-20", "2024-03-02", "2024-02-10",
                                "2024-05-15"]),
    })  # fmt: skip
    out = calibration_holdout_split(tx, "customer_id", "date", "2024-03-31", "2024-06-30",
                                    time_unit="M")  # fmt: skip
    # a: purchase months Jan, Mar -> frequency 1, recency 2, T 2 (Jan to Mar); May in holdout
    assert out.loc["a", ["frequency_cal", "recency_cal", "T_cal"]].tolist() == [1.0, 2.0, 2.0]
    assert out.loc["a", "frequency_holdout"] == 1 and out.loc["b", "T_cal"] == 1
    assert (out["duration_holdout"] == 3).all()
