"""Shared fixtures: the public datasets in ../shared/data, temporary workspaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("CRMINE_PROGRESS", "0")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CRMINE_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_file(relative: str) -> Path:
    """Path of a public dataset file; skips the test with a clear reason when absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"public dataset {relative} not found under {SHARED_DATA} "
                    "(set CRMINE_SHARED_DATA to the folder holding shared/data)")
    return path


@pytest.fixture
def workspace(tmp_path):
    """A fresh, empty workspace (a real DuckDB file) in a temporary folder."""
    from crmine.warehouse import Workspace

    ws = Workspace.init(tmp_path / "ws")
    yield ws
    ws.close()
