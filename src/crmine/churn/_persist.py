"""Saving a fitted churn model under ``models/churn/<version>/`` with its metrics."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from crmine.churn._model import ChurnModel
from crmine.exceptions import NotFittedError, WorkspaceError

__all__ = ["load_churn_model", "save_churn_model"]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def save_churn_model(model: ChurnModel, models_dir: str | Path, *, name: str = "churn") -> Path:
    """Write ``model.joblib`` and ``metadata.json`` (method, cut-off, metrics, drivers) to
    ``models_dir/<name>/<version>/`` and point ``models_dir/<name>/latest`` at it.

    Returns the version folder.
    """
    if not hasattr(model, "estimator_"):
        raise NotFittedError("only a fitted ChurnModel can be saved; call fit first")
    now = dt.datetime.now(dt.UTC)
    version = f"{model.method_}-{now:%Y%m%dT%H%M%S%f}"
    folder = Path(models_dir) / name / version
    folder.mkdir(parents=True, exist_ok=False)
    joblib.dump(model, folder / "model.joblib", compress=3)
    meta = {"name": name, "version": version, "saved_at": now.isoformat(),
            **model.summary()}  # fmt: skip
    (folder / "metadata.json").write_text(json.dumps(_plain(meta), indent=2))
    (folder.parent / "latest").write_text(version)
    return folder


def load_churn_model(models_dir: str | Path, *, name: str = "churn",
                     version: str | None = None) -> tuple[ChurnModel, dict[str, Any]]:  # fmt: skip
    """The saved model (latest unless ``version``) and its metadata."""
    base = Path(models_dir) / name
    if version is None:
        pointer = base / "latest"
        if not pointer.exists():
            raise WorkspaceError(
                f"no saved churn model in {base}; train one first with `crmine churn train`"
            )
        version = pointer.read_text().strip()
    folder = base / version
    if not (folder / "model.joblib").exists():
        found = sorted(p.name for p in base.glob("*") if p.is_dir()) if base.exists() else []
        raise WorkspaceError(f"churn model version {version!r} not found in {base}; "
                             f"versions: {found or 'none'}")  # fmt: skip
    model = joblib.load(folder / "model.joblib")
    if not isinstance(model, ChurnModel):
        raise WorkspaceError(f"{folder / 'model.joblib'} does not hold a ChurnModel")
    meta = json.loads((folder / "metadata.json").read_text())
    return model, meta
