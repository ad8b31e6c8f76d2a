"""Benchmark of the demo company generator.

Cases:
1. BG/NBD purchase simulation (the core of the order generator) for each planted segment,
   against lifetimes' reference simulator ``lifetimes.generate_data.beta_geometric_nbd_model``
   (a per-customer Python loop), measured in the same run on the same customers' T. Results
   agree when both mean repeat-purchase counts are within 4 standard errors of the closed
   form E[X(T)] of Fader, Hardie & Lee (2005, eq. 9).
2. ``generate(n)`` end to end (no reference exists; reports lines per second).

Run: ``.venv/bin/python bench/bench_demo.py [--quick]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy.special import hyp2f1


def expected_repeats(t: np.ndarray, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    return (a + b - 1) / (a - 1) * (
        1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t))
    )


def bench_bgnbd(n: int) -> None:
    from lifetimes.generate_data import beta_geometric_nbd_model

    from crmine.demo._orders import purchase_times
    from crmine.demo._spec import DAYS, SEGMENTS

    print(f"BG/NBD simulation, {n:,} customers per segment (rate per day)")
    print(f"{'segment':<16}{'ours s':>9}{'lifetimes s':>13}{'ratio':>8}"
          f"{'E[X]':>8}{'ours':>8}{'lifetimes':>11}  agree")
    for s in SEGMENTS:
        rng = np.random.default_rng(1)
        t0 = rng.uniform(0.0, DAYS - 14.0, n)
        T = DAYS - t0
        start = time.perf_counter()
        lam = rng.gamma(s.r, 1.0 / s.alpha, n)
        p = rng.beta(s.a, s.b, n)
        _, _, repeats, _ = purchase_times(rng, t0, lam, p)
        ours_s = time.perf_counter() - start

        np.random.seed(1)  # noqa: NPY002 - lifetimes draws from the legacy global state
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = beta_geometric_nbd_model(T, s.r, s.alpha, s.a, s.b, size=n)
        ref_s = time.perf_counter() - start

        ex = expected_repeats(T, s.r, s.alpha, s.a, s.b).mean()
        ours_m, ref_m = repeats.mean(), ref["frequency"].mean()
        ok = (abs(ours_m - ex) < 4 * repeats.std() / np.sqrt(n)
              and abs(ref_m - ex) < 4 * ref["frequency"].std() / np.sqrt(n))
        print(f"{s.name:<16}{ours_s:>9.3f}{ref_s:>13.3f}{ref_s / ours_s:>7.0f}x"
              f"{ex:>8.2f}{ours_m:>8.2f}{ref_m:>11.2f}  {'yes' if ok else 'NO'}")


def bench_generate(sizes: list[int]) -> None:
    from crmine.demo import generate

    print("\ngenerate(n) end to end (one core; no reference implementation)")
    print(f"{'customers':>10}{'seconds':>9}{'order lines':>13}{'lines/s':>11}")
    for n in sizes:
        start = time.perf_counter()
        company = generate(n_customers=n, seed=0)
        sec = time.perf_counter() - start
        lines = len(company.tables["orders"])
        print(f"{n:>10,}{sec:>9.2f}{lines:>13,}{lines / sec:>11,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    args = parser.parse_args()
    bench_bgnbd(2_000 if args.quick else 10_000)
    bench_generate([2_000] if args.quick else [2_000, 10_000, 50_000])


if __name__ == "__main__":
    main()
