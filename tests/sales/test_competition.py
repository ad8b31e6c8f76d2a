"""The simulated M3-like competition (no M3/M4 data here: no installed package ships them and
nothing may be downloaded). Scoring the engine against Theta on it takes minutes: it is
``bench/bench_competition.py``, not a test."""

from __future__ import annotations

from crmine.sales._competition import FREQUENCIES, competition_series


def test_competition_series_are_positive_and_of_m3_lengths():
    sets = competition_series(7, seed=3)
    for name, frame in sets.items():
        _freq, _season, _h, lo, hi = FREQUENCIES[name]
        sizes = frame.groupby("unique_id").size()
        assert len(sizes) == 7 and sizes.between(lo, hi).all()
        assert (frame["y"] > 0).all()
