"""Benchmark: clustering a million customers with automatic k (crmine.segment).

Ours: CustomerSegmenter (k chosen over 2..10 on a 20,000-customer sample, every customer
assigned). Reference: scikit-learn KMeans told the true k, fitted on all customers after the
same log/standardise preprocessing done by hand. Agreement: adjusted Rand index between the
two labelings, and of ours against the planted truth.

The verdict (bootstrap stability and separation against structureless data, on a 2,000-
customer sample): its time against the fit's (goal: at most 15 % more), its status on the
planted segments (informative) and on Gaussian noise of the same shape (not_informative).

    .venv/bin/python bench/bench_segment.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from crmine.segment import CustomerSegmenter, judge_segmentation
from crmine.segment._verdict import evidence

CENTRES = 1.2 * np.array([[1, 1, 1, 1, 1, 1], [1, -1, -1, 1, -1, 1], [-1, 1, -1, -1, 1, 1],
                          [-1, -1, 1, -1, -1, -1], [1, 1, -1, -1, -1, -1]])


def customers(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(CENTRES), n)
    z = CENTRES[truth] + rng.normal(0, 0.7, (n, CENTRES.shape[1]))
    df = pd.DataFrame({
        "customer_id": np.char.add("C", np.arange(n).astype(str)),
        "orders": np.round(np.exp(1 + 0.5 * z[:, 0])),
        "total_spend": np.exp(5 + 0.7 * z[:, 1]),
        "avg_unit_price": np.exp(3 + 0.4 * z[:, 2]),
        "discount_share": 1 / (1 + np.exp(-1.5 * z[:, 3])),
        "channel_share_app": 1 / (1 + np.exp(-1.5 * z[:, 4])),
        "recency_days": np.exp(4 + 0.5 * z[:, 5]),
    })
    for j in range(4):  # uninformative columns, as real tables have
        df[f"attr_{j}"] = rng.normal(0, 1, n)
    return df, truth


def reference(df: pd.DataFrame, k: int) -> np.ndarray:
    x = df[["orders", "total_spend", "avg_unit_price", "discount_share", "channel_share_app",
            "recency_days"]].to_numpy(float)
    x[:, [0, 1, 2, 5]] = np.log1p(x[:, [0, 1, 2, 5]])
    x = (x - x.mean(0)) / x.std(0)
    with threadpool_limits(1):
        return KMeans(n_clusters=k, n_init=1, random_state=0).fit_predict(x)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="100,000 customers instead of 1M")
    n = 100_000 if ap.parse_args().quick else 1_000_000
    df, truth = customers(n)
    t0 = time.perf_counter()
    seg = CustomerSegmenter(k_range=(2, 10), n_bootstrap=5).fit(df)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = reference(df, len(CENTRES))
    theirs = time.perf_counter() - t0
    print(f"clustering {n:,} customers x {df.shape[1] - 1} columns")
    print(f"  ours (auto k over 2..10, screening, 5 bootstrap refits): {ours:8.2f} s  "
          f"k={seg.n_clusters_}  dropped={sorted(seg.dropped_features_)}")
    print(f"  reference sklearn KMeans (k given, all rows):            {theirs:8.2f} s")
    print(f"  ratio ours/reference: {ours / theirs:.2f}   goal: ours < 120 s -> "
          f"{'OK' if ours < 120 else 'MISSED'}")
    print(f"  agree: ARI(ours, reference) = {adjusted_rand_score(ref, seg.labels_):.3f}, "
          f"ARI(ours, truth) = {adjusted_rand_score(truth, seg.labels_):.3f}, "
          f"stability {seg.stability_:.3f}")

    # The verdict, timed against a fit without the segmenter's own bootstrap.
    t0 = time.perf_counter()
    plain = CustomerSegmenter(k_range=(2, 10), n_bootstrap=0).fit(df)
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    with threadpool_limits(1):
        ev = evidence(plain, df)
    judged = time.perf_counter() - t0
    v = judge_segmentation(ev)
    print(f"  verdict: {v.status}; within-cluster share {ev.within_share:.3f} vs "
          f"structureless {ev.null_within_share:.3f} (gain {ev.separation_gain:.0%}), "
          f"stability ARI {ev.mean_stability:.3f}")
    print(f"    time {judged:.2f} s vs fit {fit:.2f} s: +{judged / fit:.1%}   goal <= 15% -> "
          f"{'OK' if judged / fit <= 0.15 else 'MISSED'}")
    noise = pd.DataFrame(np.random.default_rng(1).normal(size=(min(n, 100_000), 6))
                         ).add_prefix("x")
    nseg = CustomerSegmenter(k_range=(2, 10), n_bootstrap=0).fit(noise)
    nv = judge_segmentation(evidence(nseg, noise))
    print(f"  on Gaussian noise ({len(noise):,} x 6): {nv.status} (expected not_informative)")


if __name__ == "__main__":
    main()
