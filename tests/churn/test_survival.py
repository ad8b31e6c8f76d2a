"""Kaplan–Meier and Cox against simulated exponential tenures with known hazards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.churn import TenureModel, kaplan_meier
from crmine.exceptions import DataError, NotFittedError

BASE = 0.02  # churn hazard per month for annual contracts
HR = 3.0  # month-to-month contracts churn three times as fast
HORIZON = 60.0


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 4000
    contract = rng.choice(["annual", "month-to-month"], n)
    rate = np.where(contract == "month-to-month", BASE * HR, BASE)
    t = rng.exponential(1 / rate)
    X = pd.DataFrame({"contract": contract, "noise": rng.normal(size=n)})
    return X, np.minimum(t, HORIZON), (t < HORIZON).astype(int)


def test_kaplan_meier_matches_exponential_survival(cohort) -> None:
    X, d, e = cohort
    km = kaplan_meier(d, e, X["contract"])
    for group, rate in (("annual", BASE), ("month-to-month", BASE * HR)):
        assert km.survival_at(group, 12) == pytest.approx(np.exp(-rate * 12), abs=0.03)
    med = km.medians.set_index("group")["median_tenure"]
    assert med["month-to-month"] == pytest.approx(np.log(2) / (BASE * HR), rel=0.1)
    assert set(km.curves.columns) >= {"group", "time", "survival", "ci_lower", "at_risk"}


def test_kaplan_meier_by_hand() -> None:
    # Times 1(event) 2(censored) 3(event) 4(censored): S = 3/4 after t=1, × 1/2 after t=3.
    km = kaplan_meier([1, 2, 3, 4], [1, 0, 1, 0])
    assert km.survival_at("all", 1) == pytest.approx(0.75)
    assert km.survival_at("all", 3) == pytest.approx(0.375)


def test_cox_recovers_the_hazard_ratio_and_remaining_tenure(cohort) -> None:
    X, d, e = cohort
    model = TenureModel(penalizer=0.0).fit(X, d, e)
    hr = model.hazard_ratios_.set_index("covariate")["hazard_ratio"]
    assert model.baseline_levels_["contract"] in ("annual", "month-to-month")
    key = next(k for k in hr.index if k.startswith("contract = "))
    ratio = hr[key] if key.endswith("month-to-month") else 1 / hr[key]
    assert ratio == pytest.approx(HR, rel=0.1)
    assert hr["noise"] == pytest.approx(1.0, abs=0.08)
    # Memoryless exponential: remaining tenure restricted to the horizon at t0 is
    # (1 - exp(-λ(H - t0))) / λ.
    probe = pd.DataFrame({"contract": ["annual", "month-to-month"], "noise": [0.0, 0.0]})
    for t0 in (0.0, 24.0):
        got = model.expected_remaining_tenure(probe, [t0, t0])
        want = [(1 - np.exp(-r * (HORIZON - t0))) / r for r in (BASE, BASE * HR)]
        assert got == pytest.approx(want, rel=0.08)
    assert 0.6 < model.concordance_ < 0.75


def test_survival_errors() -> None:
    with pytest.raises(DataError, match=r"rows \[1\] hold \[-2.\]"):
        kaplan_meier([1, -2], [1, 0])
    with pytest.raises(NotFittedError):
        TenureModel().expected_remaining_tenure(pd.DataFrame({"a": [1]}), [1])
