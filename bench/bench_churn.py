"""Benchmark: ChurnModel(method="auto") on 1M customers × 30 features, and scoring 1M.

Targets (issue 5): training with method="auto" < 3 minutes on 2 cores; scoring 1M < 10 s.
Reference, measured in the same run: a plain scikit-learn pipeline (one-hot + scaled
logistic regression) fitted on all rows. Results agree when our held-out ROC AUC is at least
the reference's minus 0.005 (and both are close to the true model's AUC).

    .venv/bin/python bench/bench_churn.py           # 1,000,000 customers
    .venv/bin/python bench/bench_churn.py --quick   # 100,000 customers
    .venv/bin/python bench/bench_churn.py --demo    # the churn step of `crmine demo`

``--demo`` (issue 11: the churn step of the 10,000-customer demo within 10 s) builds the demo
company and times ``run_churn`` on it, wall and CPU (CPU is what a shared machine does not
distort), with its held-out verdict; ``--against DIR`` times the same on another source tree
(e.g. ``git archive HEAD src | tar -x -C DIR``) in a subprocess, for a before/after ratio.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

N_NUMERIC, N_CATEGORICAL = 22, 8


def simulate(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """30 features (22 numbers, 8 categories), churn from a known non-linear logistic model."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    logit = np.full(n, -1.6)
    for j in range(N_NUMERIC):
        x = rng.normal(size=n).astype(np.float32)
        if j < 6:  # six real numeric drivers, two of them non-linear
            logit += [0.8, -0.6, 0.4, -0.3, 0.0, 0.0][j] * x
            if j == 4:
                logit += 0.5 * (x > 1.0)
            if j == 5:
                logit += 0.3 * x**2 - 0.3
        x[rng.random(n) < 0.02] = np.nan  # some missing values
        cols[f"num_{j:02d}"] = x
    for j in range(N_CATEGORICAL):
        levels = np.array([f"L{k}" for k in range(3 + 2 * j)])
        codes = rng.integers(0, len(levels), n)
        if j < 3:  # three real categorical drivers
            effect = np.linspace(-0.7, 0.7, len(levels)) * (1.0 - 0.3 * j)
            logit += effect[codes]
        cols[f"cat_{j}"] = pd.Categorical.from_codes(codes, categories=levels)
    p = 1 / (1 + np.exp(-np.nan_to_num(logit)))
    y = (rng.random(n) < p).astype(np.int8)
    return pd.DataFrame(cols), y, p


def reference_fit(X: pd.DataFrame, y: np.ndarray):  # type: ignore[no-untyped-def]
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = [c for c in X if c.startswith("num_")]
    cat = [c for c in X if c.startswith("cat_")]
    pre = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        (OneHotEncoder(handle_unknown="ignore"), cat),
    )
    return make_pipeline(pre, LogisticRegression(max_iter=1000)).fit(X, y)


_DEMO_RUN = """
import json, sys, time, shutil
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
shutil.rmtree(dst, ignore_errors=True)
shutil.copytree(src, dst)
from crmine.warehouse import Workspace
from crmine.churn import run_churn
ws = Workspace.open(dst)
cpu, start = time.process_time(), time.perf_counter()
run = run_churn(ws)
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
s = run.summary()
v = getattr(run, "verdict", None)
print(json.dumps({"wall": wall, "cpu": cpu, "auc": s["roc_auc"], "method": s["method"],
                  "verdict": None if v is None else v.status}))
"""


