"""Fitting from distinct histories aggregated on Spark equals fitting every customer."""

from __future__ import annotations

import pytest

from crmine.clv import BetaGeoModel, distinct_histories


@pytest.mark.spark
def test_spark_aggregated_histories_fit_like_all_customers(spark_session):
    ibis = pytest.importorskip("ibis")
    con = ibis.pyspark.connect(spark_session)
    # customers on a daily grid, as rfm_summary and marts.customer_rfm produce them
    summary = BetaGeoModel.from_params(r=0.6, alpha=20.0, a=0.7, b=3.5).simulate(
        5000, 200.0, seed=4
    )
    summary["recency"] = summary["recency"].round()
    table = con.create_table("clv_rfm", summary, overwrite=True)
    hist = distinct_histories(table)
    assert hist["weight"].sum() == 5000 and len(hist) < 5000
    on_spark = BetaGeoModel().fit(hist, weights=hist["weight"])
    direct = BetaGeoModel().fit(summary)
    assert on_spark.params_ == pytest.approx(direct.params_, rel=1e-6)
    assert on_spark.log_likelihood_ == pytest.approx(direct.log_likelihood_, rel=1e-10)
