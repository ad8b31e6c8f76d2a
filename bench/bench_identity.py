"""Identity resolution of customer records from three sources (CRM, shop, help desk).

Goal (issue 12): resolving 1 million customer records from 3 sources in under 5 minutes on
2 cores. The records are the demo's (``crmine.demo._identities``: pinyin/characters, typos,
nicknames, transposed phone digits, moved customers, households), at any size; the CRM holds
about 62 % of them. Printed per size: the time of each step, precision and recall of the true
pairs, and the ratio against the cheapest resolution a user could write by hand, measured in
the same run on the same records: one DuckDB query grouping them by lower-cased e-mail.

Run: .venv/bin/python bench/bench_identity.py [--records 100000 300000 1000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _timing import report
from crmine.demo._customers import make_customers
from crmine.demo._identities import make_identity_sources
from crmine.identity import resolve_records

CRM_SHARE = 0.62  # of all records: shop and help desk add the rest


def records(n_records: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_crm = round(n_records * CRM_SHARE)
    crm, _ = make_customers(np.random.default_rng(seed), n_crm)
    sources, truth = make_identity_sources(np.random.default_rng(seed + 1), crm)
    frames = [crm.assign(source="crm")] + [f.assign(source=k) for k, f in sources.items()]
    recs = pd.concat(frames, ignore_index=True).rename(columns={"customer_id": "source_id"})
    cols = ["source", "source_id", "name", "email", "phone", "birth_date", "address", "city"]
    return recs[cols], truth


def pair_count(frame: pd.DataFrame, key: str) -> tuple[set[tuple[str, str]], int]:
    sizes = frame.groupby(key)["source_id"].transform("size")
    multi = frame[sizes > 1]
    out: set[tuple[str, str]] = set()
    for _, ids in multi.groupby(key)["source_id"]:
        out.update(itertools.combinations(sorted(ids), 2))
    return out, len(out)


def hand_written(recs: pd.DataFrame, threads: int) -> float:
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.register("recs", recs)
    start = time.perf_counter()
    con.execute("""
        CREATE TABLE crosswalk AS
        SELECT source_id, coalesce(min(source_id) OVER (PARTITION BY lower(trim(email))),
                                   source_id) AS customer_id
        FROM recs
    """)
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    duckdb.execute(f"SET threads = {args.threads}")  # the default connection; ours set below
    for n in args.records:
        t0 = time.perf_counter()
        recs, truth = records(n)
        gen = time.perf_counter() - t0
        ref = hand_written(recs, args.threads)
        start = time.perf_counter()
        res = resolve_records(recs, threads=args.threads)
        ours = time.perf_counter() - start
        true_pairs, _ = pair_count(truth, "person_id")
        found, _ = pair_count(res.identity, "customer_id")
        hit = len(true_pairs & found)
        print(f"{len(recs):,} records ({n:,} asked; generated in {gen:.0f}s): "
              f"{res.n_customers:,} customers; precision {hit / max(len(found), 1):.4f}, "
              f"recall {hit / len(true_pairs):.4f} of {len(true_pairs):,} true pairs; steps "
              + ", ".join(f"{k} {v:.1f}s" for k, v in res.timings.items()), flush=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory of this process so far: {peak:,.0f} MB", flush=True)
        report(f"identity resolve, {len(recs):,} records", ours,
               "DuckDB group by e-mail (by hand)", ref,
               "1M records under 300 s on 2 cores")


if __name__ == "__main__":
    main()
