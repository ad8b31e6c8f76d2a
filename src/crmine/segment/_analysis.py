"""The segmentation analysis's declaration (read by the pipeline, registry, checks, report
and CLI)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crmine.contract import (
    Analysis,
    Mart,
    ModelSpec,
    Setting,
    accepted,
    not_null,
    saved_status,
    unique,
)
from crmine.segment._cluster import METHODS
from crmine.segment._rfm import RFM_SEGMENTS
from crmine.segment._workspace import (
    BEHAVIOUR_MARTS,
    NO_PURCHASE,
    SEGMENT_COLUMNS,
    current_cluster_input,
    run_segment,
)

__all__ = ["ANALYSIS", "score_segment"]


def score_segment(model: Any, meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """The ``cluster`` of each row of clustering input (missing when the clusters were found
    not to beat structureless data, or were saved without a verdict: unjudged clusters are
    not natural segments to assign)."""
    if saved_status(meta) not in ("informative", "weak"):
        return pd.DataFrame({"cluster": pd.Series(pd.NA, index=frame.index, dtype="Int64")})
    return pd.DataFrame({"cluster": model.predict(frame)}, index=frame.index)


def _k_max(value: Any) -> str | None:
    return None if isinstance(value, int) and value >= 2 else "a whole number of at least 2"


_PER_SEGMENT = (unique("segment"), not_null("segment"))
_CLUSTER = "one row per cluster; empty when there are no natural segments"

ANALYSIS = Analysis(
    name="segment",
    title="Customer segmentation",
    run=run_segment,
    requires=("features", "core.fct_order_lines.customer_id"),
    model=ModelSpec("segment", features=current_cluster_input, score=score_segment),
    settings=(
        Setting("segment_method", str, "auto", "clustering method of the segmentation",
                choices=METHODS),
        Setting("segment_k_max", int, 10, "largest number of clusters tried", check=_k_max),
    ),
    marts=(
        Mart("customer_segments", "one row per current customer", SEGMENT_COLUMNS,
             (unique("customer_id"), not_null("customer_id", "rfm_segment", "cluster",
                                                "value_tier", "is_golden"),
              accepted("rfm_segment", (*RFM_SEGMENTS, NO_PURCHASE)),
              accepted("value_tier", ("A", "B", "C")))),
        Mart("segment_profiles", _CLUSTER,
             ("segment", "customers", "share", "revenue_share", "description", "rule"),
             _PER_SEGMENT, actionable=True),
        Mart("segment_feature_stats", "one row per (cluster, feature); empty when there are "
             "no natural segments", ("segment", "feature", "mean", "std_diff"),
             (unique("segment", "feature"),)),
        Mart("segment_rules", "one row per surrogate-tree leaf; empty when there are no "
             "natural segments", ("segment", "rule", "customers"), actionable=True),
        Mart("segment_k_scores", "one row per number of clusters tried",
             ("k", "silhouette", "calinski_harabasz", "davies_bouldin", "chosen"),
             (unique("k"), not_null("k"))),
        Mart("segment_rfm_summary", "one row per RFM segment",
             ("rfm_segment", "customers", "share"), (unique("rfm_segment"),)),
        Mart("segment_rfm_grid", "one row per (R score, FM score) cell",
             ("r_score", "fm_score", "customers"), (unique("r_score", "fm_score"),)),
        Mart("segment_pareto", "one row per point of the Pareto curve",
             ("customer_share", "value_share", "top_share_for_80")),
        *(Mart(name, "one row per (cluster, level); empty when there are no natural "
               "segments", columns, (unique(*columns[:2]) if columns[1] != "revenue" else
                                     unique("segment"),), actionable=True)
          for name, columns in BEHAVIOUR_MARTS.items()),
    ),
)  # fmt: skip
