"""Where the API server keeps its copies of the warehouse (``<workspace>/.serving``), and
removing them: they hold the warehouse as it was when copied, so an erasure deletes them.
Here, in the warehouse layer, because erasure (privacy) may not import the API."""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["SERVING_DIR", "remove_copies"]

SERVING_DIR = ".serving"


def remove_copies(root: Path) -> list[str]:
    """Delete every serving copy of the workspace at ``root`` (their files, notes and lookup
    tables), e.g. after an erasure: they hold the warehouse as it was. A server reading one
    goes on with its open files and copies the warehouse afresh once it sees it changed.
    Returns the copies' names."""
    folder = Path(root) / SERVING_DIR
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        if entry.suffix == ".duckdb":
            removed.append(f"{SERVING_DIR}/{entry.name}")
    return removed
