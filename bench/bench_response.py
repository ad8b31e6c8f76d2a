"""Benchmark: campaign effects, response model, uplift and attribution (crmine.marketing,
crmine.response).

Cases (ours vs a reference measured in the same run, and whether the results agree):
1. treatment_effect on Hillstrom (64,000 customers, Welch) vs scipy.stats.ttest_ind.
2. ResponseModel 5-fold CV on Bank Marketing (41,188 rows) vs scikit-learn's
   HistGradientBoostingClassifier with its default thread count and hand-made categoricals.
3. Two-model uplift on Hillstrom (Mens vs control, visit) vs a hand-written T-learner of two
   scikit-learn logistic regressions on one-hot features: held-out Qini of both.
4. Markov + Shapley attribution on N simulated journeys (no reference library installed:
   timed alone, agreement = e-mail ranked first by both data-driven models).
5. What the verdicts cost: ``run_response`` and ``run_marketing`` on the demo company (10,000
   customers; 2,000 with --quick) against the same runs' verdict computations alone (the
   held-out AUC/lift and Qini bootstraps, the effects family); goal: verdicts <= 15% of a run.

    .venv/bin/python bench/bench_response.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import report
from crmine.marketing import attribution, treatment_effect
from crmine.response import ResponseModel, TwoModelUplift, gains_table, qini_curve

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def case_effect(hill: pd.DataFrame) -> None:
    t_ours, eff = timed(lambda: treatment_effect(hill, "segment", "spend", "No E-Mail"))
    mens = hill.loc[hill["segment"] == "Mens E-Mail", "spend"]
    ctrl = hill.loc[hill["segment"] == "No E-Mail", "spend"]
    t_ref, ref = timed(lambda: stats.ttest_ind(mens, ctrl, equal_var=False))
    agree = abs(eff.loc["Mens E-Mail", "statistic"] - ref.statistic) < 1e-9
    report("treatment_effect Hillstrom 64k (2 arms, Welch)", t_ours, "scipy ttest_ind (1 arm)",
           t_ref, "same t")
    print(f"    t = {eff.loc['Mens E-Mail', 'statistic']:.4f} vs {ref.statistic:.4f}; "
          f"agree: {agree}")


def case_response(bank: pd.DataFrame, folds: int) -> None:
    y = (bank["y"] == "yes").to_numpy(int)
    X = bank.drop(columns=["y", "duration"])
    split = list(StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y))

    def ours() -> tuple[float, float]:
        oof = np.zeros(len(y))
        for tr, te in split:
            oof[te] = ResponseModel().fit(X.iloc[tr], y[tr]).predict_score(X.iloc[te])
        return roc_auc_score(y, oof), gains_table(y, oof).loc[0, "lift"]

    def reference() -> tuple[float, float]:
        Xc = X.copy()
        for c in Xc.select_dtypes("object").columns:
            Xc[c] = Xc[c].astype("category")
        oof = np.zeros(len(y))
        for tr, te in split:
            m = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
            oof[te] = m.fit(Xc.iloc[tr], y[tr]).predict_proba(Xc.iloc[te])[:, 1]
        return roc_auc_score(y, oof), gains_table(y, oof).loc[0, "lift"]

    t_ours, (auc, lift) = timed(ours)
    t_ref, (auc_r, lift_r) = timed(reference)
    report(f"ResponseModel Bank {folds}-fold CV (41k rows)", t_ours,
           "sklearn HGB, all threads", t_ref, "AUC >= 0.80, lift >= 4.5")
    print(f"    AUC {auc:.4f} vs {auc_r:.4f}; top-decile lift {lift:.2f} vs {lift_r:.2f}; "
          f"agree (|dAUC| < 0.01): {abs(auc - auc_r) < 0.01}")


def case_uplift(hill: pd.DataFrame) -> None:
    d = hill[hill["segment"] != "Womens E-Mail"]
    w = (d["segment"] == "Mens E-Mail").to_numpy(int)
    y = d["visit"].to_numpy()
    X = d[["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]]
    Xtr, Xte, wtr, wte, ytr, yte = train_test_split(X, w, y, test_size=0.3, random_state=0,
                                                    stratify=w * 2 + y)
    t_ours, u = timed(lambda: TwoModelUplift().fit(Xtr, wtr, ytr).predict_uplift(Xte))

    def reference() -> np.ndarray:
        def model():  # type: ignore[no-untyped-def]
            enc = make_column_transformer(
                (OneHotEncoder(handle_unknown="ignore"), ["zip_code", "channel"]),
                remainder=StandardScaler())
            return make_pipeline(enc, LogisticRegression(max_iter=1000))
        mt = model().fit(Xtr[wtr == 1], ytr[wtr == 1])
        mc = model().fit(Xtr[wtr == 0], ytr[wtr == 0])
        return mt.predict_proba(Xte)[:, 1] - mc.predict_proba(Xte)[:, 1]

    t_ref, u_ref = timed(reference)
    q, q_ref = qini_curve(yte, wte, u), qini_curve(yte, wte, u_ref)
    report("TwoModelUplift Hillstrom (Mens vs control)", t_ours, "T-learner, 2 logistic regs",
           t_ref, "held-out Qini > 0")
    print(f"    held-out Qini area {q.area:.5f} (coefficient {q.coefficient:.4f}) vs "
          f"{q_ref.area:.5f} ({q_ref.coefficient:.4f}); ours above random: {q.area > 0}")


def case_attribution(n: int) -> None:
    rng = np.random.default_rng(0)
    chans = np.array(["display", "email", "social", "search", "sms", "tv"])
    lengths = rng.integers(1, 6, n)
    paths = [list(chans[rng.integers(0, len(chans), k)]) for k in lengths]
    conv = [("email" in p and rng.random() < 0.3) or rng.random() < 0.02 for p in paths]
    j = pd.DataFrame({"path": paths, "converted": conv, "value": np.array(conv, float)})
    t_ours, att = timed(lambda: attribution(j))
    share = att.pivot(index="channel", columns="model", values="share")
    ok = share["markov"].idxmax() == "email" and share["shapley"].idxmax() == "email"
    print(f"{'attribution, 7 models, ' + f'{n:,} journeys':<48} crmine {t_ours:8.3f}s | "
          f"no reference installed; e-mail ranked first by markov and shapley: {ok}",
          flush=True)


def case_verdicts(n_customers: int) -> None:
    import tempfile

    from crmine.demo._workspace import build_demo_workspace
    from crmine.marketing import campaign_effects, effects_verdict, load_contacts, run_marketing
    from crmine.response import response_verdict, run_response, uplift_verdict

    with tempfile.TemporaryDirectory() as tmp:
        ws, _ = build_demo_workspace(Path(tmp), n_customers=n_customers, seed=0)
        t_run, run = timed(lambda: run_response(ws))
        # the verdicts' share: the same held-out sizes, scored at random (the bootstraps'
        # cost does not depend on the scores)
        a = ws.read("core.campaign_assignments")
        rng = np.random.default_rng(0)
        n_test = int(run.metrics["holdout_rows"])
        test = a.sample(n_test, random_state=0)
        y = test["responded"].fillna(False).astype(int).to_numpy()
        w = (test["group"] == "treatment").astype(int).to_numpy()
        ids = test["customer_id"].to_numpy()

        def verdicts() -> None:
            response_verdict(y[w == 1], rng.random(int(w.sum())), groups=ids[w == 1])
            uplift_verdict(y, w, rng.random(n_test), groups=ids)

        t_v, _ = timed(verdicts)
        report(f"run_response demo {n_customers:,} customers", t_run, "its verdicts alone", t_v,
               "verdicts <= 15% of the run")
        print(f"    verdicts {t_v / t_run:.0%} of the run; {run.verdict.status}")
        t_m, mrun = timed(lambda: run_marketing(ws))
        contacts = load_contacts(ws)
        t_mv, _ = timed(lambda: effects_verdict(campaign_effects(contacts), contacts))
        report(f"run_marketing demo {n_customers:,} customers", t_m, "its verdict alone", t_mv,
               "verdict <= 15% of the run")
        print(f"    verdict {t_mv / t_m:.0%} of the run; {mrun.verdict.status}")
        ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller cases")
    args = parser.parse_args()
    hill = pd.read_csv(DATA / "hillstrom" / "hillstrom.csv")
    bank = pd.read_csv(DATA / "bank_marketing" / "bank-additional-full.csv.gz", sep=";")
    case_effect(hill)
    case_response(bank, folds=2 if args.quick else 5)
    case_uplift(hill)
    case_attribution(20_000 if args.quick else 200_000)
    case_verdicts(2_000 if args.quick else 10_000)


if __name__ == "__main__":
    main()
