"""marts.customer_rfm on synthetic order lines, against a hand-written DuckDB query.

Goal (issue 2): building the mart through crmine's Ibis expressions on 10 million order lines
within 1.5x a hand-written DuckDB query computing the same columns (both write a table into the
same DuckDB file). The two results are checked equal.

Run: .venv/bin/python bench/bench_rfm.py [--lines 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import measure, report
from crmine.features import customer_rfm
from crmine.warehouse import Workspace

HAND_WRITTEN = """
CREATE OR REPLACE TABLE marts.rfm_hand AS
WITH lines AS (
    SELECT * FROM core.fct_order_lines
    WHERE customer_id IS NOT NULL AND order_ts::DATE <= DATE '{end}'
), per_day AS (
    SELECT customer_id, order_ts::DATE AS day, sum(amount) AS spend
    FROM lines WHERE status = 'completed' GROUP BY ALL
), per_customer AS (
    SELECT customer_id, min(day) AS first_day, max(day) AS last_day, count(*) AS n,
           sum(spend) AS total, arg_min(spend, day) AS first_spend
    FROM per_day GROUP BY ALL
), spend AS (
    SELECT customer_id,
           count(DISTINCT order_id) FILTER (WHERE status = 'completed') AS orders,
           sum(amount) AS total_spend,
           min(order_ts) FILTER (WHERE status = 'completed') AS first_order_ts,
           max(order_ts) FILTER (WHERE status = 'completed') AS last_order_ts
    FROM lines GROUP BY ALL
)
SELECT p.customer_id, (n - 1)::DOUBLE AS frequency, (last_day - first_day)::DOUBLE AS recency,
       (DATE '{end}' - first_day)::DOUBLE AS T,
       CASE WHEN n > 1 THEN (total - first_spend) / (n - 1) ELSE 0 END AS monetary_value,
       orders, total_spend, first_order_ts, last_order_ts, total_spend / orders AS avg_basket,
       DATE '{end}' - first_order_ts::DATE AS tenure_days
FROM per_customer p JOIN spend s USING (customer_id)
ORDER BY customer_id
"""


def make_lines(ws: Workspace, n_lines: int, seed: int = 0) -> None:
    """Order lines of n_lines/20 customers over two years, 4% returns."""
    n_customers = max(1, n_lines // 20)
    ws.duck.execute(
        f"""
        CREATE OR REPLACE TABLE core.fct_order_lines AS
        SELECT 'o' || (i // 3)::VARCHAR AS order_id, 1 AS line_number,
               'c' || lpad((hash(i // 3 + {seed}) % {n_customers})::VARCHAR, 8, '0') AS customer_id,
               TIMESTAMP '2023-01-01' + to_seconds((hash(i // 3 * 7 + {seed}) % 63072000)::BIGINT)
                   AS order_ts,
               round(((hash(i) % 10000) / 100.0 + 1), 2) AS amount,
               CASE WHEN hash(i * 13) % 25 = 0 THEN 'returned' ELSE 'completed' END AS status
        FROM range({n_lines}) t(i)
        """
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crmine-bench-"))
    ws = Workspace.init(tmp / "ws")
    make_lines(ws, args.lines)
    end = "2024-12-31"

    def ours() -> None:
        expr = customer_rfm(ws.table("core.fct_order_lines"), observation_end=end, time_unit="D")
        ws.con.create_table("rfm_ibis", expr, database="marts", overwrite=True)

    def hand() -> None:
        ws.duck.execute(HAND_WRITTEN.format(end=end))

    t_ours = measure(ours, repeat=args.repeat)
    t_hand = measure(hand, repeat=args.repeat)
    a = ws.duck.execute("SELECT * FROM marts.rfm_ibis ORDER BY customer_id").df()
    b = ws.duck.execute("SELECT * FROM marts.rfm_hand ORDER BY customer_id").df()
    assert len(a) == len(b), (len(a), len(b))
    for col in (
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "orders",
        "total_spend",
        "tenure_days",
    ):
        np.testing.assert_allclose(
            a[col].astype(float), b[col].astype(float), rtol=1e-9, err_msg=col
        )
    print(f"customer_rfm on {args.lines:,} order lines, {len(a):,} customers, results equal")
    report(
        "marts.customer_rfm (Ibis -> DuckDB)", t_ours, "hand-written DuckDB SQL", t_hand, "<= 1.5x"
    )
    ws.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
