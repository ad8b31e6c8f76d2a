"""The lifecycle of a flat order file (``crmine lifecycle … --data FILE``), without a workspace.

The file is loaded as ``orders`` by the normal ingest (column recognition, mapping, row-level
errors) into a throw-away workspace in a temporary folder, which is deleted afterwards: nothing
is written next to the user's data, and a file that fails to load leaves nothing behind.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from crmine.exceptions import IngestError
from crmine.lifecycle._workspace import LifecycleRun, run_lifecycle
from crmine.warehouse import Workspace, ingest

__all__ = ["lifecycle_of_file"]


def lifecycle_of_file(
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
    as_of: str | pd.Timestamp | None = None,
    since: str | pd.Timestamp | None = None,
    horizon_days: int | None = None,
) -> LifecycleRun:
    """Stages, transitions, cohorts, loyalty and the health verdict of one order file.

    Parameters
    ----------
    path : file
        Order lines or orders (CSV/TSV, Parquet, Excel), one row per line: a customer id, a
        date and an amount (or quantity and unit price), recognised as ``crmine ingest``
        recognises them.
    mapping : dict, optional
        Source column -> canonical column (as ``crmine ingest --map``).
    settings : dict, optional
        ``lifecycle.*`` settings (e.g. those of the user's workspace).
    """
    source = Path(path)
    if not source.exists():
        raise IngestError(f"file {source} not found; check the path (cwd: {Path.cwd()})")
    with tempfile.TemporaryDirectory(prefix="crmine-lifecycle-") as folder:
        ws = Workspace.init(Path(folder) / "ws")
        try:
            if settings:
                ws.config.settings.update(dict(settings))
            ingest(ws, "orders", source, mapping=mapping, source_name=f"file:{source.name}")
            return run_lifecycle(ws, as_of=as_of, since=since, horizon_days=horizon_days)
        finally:
            ws.close()
