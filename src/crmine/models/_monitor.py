"""Drift of a saved model: today's features against those it was fitted on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from crmine.exceptions import WorkspaceError
from crmine.models._drift import population_stability
from crmine.warehouse._models import load_metadata

__all__ = ["CURRENT_FEATURES", "model_drift"]


def _churn(ws: Any) -> pd.DataFrame:
    from crmine.churn._workspace import current_features

    return current_features(ws)


def _segment(ws: Any) -> pd.DataFrame:
    from crmine.segment._workspace import current_cluster_input

    return current_cluster_input(ws)


def _response(ws: Any) -> pd.DataFrame:
    from crmine.response._workspace import customer_features

    return customer_features(ws).reset_index()


def _clv(ws: Any) -> pd.DataFrame:
    from crmine.clv._workspace import _summary_from_ws

    return _summary_from_ws(ws)[0]


# How each analysis computes, from today's warehouse, the features its model scores.
CURRENT_FEATURES: dict[str, Callable[[Any], pd.DataFrame]] = {
    "churn": _churn,
    "segment": _segment,
    "response": _response,
    "clv": _clv,
}


def model_drift(ws: Any, name: str, *, version: str | None = None) -> pd.DataFrame:
    """Population stability of every feature of saved model ``name`` (the latest unless
    ``version``): its training data against the workspace's data today.

    Returns
    -------
    DataFrame
        ``feature``, ``psi``, ``drift`` (stable < 0.1 ≤ moderate shift < 0.25 ≤ major shift),
        ``missing_then``, ``missing_now``; largest shift first.
    """
    if name not in CURRENT_FEATURES:
        raise WorkspaceError(f"no drift check for model {name!r}; models with one: "
                             f"{', '.join(CURRENT_FEATURES)}")  # fmt: skip
    meta = load_metadata(ws.models_dir, name, version=version)
    out = population_stability(meta.get("feature_profile", {}), CURRENT_FEATURES[name](ws))
    out.attrs["version"] = meta["version"]
    return out
