"""Calibrated forecast intervals and promotion regressors, on series with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.exceptions import DataError
from crmine.sales import forecast

WEEKS = 130
PROMO_LIFT = 60.0  # planted: a promotion week sells this many more units


def _fat_tailed_series(n_series: int = 60, seed: int = 0) -> pd.DataFrame:
    """Level 200, Student-t (3 df) shocks: normal-theory intervals are wrong at both levels."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2023-01-02", periods=WEEKS, freq="W-MON")
    y = 200 + 10 * rng.standard_t(3, (n_series, WEEKS))
    return pd.DataFrame({"unique_id": np.repeat([f"s{i}" for i in range(n_series)], WEEKS),
                         "ds": np.tile(ds, n_series), "y": y.ravel()})  # fmt: skip


def test_calibrated_intervals_cover_at_their_level_on_held_out_weeks():
    res = forecast(_fat_tailed_series(), freq="W", horizon=8, models=("ets",), n_windows=3)
    bt = res.backtest
    # 60 series x 8 held-out weeks; the calibration saw only the two earlier windows
    assert 0.75 <= bt["coverage_80"].mean() <= 0.88, bt["coverage_80"].mean()
    assert 0.90 <= bt["coverage_95"].mean() <= 0.98, bt["coverage_95"].mean()
    assert "calibrated on the earlier windows" in res.verdict.why
    f = res.forecast
    assert ((f["yhat_lo_95"] <= f["yhat_lo_80"]) & (f["yhat_hi_80"] <= f["yhat_hi_95"])).all()
    # the t(3) shocks' true 80 % half-width is 1.64 x 10; the calibrated one is near it
    half = ((f["yhat_hi_80"] - f["yhat_lo_80"]) / 2).median()
    assert 12.0 < half < 22.0, half


def _promoted(n_series: int = 8, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2023-01-02", periods=WEEKS + 8, freq="W-MON")
    parts = []
    for i in range(n_series):
        promo = (rng.random(len(ds)) < 0.2).astype(float)
        y = 300 + 0.3 * np.arange(len(ds)) + PROMO_LIFT * promo
        parts.append(pd.DataFrame({"unique_id": f"p{i}", "ds": ds, "promotion": promo,
                                   "y": y + rng.normal(0, 8, len(ds))}))  # fmt: skip
    full = pd.concat(parts, ignore_index=True)
    last = full["ds"].sort_values().unique()[-8]
    return full[full["ds"] < last], full[full["ds"] >= last]


def test_a_promotion_regressor_is_used_and_improves_the_backtest():
    hist, ahead = _promoted()
    kw = {"freq": "W", "horizon": 8, "models": ("ets", "theta", "combo"), "n_windows": 3}
    plain = forecast(hist.drop(columns="promotion"), **kw)
    with_promo = forecast(hist, future=ahead[["unique_id", "ds", "promotion"]], **kw)
    gain = 1 - with_promo.backtest["mase"].mean() / plain.backtest["mase"].mean()
    assert gain > 0.3, (plain.backtest["mase"].mean(), with_promo.backtest["mase"].mean())
    # the future promotion weeks are forecast about PROMO_LIFT higher than the others
    f = with_promo.forecast.merge(ahead, on=["unique_id", "ds"])
    lift = f.loc[f["promotion"] == 1, "yhat"].mean() - f.loc[f["promotion"] == 0, "yhat"].mean()
    assert lift == pytest.approx(PROMO_LIFT, abs=15.0)
    err = (f["yhat"] - f["y"]).abs().mean()
    assert err < 15.0


def test_regressors_need_their_future_values():
    hist, ahead = _promoted(n_series=2)
    kw = {"freq": "W", "horizon": 8, "models": ("ets",), "n_windows": 1}
    with pytest.raises(DataError, match="pass future="):
        forecast(hist, **kw)
    with pytest.raises(DataError, match="no regressor values for series 'p1'"):
        forecast(hist, future=ahead[ahead["unique_id"] != "p1"], **kw)
    bad = hist.astype({"promotion": object})
    bad.loc[bad.index[3], "promotion"] = "lots"
    with pytest.raises(DataError, match="row 3: regressor 'promotion'"):
        forecast(bad, future=ahead, **kw)


def test_cli_forecast_takes_the_regressors_future_values(tmp_path):
    import json

    from typer.testing import CliRunner

    from crmine.cli import app

    hist, ahead = _promoted(n_series=2)
    hist.assign(ds=hist["ds"].dt.strftime("%Y-%m-%d")).to_csv(tmp_path / "h.csv", index=False)
    ahead.drop(columns="y").to_csv(tmp_path / "f.csv", index=False)
    args = ["forecast", "--input", str(tmp_path / "h.csv"), "--freq", "W", "--horizon", "8",
            "--models", "ets", "--windows", "2", "--json"]  # fmt: skip
    missing = CliRunner().invoke(app, args)
    assert missing.exit_code == 2 and "pass future=" in missing.stderr
    assert "Traceback" not in missing.stderr + missing.stdout
    out = CliRunner().invoke(app, [*args, "--future", str(tmp_path / "f.csv")])
    assert out.exit_code == 0, out.stdout + out.stderr
    got = pd.DataFrame(json.loads(out.stdout)["forecast"])
    f = got.assign(ds=pd.to_datetime(got["ds"])).merge(ahead, on=["unique_id", "ds"])
    assert len(f) == 16
    assert (f["yhat"] - f["y"]).abs().mean() < 20.0
