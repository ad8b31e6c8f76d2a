from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.exceptions import ConfigError, DataError, MissingColumnError
from crmine.segment import DEFAULT_SEGMENT_MAP, RFM_SEGMENTS, rfm_segments
from crmine.segment._rfm import quantile_scores


def _table(n: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": [f"c{i:03d}" for i in range(n)],
        "recency_days": rng.integers(0, 365, n).astype(float),
        "orders": rng.integers(1, 20, n).astype(float),
        "total_spend": rng.gamma(2, 100, n),
    })


def test_quintiles_of_distinct_values_are_equal_sized_and_ordered():
    s = pd.Series(np.arange(100.0))
    scores = quantile_scores(s, 5)
    assert scores.value_counts().sort_index().tolist() == [20] * 5
    assert scores.iloc[0] == 1 and scores.iloc[-1] == 5
    assert quantile_scores(s, 5, higher_is_better=False).iloc[0] == 5


def test_ties_get_one_score_whatever_the_row_order():
    # 60 one-time buyers: their mid-rank percentile is 0.305 -> score 2 for all of them.
    s = pd.Series([1.0] * 60 + list(range(2, 42)))
    scores = quantile_scores(s, 5)
    assert scores[:60].nunique() == 1 and scores.iloc[0] == 2
    shuffled = s.sample(frac=1, random_state=3)
    assert (quantile_scores(shuffled, 5).sort_index() == scores).all()


def test_scores_segments_and_weights():
    df = _table()
    res = rfm_segments(df, weights=(2.0, 1.0, 1.0))
    sc = res.scores
    assert set(sc["rfm_segment"]) <= set(RFM_SEGMENTS)  # the default map covers all 25 cells
    best = sc.loc[sc["recency_days"].idxmin()]
    assert best["r_score"] == 5
    row = sc.iloc[0]
    assert row["rfm_score"] == pytest.approx((2 * row.r_score + row.f_score + row.m_score) / 4)
    assert row["rfm_cell"] == f"{row.r_score}{row.f_score}{row.m_score}"
    assert res.segments["customers"].sum() == len(df)
    assert res.segments["revenue_share"].sum() == pytest.approx(1.0)


def test_default_map_names_the_corners():
    # Ten customers with distinct values: quintile score = rank pair (1-2 -> 1 ... 9-10 -> 5).
    df = pd.DataFrame({"customer_id": list("abcdefghij"),
                       "recency_days": [1, 2, 3, 4, 5, 300, 301, 302, 303, 304],
                       "orders": [50, 40, 3, 4, 5, 49, 41, 6, 7, 1],
                       "total_spend": [5e3, 4e3, 3, 4, 5, 4.9e3, 4.1e3, 6, 7, 1]})
    sc = rfm_segments(df).scores.set_index("customer_id")
    seg = sc["rfm_segment"]
    assert sc.loc["a", "rfm_cell"] == "555" and seg["a"] == "Champions"
    assert sc.loc["c", "rfm_cell"] == "411" and seg["c"] == "Promising"
    assert sc.loc["d", "rfm_cell"] == "422" and seg["d"] == "Potential Loyalists"
    assert sc.loc["f", "rfm_cell"] == "355" and seg["f"] == "Loyal"
    assert sc.loc["i", "rfm_cell"] == "133" and seg["i"] == "At Risk"
    assert sc.loc["j", "rfm_cell"] == "111" and seg["j"] == "Lost"


def test_default_map_covers_every_cell_once():
    import re

    first = {}
    for r in range(1, 6):
        for fm in range(1, 6):
            cell = f"{r}{fm}"
            names = [n for n, p in DEFAULT_SEGMENT_MAP.items() if re.fullmatch(p, cell)]
            assert names, cell
            first[cell] = names[0]
    assert first["15"] == "Can't Lose" and first["11"] == "Lost" and first["55"] == "Champions"
    assert first["51"] == "New" and first["33"] == "Need Attention"
    assert first["22"] == "Hibernating" and first["31"] == "About to Sleep"
    assert set(first.values()) == set(RFM_SEGMENTS)


def test_lifetimes_columns_are_understood():
    df = pd.DataFrame({"customer_id": ["a", "b"], "frequency": [3.0, 0.0],
                       "recency": [100.0, 0.0], "T": [110.0, 200.0],
                       "monetary_value": [50.0, 0.0]})
    sc = rfm_segments(df, bins=2, segment_map={"x": ".*"}).scores
    assert sc["recency_days"].tolist() == [10.0, 200.0]
    assert sc["r_score"].tolist() == [2, 1]


def test_custom_map_and_other():
    res = rfm_segments(_table(), bins=3, segment_map={"top": "33"})
    assert set(res.scores["rfm_segment"]) == {"top", "Other"}


def test_bad_input_is_named():
    with pytest.raises(ConfigError, match="5 bins"):
        rfm_segments(_table(), bins=4)
    with pytest.raises(MissingColumnError, match="frequency"):
        rfm_segments(_table().drop(columns="orders"))
    bad = _table()
    bad.loc[7, "total_spend"] = np.nan
    with pytest.raises(DataError, match=r"row 7.*c007"):
        rfm_segments(bad)
    with pytest.raises(ConfigError, match="invalid pattern"):
        rfm_segments(_table(), segment_map={"x": "(["})
    assert len(DEFAULT_SEGMENT_MAP) == 11
