"""Benchmark of erasure (crmine.privacy.erase) on a demo company.

    .venv/bin/python bench/bench_privacy.py [--customers 20000] [--erase 100] [--no-reference]
    .venv/bin/python bench/bench_privacy.py --customers 1000000   # bench/_big_workspace.py

Builds the demo company with ``--customers`` customers into a temporary folder (the build is
not timed; above 50,000 customers a copy of ``bench/_big_workspace.py``'s scaled-up demo is
used instead), then erases ``--erase`` customers in one request. Reports the erasure's time
against two references measured in the same run on a copy of the same workspace:

- ``delete``: the bare DELETE of those customers' rows from the core tables (what an
  erasure that forgets landing files, history, models and freed pages would cost);
- ``rewrite``: one COPY FROM DATABASE of the warehouse (the step that wipes freed pages).

The issue's goal is 100 customers from a 1-million-customer workspace in under 60 s; the
erasure grows with the warehouse size (it rewrites the file and scans every table and file).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CRMINE_PROGRESS", "0")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--erase", type=int, default=100)
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the two references (at 1M each costs minutes)")
    args = parser.parse_args()

    from crmine.demo._workspace import build_demo_workspace
    from crmine.privacy import erase
    from crmine.privacy._compact import rewrite_database
    from crmine.warehouse import Workspace

    root = Path(tempfile.mkdtemp(prefix="crmine-bench-privacy-"))
    try:
        started = time.perf_counter()
        if args.customers > 50_000:
            sys.path.insert(0, str(Path(__file__).parent))
            from _big_workspace import big_workspace

            shutil.copytree(big_workspace(None, args.customers), root / "ws")
        else:
            ws, _ = build_demo_workspace(root / "ws", n_customers=args.customers, seed=0)
            ws.close()
        print(f"demo of {args.customers:,} customers ready in "
              f"{time.perf_counter() - started:.1f}s", flush=True)
        probe = Workspace.open(root / "ws")
        ids = [r[0] for r in probe.duck.execute(
            f"SELECT customer_id FROM core.dim_customer ORDER BY hash(customer_id) "
            f"LIMIT {args.erase}").fetchall()]  # fmt: skip
        probe.close()
        delete_s = rewrite_s = None
        if not args.no_reference:
            shutil.copytree(root / "ws", root / "ref")
            ref = Workspace.open(root / "ref")
            t0 = time.perf_counter()
            with ref.transaction():
                for table in [t for t in ref.tables("core") if "customer_id" in ref.columns(t)]:
                    ref.duck.execute(f"DELETE FROM {table} WHERE customer_id IN "
                                     "(SELECT unnest(?::VARCHAR[]))", [ids])  # fmt: skip
            delete_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            rewrite_database(ref)
            rewrite_s = time.perf_counter() - t0
            ref.close()
            shutil.rmtree(root / "ref")

        ws = Workspace.open(root / "ws")
        t0 = time.perf_counter()
        receipt = erase(ws, ids)
        erase_s = time.perf_counter() - t0
        size = ws.warehouse_path.stat().st_size
        ws.close()
        print(
            f"erase {args.erase} customers: {erase_s:.2f}s (verified: {receipt.verified}, "
            f"{sum(receipt.tables.values()):,} rows, warehouse {size / 1e6:.0f} MB)"
        )
        print(f"  phases: {receipt.phases}")
        print(f"  warehouse file: {receipt.warehouse_purge}")
        if receipt.remaining:
            print(f"  traces left: {receipt.remaining[:10]}")
        refs = (("delete from core only", delete_s), ("rewrite of the file", rewrite_s))
        for name, ref_s in refs:
            if ref_s is not None:
                print(f"  reference {name + ':':<24} {ref_s:.2f}s -> ratio {erase_s / ref_s:.1f}x")
        print(f"  goal: 100 customers of 1,000,000 in under 60 s ({erase_s:.1f}s here)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