def bench_demo(n: int, against: str | None) -> None:
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from crmine.demo._workspace import build_demo_workspace

    root = Path(tempfile.mkdtemp(prefix="bench-churn-"))
    ws, _ = build_demo_workspace(root / "demo", n_customers=n, seed=0)
    ws.close()

    def timed(pythonpath: str | None) -> dict[str, object]:
        env = {**os.environ, "CRMINE_PROGRESS": "0"}
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        out = subprocess.run([sys.executable, "-c", _DEMO_RUN, str(root / "demo"),
                              str(root / "run")], env=env, capture_output=True, text=True,
                             check=True)  # fmt: skip
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    ours = timed(None)
    print(f"demo churn step, {n:,} customers (load average {os.getloadavg()[0]:.1f})")
    print(f"{'case':<22}{'wall s':>9}{'cpu s':>9}{'AUC':>8}  method / verdict")
    print(f"{'ours':<22}{ours['wall']:>9.2f}{ours['cpu']:>9.2f}{ours['auc']:>8.4f}  "
          f"{ours['method']} / {ours['verdict']} (target ≤ 10 s: {float(ours['cpu']) <= 10})")
    if against:
        ref = timed(str(Path(against) / "src"))
        print(f"{'reference (' + Path(against).name + ')':<22}{ref['wall']:>9.2f}"
              f"{ref['cpu']:>9.2f}{ref['auc']:>8.4f}  {ref['method']}")
        print(f"ratio cpu ours / reference: {float(ours['cpu']) / float(ref['cpu']):.2f}; "
              f"agree (AUC within 0.01): {abs(float(ours['auc']) - float(ref['auc'])) < 0.01}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 customers")
    parser.add_argument("--demo", action="store_true", help="the demo's churn step")
    parser.add_argument("--against", default=None, help="--demo: a source tree to compare")
    parser.add_argument("-n", type=int, default=None)
    args = parser.parse_args()
    if args.demo:
        os.environ.setdefault("CRMINE_PROGRESS", "0")
        bench_demo(args.n or 10_000, args.against)
        return
    n = args.n or (100_000 if args.quick else 1_000_000)
    os.environ.setdefault("CRMINE_PROGRESS", "0")
    from sklearn.metrics import roc_auc_score

    from crmine.churn import ChurnModel

    X, y, _ = simulate(n, seed=0)
    X_test, y_test, p_test = simulate(200_000, seed=1)
    print(f"customers {n:,} × {X.shape[1]} features, churn rate {y.mean():.1%}; "
          f"held-out 200,000 (true-model AUC {roc_auc_score(y_test, p_test):.4f})")

    cpu, start = time.process_time(), time.perf_counter()
    model = ChurnModel(method="auto").fit(X, y)
    ours_fit, ours_fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    cpu, start = time.process_time(), time.perf_counter()
    risk = model.predict_risk(X)
    ours_score, ours_score_cpu = time.perf_counter() - start, time.process_time() - cpu
    ours_auc = roc_auc_score(y_test, model.predict_risk(X_test))

    start = time.perf_counter()
    ref = reference_fit(X, y)
    ref_fit = time.perf_counter() - start
    start = time.perf_counter()
    ref.predict_proba(X)
    ref_score = time.perf_counter() - start
    ref_auc = roc_auc_score(y_test, ref.predict_proba(X_test)[:, 1])

    agree = ours_auc >= ref_auc - 0.005
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} (other jobs share them); "
          f"ours used {ours_fit_cpu:.0f} s CPU to train, {ours_score_cpu:.1f} s CPU to score")
    print(model.comparison_.round(4).to_string(index=False))
    print(f"top drivers: {list(model.drivers_['feature'].head(9))}")
    print(f"{'case':<34}{'ours':>10}{'reference':>12}{'ratio':>8}  agree")
    print(f"{'train auto (' + f'{n:,}' + ' rows) s':<34}{ours_fit:>10.1f}{ref_fit:>12.1f}"
          f"{ours_fit / ref_fit:>8.2f}  {agree} (held-out AUC {ours_auc:.4f} vs {ref_auc:.4f};"
          f" target < 180 s: {ours_fit < 180})")
    print(f"{'score (' + f'{n:,}' + ' rows) s':<34}{ours_score:>10.2f}{ref_score:>12.2f}"
          f"{ours_score / ref_score:>8.2f}  {bool(np.isfinite(risk).all())} "
          f"(target < 10 s: {ours_score < 10})")


if __name__ == "__main__":
    main()
