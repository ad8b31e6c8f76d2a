"""Overhead of encryption at rest, measured in the same run, alternating plain and
encrypted, median of ``--repeat`` runs. The issue's goal: under 15 %.

- Online Retail (541,909 rows): ingest plus the RFM mart in a plain workspace and in an
  encrypted one (``crmine init --encrypt``);
- ``--full-run``: a full ``crmine run`` (every analysis, its saved models - sealed when
  encrypted - and the report) on the demo company (``--customers``, default 2,000), plain and
  ``crmine demo --encrypt``; the demo's loading is not timed.

    .venv/bin/python bench/bench_encryption.py [--repeat 3] [--full-run [--customers N]]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CRMINE_PROGRESS", "0")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail"
FILE = DATA / "online_retail.csv.gz"


def _once(root: Path, encrypted: bool) -> float:
    from crmine.features import build_customer_rfm
    from crmine.privacy import encrypt_workspace
    from crmine.warehouse import Workspace, ingest

    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.init(root)
    if encrypted:
        encrypt_workspace(ws, "bench-encryption-key-0001")
    started = time.perf_counter()
    ingest(ws, "orders", FILE)
    build_customer_rfm(ws)
    ws.close()  # an encrypted workspace seals its landing file here: part of the cost
    return time.perf_counter() - started


def _full_run(root: Path, encrypted: bool, customers: int) -> float:
    from crmine.demo._workspace import build_demo_workspace
    from crmine.pipeline import run_pipeline
    from crmine.report import build_report

    shutil.rmtree(root, ignore_errors=True)
    ws, _ = build_demo_workspace(root, n_customers=customers, seed=0, encrypt=encrypted)
    started = time.perf_counter()
    steps = run_pipeline(ws)
    build_report(ws)
    ws.close()
    seconds = time.perf_counter() - started
    failed = [s.name for s in steps if not s.ok]
    if failed:
        sys.exit(f"the run failed in {failed} ({'encrypted' if encrypted else 'plain'})")
    return seconds


def _bench_full_run(repeat: int, customers: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="crmine-bench-enc-run-"))
    plain, sealed = [], []
    try:
        for _ in range(repeat):
            plain.append(_full_run(tmp / "plain", False, customers))
            sealed.append(_full_run(tmp / "enc", True, customers))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    p, e = statistics.median(plain), statistics.median(sealed)
    print(f"full crmine run + report on the demo ({customers:,} customers), median of {repeat}: "
          f"plain {p:.1f}s, encrypted {e:.1f}s -> overhead {100 * (e / p - 1):+.1f} % "
          "(goal < 15 %)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full-run", action="store_true")
    parser.add_argument("--customers", type=int, default=2_000)
    args = parser.parse_args()
    if args.full_run:
        os.environ["CRMINE_ENCRYPTION_KEY"] = "bench-encryption-key-0001"
        _bench_full_run(args.repeat, args.customers)
        return
    if not FILE.exists():
        sys.exit(f"{FILE} not found: the benchmark reads Online Retail from ../shared/data")
    os.environ["CRMINE_ENCRYPTION_KEY"] = "bench-encryption-key-0001"
    tmp = Path(tempfile.mkdtemp(prefix="crmine-bench-enc-"))
    plain, sealed = [], []
    try:
        for _ in range(args.repeat):
            plain.append(_once(tmp / "plain", False))
            sealed.append(_once(tmp / "enc", True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    p, e = statistics.median(plain), statistics.median(sealed)
    print(f"Online Retail ingest + RFM, median of {args.repeat}: plain {p:.2f}s, "
          f"encrypted {e:.2f}s -> overhead {100 * (e / p - 1):+.1f} % (goal < 15 %)")


if __name__ == "__main__":
    main()
