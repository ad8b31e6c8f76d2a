"""Coverage of the marketing-mix model's ROI intervals per channel over many demo companies.

    .venv/bin/python bench/coverage_mmm.py [--seeds 40] [--boot 100] [--adstock geometric]

Each seed is an independent demo company (``make_marketing_spend``); a channel's planted ROI
is inside or outside its nominal 90% interval. Prints coverage per channel and overall, and
the mean relative bias of the ROI estimate (how far the point estimate sits from the truth),
so an under-covered channel can be told apart as biased (estimate off) or too narrow.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from crmine.demo._marketing_spend import make_marketing_spend
from crmine.marketing import MarketingMix


def weekly(seed: int) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.DataFrame]:
    media = make_marketing_spend(
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(9,))), signal=True)
    spend = media.spend.groupby(["date", "channel"])["spend"].sum().unstack(fill_value=0.0)
    spend.index = pd.DatetimeIndex(spend.index)
    out = media.outcomes.set_index(pd.DatetimeIndex(media.outcomes["date"]))
    return (spend, out["revenue"], out[["price", "promotion", "holiday"]],
            media.truth["mmm_channels"].set_index("channel"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--boot", type=int, default=100)
    ap.add_argument("--adstock", default="geometric")
    ap.add_argument("--csv", default="")
    args = ap.parse_args()
    rows = []
    t0 = time.perf_counter()
    for seed in range(args.first, args.first + args.seeds):
        spend, y, controls, truth = weekly(seed)
        found = (MarketingMix(n_bootstrap=args.boot, adstock=args.adstock)
                 .fit(spend, y, controls).channel_summary().set_index("channel"))
        for ch, row in found.iterrows():
            true = float(truth.loc[ch, "roi"])
            rows.append({"seed": seed, "channel": ch, "truth": true, "roi": row["roi"],
                         "low": row["roi_ci_low"], "high": row["roi_ci_high"],
                         "inside": row["roi_ci_low"] <= true <= row["roi_ci_high"],
                         "below": true < row["roi_ci_low"], "decay": row["decay"],
                         "true_decay": truth.loc[ch, "decay"], "shape": row["shape"],
                         "true_shape": truth.loc[ch, "shape"]})
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    frame = pd.DataFrame(rows)
    if args.csv:
        frame.to_csv(args.csv, index=False)
    frame["rel_bias"] = frame["roi"] / frame["truth"] - 1
    frame["rel_width"] = (frame["high"] - frame["low"]) / frame["truth"]
    per = frame.groupby("channel").agg(coverage=("inside", "mean"),
                                       truth_below_interval=("below", "mean"),
                                       rel_bias=("rel_bias", "mean"),
                                       rel_width=("rel_width", "mean"))
    print(per.round(3).to_string())
    print(f"overall coverage {frame['inside'].mean():.3f} over {len(frame)} channels, "
          f"{args.seeds} seeds, {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
