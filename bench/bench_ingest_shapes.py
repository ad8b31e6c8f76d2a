"""Ingest of awkward shapes (issue 12): a 5-million-line orders CSV and a 10,000-column file.

Goals: the 5M-line file within 3x a bare DuckDB ``CREATE TABLE … AS SELECT * FROM
read_csv(…)`` of the same file and under 2 GB peak memory; 10,000 columns x 100 rows under
30 s (500, 1,000 and 2,000 columns are shown on the way). Each case runs in a fresh process,
so that its peak memory (max RSS) is its own.

Run: .venv/bin/python bench/bench_ingest_shapes.py [--lines N] [--skip-large]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from _timing import report

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import duckdb
from crmine.warehouse import Workspace, ingest
mode, path, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
start = time.perf_counter()
if mode == "crmine":
    with Workspace.init(out) as ws:
        r = ingest(ws, "orders", path)
        rows = r.rows_read
else:
    con = duckdb.connect(str(out))
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')")
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB -> MB on Linux
print(json.dumps({"seconds": seconds, "peak_mb": peak, "rows": rows}))
"""


def _run(mode: str, path: Path, out: Path) -> dict[str, float]:
    if out.is_dir():
        shutil.rmtree(out)
    out.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(path), str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _orders_file(path: Path, lines: int) -> None:
    """An orders export: order id, line, customer, date, product, quantity, price, country."""
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
            SELECT 'O' || (i // 3) AS order_id, 'C' || (hash(i // 3) % 200000) AS customer_id,
                   strftime(TIMESTAMP '2022-01-01' + to_seconds((i // 3) * 19),
                            '%Y-%m-%d %H:%M:%S') AS order_ts,
                   'P' || (hash(i) % 5000) AS product_id, 1 + hash(i) % 7 AS quantity,
                   round(1 + (hash(i * 7) % 10000) / 100.0, 2) AS unit_price,
                   CASE WHEN i % 5 = 0 THEN 'France' ELSE 'United Kingdom' END AS country
            FROM range({lines}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
        """
    )
    con.close()


def _wide_file(path: Path, columns: int, rows: int = 100) -> None:
    head = ["order_id", "customer_id", "order_ts", "amount"] + [
        f"attr_{j}" for j in range(columns - 4)
    ]
    body = [
        ",".join(
            [f"O{r}", f"C{r % 10}", "2024-01-01", "1.5"]
            + [str((r * j) % 97) if j % 3 else f"x{j}" for j in range(columns - 4)]
        )
        for r in range(rows)
    ]
    path.write_text(",".join(head) + "\n" + "\n".join(body) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--skip-large", action="store_true", help="only the wide files")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crmine-bench-shapes-"))
    try:
        for columns in (500, 1_000, 2_000, 10_000):
            path = tmp / f"wide{columns}.csv"
            _wide_file(path, columns)
            ours = _run("crmine", path, tmp / "ws")
            bare = _run("duckdb", path, tmp / "bare.duckdb")
            report(f"{columns:,} columns x 100 rows", ours["seconds"], "bare DuckDB CTAS",
                   bare["seconds"], "< 30 s for 10,000")  # fmt: skip
        if not args.skip_large:
            path = tmp / "orders.csv"
            _orders_file(path, args.lines)
            ours = _run("crmine", path, tmp / "ws")
            bare = _run("duckdb", path, tmp / "bare.duckdb")
            assert ours["rows"] == args.lines
            report(f"{args.lines:,}-line orders CSV", ours["seconds"], "bare DuckDB CTAS",
                   bare["seconds"], "<= 3x")  # fmt: skip
            print(f"peak memory: crmine {ours['peak_mb']:,.0f} MB (goal < 2,048 MB), bare "
                  f"DuckDB {bare['peak_mb']:,.0f} MB")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
