"""Itemset mining beyond one machine: Spark MLlib's parallel FP-Growth.

Spark counts the itemsets across the cluster (Li et al. 2008, PFP); the frequent itemsets,
which are small next to the baskets, come back to the driver, where the same rule code as
the local path derives every rule and metric. Local and Spark results are therefore equal
rule for rule, which the tests check in local mode.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING

import pandas as pd

from crmine.basket._itemsets import min_count_for
from crmine.basket._rules import BasketRules, rules_from_itemsets
from crmine.exceptions import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession

__all__ = ["spark_mine_rules", "spark_session"]


def spark_session(master: str = "local[2]", app_name: str = "crmine-basket") -> SparkSession:
    """A Spark session for local runs: no web UI, few shuffle partitions."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DataError(
            "the Spark path needs pyspark: pip install 'crmine[spark]'"
        ) from exc
    return (SparkSession.builder.master(master).appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            # Arrow moves pandas data to and from the JVM without starting Python workers
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate())


def spark_mine_rules(
    baskets: Iterable[Iterable[Hashable]] | SparkDataFrame,
    min_support: float,
    min_confidence: float = 0.8,
    *,
    spark: SparkSession | None = None,
    items_col: str = "items",
    num_partitions: int | None = None,
    filters: Mapping[str, float] | None = None,
    prune_redundant: bool = False,
) -> BasketRules:
    """Frequent itemsets with Spark MLlib's FPGrowth, then the rules as in :func:`mine_rules`.

    Parameters
    ----------
    baskets
        A Spark DataFrame with an array column ``items_col`` (one row per basket; it stays
        distributed), or an iterable of item lists (sent to Spark; for tests and demos).
    spark
        The SparkSession to use (default: :func:`spark_session`).
    num_partitions
        FPGrowth's ``numPartitions`` (default: the input's partitioning).

    References
    ----------
    Li, H., Wang, Y., Zhang, D., Zhang, M. & Chang, E. Y. (2008). PFP: parallel FP-growth for
    query recommendation. RecSys '08, 107–114.
    """
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    if isinstance(baskets, DataFrame):
        frame = baskets.select(F.array_distinct(F.col(items_col)).alias("items"))
        spark = frame.sparkSession
    else:
        spark = spark or spark_session()
        rows = pd.DataFrame({"items": [sorted({str(i) for i in b}) for b in baskets]})
        if rows.empty:
            raise DataError("no baskets to mine: the input is empty")
        frame = _from_pandas(spark, rows)
    n = frame.count()
    if n == 0:
        raise DataError("no baskets to mine: the Spark DataFrame is empty")
    min_count = min_count_for(min_support, n)
    # Spark keeps counts >= ceil(minSupport * n); half a basket below min_count keeps float
    # error in that product from turning min_count into min_count + 1
    fp = FPGrowth(itemsCol="items", minSupport=(min_count - 0.5) / n,
                  minConfidence=min_confidence)
    if num_partitions:
        fp = fp.setNumPartitions(num_partitions)
    model = fp.fit(frame)
    found: pd.DataFrame = pd.DataFrame(model.freqItemsets.toPandas())
    found = found[found["freq"] >= min_count]
    sets = [frozenset(items) for items in found["items"]]
    itemsets = pd.DataFrame({"itemsets": sets, "support": found["freq"].to_numpy() / n,
                             "count": found["freq"].to_numpy(),
                             "length": [len(s) for s in sets]})
    itemsets = itemsets.sort_values(["count", "length"], ascending=[False, True],
                                    kind="stable").reset_index(drop=True)
    itemsets.attrs["n_baskets"] = n
    rules = rules_from_itemsets(itemsets, min_confidence=min_confidence, n_baskets=n,
                                filters=filters, prune_redundant=prune_redundant)
    return BasketRules(itemsets=itemsets, rules=rules, n_baskets=n, min_support=min_support,
                       min_confidence=min_confidence,
                       params={"engine": "spark", "filters": dict(filters or {}),
                               "prune_redundant": prune_redundant})


def _from_pandas(spark: SparkSession, rows: pd.DataFrame) -> SparkDataFrame:
    """A Spark DataFrame from pandas through Arrow (no Python workers), conf restored after."""
    key = "spark.sql.execution.arrow.pyspark.enabled"
    before = spark.conf.get(key, "false") or "false"
    spark.conf.set(key, "true")
    try:
        return spark.createDataFrame(rows, "items array<string>")
    finally:
        spark.conf.set(key, before)
