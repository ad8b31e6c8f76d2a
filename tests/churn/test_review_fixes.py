"""Second-review fixes: too few churners, unjudged saved models, threshold on fit rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.churn import ChurnModel
from crmine.churn._analysis import score_churn
from crmine.churn._evaluate import evaluate_churn
from crmine.exceptions import DataError


def test_one_churner_is_a_data_error_not_a_raw_valueerror() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"customer_id": [f"c{i}" for i in range(200)], "x": rng.random(200)})
    y = np.zeros(200, dtype=int)
    y[3] = 1
    with pytest.raises(DataError, match="too few churners: 1"):
        ChurnModel(exclude=["customer_id"]).fit(X, y, groups=X["customer_id"])


def test_registry_scorer_withholds_a_model_saved_without_verdict() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.random(400)})
    y = (rng.random(400) < X["x"]).astype(int)
    model = ChurnModel(method="logistic").fit(X, y)
    out = score_churn(model, {"version": "old"}, X)
    assert out["churn_risk"].isna().all()
    judged = score_churn(model, {"verdict": {"status": "informative"}}, X)
    assert judged["churn_risk"].notna().all()


def test_top_decile_ties_are_not_broken_by_row_order() -> None:
    # All risks tied, churners first in row order: row order would give a lift of 10.
    y = np.r_[np.ones(100, dtype=int), np.zeros(900, dtype=int)]
    ev = evaluate_churn(y, np.full(1000, 0.3), threshold=0.5)
    assert ev.metric("lift_top_decile") < 2.0


def test_total_orders_over_full_history_is_flagged_without_scd2() -> None:
    from crmine.churn._labels import behaviour_aggregates

    customers = pd.DataFrame({"customer_id": ["a", "b"], "total_orders": [3, 0],
                              "loyalty_tier": ["gold", "none"], "income": [1.0, 2.0]})
    assert behaviour_aggregates(customers) == ["total_orders", "loyalty_tier"]
    history = pd.concat([customers, customers.assign(total_orders=[4, 0])]).assign(
        valid_from=pd.to_datetime(["2024-01-01"] * 2 + ["2024-06-01"] * 2))
    assert behaviour_aggregates(history) == []
