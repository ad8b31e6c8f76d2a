"""Cluster assignment as an Ibis expression: the same labels on DuckDB and on Spark as
``CustomerSegmenter.predict``; fitting on a sample of an engine table recovers planted
segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from crmine.exceptions import DataError, SchemaError
from crmine.segment import CustomerSegmenter, assign_clusters, segment_table
from tests.segment.test_cluster import planted

ibis = pytest.importorskip("ibis")


@pytest.fixture(scope="module")
def fitted():
    df, truth = planted(n=3000, seed=3)
    seg = CustomerSegmenter(k_range=(2, 6), n_bootstrap=0).fit(df)
    return seg, df, truth


def _labels(table) -> np.ndarray:
    out = table.select("customer_id", "cluster").to_pandas()
    return out.set_index("customer_id")["cluster"]


def test_duckdb_expression_equals_predict(fitted):
    seg, _, _ = fitted
    # new customers with missing and non-finite values, negative and huge amounts
    fresh, _ = planted(n=1000, seed=9)
    fresh.loc[:20, "total_spend"] = np.nan
    fresh.loc[21:30, "orders"] = np.inf
    fresh.loc[31:40, "tenure_days"] = -5e6
    con = ibis.duckdb.connect()
    labels = _labels(assign_clusters(seg, con.create_table("fresh", fresh)))
    expected = pd.Series(seg.predict(fresh), index=fresh["customer_id"])
    assert (labels.loc[expected.index] == expected).all()
    assert set(labels) == set(range(seg.n_clusters_))


@pytest.mark.spark
def test_spark_expression_equals_predict_and_sample_fit_recovers_segments(fitted,
                                                                          spark_session):
    seg, df, truth = fitted
    con = ibis.pyspark.connect(spark_session)
    table = con.create_table("customers_engine", df.drop(columns=["city"]), overwrite=True)
    labels = _labels(assign_clusters(seg, table))
    assert (labels.loc[df["customer_id"]].to_numpy() == seg.labels_).all()

    # fitted on a 1,500-row sample pulled from Spark, every customer assigned on Spark
    sampled, on_spark = segment_table(table, sample_size=1500, k_range=(2, 6), n_bootstrap=0)
    assert sampled.n_clusters_ == 4
    got = _labels(on_spark).loc[df["customer_id"]].to_numpy()
    assert adjusted_rand_score(truth, got) > 0.95


def test_errors(fitted):
    seg, df, _ = fitted
    con = ibis.duckdb.connect()
    with pytest.raises(SchemaError, match="lacks feature column"):
        assign_clusters(seg, con.create_table("thin", df[["customer_id", "orders"]]))
    gmm = CustomerSegmenter(method="gmm", n_clusters=3, n_bootstrap=0).fit(df)
    with pytest.raises(DataError, match="no expression form"):
        assign_clusters(gmm, con.create_table("all", df))
    with pytest.raises(DataError, match="cannot assign customers on an engine"):
        segment_table(con.create_table("again", df), method="hdbscan")
