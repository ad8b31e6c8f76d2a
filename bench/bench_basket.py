"""Benchmark of crmine.basket against PyFIM (C) and mlxtend (Python) on the same input.

    .venv/bin/python bench/bench_basket.py [--quick]
    .venv/bin/python bench/bench_basket.py --step [--workspace DIR]

For each case: our time, the references' times measured in this run (best of ``--repeat``
runs; mlxtend once, it is slow), the ratios, and whether the results agree. ``--quick`` uses
Groceries only (seconds); the full run adds Online Retail at min support 0.5 %.

``--step`` times the whole cross-sell pipeline step (``run_basket``: rules, held-out
evaluation and verdict, offers, next-best products, sequences, marts) on the 10,000-customer
demo company, built once into ``--workspace`` (default ``/tmp/crmine-bench-basket``) and
reused. The goal is at most 10 s per step on 2 cores; it took 17 s before the grouping of
order lines into baskets and histories was vectorised (21 s inside ``crmine demo``).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fim
import pandas as pd

from crmine.basket import frequent_itemsets, mine_rules
from crmine.basket._itemsets import min_count_for

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NON_PRODUCT_CODES = ("POST", "DOT", "M", "D", "C2", "CRUK", "BANK CHARGES", "AMAZONFEE", "S",
                     "PADS", "B", "m")


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def groceries() -> list[list[str]]:
    with (DATA / "groceries" / "groceries.csv").open(encoding="utf-8") as fh:
        return [line.rstrip("\n").split(",") for line in fh]


def retail() -> list[list[str]]:
    df = pd.read_csv(DATA / "online_retail" / "online_retail.csv.gz",
                     dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    code = df["StockCode"]
    keep = (~df["InvoiceNo"].str.startswith(("C", "A")) & code.str.match(r"^\d{5}")
            & ~code.isin(NON_PRODUCT_CODES) & (df["Quantity"] > 0))
    grouped = df[keep].drop_duplicates(["InvoiceNo", "StockCode"]).groupby(
        "InvoiceNo", sort=False)["StockCode"].agg(list)
    return grouped.tolist()


def pyfim_itemsets(baskets: list[list[str]], min_support: float) -> list[Any]:
    mc = min_count_for(min_support, len(baskets))
    return fim.fpgrowth(baskets, target="s", supp=-mc, report="a")


def pyfim_itemsets_and_rules(baskets: list[list[str]], min_support: float,
                             min_conf: float) -> tuple[list[Any], list[Any]]:
    mc = min_count_for(min_support, len(baskets))
    sets = fim.fpgrowth(baskets, target="s", supp=-mc, report="a")
    # mode "o": rule support = support of body ∪ head (arules/mlxtend definition)
    rules = fim.fpgrowth(baskets, target="r", supp=-mc, conf=min_conf * 100 - 1e-7, mode="o",
                         report="aXCl")
    return sets, rules


def mlxtend_rules(baskets: list[list[str]], min_support: float,
                  min_conf: float) -> tuple[float, float, pd.DataFrame, pd.DataFrame]:
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    enc = TransactionEncoder()
    onehot = pd.DataFrame(enc.fit(baskets).transform(baskets), columns=enc.columns_)
    start = time.perf_counter()      # the one-hot encoding is not charged to mlxtend
    fi = fpgrowth(onehot, min_support=min_support, use_colnames=True)
    t_sets = time.perf_counter() - start
    rules = association_rules(fi, num_itemsets=len(baskets), metric="confidence",
                              min_threshold=min_conf)
    t_all = time.perf_counter() - start
    return t_sets, t_all, fi, rules


def keyed(rules: pd.DataFrame) -> set[tuple[frozenset[Any], frozenset[Any]]]:
    return set(zip(rules["antecedents"], rules["consequents"], strict=True))


def case(name: str, baskets: list[list[str]], min_support: float, min_conf: float,
         repeat: int, with_mlxtend: bool) -> list[dict[str, Any]]:
    rows = []
    t_ours_sets, ours_sets = best_of(lambda: frequent_itemsets(baskets, min_support), repeat)
    t_fim_sets, fim_sets = best_of(lambda: pyfim_itemsets(baskets, min_support), repeat)
    t_unguarded, _ = best_of(
        lambda: frequent_itemsets(baskets, min_support, max_itemsets=None), repeat)
    t_ours, mined = best_of(lambda: mine_rules(baskets, min_support, min_conf), repeat)
    t_fim, (_, fim_rules) = best_of(
        lambda: pyfim_itemsets_and_rules(baskets, min_support, min_conf), repeat)
    single = mined.rules[mined.rules["consequents"].map(len) == 1]
    # PyFIM omits the itemsets made only of items present in every basket (crmine adds
    # them back); elsewhere both must list the same itemsets with the same counts
    theirs = {frozenset(s): c for s, c in fim_sets}
    ours_map = dict(zip(ours_sets["itemsets"], ours_sets["count"], strict=True))
    agree_fim_sets = all(ours_map.get(s) == c for s, c in theirs.items()) and len(
        ours_map) >= len(theirs)
    fim_keyed = {(frozenset(b), frozenset([h])) for h, b, *_ in fim_rules}
    row_sets: dict[str, Any] = {"case": f"{name}: itemsets", "n_baskets": len(baskets),
                                "found": len(ours_sets), "ours_s": t_ours_sets,
                                "pyfim_s": t_fim_sets, "ours/pyfim": t_ours_sets / t_fim_sets,
                                "agree_pyfim": bool(agree_fim_sets)}
    row_rules: dict[str, Any] = {"case": f"{name}: itemsets + rules", "n_baskets": len(baskets),
                                 "found": len(mined.rules), "ours_s": t_ours, "pyfim_s": t_fim,
                                 "ours/pyfim": t_ours / t_fim,
                                 "agree_pyfim": keyed(single) == fim_keyed}
    if with_mlxtend:
        t_mlx_sets, t_mlx, fi, rules = mlxtend_rules(baskets, min_support, min_conf)
        row_sets.update({"mlxtend_s": t_mlx_sets, "mlxtend/ours": t_mlx_sets / t_ours_sets,
                         "agree_mlxtend": set(fi["itemsets"]) == set(ours_sets["itemsets"])})
        row_rules.update({"mlxtend_s": t_mlx, "mlxtend/ours": t_mlx / t_ours,
                          "agree_mlxtend": keyed(rules) == keyed(mined.rules)})
    row_unguarded = {"case": f"{name}: itemsets, explosion guard off (max_itemsets=None)",
                     "n_baskets": len(baskets), "found": len(ours_sets), "ours_s": t_unguarded,
                     "pyfim_s": t_fim_sets, "ours/pyfim": t_unguarded / t_fim_sets,
                     "agree_pyfim": bool(agree_fim_sets)}
    rows += [row_sets, row_unguarded, row_rules]
    return rows


def engines(baskets: list[list[str]], min_support: float, repeat: int) -> list[dict[str, Any]]:
    rows = []
    base = None
    for algo in ("fpgrowth", "eclat", "apriori"):
        t, out = best_of(lambda a=algo: frequent_itemsets(baskets, min_support, algorithm=a),
                         repeat)
        found = dict(zip(out["itemsets"], out["count"], strict=True))
        base = base or found
        rows.append({"case": f"engine {algo}", "n_baskets": len(baskets), "found": len(out),
                     "ours_s": t, "agree_pyfim": found == base})
    return rows


def step(folder: Path, repeat: int) -> None:
    """Time ``run_basket`` on the 10,000-customer demo (built into ``folder`` once)."""
    from crmine.basket import run_basket
    from crmine.warehouse import Workspace

    if not (folder / "warehouse.duckdb").exists():
        from crmine.demo._workspace import build_demo_workspace

        start = time.perf_counter()
        ws, _ = build_demo_workspace(folder, n_customers=10_000, seed=0)
        ws.close()
        print(f"demo workspace built in {folder} ({time.perf_counter() - start:.1f} s)")
    with Workspace.open(folder) as ws:
        t, run = best_of(lambda: run_basket(ws), repeat)
    s = run.summary()
    print(f"run_basket on {s['customers']:,} customers, {s['orders']:,} orders: {t:.2f} s "
          f"(best of {repeat}; goal <= 10 s)")
    print(f"  rules {s['rules']}, offers {s['offers']:,}, sequential patterns "
          f"{s['sequential_patterns']:,}")
    print(f"  verdict {run.verdict.status}: {run.verdict.why}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Groceries only")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-mlxtend", action="store_true")
    parser.add_argument("--step", action="store_true",
                        help="time the cross-sell pipeline step on the 10,000-customer demo")
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/crmine-bench-basket"),
                        help="demo workspace for --step (built once, then reused)")
    args = parser.parse_args()
    if args.step:
        step(args.workspace, max(1, min(args.repeat, 3)))
        return
    rows = []
    grocery = groceries()
    rows += case("Groceries s=0.001 c=0.8", grocery, 0.001, 0.8, args.repeat,
                 not args.no_mlxtend)
    if not args.quick:
        start = time.perf_counter()
        invoices = retail()
        print(f"Online Retail: {len(invoices):,} invoices, "
              f"{len({i for b in invoices for i in b}):,} products "
              f"(read in {time.perf_counter() - start:.1f} s)")
        rows += case("Online Retail s=0.005 c=0.5", invoices, 0.005, 0.5, args.repeat,
                     not args.no_mlxtend)
        rows += engines(invoices, 0.005, args.repeat)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:,.3f}".format):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
