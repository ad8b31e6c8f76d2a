"""Batch scoring: any saved model version over a flat table of customers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crmine.contract import ModelSpec, all_analyses
from crmine.exceptions import WorkspaceError
from crmine.warehouse._models import load_model

__all__ = ["model_specs", "score_table"]


def model_specs() -> dict[str, ModelSpec]:
    """The declared model of every analysis that keeps one, by model name."""
    return {a.model.name: a.model for a in all_analyses().values() if a.model is not None}


def score_table(models_dir: str | Path, name: str, frame: pd.DataFrame, *,
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
    specs = model_specs()
    if name not in specs:
        raise WorkspaceError(f"no batch scoring for model {name!r}; models with one: "
                             f"{', '.join(sorted(specs))}")  # fmt: skip
    model, meta = load_model(models_dir, name, version=version)
    frame = frame.reset_index(drop=True)
    scores = specs[name].score(model, meta, frame).reset_index(drop=True)
    if id_column in frame.columns:
        scores.insert(0, id_column, frame[id_column].to_numpy())
    scores.attrs["version"] = meta["version"]
    return scores
