"""Evaluation metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from crmine.churn import evaluate_churn
from crmine.exceptions import DataError


def test_small_example_by_hand() -> None:
    ev = evaluate_churn([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], threshold=0.3)
    assert ev.roc_auc == pytest.approx(0.75)
    # Brier: mean of (0.1², 0.4², 0.65², 0.2²)
    assert ev.metric("brier") == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    # At 0.3: predicted churners are 0.4, 0.35, 0.8 → TP 2, FP 1, FN 0, TN 1.
    assert ev.confusion.loc["churned", "churned"] == 2
    assert ev.confusion.loc["retained", "churned"] == 1
    assert ev.confusion.loc["retained", "retained"] == 1
    assert ev.metric("precision") == pytest.approx(2 / 3)
    assert ev.metric("recall") == 1.0
    # Average precision: ranks 0.8 (hit), 0.4 (miss), 0.35 (hit) → (1 + 2/3) / 2.
    assert ev.metric("pr_auc") == pytest.approx((1 + 2 / 3) / 2)


def test_lift_and_capture_with_a_perfect_ranking() -> None:
    y = np.r_[np.ones(100), np.zeros(900)]
    risk = np.r_[np.linspace(0.99, 0.9, 100), np.linspace(0.5, 0.01, 900)]
    ev = evaluate_churn(y, risk)
    assert ev.metric("base_rate") == pytest.approx(0.1)
    assert ev.metric("lift_top_decile") == pytest.approx(10.0)
    assert ev.metric("capture_top_decile") == pytest.approx(1.0)
    assert ev.lift["customers"].tolist() == [100] * 10
    assert ev.lift["cumulative_capture"].iloc[-1] == pytest.approx(1.0)
    assert ev.roc_auc == 1.0
    assert 0.5 < ev.metric("threshold") <= 0.9  # best F1 separates the two groups


def test_calibration_of_true_probabilities() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 20_000)
    y = (rng.random(20_000) < p).astype(int)
    ev = evaluate_churn(y, p)
    cal = ev.calibration
    assert len(cal) == 10 and cal["customers"].sum() == 20_000
    assert np.abs(cal["mean_predicted"] - cal["observed_rate"]).max() < 0.03


def test_bad_inputs_are_named() -> None:
    with pytest.raises(DataError, match=r"rows \[1\] hold \[1.2\]"):
        evaluate_churn([0, 1], [0.2, 1.2])
    with pytest.raises(DataError, match="risk has 3 values but y_true has 2"):
        evaluate_churn([0, 1], [0.2, 0.3, 0.4])
