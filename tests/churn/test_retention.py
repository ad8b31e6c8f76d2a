"""Retention list: ranking by expected value saved and the profit-maximising threshold."""

from __future__ import annotations

import pandas as pd
import pytest

from crmine.churn import retention_list
from crmine.exceptions import DataError, MissingColumnError


def scores() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e"],
        "churn_risk": [0.9, 0.8, 0.5, 0.2, 0.05],
        "value": [100.0, 1000.0, 400.0, 2000.0, 50.0],
    })  # fmt: skip


def test_ranking_and_profit_by_hand(tmp_path) -> None:
    rl = retention_list(scores(), offer_cost=20.0, save_rate=0.5)
    c = rl.customers.set_index("customer_id")
    # expected profit = risk × 0.5 × value − 20
    assert c["expected_profit"].to_dict() == pytest.approx(
        {"a": 25.0, "b": 380.0, "c": 80.0, "d": 180.0, "e": -18.75})
    assert list(rl.customers["customer_id"]) == ["b", "d", "c", "a", "e"]
    assert list(rl.customers["rank"]) == [1, 2, 3, 4, 5]
    assert c["target"].to_dict() == {"a": True, "b": True, "c": True, "d": True, "e": False}
    # By risk: a(25) b(380) c(80) d(180) e(-18.75) → cumulative peaks after d (665).
    assert rl.best_customers == 4
    assert rl.best_threshold == 0.2
    assert rl.max_profit == pytest.approx(665.0)
    assert c.loc["b", "value_at_risk"] == pytest.approx(800.0)
    assert rl.matrix["customers"].sum() == 5
    out = rl.export(tmp_path / "list.csv")
    assert len(pd.read_csv(out)) == 5
    assert len(rl.targets()) == 4


def test_costly_offer_targets_nobody() -> None:
    rl = retention_list(scores(), offer_cost=10_000.0, save_rate=0.1)
    assert rl.best_customers == 0 and rl.max_profit == 0.0 and not rl.customers["target"].any()


def test_retention_errors() -> None:
    with pytest.raises(MissingColumnError, match=r"\['value'\]"):
        retention_list(scores().drop(columns=["value"]))
    bad = scores()
    bad.loc[2, "churn_risk"] = 1.5
    with pytest.raises(DataError, match=r"rows \[2\] hold \[1.5\]"):
        retention_list(bad)
    with pytest.raises(DataError, match="save_rate"):
        retention_list(scores(), save_rate=0)
    with pytest.raises(DataError, match=r"export to \.csv or \.parquet"):
        retention_list(scores()).export("list.xlsx")
