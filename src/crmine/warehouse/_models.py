"""Saved models: versioned folders of a fitted object and its metadata, under the workspace's
``models/`` folder. Here (not in ``crmine.models``) because every analysis saves its models
and analyses may import the warehouse layer only; ``crmine.models`` re-exports it and adds the
tools that read across models."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmine._format import fmt_number
from crmine.exceptions import NotFittedError, WorkspaceError
from crmine.warehouse._sealed import dump_object, key_for, load_object, read_bytes, write_bytes

__all__ = [
    "SavedModel",
    "feature_profile",
    "headline",
    "list_models",
    "load_metadata",
    "load_model",
    "save_model",
    "use_version",
]

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
LATEST = "latest"


@dataclass(frozen=True, slots=True)
class SavedModel:
    """Where a model was saved: its name, version, folder and metadata."""

    name: str
    version: str
    folder: Path
    metadata: dict[str, Any]


def _plain(value: Any) -> Any:
    """JSON-safe metadata: numpy scalars become Python ones, NaN/inf become null."""
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


_SAFE = re.compile(r"^[\w][\w.-]*$")


def _checked(kind: str, value: str) -> str:
    """Names and versions become folder names: no separators, no "..", nothing hidden."""
    if not _SAFE.match(value):
        raise WorkspaceError(f"model {kind} {value!r} is not valid: use letters, digits, "
                             "'_', '-' and '.'")  # fmt: skip
    return value


# While a pipeline run is open, the latest pointers it would move are held here (model folder
# -> version) and written only when the run is published (crmine.warehouse._runs).
_DEFERRED: ContextVar[dict[Path, str] | None] = ContextVar("crmine_deferred_latest", default=None)


@contextmanager
def deferred_latest() -> Iterator[dict[Path, str]]:
    """Hold every ``latest`` pointer move inside the block; yields them (folder -> version).

    Inside, loading "the latest" model sees the held version, as if it had been written."""
    held: dict[Path, str] = {}
    token = _DEFERRED.set(held)
    try:
        yield held
    finally:
        _DEFERRED.reset(token)


def read_latest(base: Path) -> str | None:
    """The version ``base/latest`` names (a held pointer first), or None."""
    held = _DEFERRED.get()
    if held is not None and base in held:
        return held[base]
    pointer = base / LATEST
    return pointer.read_text().strip() if pointer.exists() else None


def point_latest(base: Path, version: str) -> None:
    """Make ``version`` the latest of the model folder ``base`` (held while a run is open)."""
    held = _DEFERRED.get()
    if held is not None:
        held[base] = version
        return
    _point_latest(base, version)


def _point_latest(base: Path, version: str) -> None:
    """Write the ``latest`` pointer atomically: a reader never sees it half-written."""
    tmp = base / f".{LATEST}.tmp"
    tmp.write_text(version)
    os.replace(tmp, base / LATEST)


def _versions_of(packages: tuple[str, ...]) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            continue
    return found


def save_model(
    model: Any,
    models_dir: str | Path,
    name: str,
    *,
    kind: str,
    metadata: dict[str, Any] | None = None,
) -> SavedModel:
    """Save a fitted ``model`` as a new version of ``name`` and make it the latest.

    Parameters
    ----------
    model
        Any picklable fitted object (an estimator, or a dict of them).
    models_dir
        The workspace's ``models/`` folder.
    name
        What the model is for: ``churn``, ``response``, ``clv``, ``segment``...
    kind
        The method (``logistic``, ``bgnbd``...): it starts the version name.
    metadata
        Anything worth knowing later: metrics, features, settings, the data's date range.

    Returns
    -------
    SavedModel
    """
    if model is None:
        raise NotFittedError(f"nothing to save as model {name!r}")
    now = dt.datetime.now(dt.UTC)
    version = _checked("version", f"{kind}-{now:%Y%m%dT%H%M%S%f}")
    base = Path(models_dir) / _checked("name", name)
    folder = base / version
    folder.mkdir(parents=True, exist_ok=False)
    meta = _plain({
        "name": name,
        "version": version,
        "kind": kind,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "saved_at": now.isoformat(),
        "software": _versions_of(("crmine", "scikit-learn", "numpy", "pandas", "lifelines")),
        **(metadata or {}),
    })  # fmt: skip
    key = key_for(folder)  # an encrypted workspace's models are written sealed
    try:
        dump_object(model, folder / MODEL_FILE, key, compress=3)
        write_bytes(folder / METADATA_FILE, json.dumps(meta, indent=2).encode("utf-8"), key)
    except BaseException:  # a half-written version must not become the latest
        for part in folder.iterdir():
            part.unlink()
        folder.rmdir()
        raise
    point_latest(base, version)
    return SavedModel(name, version, folder, meta)


def _versions(base: Path) -> list[str]:
    return sorted(p.name for p in base.iterdir() if (p / METADATA_FILE).exists()) \
        if base.exists() else []


def _version_folder(models_dir: str | Path, name: str, version: str | None) -> Path:
    base = Path(models_dir) / _checked("name", name)
    if version is None:
        version = read_latest(base)
        if version is None:
            raise WorkspaceError(
                f"no saved {name} model in {base}; train one first (crmine {name} ...)"
            )
    folder = base / _checked("version", version)
    if not (folder / MODEL_FILE).exists():
        raise WorkspaceError(f"{name} model version {version!r} not found in {base}; "
                             f"versions: {', '.join(_versions(base)) or 'none'}")  # fmt: skip
    return folder


def load_metadata(models_dir: str | Path, name: str, *, version: str | None = None
                  ) -> dict[str, Any]:
    """A saved model's metadata (the latest unless ``version``), without loading the model."""
    return read_metadata(_version_folder(models_dir, name, version))


