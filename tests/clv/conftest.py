"""CDNOW fixtures shared by the CLV tests (read once per session)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import shared_file


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    """Published 39-week calibration summary of the 2,357-customer sample (weeks)."""
    return pd.read_csv(shared_file("cdnow/cdnow_customers_summary.csv")).set_index("ID")


@pytest.fixture(scope="session")
def cdnow_spend() -> pd.DataFrame:
    frame = pd.read_csv(shared_file("cdnow/cdnow_customers_summary_with_transactions.csv"))
    return frame.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


@pytest.fixture(scope="session")
def cdnow_sample_tx() -> pd.DataFrame:
    tx = pd.read_csv(
        shared_file("cdnow/CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "value"],
        dtype={"date": str},
    )
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


@pytest.fixture(scope="session")
def cdnow_master_tx() -> pd.DataFrame:
    tx = pd.read_csv(
        shared_file("cdnow/CDNOW_master.txt"), sep=r"\s+", dtype={"customer_id": str, "date": str}
    )
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx
