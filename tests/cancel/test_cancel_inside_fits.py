"""Cancelling inside a fit that has no progress bar: a pipeline run cancelled in the middle of
the MMM's bootstrap replicates stops there, and the previous run's results stay as they were
(no new run recorded, marts and verdicts unchanged)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import crmine.marketing._mmm as mmm_module
from crmine._progress import Cancelled, cancellable
from crmine.demo._marketing_spend import make_marketing_spend
from crmine.pipeline import run_pipeline
from crmine.warehouse import ingest


def _state(ws) -> tuple[list, list, list]:
    """The runs recorded, the MMM's channel mart and the verdicts, as they stand."""

    def rows(sql: str) -> list:
        return ws.duck.execute(sql).fetchall()

    return (
        rows("SELECT run_id FROM meta.runs ORDER BY 1"),
        rows("SELECT * FROM marts.mmm_channels ORDER BY ALL"),
        rows("SELECT * FROM marts.analysis_verdicts ORDER BY ALL"),
    )


def test_a_run_cancelled_inside_the_mmm_bootstrap_leaves_the_previous_run(workspace, monkeypatch):
    media = make_marketing_spend(np.random.default_rng(np.random.SeedSequence(0, spawn_key=(9,))))
    ingest(workspace, "marketing_spend", media.spend)
    ingest(workspace, "marketing_outcomes", media.outcomes)
    workspace.config.settings["mmm_bootstrap"] = 4  # the first run only has to exist
    workspace.save_config()
    run_pipeline(workspace, only=["marketing_mix"], strict=True)
    before = _state(workspace)
    assert len(before[0]) == 1 and before[1], before

    # the token is set from inside the bootstrap loop, at its third replicate's check
    token, seen = threading.Event(), []
    check = mmm_module.check_cancelled

    def third_sets_the_token(where: str = "") -> None:
        seen.append(where)
        if len(seen) == 3:
            token.set()
        check(where)

    monkeypatch.setattr(mmm_module, "check_cancelled", third_sets_the_token)
    workspace.config.settings["mmm_bootstrap"] = 50
    workspace.save_config()
    with cancellable(token), pytest.raises(Cancelled, match=r"MMM bootstrap \(replicate 3 of 50\)"):
        run_pipeline(workspace, only=["marketing_mix"], strict=True)
    assert len(seen) == 3  # stopped at once, not after the remaining 47 refits
    assert _state(workspace) == before


def test_churn_stops_between_the_folds_of_one_method(monkeypatch):
    """One method's cross-validation folds are checked too, not only the bar over methods."""
    import crmine.churn._model as churn_model
    from crmine.churn import ChurnModel
    from tests.churn.test_model import simulate

    X, y, _ = simulate(n=600)
    token, seen = threading.Event(), []
    check = churn_model.check_cancelled

    def second_sets_the_token(where: str = "") -> None:
        seen.append(where)
        if len(seen) == 2:
            token.set()
        check(where)

    monkeypatch.setattr(churn_model, "check_cancelled", second_sets_the_token)
    with cancellable(token), pytest.raises(Cancelled, match=r"logistic \(fold 2 of 3\)"):
        ChurnModel(method="logistic", cv=3).fit(X, y)
    assert seen == ["churn CV: logistic (fold 1 of 3)", "churn CV: logistic (fold 2 of 3)"]
