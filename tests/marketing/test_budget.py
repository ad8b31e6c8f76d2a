"""Response curves recover planted saturation parameters; the split is the true optimum."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from crmine.exceptions import DataError, MissingColumnError, NotFittedError
from crmine.marketing import ResponseCurves, optimize_budget

TRUTH = {"email": (200.0, 500.0), "search": (800.0, 3000.0), "social": (300.0, 4000.0)}


def _history(seed: int = 0, n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for ch, (a, s) in TRUTH.items():
        for x in rng.uniform(0.2, 2.5, n) * s:
            rows.append((ch, x, rng.poisson(a * (1 - np.exp(-x / s)))))
    return pd.DataFrame(rows, columns=["channel", "cost", "conversions"])


def test_curves_recover_planted_parameters():
    curves = ResponseCurves().fit(_history())
    for ch, (a, s) in TRUTH.items():
        p = curves.params_.loc[ch]
        assert abs(p["a"] - a) < 3 * p["a_se"] + 0.03 * a
        assert abs(p["s"] - s) < 3 * p["s_se"] + 0.05 * s
        assert p["r2"] > 0.9


def test_allocation_is_the_constrained_optimum_and_gain_is_covered():
    curves = ResponseCurves().fit(_history())
    current = {"email": 2000.0, "search": 2000.0, "social": 2000.0}
    res = curves.allocate(6000.0, current=current)
    alloc = res.allocation.set_index("channel")
    assert alloc["optimal_spend"].sum() == pytest.approx(6000.0)
    p = curves.params_
    a, s = p["a"].to_numpy(), p["s"].to_numpy()

    def neg(x):
        return -(a * (1 - np.exp(-x / s))).sum()

    ref = minimize(neg, np.full(3, 2000.0), method="SLSQP", bounds=[(0, None)] * 3,
                   constraints=[{"type": "eq", "fun": lambda x: x.sum() - 6000}])
    assert alloc["optimal_spend"].to_numpy() == pytest.approx(ref.x, abs=5.0)
    assert -ref.fun == pytest.approx(res.expected_optimal, rel=1e-6)
    # Funded channels end with equal marginal returns.
    mr = alloc["marginal_return_optimal"][alloc["optimal_spend"] > 0]
    assert mr.max() - mr.min() < 1e-6
    # Gain under the *true* curves lies inside the reported interval.
    true_gain = sum(TRUTH[c][0] * (np.exp(-current[c] / TRUTH[c][1])
                                   - np.exp(-alloc.loc[c, "optimal_spend"] / TRUTH[c][1]))
                    for c in TRUTH)
    assert res.gain_ci_low < true_gain < res.gain_ci_high
    assert res.prob_gain_positive > 0.99
    assert res.expected_gain == pytest.approx(res.expected_optimal - res.expected_current)


def test_bounds_and_function_twin():
    curves, res = optimize_budget(_history(), 5000.0)
    bounded = curves.allocate(5000.0, min_spend={"social": 1000.0}, max_spend={"search": 2500.0})
    b = bounded.allocation.set_index("channel")
    assert b.loc["social", "optimal_spend"] >= 1000.0 - 1e-6
    assert b.loc["search", "optimal_spend"] <= 2500.0 + 1e-6
    assert bounded.expected_optimal <= res.expected_optimal + 1e-9
    pts = curves.curve_points(n_points=10)
    assert len(pts) == 30 and set(pts["channel"]) == set(TRUTH)


def test_budget_errors():
    with pytest.raises(NotFittedError):
        ResponseCurves().allocate(10)
    h = _history()
    with pytest.raises(MissingColumnError, match="'spend'"):
        ResponseCurves().fit(h, spend_col="spend")
    few = h.groupby("channel").head(2)
    with pytest.raises(DataError, match="at least 3 periods"):
        ResponseCurves().fit(few)
    neg = h.copy()
    neg.loc[0, "cost"] = -5
    with pytest.raises(DataError, match="negative spend"):
        ResponseCurves().fit(neg)
    with pytest.raises(DataError, match="outside what the channel bounds allow"):
        ResponseCurves().fit(h).allocate(100.0, min_spend={"email": 500.0})
