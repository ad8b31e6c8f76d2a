"""Overhead of encryption at rest on Online Retail (541,909 rows): ingest plus the RFM mart
in a plain workspace and in an encrypted one (``crmine init --encrypt``), measured in the
same run, alternating, median of ``--repeat`` runs. The issue's goal: under 15 %.

    .venv/bin/python bench/bench_encryption.py [--repeat 3]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
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
