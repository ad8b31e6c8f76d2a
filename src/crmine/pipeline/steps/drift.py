"""Pipeline step: before the analyses refit their models, how far today's data have moved
from those each saved model was fitted on (population stability per feature)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crmine.pipeline import step
from crmine.warehouse import Workspace


@step("drift", order=5, title="Drift since the models were fitted")
def run(ws: Workspace) -> dict[str, Any]:
    from crmine.exceptions import CrmineError
    from crmine.models import CURRENT_FEATURES, list_models, model_drift
    from crmine.pipeline import SkipStep

    saved = list_models(ws.models_dir)
    latest = saved[saved["latest"] & saved["name"].isin(list(CURRENT_FEATURES))]
    if latest.empty:
        raise SkipStep("no saved models yet (the analyses below fit them)")
    frames, problems = [], {}
    for name, version in zip(latest["name"], latest["version"], strict=True):
        try:
            drift = model_drift(ws, name, version=version)
        except CrmineError as exc:  # e.g. a model saved before profiles were kept
            problems[name] = str(exc)
            continue
        frames.append(drift.assign(model=name, version=version))
    if frames:
        table = pd.concat(frames, ignore_index=True)
        ws.write_mart("model_drift", table, model_version="psi-1")
    worst = {f["model"].iloc[0]: str(f["drift"].iloc[0]) for f in frames if len(f)}
    return {"models_checked": len(frames), "worst_drift": worst, "not_checked": problems}
