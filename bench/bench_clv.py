"""Speed of crmine.clv against lifetimes and a hand-written DuckDB query (same run, same data).

Usage::

    .venv/bin/python bench/bench_clv.py            # 1M customers, 10M transaction rows
    .venv/bin/python bench/bench_clv.py --quick    # 100k customers, 1M rows

Cases (goals from issue 4):

1. BG/NBD fit on simulated customers: crmine vs lifetimes' ``BetaGeoFitter`` on the same summary
   (goal: >= 10x faster, parameters equal to 1e-3 relative).
2. Pareto/NBD fit (goal: < 30 s on 1M customers); lifetimes only in --quick mode (it takes far
   too long on 1M), on the distinct histories with its ``weights`` argument.
3. Scoring p_alive, expected purchases (90 days) and 12-month CLV with Gamma-Gamma spend
   (goal: < 1 s for 1M customers) vs lifetimes' equivalent calls.
4. RFM summary from a transaction log (goal: within 1.5x of a hand-written DuckDB query), and
   lifetimes' ``summary_data_from_transaction_data`` for reference.

Customers are simulated on a daily grid (purchase days, as ``rfm_summary`` produces them), each
acquired on a random day of a two-year window.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from crmine.clv import (
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    customer_lifetime_value,
    rfm_summary,
)

ROWS: list[dict[str, Any]] = []


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def report(case: str, ours: float, ref: float | None, ref_name: str, agree: str) -> None:
    ratio = f"{ref / ours:8.1f}x" if ref else "      n/a"
    ref_txt = f"{ref:9.2f}s" if ref else "      n/a"
    print(
        f"{case:<44} ours {ours:8.3f}s  {ref_name:<22} {ref_txt}  speed-up {ratio}  {agree}",
        flush=True,
    )
    ROWS.append(
        {"case": case, "ours_s": ours, "reference": ref_name, "reference_s": ref, "agree": agree}
    )


def simulate_daily(model: BetaGeoModel | ParetoNBDModel, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    T = rng.integers(30, 731, n).astype(np.float64)
    data = model.simulate(n, T, seed=seed)
    data["recency"] = np.floor(data["recency"])  # purchase days
    return data


def params_agree(ours: dict[str, float], ref: pd.Series, rel: float = 1e-3) -> str:
    worst = max(abs(ours[k] / float(ref[k]) - 1) for k in ours)
    return f"params max rel diff {worst:.1e} ({'OK' if worst <= rel else 'DIFFER'})"


def bench_bgnbd(n: int, lifetimes: Any) -> tuple[pd.DataFrame, BetaGeoModel]:
    truth = BetaGeoModel.from_params(r=0.6, alpha=20.0, a=0.7, b=3.5)
    data = simulate_daily(truth, n, seed=1)
    t_ours, model = timed(lambda: BetaGeoModel().fit(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_ref, ref = timed(
            lambda: lifetimes.BetaGeoFitter().fit(data["frequency"], data["recency"], data["T"])
        )
    report(
        f"BG/NBD fit, {n:,} customers",
        t_ours,
        t_ref,
        "lifetimes BetaGeoFitter",
        params_agree(model.params_, ref.params_) + f"; {model.n_histories_:,} distinct histories",
    )
    return data, model


def bench_pareto(n: int, lifetimes: Any, quick: bool) -> None:
    truth = ParetoNBDModel.from_params(r=0.6, alpha=20.0, s=0.6, beta=60.0)
    data = simulate_daily(truth, n, seed=2)
    t_ours, model = timed(lambda: ParetoNBDModel().fit(data))
    t_ref = None
    agree = f"goal < 30 s: {'OK' if t_ours < 30 else 'MISSED'}"
    if quick:
        distinct = data.groupby(["frequency", "recency", "T"]).size().rename("w").reset_index()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ref, ref = timed(
                lambda: lifetimes.ParetoNBDFitter().fit(
                    distinct["frequency"], distinct["recency"], distinct["T"], weights=distinct["w"]
                )
            )
        agree = params_agree(model.params_, ref.params_) + "; " + agree
    report(
        f"Pareto/NBD fit, {n:,} customers",
        t_ours,
        t_ref,
        "lifetimes ParetoNBD (wtd)" if quick else "(lifetimes not run)",
        agree,
    )


def bench_scoring(data: pd.DataFrame, model: BetaGeoModel, lifetimes: Any) -> None:
    spend_truth = GammaGammaModel.from_params(p=6.0, q=4.0, v=15.0)
    repeat = data["frequency"].to_numpy() > 0
    values = np.zeros(len(data))
    values[repeat] = spend_truth.simulate(data.loc[repeat, "frequency"], seed=4)[
        "monetary_value"
    ].to_numpy()
    data = data.assign(monetary_value=values)
    spend = GammaGammaModel().fit(data)

    def ours() -> None:
        model.p_alive(data)
        model.expected_purchases(90, data)
        customer_lifetime_value(model, data, spend=spend, horizon=12, step=30.0, discount_rate=0.01)

    t_ours, _ = timed(ours)
    ref_bg = lifetimes.BetaGeoFitter()
    ref_bg.params_ = pd.Series(model.params_)
    ref_bg.predict = ref_bg.conditional_expected_number_of_purchases_up_to_time
    ref_gg = lifetimes.GammaGammaFitter()
    ref_gg.params_ = pd.Series(spend.params_)

    def theirs() -> pd.Series:
        ref_bg.conditional_probability_alive(data["frequency"], data["recency"], data["T"])
        ref_bg.conditional_expected_number_of_purchases_up_to_time(
            90, data["frequency"], data["recency"], data["T"]
        )
        return ref_gg.customer_lifetime_value(
            ref_bg,
            data["frequency"],
            data["recency"],
            data["T"],
            data["monetary_value"],
            time=12,
            discount_rate=0.01,
            freq="D",
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_ref, ref_clv = timed(theirs)
    clv = (
        customer_lifetime_value(model, data, spend=spend, horizon=12, step=30.0, discount_rate=0.01)
        .customers["clv"]
        .to_numpy()
    )
    worst = float(np.max(np.abs(clv - ref_clv.to_numpy()) / np.maximum(np.abs(ref_clv), 1e-9)))
    report(
        f"scoring p_alive+E[X(90)]+CLV, {len(data):,}",
        t_ours,
        t_ref,
        "lifetimes",
        f"CLV max rel diff {worst:.1e}; goal < 1 s: {'OK' if t_ours < 1 else 'MISSED'}",
    )


def make_transactions(n_rows: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_customers = max(n_rows // 10, 1)
    start = np.datetime64("2023-01-01T00:00:00")
    seconds = rng.integers(0, 730 * 86_400, n_rows)
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, n_customers, n_rows),
            "order_ts": start + seconds.astype("timedelta64[s]"),
            "amount": np.round(rng.gamma(2.0, 25.0, n_rows), 2),
        }
    )


HAND_SQL = """
WITH periods AS (
    SELECT customer_id, date_trunc('day', order_ts) AS day, sum(amount) AS amount
    FROM tx WHERE order_ts < TIMESTAMP '2025-01-01' GROUP BY ALL
), per_customer AS (
    SELECT customer_id, count(*) AS n, min(day) AS first, max(day) AS last,
           sum(amount) AS total, arg_min(amount, day) AS first_amount
    FROM periods GROUP BY customer_id
)
SELECT customer_id, n - 1 AS frequency, date_diff('day', first, last) AS recency,
       date_diff('day', first, TIMESTAMP '2024-12-31') AS "T",
       CASE WHEN n > 1 THEN (total - first_amount) / (n - 1) ELSE 0 END AS monetary_value
