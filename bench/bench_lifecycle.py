"""Cohort matrix, lifecycle stages and transitions on synthetic order lines.

Goals (issue 13): for 1 million customers / 10 million order lines, cohort matrix, stages and
transitions under 20 s on 2 cores, and the cohort matrix within 1.5x a hand-written DuckDB
query of the same matrix (both return a DataFrame; the two results are checked equal).

Run: .venv/bin/python bench/bench_lifecycle.py [--lines 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import measure, report
from crmine.lifecycle import cohort_matrix, customer_stages, stage_transitions
from crmine.warehouse import Workspace

HAND_WRITTEN = """
WITH p AS (
    SELECT customer_id, date_trunc('month', order_ts) AS m, amount
    FROM core.fct_order_lines WHERE status = 'completed' AND customer_id IS NOT NULL
), f AS (SELECT customer_id, min(m) AS cm FROM p GROUP BY 1),
a AS (
    SELECT strftime(f.cm, '%Y-%m') AS cohort, datediff('month', f.cm, p.m) AS period,
           p.customer_id, sum(p.amount) AS revenue
    FROM p JOIN f USING (customer_id) GROUP BY ALL
), s AS (SELECT strftime(cm, '%Y-%m') AS cohort, count(*) AS size FROM f GROUP BY 1)
SELECT cohort, period, count(*) AS customers, sum(revenue) AS revenue,
       count(*) / any_value(size) AS retention
FROM a JOIN s USING (cohort) GROUP BY 1, 2 ORDER BY 1, 2
"""


def make_lines(ws: Workspace, n_lines: int, seed: int = 0) -> None:
    """Order lines of n_lines/10 customers over two years (3 lines an order), 4% returns."""
    n_customers = max(1, n_lines // 10)
    ws.duck.execute(
        f"""
        CREATE OR REPLACE TABLE core.fct_order_lines AS
        SELECT 'o' || (i // 3)::VARCHAR AS order_id, (i % 3 + 1) AS line_number,
               'c' || lpad((hash(i // 3 + {seed}) % {n_customers})::VARCHAR, 8, '0') AS customer_id,
               TIMESTAMP '2023-01-01' + to_seconds((hash(i // 3 * 7 + {seed}) % 63072000)::BIGINT)
                   AS order_ts,
               round(((hash(i) % 10000) / 100.0 + 1), 2) AS amount,
               CASE WHEN hash(i * 13) % 25 = 0 THEN 'returned' ELSE 'completed' END AS status,
               NULL::VARCHAR AS product_id
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
    as_of, since = "2025-01-01", "2024-10-03"

    t_ours = measure(lambda: cohort_matrix(ws), repeat=args.repeat)
    t_hand = measure(lambda: ws.duck.execute(HAND_WRITTEN).df(), repeat=args.repeat)
    ours = cohort_matrix(ws)
    ours = ours[ours["dimension"] == "acquisition_month"].reset_index(drop=True)
    hand = ws.duck.execute(HAND_WRITTEN).df()
    assert len(ours) == len(hand), (len(ours), len(hand))
    assert ours["cohort"].tolist() == hand["cohort"].tolist()
    for col in ("period", "customers", "revenue", "retention"):
        np.testing.assert_allclose(
            ours[col].astype(float), hand[col].astype(float), rtol=1e-9, err_msg=col
        )
    n_customers = int(ours.loc[ours["period"] == 0, "customers"].sum())
    print(f"{args.lines:,} order lines, {n_customers:,} customers; cohort matrices equal")
    report(
        "cohort matrix (lifecycle_cohorts)", t_ours, "hand-written DuckDB SQL", t_hand, "<= 1.5x"
    )

    start = time.perf_counter()
    stages = customer_stages(ws, as_of)
    t_stages = time.perf_counter() - start
    start = time.perf_counter()
    transitions = stage_transitions(ws, since, as_of)
    t_trans = time.perf_counter() - start
    assert len(stages) == n_customers and int(transitions["customers"].sum()) == n_customers
    total = t_ours + t_stages + t_trans
    print(
        f"stages of {len(stages):,} customers {t_stages:.2f}s, transitions {t_trans:.2f}s, "
        f"cohorts {t_ours:.2f}s: total {total:.2f}s (goal: < 20 s on 2 cores)"
    )
    ws.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
