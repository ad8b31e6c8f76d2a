"""Sales analysis over many order lines by two dimensions: ``sales_by`` against a bare GROUP BY.

Goal (issue 15): 10 million order lines by any two dimensions under 2 s. The reference is
DuckDB's own ``GROUP BY category, channel`` with a single sum, measured in the same run on
the same table, so the ratio says what the sales measures cost beyond it.

    .venv/bin/python bench/bench_sales.py [--lines 10000000] [--repeat 3]

The order lines are synthesised in SQL (2.2 lines per order, 40 customers per 100 orders,
500 products in 7 categories, 4 channels) into a workspace under a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from crmine.sales import sales_by
from crmine.warehouse import Workspace
from crmine.warehouse._core import ensure_core_table
from crmine.warehouse._schema import entity


def _build(root: Path, lines: int) -> Workspace:
    ws = Workspace.init(root)
    con = ws.duck
    con.execute("CREATE SCHEMA IF NOT EXISTS core")
    # The warehouse's own core tables and column types (DOUBLE amounts): a table of
    # DECIMALs, as CREATE TABLE AS gives, would time HUGEINT arithmetic instead.
    ensure_core_table(con, entity("products"), {})
    ensure_core_table(con, entity("orders"), {})
    con.execute("""
        INSERT INTO core.dim_product BY NAME
        SELECT 'P' || i AS product_id,
               ['electronics', 'fashion', 'beauty', 'home', 'grocery', 'sports', 'books'][1 + i % 7]
                   AS category,
               10.0 + i % 90 AS unit_price, 6.0 + i % 50 AS unit_cost
        FROM range(500) t(i)
    """)
    con.execute(f"""
        INSERT INTO core.fct_order_lines BY NAME
        SELECT 'O' || (i * 10 // 22) AS order_id, (i % 3)::BIGINT + 1 AS line_number,
               'C' || ((i * 10 // 22) * 4 // 10) AS customer_id,
               TIMESTAMP '2023-01-01' + to_seconds((i * 10 // 22) * 20) AS order_ts,
               'P' || (hash(i) % 500) AS product_id,
               1.0 + hash(i * 7) % 3 AS quantity, 10.0 + hash(i * 3) % 90 AS unit_price,
               CASE WHEN i % 5 = 0 THEN 2.0 ELSE 0.0 END AS discount,
               6.0 + hash(i * 11) % 50 AS unit_cost, NULL::DOUBLE AS profit,
               (1.0 + hash(i * 7) % 3) * (10.0 + hash(i * 3) % 90)
                   - CASE WHEN i % 5 = 0 THEN 2.0 ELSE 0.0 END AS amount,
               ['web', 'app', 'store', 'phone'][1 + (i * 10 // 22) % 4] AS channel,
               CASE WHEN i % 50 = 0 THEN 'returned' ELSE 'completed' END AS status
        FROM range({lines}) t(i)
    """)
    return ws


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        t = time.perf_counter()
        folder = args.keep or Path(tmp) / "ws"
        ws = (Workspace.open(folder) if (folder / "warehouse.duckdb").exists()
              else _build(folder, args.lines))  # fmt: skip
        print(f"built {args.lines:,} lines in {time.perf_counter() - t:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})")  # fmt: skip
        dims = ("category", "channel")
        bare = _best(lambda: ws.duck.execute(
            "SELECT p.category, l.channel, sum(l.amount) FROM core.fct_order_lines l "
            "LEFT JOIN core.dim_product p USING (product_id) GROUP BY 1, 2").fetchall(),
            args.repeat)  # fmt: skip
        print(f"bare GROUP BY (one sum, product join): {bare:.2f} s")
        for label, counts in (("exact counts (default)", True), ("no counts", False)):
            s = _best(lambda c=counts: sales_by(ws, dims, counts=c), args.repeat)
            print(f"sales_by {dims}, {label}: {s:.2f} s = {s / bare:.1f}x bare "
                  f"(goal < 2 s)")  # fmt: skip
        print(f"load average now {os.getloadavg()[0]:.1f}")
        ws.close()


if __name__ == "__main__":
    main()
