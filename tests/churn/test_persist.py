"""Saving and loading a fitted churn model with its metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crmine.churn import ChurnModel, load_churn_model, save_churn_model
from crmine.exceptions import NotFittedError, WorkspaceError
from tests.churn.test_model import simulate


def test_round_trip(tmp_path) -> None:
    X, y, _ = simulate(n=800, seed=5)
    model = ChurnModel(method="logistic", cv=3).fit(X, y, cutoff="2024-01-01", window_days=90)
    folder = save_churn_model(model, tmp_path / "models")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["method"] == "logistic" and meta["cutoff"] == "2024-01-01"
    assert meta["window_days"] == 90
    assert meta["metrics"]["roc_auc"] == pytest.approx(model.evaluation_.roc_auc)
    loaded, meta2 = load_churn_model(tmp_path / "models")
    assert meta2["version"] == folder.name
    np.testing.assert_allclose(loaded.predict_risk(X), model.predict_risk(X))
    with pytest.raises(WorkspaceError, match="train one first"):
        load_churn_model(tmp_path / "nothing")
    with pytest.raises(WorkspaceError, match="not found"):
        load_churn_model(tmp_path / "models", version="nope")
    with pytest.raises(NotFittedError):
        save_churn_model(ChurnModel(), tmp_path / "models")
