"""Ingest speed on Online Retail (541,909 rows), against references measured in the same run.

Goals (issue 2): crmine's end-to-end ingest within 2x a bare DuckDB
``CREATE TABLE … AS SELECT * FROM read_csv(…)`` of the same file, and at least 5x faster than
pandas ``read_csv`` + ``to_sql`` into SQLite.

Run: .venv/bin/python bench/bench_ingest.py [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _timing import measure, report
from crmine.warehouse import Workspace, ingest

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "online_retail"
    / "online_retail.csv.gz"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} not found: the benchmark reads Online Retail from ../shared/data")
    tmp = Path(tempfile.mkdtemp(prefix="crmine-bench-"))

    def fresh() -> None:
        shutil.rmtree(tmp / "ws", ignore_errors=True)
        (tmp / "bare.duckdb").unlink(missing_ok=True)
        (tmp / "pandas.sqlite").unlink(missing_ok=True)

    def crmine_ingest() -> None:
        with Workspace.init(tmp / "ws") as ws:
            r = ingest(ws, "orders", DATA)
            assert r.rows_read == 541_909

    def bare_duckdb() -> None:
        con = duckdb.connect(str(tmp / "bare.duckdb"))
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{DATA}')")
        con.close()

    def pandas_sqlite() -> None:
        df = pd.read_csv(DATA, dtype={"InvoiceNo": str, "StockCode": str})
        with sqlite3.connect(tmp / "pandas.sqlite") as lite:
            df.to_sql("orders", lite, index=False)

    ours = measure(crmine_ingest, repeat=args.repeat, setup=fresh)
    bare = measure(bare_duckdb, repeat=args.repeat, setup=fresh)
    pdsql = measure(pandas_sqlite, repeat=max(1, args.repeat - 1), setup=fresh)
    print(f"Online Retail, {541_909:,} rows, median of {args.repeat} runs")
    report(
        "ingest orders (raw+staging+quarantine+core)",
        ours,
        "bare DuckDB CTAS read_csv",
        bare,
        "<= 2x",
    )
    report(
        "ingest orders (raw+staging+quarantine+core)",
        ours,
        "pandas read_csv + to_sql SQLite",
        pdsql,
        "<= 0.2x",
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