FROM per_customer ORDER BY customer_id
"""


def bench_summary(n_rows: int, lifetimes: Any) -> None:
    tx = make_transactions(n_rows)

    def hand() -> pd.DataFrame:
        con = duckdb.connect()
        con.register("tx", tx)
        out = con.execute(HAND_SQL).df()
        con.close()
        return out

    t_hand, ref = timed(hand)
    t_ours, ours = timed(
        lambda: rfm_summary(
            tx, "customer_id", "order_ts", "amount", observation_period_end="2024-12-31"
        )
    )
    same = bool(
        np.allclose(ours["frequency"].to_numpy(), ref["frequency"].to_numpy())
        and np.allclose(ours["T"].to_numpy(), ref["T"].to_numpy())
        and np.allclose(ours["monetary_value"].to_numpy(), ref["monetary_value"].to_numpy())
    )
    ratio = t_ours / t_hand
    report(
        f"rfm_summary, {n_rows:,} rows",
        t_ours,
        t_hand,
        "hand-written DuckDB",
        f"same result {same}; ours/hand {ratio:.2f} (goal <= 1.5: "
        f"{'OK' if ratio <= 1.5 else 'MISSED'})",
    )
    if n_rows <= 2_000_000:
        t_lt, _ = timed(
            lambda: lifetimes.utils.summary_data_from_transaction_data(
                tx, "customer_id", "order_ts", "amount", observation_period_end="2024-12-31"
            )
        )
        report(f"rfm_summary, {n_rows:,} rows", t_ours, t_lt, "lifetimes summary", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k customers, 1M rows")
    args = parser.parse_args()
    import lifetimes  # reference only: a benchmark dependency, never imported by crmine

    n = 100_000 if args.quick else 1_000_000
    rows = 1_000_000 if args.quick else 10_000_000
    print(
        f"crmine.clv benchmark ({'quick' if args.quick else 'full'}): {n:,} customers, "
        f"{rows:,} transaction rows",
        flush=True,
    )
    data, model = bench_bgnbd(n, lifetimes)
    bench_scoring(data, model, lifetimes)
    bench_pareto(n, lifetimes, args.quick)
    bench_summary(rows, lifetimes)


if __name__ == "__main__":
    main()
