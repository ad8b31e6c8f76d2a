from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from crmine.exceptions import ConfigError, DataError, NotFittedError, SchemaError
from crmine.segment import CustomerSegmenter


def planted(n: int = 1500, k: int = 4, noise_cols: int = 8, seed: int = 0, scale: float = 1.5
            ) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers from k planted segments on 5 skewed/bounded features, plus junk columns."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    # Sign patterns: every pair of segments differs on at least 3 of the 5 features.
    centres = scale * np.array([[1, 1, 1, 1, 1], [1, -1, -1, 1, -1], [-1, 1, -1, -1, 1],
                              [-1, -1, 1, -1, -1]])[:k]
    z = centres[truth] + rng.normal(0, 0.8, (n, 5))
    df = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)]})
    df["orders"] = np.round(np.exp(1 + 0.5 * z[:, 0]))          # skewed count
    df["total_spend"] = np.exp(4 + 0.6 * z[:, 1])                  # skewed amount
    df["avg_unit_price"] = np.exp(2 + 0.3 * z[:, 2])
    df["discount_share"] = 1 / (1 + np.exp(-z[:, 3]))              # bounded share
    df["tenure_days"] = 300 + 60 * z[:, 4]
    for j in range(noise_cols):                                    # uninformative columns
        df[f"noise{j}"] = rng.uniform(0, 1, n) if j % 2 else rng.lognormal(0, 1, n)
    df["row_number"] = np.arange(n)                                # an identifier
    df["constant"] = 1.0
    df["city"] = rng.choice(["a", "b"], n)                         # text
    df.loc[rng.choice(n, 30, replace=False), "avg_unit_price"] = np.nan  # missing values
    return df, truth


@pytest.fixture(scope="module")
def fitted():
    df, truth = planted()
    return CustomerSegmenter(k_range=(2, 8), n_bootstrap=4).fit(df), df, truth


def test_auto_k_recovers_planted_segments_despite_junk_columns(fitted):
    seg, _, truth = fitted
    assert seg.n_clusters_ == 4
    assert adjusted_rand_score(truth, seg.labels_) > 0.95
    assert seg.k_scores_.loc[seg.k_scores_["chosen"], "k"].item() == 4
    assert set(seg.k_scores_.columns) >= {"silhouette", "calinski_harabasz", "davies_bouldin"}
    assert set(seg.features_used_) == {"orders", "total_spend", "avg_unit_price",
                                       "discount_share", "tenure_days"}
    reasons = seg.dropped_features_
    assert reasons["row_number"].startswith("identifier")
    assert reasons["constant"] == "constant"
    assert reasons["city"].startswith("text")
    assert all(reasons[f"noise{j}"].startswith("uninformative") for j in range(8))
    assert seg.stability_ > 0.9


def test_screening_keeps_k_right_under_many_junk_columns():
    # 40 junk columns against 5 weakly separated informative ones.
    df, truth = planted(noise_cols=40, seed=1, scale=1.0)
    screened = CustomerSegmenter(k_range=(2, 8), n_bootstrap=0).fit(df)
    assert screened.n_clusters_ == 4
    assert len(screened.features_used_) == 5
    assert adjusted_rand_score(truth, screened.labels_) > 0.85
    raw = CustomerSegmenter(k_range=(2, 8), n_bootstrap=0, screen_features=False).fit(df)
    assert adjusted_rand_score(truth, raw.labels_) <= adjusted_rand_score(truth, screened.labels_)


def test_profiles_predict_and_labels_ordered_by_size(fitted):
    seg, df, _ = fitted
    sizes = seg.profiles_["customers"].tolist()
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == len(df)
    assert (seg.predict(df) == seg.labels_).all()
    frame = seg.to_frame()
    assert frame["customer_id"].tolist() == df["customer_id"].tolist()


def test_sampling_assigns_every_customer():
    df, truth = planted(n=4000, seed=2)
    seg = CustomerSegmenter(k_range=(3, 5), sample_size=800, n_bootstrap=0).fit(df)
    assert len(seg.labels_) == 4000
    assert adjusted_rand_score(truth, seg.labels_) > 0.9


@pytest.mark.parametrize("method", ["gmm", "ward"])
def test_other_methods_recover_segments(method):
    df, truth = planted(n=900, seed=3, noise_cols=2)
    seg = CustomerSegmenter(method=method, k_range=(2, 6), n_bootstrap=2).fit(df)
    assert seg.n_clusters_ == 4
    assert adjusted_rand_score(truth, seg.labels_) > 0.9
    if method == "gmm":
        assert seg.k_scores_["bic"].notna().all()


def test_hdbscan_flags_outlier_customers():
    rng = np.random.default_rng(4)
    core = np.vstack([rng.normal(0, 0.3, (400, 2)), rng.normal(5, 0.3, (400, 2))])
    angle = np.linspace(0, 2 * np.pi, 10, endpoint=False)  # a ring far from both groups
    outliers = 2.5 + 15 * np.c_[np.cos(angle), np.sin(angle)]
    df = pd.DataFrame(np.vstack([core, outliers]), columns=["a", "b"])
    seg = CustomerSegmenter(method="hdbscan", log_skewed=False, n_bootstrap=0,
                            screen_features=False).fit(df)
    assert seg.n_clusters_ == 2
    assert (seg.labels_[-10:] == -1).sum() >= 8
    assert (seg.labels_[:800] >= 0).mean() > 0.95


def test_numpy_input_infinities_and_tiny_tables():
    df, truth = planted(n=600, seed=5, noise_cols=0)
    x = df[["orders", "total_spend", "avg_unit_price", "discount_share", "tenure_days"]]
    x = x.to_numpy().copy()
    x[0, 1] = np.inf
    seg = CustomerSegmenter(k_range=(2, 6), n_bootstrap=0).fit(x)
    assert seg.features_used_[0] == "x0" and seg.n_clusters_ == 4
    assert adjusted_rand_score(truth, seg.labels_) > 0.9
    tiny = CustomerSegmenter(n_bootstrap=0).fit(df.head(4))
    assert len(tiny.labels_) == 4


def test_fixed_k_and_errors():
    df, _ = planted(n=300)
    assert CustomerSegmenter(n_clusters=3, n_bootstrap=0).fit(df).n_clusters_ == 3
    with pytest.raises(NotFittedError):
        CustomerSegmenter().predict(df)
    with pytest.raises(ConfigError, match="method"):
        CustomerSegmenter(method="dbscan").fit(df)
    with pytest.raises(ConfigError, match="k_range"):
        CustomerSegmenter(k_range=(1, 3)).fit(df)
    with pytest.raises(SchemaError, match="no usable numeric feature"):
        CustomerSegmenter().fit(df[["customer_id", "city", "constant"]])
    dup = pd.concat([df.head(5), df.head(1)])
    with pytest.raises(DataError, match="c0"):
        CustomerSegmenter().fit(dup)
    fitted = CustomerSegmenter(n_clusters=2, n_bootstrap=0).fit(df)
    with pytest.raises(SchemaError, match="orders"):
        fitted.predict(df.drop(columns="orders"))
