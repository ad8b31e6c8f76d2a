"""Benchmark of a whole run: ``crmine demo``'s analyses on the 10,000-customer company.

Goals (issue 11): every analysis step within 10 s, the run (load + analyses + report) within
60 s on 2 cores. Prints each step's seconds and its ratio to the 10 s goal, the verdict of
each analysis, and the total against 60 s.

Run: ``.venv/bin/python bench/bench_pipeline.py [--customers 10000] [--workspace DIR]``
(an existing demo workspace given with --workspace is reused: only the analyses are timed).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CRMINE_PROGRESS", "0")

STEP_GOAL_S = 10.0
RUN_GOAL_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--no-signal", action="store_true", help="the company without signal")
    args = parser.parse_args()

    from crmine.demo._workspace import build_demo_workspace
    from crmine.pipeline import run_pipeline
    from crmine.report import build_report
    from crmine.warehouse import Workspace

    start = time.perf_counter()
    if args.workspace and (args.workspace / "crmine.toml").exists():
        ws = Workspace.open(args.workspace)
        load_s = 0.0
    else:
        folder = args.workspace or Path(tempfile.mkdtemp()) / "bench-demo"
        kwargs = {"signal": False} if args.no_signal else {}
        ws, _ = build_demo_workspace(folder, n_customers=args.customers, seed=0, **kwargs)
        load_s = time.perf_counter() - start
    with ws:
        t0 = time.perf_counter()
        results = run_pipeline(ws)
        analyses_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        build_report(ws)
        report_s = time.perf_counter() - t1
    print(f"{args.customers:,} customers: load {load_s:.1f} s")
    print(f"{'step':<12}{'seconds':>9}{'/ 10 s goal':>13}  verdict")
    for r in results:
        status = "skipped" if r.skipped else ("FAILED" if not r.ok else (
            r.verdict.status if r.verdict else "-"))  # fmt: skip
        print(f"{r.name:<12}{r.seconds:>9.1f}{r.seconds / STEP_GOAL_S:>12.2f}x  {status}")
    total = load_s + analyses_s + report_s
    print(f"analyses {analyses_s:.1f} s, report {report_s:.1f} s, total {total:.1f} s "
          f"= {total / RUN_GOAL_S:.2f}x the 60 s goal")  # fmt: skip


if __name__ == "__main__":
    main()
