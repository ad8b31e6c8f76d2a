"""Shared fixtures: the public datasets in ../shared/data, temporary workspaces."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("CRMINE_PROGRESS", "0")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CRMINE_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_file(relative: str) -> Path:
    """Path of a public dataset file; skips the test with a clear reason when absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(
            f"public dataset {relative} not found under {SHARED_DATA} "
            "(set CRMINE_SHARED_DATA to the folder holding shared/data)"
        )
    return path


@pytest.fixture
def workspace(tmp_path):
    """A fresh, empty workspace (a real DuckDB file) in a temporary folder."""
    from crmine.warehouse import Workspace

    ws = Workspace.init(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory):
    """A workspace holding a small synthetic company (2,000 customers, seed 0), its planted
    truth in schema ``truth`` and ``marts.customer_rfm``. Shared by the whole session: tests
    that write marts must not depend on each other's results."""
    from crmine.demo._workspace import build_demo_workspace

    ws, _ = build_demo_workspace(tmp_path_factory.mktemp("demo"), n_customers=2_000, seed=0)
    yield ws
    ws.close()


def _splink_jar() -> str:
    try:
        from splink.backends.spark import similarity_jar_location
    except ImportError:
        return ""
    return str(similarity_jar_location())


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):
    """One local Spark session (``local[2]``, UTC, no UI) for the whole test run.

    Skips with the reason when Java or pyspark is missing; nothing else is a reason to skip.
    """
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (no `java` on PATH): install a JDK 17 to run Spark tests")
    pytest.importorskip("pyspark", reason="pyspark not installed: pip install 'crmine[spark]'")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("crmine-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .config("spark.driver.memory", "2g")
        # Splink's string-similarity UDFs (identity resolution on Spark), shipped in splink
        .config("spark.jars", _splink_jar())
        .getOrCreate()
    )
    yield session
    session.stop()
