"""Verdicts of the response and uplift models: held-out AUC vs 0.5, Qini vs 0.

Planted signal must come out informative; responses independent of every feature (and of
the treatment) must come out not informative and list nobody to contact.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from crmine.contract import verdict_of
from crmine.response import (
    ANALYSIS,
    ClassTransformationUplift,
    ResponseModel,
    TwoModelUplift,
    evaluate_uplift,
    qini_coefficient,
    qini_curve,
    response_verdict,
    run_response,
    train_response,
    uplift_verdict,
)
from crmine.response._analysis import score_response
from crmine.warehouse import Workspace, run_checks


def _company(tmp_path, *, n=2500, campaigns=3, control_share=0.3, signal="none", seed=0):
    """A small company: customers with attributes, ``campaigns`` campaigns sent to all.

    ``signal``: "none" (responses independent of everything), "response" (young customers
    respond more, contacted or not: no uplift) or "uplift" (young customers respond more
    only when contacted).
    """
    rng = np.random.default_rng(seed)
    ids = [f"C{i:05d}" for i in range(n)]
    cust = pd.DataFrame({
        "customer_id": ids, "is_current": True, "age": rng.integers(18, 80, n).astype(float),
        "income": rng.gamma(3, 15_000, n), "gender": rng.choice(["f", "m"], n),
        "region": rng.choice(["north", "south", "east", "west"], n),
        "signup_date": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n),
                                                                    unit="D"),
    })  # fmt: skip
    rows = []
    young = (cust["age"] < 35).to_numpy()
    for c in range(campaigns):
        treated = rng.random(n) >= control_share
        p = np.full(n, 0.08)
        if signal == "response":
            p = np.where(young, 0.25, 0.04)
        elif signal == "uplift":
            p = 0.05 + treated * np.where(young, 0.25, 0.0)
        rows.append(pd.DataFrame({
            "campaign_id": f"K{c}", "customer_id": ids,
            "group": np.where(treated, "treatment", "control"),
            "responded": rng.random(n) < p, "revenue": 0.0,
        }))  # fmt: skip
    ws = Workspace.init(tmp_path / f"ws-{signal}-{control_share}")
    ws.write_table("core.dim_customer", cust)
    ws.write_table("core.campaign_assignments", pd.concat(rows, ignore_index=True))
    return ws


def _checks_pass(ws):
    results = run_checks(ws, [m.as_core_table() for m in ANALYSIS.marts])
    failed = [r for r in results if not r.passed]
    assert not failed, failed
    return results


def test_no_signal_anywhere_is_not_informative_and_lists_nobody(tmp_path):
    ws = _company(tmp_path, signal="none")
    run = run_response(ws)
    v = run.verdict
    assert v.status == "not_informative" and v.metric == "held-out Qini coefficient"
    lo, hi = v.interval
    assert lo < 0 < hi and v.what_to_try
    (resp,) = v.checks
    assert resp.metric == "held-out AUC" and resp.status == "not_informative"
    assert resp.interval[0] < 0.5 < resp.interval[1]
    # nothing actionable: an empty target list, no score that ranks anyone
    targets = ws.read("marts.response_targets")
    assert len(targets) == 0 and {"customer_id", "rank", "basis", "score"} <= set(targets)
    cs = ws.read("marts.customer_scores")
    assert cs["uplift"].isna().all() and cs["response_score"].isna().all()
    assert ws.read("marts.uplift_scores")["uplift_class"].isna().all()
    assert "no target list" in run.summary()["note"]
    assert verdict_of(ws, "response") == v
    json.dumps(run.summary())
    _checks_pass(ws)
    ws.close()


def test_response_signal_without_uplift_gives_no_target_list(tmp_path):
    """Young customers respond more whether contacted or not: the response model is
    informative, but uplift (which drives the target list when control groups exist) is not:
    contacting them causes nothing."""
    ws = _company(tmp_path, signal="response")
    run = run_response(ws)
    assert run.verdict.metric == "held-out Qini coefficient"
    assert run.verdict.status == "not_informative"
    assert run.verdict.checks[0].status == "informative"
    assert run.verdict.checks[0].value > 0.65
    assert run.targets.empty and ws.read("marts.response_targets").empty
    cs = ws.read("marts.customer_scores")
    assert cs["response_score"].notna().all() and cs["uplift"].isna().all()
    ws.close()


def test_planted_uplift_is_informative_and_targets_the_persuadable(tmp_path):
    ws = _company(tmp_path, signal="uplift")
    run = run_response(ws)
    assert run.verdict.status == "informative", run.verdict.why
    assert run.verdict.interval[0] > 0
    t = run.targets.merge(ws.read("core.dim_customer")[["customer_id", "age"]], on="customer_id")
    assert len(t) > 0 and (t["basis"] == "uplift").all()
    assert (t["age"] < 35).mean() > 0.9  # the planted persuadables
    assert t["rank"].tolist() == list(range(1, len(t) + 1))
    # every declared mart is written, with its declared columns, and passes its checks
    declared = {m.table: m for m in ANALYSIS.marts}
    assert set(run.marts) - {"marts.customer_scores"} == set(declared)
    for name, mart in declared.items():
        assert set(mart.columns) <= set(ws.columns(name)), name
    assert len(_checks_pass(ws)) >= 10
    ws.close()


def test_without_control_group_the_response_model_drives_the_list(tmp_path):
    ws = _company(tmp_path, signal="response", control_share=0.0)
    run = run_response(ws)
    assert run.verdict.metric == "held-out AUC" and run.verdict.status == "informative"
    assert "no control group" in run.verdict.why
    assert run.qini is None and run.target_basis == "response"
    assert len(run.targets) > 0 and (run.targets["basis"] == "response").all()
    assert ws.has_table("marts.uplift_curves") and ws.read("marts.uplift_curves").empty
    from crmine.report.sections.response import build

    sec = build(ws)
    assert sec is not None and "No control groups" in sec.summary
    assert "Target list" in sec.html and "Qini" not in sec.html
    ws.close()
    none = _company(tmp_path, signal="none", control_share=0.0)
    run = run_response(none)
    assert run.verdict.metric == "held-out AUC" and run.verdict.status == "not_informative"
    assert none.read("marts.response_targets").empty
    none.close()


def test_train_response_verdict_on_flat_files():
    rng = np.random.default_rng(3)
    n = 1500
    X = pd.DataFrame({"age": rng.integers(18, 80, n), "plan": rng.choice(["a", "b"], n),
                      "visits": rng.poisson(3, n)})  # fmt: skip
    flat = X.assign(bought=rng.random(n) < 0.1)
    noise = train_response(flat, target="bought", cv=3)
    assert noise.verdict.status == "not_informative"
    assert noise.verdict.interval[0] < 0.5 < noise.verdict.interval[1]
    planted = X.assign(bought=rng.random(n) < np.where(X["plan"] == "b", 0.3, 0.05))
    good = train_response(planted, target="bought", cv=3)
    assert good.verdict.status == "informative" and good.cv_roc_auc > 0.65
    assert good.verdict.checks[0].metric == "held-out top-decile lift"
    assert good.summary()["cv_roc_auc"] == pytest.approx(good.cv_roc_auc)
    assert len(good.to_frame()) == 10


def test_evaluate_uplift_without_effect_lists_no_persuadables():
    rng = np.random.default_rng(4)
    n = 6000
    df = pd.DataFrame({"age": rng.integers(18, 80, n), "arm": rng.choice(["mail", "none"], n),
                       "region": rng.choice(["n", "s"], n)})  # fmt: skip
    df["visit"] = (rng.random(n) < 0.1).astype(int)  # independent of the arm and the features
    ev = evaluate_uplift(df, treatment="arm", outcome="visit", control="none", top=10)
    assert ev.verdict.status == "not_informative" and ev.persuadables.empty
    assert "no persuadables" in ev.summary()["note"]
    df["visit"] = (rng.random(n) < 0.05 + 0.3 * ((df["arm"] == "mail") & (df["age"] < 35)))
    ev = evaluate_uplift(df, treatment="arm", outcome="visit", control="none", top=10)
    assert ev.verdict.status == "informative" and len(ev.persuadables) == 10


def test_verdict_functions_by_hand():
    y, w = np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0])
    u = np.array([0.9, 0.1, 0.2, 0.0])
    assert qini_coefficient(y, w, u) == pytest.approx(qini_curve(y, w, u).coefficient)
    rng = np.random.default_rng(0)
    yy, ww = rng.integers(0, 2, 3000), rng.integers(0, 2, 3000)
    uu = rng.random(3000)
    assert qini_coefficient(yy, ww, uu) == pytest.approx(qini_curve(yy, ww, uu).coefficient)
    v = uplift_verdict(yy, ww, uu, groups=np.arange(3000) // 3)
    assert v.status == "not_informative" and "over customers" in v.why
    one_class = response_verdict(np.zeros(50), rng.random(50))
    assert one_class.status == "not_informative" and one_class.value is None


def test_estimators_are_clonable_and_speak_predict_proba():
    X = pd.DataFrame({"x": np.arange(200.0) % 7, "k": ["a", "b"] * 100})
    y = (X["x"] > 3).astype(int).to_numpy()
    for est in (ResponseModel(max_iter=5), TwoModelUplift(learner="logistic", max_iter=7),
                ClassTransformationUplift(max_iter=9)):
        twin = clone(est)
        assert type(twin) is type(est) and twin.get_params() == est.get_params()
    m = ResponseModel(max_iter=10).fit(X, y)
    p = m.predict_proba(X)
    assert p.shape == (200, 2) and np.allclose(p[:, 1], m.predict_score(X))
    assert np.allclose(p.sum(axis=1), 1)


def test_registry_scorer_withholds_not_informative_scores():
    X = pd.DataFrame({"x": np.arange(200.0) % 7})
    y = (X["x"] > 3).astype(int).to_numpy()
    w = np.tile([0, 1], 100)
    bundle = {"response": ResponseModel(max_iter=5).fit(X, y),
              "uplift": TwoModelUplift(max_iter=5, min_samples_leaf=5).fit(X, w, y)}
    meta = {"verdict": {"status": "not_informative", "metric": "held-out Qini coefficient",
                        "checks": [{"status": "informative", "metric": "held-out AUC"}]}}
    out = score_response(bundle, meta, X)
    assert out["uplift"].isna().all() and out["response_score"].notna().all()
    judged = {"verdict": {"status": "informative", "metric": "held-out Qini coefficient",
                          "checks": [{"status": "informative", "metric": "held-out AUC"}]}}
    assert score_response(bundle, judged, X)["uplift"].notna().all()
