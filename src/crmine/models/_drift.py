"""Has the data moved since a model was fitted? Population stability of every feature.

The population stability index (PSI) compares the shares of a feature's bins in the training
data (kept in the model's metadata) with today's: ``sum((now - then) * ln(now / then))``.
The usual reading (Siddiqi 2006, *Credit Risk Scorecards*): below 0.1 stable, 0.1-0.25 a
moderate shift worth watching, above 0.25 a major shift: the model should be refitted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crmine.exceptions import WorkspaceError

__all__ = ["DRIFT_LEVELS", "population_stability"]

DRIFT_LEVELS = ((0.1, "stable"), (0.25, "moderate shift"), (float("inf"), "major shift"))
_FLOOR = 1e-4  # an empty bin on either side would make the index infinite


def _psi(then: np.ndarray, now: np.ndarray) -> float:
    p, q = np.maximum(then, _FLOOR), np.maximum(now, _FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def _level(psi: float) -> str:
    return next(name for bound, name in DRIFT_LEVELS if psi < bound)


def population_stability(profile: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """PSI of every profiled feature between the training ``profile`` and ``frame``.

    Returns one row per feature, largest shift first: ``feature``, ``psi``, ``drift``
    (stable / moderate shift / major shift), ``missing_then``, ``missing_now``; a feature
    absent from ``frame`` is reported as ``not in the data``.
    """
    if not profile or "features" not in profile:
        raise WorkspaceError("this model was saved without a feature profile; refit it to "
                             "monitor drift")
    rows = []
    n = len(frame)
    for name, ref in profile["features"].items():
        if name not in frame.columns:
            rows.append({"feature": name, "psi": np.nan, "drift": "not in the data",
                         "missing_then": ref["missing"], "missing_now": np.nan})  # fmt: skip
            continue
        s = frame[name]
        missing = float(s.isna().mean()) if n else 0.0
        if ref["kind"] == "levels":
            levels = list(ref["levels"])
            text = s.dropna().astype(str)
            counts = text.value_counts()
            now = [float(counts.get(level, 0)) / max(n, 1) for level in levels]
            other = float(counts[~counts.index.isin(levels)].sum()) / max(n, 1)
            then = [*ref["levels"].values(), ref["other"], ref["missing"]]
            now = [*now, other, missing]
        else:
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
            finite = v[np.isfinite(v)]
            edges = np.asarray(ref["edges"])
            counts = np.bincount(np.searchsorted(edges, finite, side="right"),
                                 minlength=len(edges) + 1)  # fmt: skip
            then = [*ref["shares"], ref["missing"]]
            now = [*(counts / max(n, 1)).tolist(), 1 - len(finite) / max(n, 1)]
        psi = _psi(np.asarray(then), np.asarray(now))
        rows.append({"feature": name, "psi": psi, "drift": _level(psi),
                     "missing_then": ref["missing"], "missing_now": missing})  # fmt: skip
    out = pd.DataFrame(rows, columns=["feature", "psi", "drift", "missing_then", "missing_now"])
    return out.sort_values("psi", ascending=False, na_position="first").reset_index(drop=True)
