"""Weekly volume, its trend and yearly season: found where planted, not where there is none
(the demo's tickets are spread evenly over the year)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.service._seasonality import volume_seasonality, weekly_volume

WEEKS = pd.date_range("2022-01-03", periods=156, freq="7D")


def _series(amplitude: float, seed: int) -> pd.Series:
    """Growing volume, a yearly peak in week ~49 of size ``amplitude``, overdispersed noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(len(WEEKS)) / (365.25 / 7)
    peak = 48.5 / 52.18
    mean = 60 * (1 + 0.3 * t) * np.exp(amplitude * np.cos(2 * np.pi * (t - peak)))
    return pd.Series(rng.negative_binomial(20, 20 / (20 + mean)), index=WEEKS)


def test_a_planted_season_is_found_with_its_peak_and_size() -> None:
    fits = [volume_seasonality(_series(0.25, seed)) for seed in range(10)]
    assert all(f.significant and f.p_value < 1e-4 for f in fits)
    # the peak week scatters by a few weeks around the planted week 49 (around the new year)
    offsets = [(f.peak_week - 49 + 26) % 52 - 26 for f in fits]
    assert abs(np.median(offsets)) <= 2 and max(map(abs, offsets)) <= 7
    ratio = np.median([f.peak_to_trough for f in fits])
    assert ratio == pytest.approx(np.exp(0.5), rel=0.1)
    f = fits[0].frame
    np.testing.assert_allclose(f["trend"] + f["seasonal"] + f["remainder"], f["tickets"])


def test_no_season_is_rarely_significant() -> None:
    hits = sum(volume_seasonality(_series(0.0, seed)).significant for seed in range(20))
    assert hits <= 3  # about 1 in 20 at the 5% level
    short = volume_seasonality(_series(0.25, 1).iloc[:80])
    assert np.isnan(short.p_value) and not short.significant


def test_weekly_volume_counts_whole_weeks_only() -> None:
    opened = pd.Series(pd.to_datetime(["2024-01-03", "2024-01-08", "2024-01-09",
                                       "2024-01-22", "2024-01-30"]))
    weekly = weekly_volume(opened, pd.Timestamp("2024-02-01"))
    # Wednesday 3rd starts a partial week; the week of the 29th has not ended by the 1st
    assert weekly.index.strftime("%m-%d").tolist() == ["01-08", "01-15", "01-22"]
    assert weekly.tolist() == [2, 0, 1]


def test_demo_volume_has_a_trend_and_no_season(demo_workspace) -> None:
    tickets = demo_workspace.read("core.fct_tickets")
    found = volume_seasonality(weekly_volume(tickets["opened_ts"],
                                             pd.Timestamp("2026-06-30")))
    assert len(found.frame) > 150 and not found.significant
    trend = found.frame["trend"].to_numpy()
    assert trend[-10:].mean() > 3 * trend[:10].mean()  # the customer base grows


def test_kaplan_meier_matches_lifelines() -> None:
    from lifelines import KaplanMeierFitter

    from crmine.service._contacts import _km_median, kaplan_meier

    rng = np.random.default_rng(0)
    hours = pd.Series(np.round(rng.lognormal(3, 1, 300), 1))
    closed = pd.Series(rng.random(300) < 0.8)
    km = KaplanMeierFitter().fit(hours, closed)
    times, share_open = kaplan_meier(hours.to_numpy(), closed.to_numpy())
    expected = km.survival_function_at_times(times).to_numpy()
    np.testing.assert_allclose(share_open, expected, atol=1e-12)
    assert _km_median(hours, closed) == km.median_survival_time_
