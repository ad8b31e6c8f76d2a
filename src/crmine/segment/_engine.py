"""Segmenting customers where they live: DuckDB, Spark or any Ibis backend.

Choosing k and fitting the clusters needs a sample, not every customer (the segmenter fits
on ``sample_size`` rows anyway). What needs every customer is the assignment, and for a
centroid model it is arithmetic: transform each feature as the fit did (median for missing
values, log for skewed columns, standardise), then take the nearest centre. Written as an
Ibis expression, it runs on the engine that holds the table, so a population too large for
one machine is segmented without leaving Spark.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np

from crmine.exceptions import DataError, NotFittedError, SchemaError
from crmine.segment._cluster import CustomerSegmenter

__all__ = ["assign_clusters", "segment_table"]


def _centres(seg: CustomerSegmenter) -> np.ndarray:
    """Cluster centres in the standardised feature space, indexed by the fitted labels."""
    if seg.method_ == "kmeans":
        return np.asarray(seg.model_.cluster_centers_, dtype=np.float64)
    if seg.method_ == "ward":
        return np.asarray(seg.model_, dtype=np.float64)
    raise DataError(
        f"a {seg.method_!r} segmenter assigns customers by its own model, which has no "
        "expression form; fit with method='kmeans' (or 'auto') or 'ward' to assign on an engine"
    )


def _standardised(seg: CustomerSegmenter, table: ir.Table, column: str) -> ir.FloatingValue:
    prep = seg._prep
    raw = table[column].cast("float64")
    finite = raw.notnull() & ~raw.isnan() & ~raw.isinf()
    v = finite.ifelse(raw, prep.median[column])
    kind = prep.log.get(column)
    if kind == "log1p":
        v = (ibis.greatest(v, 0.0) + 1.0).ln()
    elif kind == "signed":
        v = v.sign() * (v.abs() + 1.0).ln()
    return (v - prep.mean[column]) / prep.std[column]


def assign_clusters(seg: CustomerSegmenter, table: ir.Table, *, name: str = "cluster"
                    ) -> ir.Table:
    """``table`` with a ``cluster`` column: the fitted segmenter's label for every row.

    The labels equal ``seg.predict`` on the same rows (largest cluster 0), computed by the
    table's engine.
    """
    if not hasattr(seg, "labels_"):
        raise NotFittedError("this CustomerSegmenter is not fitted yet; call fit(features) first")
    missing = [c for c in seg.features_used_ if c not in table.columns]
    if missing:
        raise SchemaError(f"the table lacks feature column(s) {missing} used by the fitted "
                          f"segmenter; columns found: {list(table.columns)}")
    centres = _centres(seg)
    z = {c: _standardised(seg, table, c) for c in seg.features_used_}
    distances = []
    for centre in centres:
        # the centre has one coordinate per feature the final model used, in that order
        terms = [(z[c] - float(centre[j])) ** 2 for j, c in enumerate(seg.features_used_)]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        distances.append(total)
    nearest = ibis.least(*distances) if len(distances) > 1 else distances[0]
    # the first centre at the minimum distance wins, as numpy's argmin; then size order
    label = ibis.cases(
        *[(d == nearest, seg._perm.get(i, -1)) for i, d in enumerate(distances)], else_=-1
    )
    return table.mutate(**{name: label.cast("int64")})


def segment_table(
    table: ir.Table,
    *,
    sample_size: int = 50_000,
    id_column: str = "customer_id",
    seed: int = 0,
    **params: Any,
) -> tuple[CustomerSegmenter, ir.Table]:
    """Fit a segmenter on a random sample of ``table`` and assign every row on its engine.

    Parameters
    ----------
    table : ibis.Table
        One row per customer with numeric features (e.g. on a Spark session).
    sample_size : int
        Rows brought into memory to choose k and fit the clusters.
    **params
        :class:`CustomerSegmenter` hyper-parameters (``method`` must be centroid-based).

    Returns
    -------
    (CustomerSegmenter, ibis.Table)
        The segmenter fitted on the sample, and ``table`` with a ``cluster`` column.
    """
    n = int(table.count().to_pyarrow().as_py())
    if n == 0:
        raise DataError("the table is empty: nothing to segment")
    if params.get("method") in ("gmm", "hdbscan"):
        raise DataError(f"method {params['method']!r} cannot assign customers on an engine; "
                        "use 'kmeans' (or 'auto') or 'ward'")
    fraction = min(1.0, 1.2 * sample_size / n)
    if fraction < 1 and id_column in table.columns:
        # a hash of the customer id picks the same sample on every run (not every engine
        # supports a seeded Table.sample)
        bucket = (table[id_column].cast("string").hash().abs() % 1_000_000).cast("int64")
        table_sample = table.filter(bucket < int(fraction * 1_000_000))
    else:
        table_sample = table.sample(fraction) if fraction < 1 else table
    sample = table_sample.to_pandas()
    if len(sample) > sample_size:
        sample = sample.sample(sample_size, random_state=seed)
    seg = CustomerSegmenter(id_column=id_column, random_state=seed, **params)
    seg.fit(sample.reset_index(drop=True))
    return seg, assign_clusters(seg, table)
