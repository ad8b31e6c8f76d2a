"""Coverage of the price elasticities' 95 % intervals per category over many demo companies.

    .venv/bin/python bench/coverage_elasticity.py [--seeds 16] [--first 0] [--customers 2000]

Each seed is an independent demo company (``crmine.demo.generate``, with its planted prices);
a category's planted elasticity (``truth.sales_elasticity``) is inside or outside its interval.
Prints, per category, the coverage, the mean estimate against the truth (bias), the mean
z-score and its spread (a spread above 1 means intervals too narrow), the median first-stage
F and how often the category was flagged ``weak_instrument`` ("cannot tell"); then every miss
with its estimate, interval, truth and F; then coverage overall and over the categories
claimed (not flagged), and the same for the promotion lifts.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from crmine.demo import generate
from crmine.sales import elasticity_panel, price_elasticity


def fit_one(seed: int, n_customers: int) -> pd.DataFrame:
    company = generate(n_customers=n_customers, seed=seed)
    lines = company.tables["orders"]
    lines = lines[lines["status"] == "completed"].assign(
        category=lines["product_id"].map(
            company.tables["products"].set_index("product_id")["category"]))
    fit = price_elasticity(elasticity_panel(lines))
    truth = company.truth["sales_elasticity"].rename(columns={"category": "group"})
    return fit.merge(truth, on="group", suffixes=("", "_true")).assign(seed=seed)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--customers", type=int, default=2_000)
    ap.add_argument("--csv", default="")
    args = ap.parse_args()
    t0 = time.perf_counter()
    frames = []
    for seed in range(args.first, args.first + args.seeds):
        frames.append(fit_one(seed, args.customers))
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    d = pd.concat(frames, ignore_index=True)
    if args.csv:
        d.to_csv(args.csv, index=False)
    d["inside"] = (d["lower"] < d["elasticity_true"]) & (d["elasticity_true"] < d["upper"])
    d["z"] = (d["elasticity"] - d["elasticity_true"]) / d["std_error"]
    d["lift_inside"] = (d["promotion_lift_lower"] < d["promotion_lift_true"]) & (
        d["promotion_lift_true"] < d["promotion_lift_upper"])
    per = d.groupby("group").agg(
        truth=("elasticity_true", "first"), estimate=("elasticity", "mean"),
        coverage=("inside", "mean"), z_mean=("z", "mean"), z_sd=("z", "std"),
        first_stage_f=("first_stage_f", "median"), weak=("weak_instrument", "mean"),
        lift_coverage=("lift_inside", "mean"))  # fmt: skip
    print(per.round(3).to_string())
    misses = d.loc[~d["inside"], ["seed", "group", "elasticity_true", "elasticity", "lower",
                                  "upper", "first_stage_f", "weak_instrument"]]  # fmt: skip
    print("misses:\n" + misses.round(3).to_string(index=False))
    claimed = d[~d["weak_instrument"]]
    print(f"elasticity coverage {d['inside'].mean():.3f} over {len(d)} categories "
          f"({int(d['inside'].sum())}/{len(d)}); over the {len(claimed)} claimed (not weak) "
          f"{claimed['inside'].mean():.3f}; promotion lifts {d['lift_inside'].mean():.3f}; "
          f"{args.seeds} seeds of {args.customers:,} customers, "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
