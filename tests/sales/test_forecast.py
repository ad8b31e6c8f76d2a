"""crmine.sales.forecast: model choice by backtest, intervals, the seasonal-naive verdict,
reconciliation, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.exceptions import DataError, MissingColumnError
from crmine.sales import forecast, forecast_hierarchy

WEEKEND_UPLIFT = 30.0  # planted: weekend days sell this much more


def _weekly_pattern_series(
    n_series: int = 4, n: int = 280, noise: float = 8.0, seed: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=n, freq="D")
    return pd.concat(
        pd.DataFrame(
            {
                "unique_id": f"s{i}",
                "ds": ds,
                "y": 200 + 20 * i + WEEKEND_UPLIFT * (ds.dayofweek >= 5) + rng.normal(0, noise, n),
            }
        )
        for i in range(n_series)
    )


def test_forecast_recovers_a_planted_weekly_pattern_and_beats_seasonal_naive():
    res = forecast(
        _weekly_pattern_series(), freq="D", horizon=28, models=("ets", "theta"), n_windows=2
    )
    f = res.forecast
    assert list(f.columns) == ["unique_id", "ds", "yhat", "yhat_lo_80", "yhat_hi_80",
                               "yhat_lo_95", "yhat_hi_95", "model"]  # fmt: skip
    assert len(f) == 4 * 28 and f["ds"].min() == pd.Timestamp("2024-10-07")
    weekend = pd.to_datetime(f["ds"]).dt.dayofweek >= 5
    uplift = f.loc[weekend, "yhat"].mean() - f.loc[~weekend, "yhat"].mean()
    assert uplift == pytest.approx(WEEKEND_UPLIFT, abs=4.0)
    assert (f["yhat_lo_95"] < f["yhat_lo_80"]).all() and (f["yhat_hi_80"] < f["yhat_hi_95"]).all()
    # Seasonal naive doubles the noise variance: its MASE is about sqrt(2) times the model's.
    bt = res.backtest
    assert (bt["mase"] < bt["naive_mase"]).all()
    assert res.verdict.status == "informative", res.verdict
    assert 0.1 < res.verdict.value < 0.5
    assert 0.65 <= bt["coverage_80"].mean() <= 0.95
    assert set(f["model"]) <= {"AutoETS", "DynamicOptimizedTheta"}


def test_a_seasonal_random_walk_is_not_beaten_and_the_verdict_says_so():
    """y_t = y_(t-7) + noise: copying last week is the best forecast there is."""
    rng = np.random.default_rng(3)
    parts = []
    for i in range(6):
        y = np.empty(200)
        y[:7] = 500 + rng.normal(0, 20, 7)
        for t in range(7, 200):
            y[t] = y[t - 7] + rng.normal(0, 10)
        parts.append(
            pd.DataFrame(
                {"unique_id": f"w{i}", "y": y, "ds": pd.date_range("2024-01-01", periods=200)}
            )
        )
    res = forecast(pd.concat(parts), freq="D", horizon=14, models=("ets", "theta"), n_windows=2)
    assert res.verdict.status == "not_informative", res.verdict
    assert "does not beat" in res.verdict.why and res.verdict.what_to_try


def test_intermittent_and_short_series_are_forecast_not_failed():
    rng = np.random.default_rng(1)
    ds = pd.date_range("2024-01-01", periods=120, freq="D")
    sparse = np.where(rng.random(120) < 0.15, rng.poisson(4, 120) + 1, 0).astype(float)
    frame = pd.concat([
        pd.DataFrame({"unique_id": "sparse", "ds": ds, "y": sparse}),
        pd.DataFrame({"unique_id": "short", "ds": ds[-20:], "y": rng.poisson(5, 20) * 1.0}),
        pd.DataFrame({"unique_id": "tiny", "ds": ds[-10:], "y": rng.poisson(5, 10) * 1.0}),
    ])  # fmt: skip
    res = forecast(frame, freq="D", horizon=7, models=("ets", "croston", "adida"), n_windows=2)
    assert res.forecast.groupby("unique_id").size().to_dict() == {
        "short": 7, "sparse": 7, "tiny": 7
    }  # fmt: skip
    assert res.forecast["yhat"].notna().all()
    sparse_model = res.forecast.loc[res.forecast["unique_id"] == "sparse", "model"].iloc[0]
    assert sparse_model in {"AutoETS", "CrostonOptimized", "ADIDA"}
    # under two weeks and a window: no seasonal backtest, but a plain one; 10 days: none
    assert set(res.backtest["unique_id"]) == {"sparse", "short"}


def test_hierarchy_adds_up():
    rng = np.random.default_rng(0)
    ds = pd.date_range("2024-01-01", periods=120, freq="D")
    rows = [
        pd.DataFrame({"ds": ds, "channel": ch, "y": rng.poisson(m, 120) * 1.0})
        for ch, m in (("web", 40), ("store", 25), ("app", 10))
    ]
    h = forecast_hierarchy(
        pd.concat(rows), ["channel"], freq="D", horizon=7, models=("ets",), n_windows=1
    )
    f = h.forecast
    assert set(f["level"]) == {"total", "channel"}
    by_day = f.groupby(["ds", "level"])["yhat"].sum().unstack()
    np.testing.assert_allclose(by_day["total"], by_day["channel"], rtol=1e-9)
    assert (f["yhat_lo_80"] <= f["yhat"]).all() and (f["yhat"] <= f["yhat_hi_80"]).all()


def test_bad_input_is_a_clear_error():
    good = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=30), "y": 1.0})
    with pytest.raises(MissingColumnError, match="missing \\['y'\\]"):
        forecast(good.drop(columns="y"), freq="D", horizon=3)
    bad = good.copy()
    bad.loc[5, "y"] = np.nan
    with pytest.raises(DataError, match="row 5: column y"):
        forecast(bad, freq="D", horizon=3)
    with pytest.raises(DataError, match="unknown forecast model"):
        forecast(good, freq="D", horizon=3, models=("prophet",))
    with pytest.raises(DataError, match="unknown forecast frequency"):
        forecast(good, freq="fortnight", horizon=3)
    with pytest.raises(DataError, match="two values"):
        forecast(pd.concat([good, good.head(1)]), freq="D", horizon=3)
