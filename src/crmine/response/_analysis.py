"""The response/uplift analysis's declaration (read by the pipeline, registry, checks, report
and CLI)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crmine.contract import Analysis, ModelSpec
from crmine.response._workspace import customer_features, run_response
from crmine.warehouse import Workspace

__all__ = ["ANALYSIS", "score_response"]


def score_response(bundle: Any, meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """``response_score`` (and ``uplift``, ``p_treated``, ``p_control``) of customer features."""
    out = pd.DataFrame({"response_score": bundle["response"].predict_score(frame)},
                       index=frame.index)  # fmt: skip
    if "uplift" in bundle:
        both = bundle["uplift"].predict_response(frame)
        out["uplift"] = both["p_treated"] - both["p_control"]
        out["p_treated"], out["p_control"] = both["p_treated"], both["p_control"]
    return out


def current_response_features(ws: Workspace) -> pd.DataFrame:
    """Today's customer features, as the response models score them."""
    return customer_features(ws).reset_index()


ANALYSIS = Analysis(
    name="response",
    title="Campaign response and uplift",
    run=run_response,
    requires=("core.campaign_assignments",),
    uses=("features",),  # the RFM mart adds recency/frequency features when present
    model=ModelSpec("response", features=current_response_features, score=score_response),
)
