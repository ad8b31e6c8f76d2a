"""Saving a fitted churn model under ``models/churn/<version>/`` with its metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from crmine.churn._model import ChurnModel
from crmine.exceptions import NotFittedError
from crmine.warehouse._models import feature_profile, load_model, save_model

__all__ = ["load_churn_model", "save_churn_model"]


def save_churn_model(model: ChurnModel, models_dir: str | Path, *, name: str = "churn",
                     features: pd.DataFrame | None = None) -> Path:  # fmt: skip
    """Write ``model.joblib`` and ``metadata.json`` (method, cut-off, metrics, drivers) to
    ``models_dir/<name>/<version>/`` and point ``models_dir/<name>/latest`` at it.

    ``features`` (the training rows) adds their distribution, which drift checks compare
    later data with. Returns the version folder.
    """
    if not hasattr(model, "estimator_"):
        raise NotFittedError("only a fitted ChurnModel can be saved; call fit first")
    summary = model.summary()
    if "metrics" not in summary:  # no held-out evaluation: the selected method's CV scores
        chosen = [r for r in summary["comparison"] if r.get("selected")]
        summary["metrics"] = {f"cv_{k}": v for k, v in (chosen[0] if chosen else {}).items()
                              if k in ("roc_auc", "pr_auc", "brier")}  # fmt: skip
    if features is not None:
        summary["feature_profile"] = feature_profile(features[list(model.plan_.features)])
    return save_model(model, models_dir, name, kind=model.method_, metadata=summary).folder


def load_churn_model(models_dir: str | Path, *, name: str = "churn",
                     version: str | None = None) -> tuple[ChurnModel, dict[str, Any]]:  # fmt: skip
    """The saved model (latest unless ``version``) and its metadata."""
    model, meta = load_model(models_dir, name, version=version, expect=ChurnModel)
    return model, meta