def read_metadata(folder: Path) -> dict[str, Any]:
    """The metadata of the version in ``folder`` (decrypted when it is sealed)."""
    meta: dict[str, Any] = json.loads(read_bytes(folder / METADATA_FILE))
    return meta


def load_model(
    models_dir: str | Path,
    name: str,
    *,
    version: str | None = None,
    expect: type | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The saved model ``name`` (the latest unless ``version``) and its metadata.

    ``expect`` checks the object's type. Saved models are pickles: load only your own.
    """
    folder = _version_folder(models_dir, name, version)
    model = load_object(folder / MODEL_FILE)
    if expect is not None and not isinstance(model, expect):
        raise WorkspaceError(f"{folder / MODEL_FILE} does not hold a {expect.__name__}")
    return model, read_metadata(folder)


def headline(metrics: dict[str, float], n: int = 3) -> str:
    """The first ``n`` metrics a model records (each analysis puts its best summary first)."""
    return ", ".join(f"{k} {fmt_number(v)}" for k, v in list(metrics.items())[:n])


def list_models(models_dir: str | Path) -> pd.DataFrame:
    """Every saved version: name, version, kind, saved_at, whether it is the latest, and its
    metrics (``metadata["metrics"]``, a dict), newest first within each name."""
    rows = []
    root = Path(models_dir)
    for base in sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []:
        latest = read_latest(base)
        for version in _versions(base):
            meta = read_metadata(base / version)
            metrics = meta.get("metrics") or {}
            rows.append({
                "name": base.name, "version": version,
                "kind": meta.get("kind") or meta.get("method"),
                "saved_at": meta.get("saved_at"), "latest": version == latest,
                "metrics": {k: v for k, v in metrics.items() if isinstance(v, int | float)},
            })  # fmt: skip
    frame = pd.DataFrame(rows, columns=["name", "version", "kind", "saved_at", "latest",
                                        "metrics"])  # fmt: skip
    if rows:
        frame = frame.sort_values(["name", "saved_at"], ascending=[True, False], kind="stable")
    return frame.reset_index(drop=True)


def use_version(models_dir: str | Path, name: str, version: str) -> None:
    """Make ``version`` the latest of ``name`` (e.g. to roll back to an earlier fit)."""
    base = Path(models_dir) / _checked("name", name)
    if version not in _versions(base):
        raise WorkspaceError(f"{name} model version {version!r} not found in {base}; "
                             f"versions: {', '.join(_versions(base)) or 'none'}")  # fmt: skip
    point_latest(base, version)


def feature_profile(frame: pd.DataFrame, *, bins: int = 10, max_levels: int = 20,
                    exclude: tuple[str, ...] = ("customer_id", "cutoff")) -> dict[str, Any]:
    """The distribution of every feature, small enough for a model's metadata: decile edges
    and shares of numbers, shares of the commonest levels of text, the share missing.

    Saved with a model, it is what later data are compared against to see drift.
    """
    profile: dict[str, Any] = {"rows": len(frame), "features": {}}
    for col in frame.columns:
        if col in exclude:
            continue
        s = frame[col]
        missing = float(s.isna().mean()) if len(s) else 0.0
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            shares = s.dropna().astype(str).value_counts(normalize=True)
            top = shares.head(max_levels)
            profile["features"][col] = {
                "kind": "levels", "missing": missing,
                "levels": {str(k): float(v) * (1 - missing) for k, v in top.items()},
                "other": float(shares.iloc[max_levels:].sum()) * (1 - missing),
            }  # fmt: skip
            continue
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        if len(v) == 0:
            continue
        edges = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
        profile["features"][col] = {
            "kind": "number", "missing": 1 - len(v) / len(s), "edges": edges.tolist(),
            "shares": (counts / len(s)).tolist(),
        }  # fmt: skip
    return profile
