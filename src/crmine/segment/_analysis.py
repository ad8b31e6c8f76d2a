"""The segmentation analysis's declaration (read by the pipeline, registry, checks, report
and CLI)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crmine.contract import Analysis, ModelSpec
from crmine.segment._workspace import current_cluster_input, segment_workspace

__all__ = ["ANALYSIS", "score_segment"]


def score_segment(model: Any, meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """The ``cluster`` of each row of clustering input."""
    return pd.DataFrame({"cluster": model.predict(frame)}, index=frame.index)


ANALYSIS = Analysis(
    name="segment",
    title="Customer segmentation",
    run=segment_workspace,
    requires=("features", "core.fct_order_lines.customer_id"),
    model=ModelSpec("segment", features=current_cluster_input, score=score_segment),
)
