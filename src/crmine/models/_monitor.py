"""Drift of a saved model: today's features against those it was fitted on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from crmine.contract import PreparedRun, SkipAnalysis
from crmine.exceptions import CrmineError, WorkspaceError
from crmine.models._drift import population_stability
from crmine.models._score import model_specs
from crmine.warehouse._models import list_models, load_metadata

if TYPE_CHECKING:
    from crmine.warehouse import Workspace

__all__ = ["model_drift", "run_drift"]


def model_drift(ws: Workspace, name: str, *, version: str | None = None) -> pd.DataFrame:
    """Population stability of every feature of saved model ``name`` (the latest unless
    ``version``): its training data against the workspace's data today.

    Returns
    -------
    DataFrame
        ``feature``, ``psi``, ``drift`` (stable < 0.1 ≤ moderate shift < 0.25 ≤ major shift),
        ``missing_then``, ``missing_now``; largest shift first.
    """
    specs = model_specs()
    if name not in specs:
        raise WorkspaceError(f"no drift check for model {name!r}; models with one: "
                             f"{', '.join(sorted(specs))}")  # fmt: skip
    meta = load_metadata(ws.models_dir, name, version=version)
    out = population_stability(meta.get("feature_profile", {}), specs[name].features(ws))
    out.attrs["version"] = meta["version"]
    return out


def run_drift(ws: Workspace) -> PreparedRun:
    """Before the analyses refit: how far today's data have moved from those each saved
    model was fitted on (``marts.model_drift``). Skipped while no model has been saved."""
    saved = list_models(ws.models_dir)
    latest = saved[saved["latest"] & saved["name"].isin(list(model_specs()))]
    if latest.empty:
        raise SkipAnalysis("no saved models yet (the analyses below fit them)")
    frames, problems = [], {}
    for name, version in zip(latest["name"], latest["version"], strict=True):
        try:
            drift = model_drift(ws, name, version=version)
        except CrmineError as exc:  # e.g. a model saved before profiles were kept
            problems[name] = str(exc)
            continue
        frames.append(drift.assign(model=name, version=version))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if frames:
        ws.write_mart("model_drift", table, model_version="psi-1")
    worst = {f["model"].iloc[0]: str(f["drift"].iloc[0]) for f in frames if len(f)}
    return PreparedRun({"models_checked": len(frames), "worst_drift": worst,
                        "not_checked": problems}, table, ("marts.model_drift",))  # fmt: skip

