"""Batch scoring: any saved model version over a flat table of customers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from crmine.exceptions import SchemaError, WorkspaceError
from crmine.warehouse._models import load_model

__all__ = ["SCORERS", "score_table"]


def _churn(model: Any, meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    return model.explain(frame)


def _response(bundle: Any, meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"response_score": bundle["response"].predict_score(frame)},
                       index=frame.index)  # fmt: skip
    if "uplift" in bundle:
        both = bundle["uplift"].predict_response(frame)
        out["uplift"] = both["p_treated"] - both["p_control"]
        out["p_treated"], out["p_control"] = both["p_treated"], both["p_control"]
    return out


def _segment(model: Any, meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"cluster": model.predict(frame)}, index=frame.index)


def _clv(bundle: Any, meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    from crmine.clv._workspace import customer_scores

    missing = [c for c in ("frequency", "recency", "T") if c not in frame.columns]
    if missing:
        raise SchemaError(f"CLV scoring needs the RFM summary columns {missing}; columns "
                          f"found: {list(frame.columns)}")  # fmt: skip
    summary = frame[[c for c in ("frequency", "recency", "T", "monetary_value")
                     if c in frame.columns]].astype(float)  # fmt: skip
    if "monetary_value" not in summary:
        summary["monetary_value"] = 0.0
    scores, _value = customer_scores(
        bundle["transactions"], bundle["spend"], summary,
        time_unit=str(meta.get("time_unit", "D")), margin=float(meta.get("margin", 1.0)),
        monthly_rate=float(meta.get("monthly_discount_rate", 0.01)),
    )  # fmt: skip
    return scores


# How each saved model scores a table of customers.
SCORERS: dict[str, Callable[[Any, dict[str, Any], pd.DataFrame], pd.DataFrame]] = {
    "churn": _churn,
    "response": _response,
    "segment": _segment,
    "clv": _clv,
}


def score_table(models_dir: Any, name: str, frame: pd.DataFrame, *,
                version: str | None = None, id_column: str = "customer_id") -> pd.DataFrame:
    """Scores of every row of ``frame`` by saved model ``name`` (the latest unless
    ``version``), with the row's ``id_column`` first when present.

    ``frame`` holds what the model was fitted on: the churn features
    (``crmine.churn`` ``current_features(ws)`` for today's), the response model's customer
    features, the clustering input (``current_cluster_input(ws)``: channel and category
    shares already shrunk toward the population), or an RFM summary for CLV
    (``marts.customer_rfm``). The columns are those the analysis writes to
    ``marts.customer_scores``: ``churn_risk`` and ``churn_reasons``; ``response_score`` and
    ``uplift``; ``cluster``; ``p_alive``, ``expected_purchases_90d`` and ``predicted_clv_12m``.
    """
    if name not in SCORERS:
        raise WorkspaceError(f"no batch scoring for model {name!r}; models with one: "
                             f"{', '.join(SCORERS)}")  # fmt: skip
    model, meta = load_model(models_dir, name, version=version)
    frame = frame.reset_index(drop=True)
    scores = SCORERS[name](model, meta, frame).reset_index(drop=True)
    if id_column in frame.columns:
        scores.insert(0, id_column, frame[id_column].to_numpy())
    scores.attrs["version"] = meta["version"]
    return scores
