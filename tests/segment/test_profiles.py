from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.exceptions import DataError
from crmine.segment import describe_segment, profile_segments


def _planted(n: int = 900, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    seg = np.repeat([0, 1, 2], n // 3)
    df = pd.DataFrame({
        "customer_id": np.arange(n),
        "orders": np.where(seg == 0, rng.poisson(12, n), rng.poisson(2, n)) + 1,
        "avg_unit_price": np.where(seg == 0, rng.normal(400, 40, n), rng.normal(40, 5, n)),
        "discount_share": np.where(seg == 1, rng.uniform(0.6, 0.9, n), rng.uniform(0, 0.05, n)),
        "noise": rng.normal(0, 1, n),
    })
    df["total_spend"] = df["orders"] * df["avg_unit_price"]
    return df, seg


def test_profiles_describe_and_explain_planted_segments():
    df, seg = _planted()
    p = profile_segments(df, seg)
    s = p.summary.set_index("segment")
    assert s["customers"].tolist() == [300, 300, 300]
    assert s["revenue_share"].sum() == pytest.approx(1.0)
    assert s.loc[0, "revenue_share"] > 0.8
    assert "frequent buyers" in s.loc[0, "description"]
    assert "buy premium products" in s.loc[0, "description"]
    assert s.loc[1, "description"].startswith("heavy discount users")
    # Standardised difference of the noise column is near zero, of price large.
    st = p.stats.set_index(["segment", "feature"])["std_diff"]
    assert abs(st[(0, "noise")]) < 0.2
    assert st[(0, "avg_unit_price")] > 3
    # The surrogate tree reproduces the planted segments from readable rules.
    assert p.surrogate_accuracy > 0.95
    best = p.rules[p.rules["segment"] == 0].iloc[0]
    assert best["rule"] == s.loc[0, "rule"]
    assert best["precision"] > 0.95 and best["recall"] > 0.95
    assert " and " in best["rule"] or "<" in best["rule"] or ">" in best["rule"]
    assert p.distinctive.groupby("segment").size().eq(3).all()


def test_describe_segment_threshold_and_fallback():
    d = pd.Series({"discount_share": -1.2, "channel_share_app": 0.9, "cat_share_home": 0.1})
    assert describe_segment(d) == "rarely use discounts, shop mostly via app"
    assert describe_segment(pd.Series({"x": 0.1})) == "close to the average customer"
    assert describe_segment(pd.Series({"loyalty_points": 1.0})) == "high loyalty points"


def test_label_count_mismatch():
    df, seg = _planted()
    with pytest.raises(DataError, match="one label per row"):
        profile_segments(df, seg[:10])
