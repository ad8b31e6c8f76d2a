"""Benchmark: customer cube count and group-by over 1 million customers x 10 dimensions.

Ours: crmine.cube.query on a workspace (DuckDB; cube table built once, then cached).
Reference: the same filter + group-by in pandas on a DataFrame already in memory.
Agreement: counts and group sizes equal.

Then a count from the shell: the wall time of the whole ``crmine cube --where ... --json``
process (interpreter start, CLI, opening the warehouse, the query, the JSON) against the
in-process query time of the same count. Goal: the process within 0.8 s.

    .venv/bin/python bench/bench_cube.py [--quick] [--cli-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from crmine.cube import query
from crmine.warehouse import Workspace

QUERIES = [
    (["gender=F", "city=Shanghai"], "region"),
    (["age>=30", "age<50", "income_band=100000-200000"], "rfm_segment"),
    (["region=East,North", "value_tier=A", "occupation!=student"], "channel"),
    (["education=master", "country=CN", "cluster=2"], "age_band"),
]


def build(ws: Workspace, n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.char.add("C", np.arange(n).astype(str))
    cities = np.array(["Shanghai", "Beijing", "Shenzhen", "Chengdu", "Hangzhou", "Wuhan"])
    city = cities[rng.integers(0, len(cities), n)]
    region = pd.Series(city).map({"Shanghai": "East", "Hangzhou": "East", "Beijing": "North",
                                  "Shenzhen": "South", "Chengdu": "West", "Wuhan": "Central"})
    cust = pd.DataFrame({
        "customer_id": ids,
        "gender": rng.choice(["F", "M"], n),
        "age": rng.integers(18, 85, n),
        "income": np.round(rng.lognormal(np.log(150_000), 0.6, n), -2),
        "occupation": rng.choice(["engineer", "teacher", "sales", "student", "retired"], n),
        "education": rng.choice(["high school", "bachelor", "master", "phd"], n),
        "city": city, "region": region.to_numpy(), "country": "CN",
        "acquisition_channel": rng.choice(["web", "store", "referral", "social"], n),
        "is_current": True,
    })
    ws.write_table("core.dim_customer", cust)
    seg = pd.DataFrame({"customer_id": ids,
                        "rfm_segment": rng.choice(["Champions", "Loyal", "At Risk", "Lost"], n),
                        "cluster": rng.integers(0, 5, n), "value_tier": rng.choice(list("ABC"), n),
                        "is_golden": rng.random(n) < 0.05, "rfm_score": rng.uniform(1, 5, n)})
    ws.write_table("marts.customer_segments", seg)
    rfm = pd.DataFrame({"customer_id": ids, "orders": rng.integers(1, 30, n).astype(float),
                        "total_spend": rng.gamma(2, 300, n)})
    ws.write_table("marts.customer_rfm", rfm)
    ws.write_table("marts.customer_scores", pd.DataFrame({
        "customer_id": ids, "churn_risk": rng.random(n),
        "predicted_clv_12m": rng.gamma(2, 200, n)}))
    frame = cust.merge(seg, on="customer_id").merge(rfm, on="customer_id")
    frame["channel"] = frame["acquisition_channel"]
    frame["age_band"] = pd.cut(frame["age"], [-np.inf, 18, 25, 35, 45, 55, 65, np.inf],
                               right=False, labels=["<18", "18-25", "25-35", "35-45", "45-55",
                                                    "55-65", "65+"]).astype(str)
    frame["income_band"] = pd.cut(frame["income"], [-np.inf, 50_000, 100_000, 200_000, 500_000,
                                                    np.inf], right=False,
                                  labels=["<50000", "50000-100000", "100000-200000",
                                          "200000-500000", "500000+"]).astype(str)
    return frame


def pandas_query(df: pd.DataFrame, where: list[str], by: str) -> tuple[int, pd.Series]:
    mask = np.ones(len(df), dtype=bool)
    for w in where:
        for op in ("!=", ">=", "<=", "=", ">", "<"):
            if op in w:
                col, val = w.split(op, 1)
                break
        s = df[col]
        if op in ("=", "!="):
            vals = val.split(",")
            if pd.api.types.is_numeric_dtype(s):
                vals = [float(v) for v in vals]
            m = s.isin(vals).to_numpy()
            mask &= m if op == "=" else ~m
        else:
            v = float(val)
            mask &= {"<": s < v, ">": s > v, ">=": s >= v, "<=": s <= v}[op].to_numpy()
    sub = df[mask]
    return int(mask.sum()), sub.groupby(by).size()


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


CLI_WHERE = ["gender=F", "age>=30", "region=East,North"]


def cli_count(folder: str, repeats: int = 7) -> None:
    """Wall time of ``crmine cube --where ... --json`` as a process vs the query in process."""
    exe = Path(sys.executable).with_name("crmine")
    cmd = [str(exe), "cube", "-w", folder, "--json"]
    for w in CLI_WHERE:
        cmd += ["--where", w]
    env = {**os.environ, "CRMINE_PROGRESS": "0"}
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    count = json.loads(first.stdout)["count"]  # the first run may build the stored cube
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        walls.append(time.perf_counter() - t0)
        assert json.loads(done.stdout)["count"] == count
    with Workspace.open(folder, read_only=True) as ws:
        query(ws, where=CLI_WHERE)  # the read-only cube, built once
        inproc, res = timed(lambda: query(ws, where=CLI_WHERE), 15)
    from crmine.cube._query import opened

    def folder_query() -> int:
        with opened(folder) as cube:
            return int(cube.con.execute("SELECT count(*) FROM " + cube.table).fetchall()[0][0])

    opening, _ = timed(folder_query, 7)
    wall = statistics.median(walls)
    print(f"  crmine cube {' '.join('--where ' + w for w in CLI_WHERE)} --json: count "
          f"{count:,} (in process {res.count:,}, agree {count == res.count})")
    print(f"    process wall median {wall:.3f} s (min {min(walls):.3f}, max {max(walls):.3f}, "
          f"{repeats} runs)   in-process query {inproc * 1e3:.1f} ms   opening the stored cube "
          f"{opening * 1e3:.1f} ms   ratio process/query {wall / inproc:.0f}   goal <0.8 s "
          f"{'OK' if wall < 0.8 else 'MISSED'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="100,000 customers instead of 1M")
    ap.add_argument("--cli-only", action="store_true",
                    help="only the shell count, on a 10,000-customer workspace")
    args = ap.parse_args()
    if args.cli_only:
        with tempfile.TemporaryDirectory() as tmp:
            ws = Workspace.init(tmp)
            build(ws, 10_000)
            ws.close()
            print("a count from the shell, 10,000 customers:")
            cli_count(tmp)
        return
    n = 100_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(tmp)
        frame = build(ws, n)
        t0 = time.perf_counter()
        query(ws)
        print(f"cube over {n:,} customers x 10 dimensions (+ segments, RFM, scores); "
              f"first query builds the cube table: {time.perf_counter() - t0:.2f} s")
        for where, by in QUERIES:
            ours, res = timed(lambda w=where, b=by: query(ws, where=w, by=b), 15)
            theirs, (count, sizes) = timed(lambda w=where, b=by: pandas_query(frame, w, b), 15)
            got = res.groups.set_index(by)["customers"]
            agree = res.count == count and got.to_dict() == sizes.to_dict()
            print(f"  {' & '.join(where)} by {by}: count {res.count:,}")
            print(f"    ours median {ours * 1e3:7.1f} ms   pandas {theirs * 1e3:7.1f} ms   "
                  f"ratio {ours / theirs:.2f}   agree {agree}   goal <100 ms "
                  f"{'OK' if ours < 0.1 else 'MISSED'}")
        ws.close()
        print(f"a count from the shell, {n:,} customers:")
        cli_count(tmp)


if __name__ == "__main__":
    main()
