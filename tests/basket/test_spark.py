"""The Spark MLlib FP-Growth path, in local mode: equal to the local path rule for rule."""

from __future__ import annotations

import numpy as np
import pytest

from crmine.basket import mine_rules, spark_mine_rules
from tests.basket._data import groceries

pytestmark = [pytest.mark.spark, pytest.mark.data]


@pytest.fixture(scope="module")
def spark(spark_session):
    """The suite's shared local[2] session (tests/conftest.py); skips without Java."""
    return spark_session


def _key(rules):
    return {(a, c): i for i, (a, c) in enumerate(zip(rules["antecedents"], rules["consequents"],
                                                     strict=True))}


def test_spark_fpgrowth_equals_local_on_groceries(spark):
    baskets = groceries()[:3000]          # a slice keeps the JVM job short on 2 cores
    local = mine_rules(baskets, 0.005, 0.3)
    distributed = spark_mine_rules(baskets, 0.005, 0.3, spark=spark, num_partitions=2)
    assert distributed.n_baskets == 3000
    assert dict(zip(distributed.itemsets["itemsets"], distributed.itemsets["count"],
                    strict=True)) == dict(zip(local.itemsets["itemsets"],
                                              local.itemsets["count"], strict=True))
    assert len(local.itemsets) > 500
    ours, theirs = _key(local.rules), _key(distributed.rules)
    assert set(ours) == set(theirs) and len(ours) > 100
    order = [theirs[k] for k in ours]
    for metric in ("support", "confidence", "lift", "leverage", "conviction"):
        np.testing.assert_allclose(local.rules[metric].to_numpy(),
                                   distributed.rules[metric].to_numpy()[order], rtol=1e-12)


def test_spark_dataframe_input_stays_distributed(spark):
    frame = spark.createDataFrame([(["a", "b", "b"],), (["a", "b"],), (["a"],), (["c"],)],
                                  "items array<string>")
    mined = spark_mine_rules(frame, 0.5, 0.6)
    assert mined.n_baskets == 4
    rows = {(tuple(sorted(a)), tuple(sorted(c))): conf for a, c, conf in
            zip(mined.rules["antecedents"], mined.rules["consequents"],
                mined.rules["confidence"], strict=True)}
    assert rows == {(("b",), ("a",)): 1.0, (("a",), ("b",)): pytest.approx(2 / 3)}
