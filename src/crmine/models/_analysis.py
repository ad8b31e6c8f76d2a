"""The drift step's declaration: before the analyses refit, how far today's data have moved
from those each saved model was fitted on."""

from __future__ import annotations

from crmine.contract import Analysis, Mart, not_null, unique
from crmine.models._monitor import run_drift

__all__ = ["ANALYSIS"]


ANALYSIS = Analysis(
    name="drift",
    title="Drift since the models were fitted",
    run=run_drift,
    uses=("features",),  # compares with today's features, rebuilt first
    fits=False,
    before_models=True,
    section="models",
    cli="models",
    marts=(Mart("model_drift", "one row per saved model and feature",
                ("model", "version", "feature", "psi", "drift"),
                (unique("model", "feature"), not_null("model", "feature"))),),
)  # fmt: skip
