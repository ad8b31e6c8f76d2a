"""The CLV verdict: judged on a holdout against the naive rate; degenerate fits; margins."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from crmine.clv import (
    ANALYSIS,
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    fit_diagnostics,
    run_clv,
)
from crmine.clv._judge import Candidate, choose_and_judge, naive_rate_forecast
from crmine.contract import verdict_of
from crmine.warehouse import ingest

pytest.importorskip("crmine.demo")


def _orders(rows: list[tuple[str, pd.Timestamp, float]], **extra: list[float]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "order_ts", "amount"])
    frame.insert(0, "order_id", [f"o{i}" for i in range(len(frame))])
    for name, values in extra.items():
        frame[name] = values
    return frame


def _no_signal(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Every customer buys at one Poisson rate (6 a year) and never leaves: nothing to tell
    customers apart, so a model's per-customer forecast cannot rank them."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-01")
    rows = []
    for c in range(n):
        first = rng.uniform(0, 365)
        times = np.r_[first, np.sort(rng.uniform(first, 730, rng.poisson(6 / 365 * (730 - first))))]
        rows += [(f"c{c}", start + pd.Timedelta(days=float(t)), 20.0) for t in times]
    return _orders(rows)


def test_demo_verdict_is_informative_and_every_declared_mart_is_written(demo_workspace):
    ws = demo_workspace
    run = run_clv(ws)
    v = run.verdict
    assert v.status == "informative", v.why
    # the chosen model cuts the naive rate's squared error by far more than the 5% threshold
    assert v.value is not None and v.value > 0.3 and v.interval is not None and v.interval[0] > 0.2
    assert {c.metric for c in v.checks} >= {"holdout correlation, forecast vs actual purchases",
                                            "holdout total purchases, forecast vs actual"}
    assert verdict_of(ws, "clv") == v
    declared = {m.table for m in ANALYSIS.marts}
    written = set(run.marts) - {"marts.customer_scores"}
    # segment params need the segmentation step: every other declared mart is written
    assert declared - written <= {"marts.clv_segment_params"}
    assert written <= declared
    for mart in ANALYSIS.marts:
        if mart.table in written:
            assert set(mart.columns) <= set(ws.columns(mart.table)), mart.name
    from crmine.warehouse._quality import run_checks

    results = run_checks(ws, [m.as_core_table() for m in ANALYSIS.marts])
    mine = [r for r in results if r.table in written]
    assert mine and all(r.passed for r in mine), [r for r in mine if not r.passed]
    selection = ws.read("marts.clv_model_selection").set_index("forecaster")
    assert set(selection.index) == {"bgnbd", "mbgnbd", "paretonbd", "naive"}
    assert selection["chosen"].sum() == 1 and bool(selection.loc["bgnbd", "chosen"])
    assert (selection.drop("naive")["skill_vs_naive"] > 0.3).all()
    summary = run.summary()
    assert summary["verdict"]["status"] == "informative" and summary["total_clv_12m"] > 0
    assert run.to_frame()["predicted_clv_12m"].notna().all()


def test_no_signal_company_is_not_informative_and_withholds_scores(workspace):
    ingest(workspace, "orders", _no_signal())
    workspace.write_mart("clv_segment_params", pd.DataFrame(
        {"segment": ["old"], "mean_clv_12m": [999.0]}), model_version="old")  # fmt: skip
    # a stale score from an earlier run must not survive
    workspace.upsert_customer_scores(
        pd.DataFrame({"customer_id": ["c0"], "predicted_clv_12m": [999.0]}),
        model="clv", model_version="old",
    )  # fmt: skip
    run = run_clv(workspace)
    v = run.verdict
    assert v.status == "not_informative", v.why
    ranking = next(c for c in v.checks if c.metric.startswith("holdout correlation"))
    assert ranking.status == "not_informative" and abs(ranking.value) < 0.1
    assert "not presented as findings" in v.why and v.what_to_try
    # against the fair (shrunk) naive forecast the skill is near 0, not the raw rate's +58%
    assert v.value is not None and abs(v.value) < 0.1, v.why
    # every declared mart is written, and no per-segment CLV survives a not_informative run
    assert {m.table for m in ANALYSIS.marts} <= set(run.marts)
    assert len(workspace.read("marts.clv_segment_params")) == 0
    # BG/NBD finds no differences between customers: its degenerate fit is recorded
    assert any("Poisson limit" in w or "dropout not identified" in w for w in v.warnings)
    scores = workspace.read("marts.customer_scores")
    for col in ("p_alive", "expected_purchases_90d", "predicted_clv_12m", "clv_tier"):
        assert scores[col].isna().all(), col
    summary = run.summary()
    assert "total_clv_12m" not in summary and "not informative" in summary["withheld"]
    assert verdict_of(workspace, "clv").status == "not_informative"
    # the section shows the held-out evidence only; the report opens it with the verdict
    from crmine.report import all_sections

    section = next(s for s in all_sections() if s.key == "clv").fn(workspace)
    assert section is not None and "are not shown" in section.html
    assert "Break-even" not in section.html and "naive" in section.html


def test_choose_and_judge_grades_against_the_naive_rate():
    rng = np.random.default_rng(1)
    n = 3000
    rate = rng.gamma(0.8, 1 / 40, n)
    frequency = rng.poisson(rate * 60).astype(float)  # a short history: past rates are noisy
    T = np.full(n, 60.0)
    alive = rng.random(n) < 0.5  # half the customers have left before the holdout
    actual = rng.poisson(rate * 100 * alive).astype(float)
    naive = naive_rate_forecast(frequency, T, 100.0)
    shrunk = (frequency + 0.8) / (T + 40) * 100  # the gamma-Poisson posterior mean
    # the fair naive forecast IS the gamma-Poisson shrinkage: no skill without dropout
    assert np.corrcoef(naive, shrunk)[0, 1] > 0.999
    good = choose_and_judge([Candidate("bgnbd", BetaGeoModel(), shrunk * alive)], actual, naive,
                            duration_text="100-day")  # fmt: skip
    assert good.verdict.status == "informative" and good.chosen == "bgnbd", good.verdict.why
    assert good.verdict.value is not None and good.verdict.value > 0.2
    # with a long history the past rate is nearly as good: beyond chance, but barely
    long_f = rng.poisson(rate * 3000).astype(float)
    long_naive = naive_rate_forecast(long_f, np.full(n, 3000.0), 100.0)
    long_shrunk = (long_f + 0.8) / (3000 + 40) * 100
    everyone = rng.poisson(rate * 100).astype(float)  # no dropout: shrinkage is all there is
    barely = choose_and_judge([Candidate("bgnbd", BetaGeoModel(), long_shrunk)], everyone,
                              long_naive, duration_text="100-day")  # fmt: skip
    assert barely.verdict.status in ("weak", "not_informative") and barely.verdict.value < 0.05
    noise = rng.permutation(shrunk)  # right level, no information about who buys
    bad = choose_and_judge([Candidate("bgnbd", BetaGeoModel(), noise)], actual, naive,
                           duration_text="100-day")  # fmt: skip
    assert bad.verdict.status == "not_informative" and bad.chosen == "naive"
    assert bool(bad.comparison.set_index("forecaster").loc["naive", "chosen"])
    failed = choose_and_judge([Candidate("paretonbd", None, np.full(n, np.nan)),
                               Candidate("bgnbd", BetaGeoModel(), shrunk * alive)], actual, naive,
                              duration_text="100-day")  # fmt: skip
    assert failed.chosen == "bgnbd" and any("paretonbd" in w for w in failed.verdict.warnings)


def test_poisson_limit_and_bounds_are_detected_but_a_small_dropout_is_not_degenerate():
    # the case: a ~ 0 with r and alpha huge, P(alive) = 1 for every customer
    limit = BetaGeoModel.from_params(r=78.0, alpha=16_842.0, a=1e-10, b=5.0)
    summary = BetaGeoModel.from_params(r=0.8, alpha=60, a=0.5, b=3).simulate(400, 365.0, seed=0)
    notes = fit_diagnostics("bgnbd", limit, summary)
    assert any("Poisson limit (r = 78, alpha = 16,842)" in n for n in notes)
    assert any("a = 0.0000000001 at the edge" in n for n in notes)
    assert any("dropout not identified" in n for n in notes)
    # Online Retail's a ~ 0.0034 on one year is a legitimate estimate: no bound, no Poisson limit
    retail = BetaGeoModel.from_params(r=0.83, alpha=68.9, a=0.0034, b=6.75)
    assert not any("edge" in n or "Poisson" in n for n in fit_diagnostics("bgnbd", retail))


def _profit_orders(seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows, profit = [], []
    for c in range(300):
        for d in np.sort(rng.integers(0, 600, rng.integers(1, 8))):
            amount = float(rng.uniform(20, 80))
            rows.append((f"c{c}", pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(d)), amount))
            profit.append(round(0.3 * amount, 2))
    return _orders(rows, Profit=profit)


def test_margin_comes_from_a_profit_column(workspace):
    from crmine.clv._workspace import _margin

    ingest(workspace, "orders", _profit_orders())
    assert "profit" in workspace.columns("core.fct_order_lines")
    margin, source = _margin(workspace)
    assert margin == pytest.approx(0.3, abs=0.002) and "profit" in source
    run = run_clv(workspace)
    assert run.summary()["margin"] == pytest.approx(0.3, abs=0.002)
    be = workspace.read("marts.clv_break_even")
    assert be["margin"].iloc[0] == pytest.approx(0.3, abs=0.002)


def test_margin_from_a_share_column_and_the_setting_wins(workspace):
    from crmine.clv._workspace import _margin

    frame = _profit_orders().drop(columns="Profit").assign(gross_margin=0.25)
    ingest(workspace, "orders", frame)
    assert _margin(workspace) == (pytest.approx(0.25), "column gross_margin (share)")
    workspace.config.settings["clv.margin"] = 0.4
    assert _margin(workspace) == (0.4, "setting clv.margin")


@pytest.mark.parametrize(
    "cls",
    [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, BetaGeoBetaBinomModel, GammaGammaModel],
)
def test_estimators_clone(cls):
    model = cls(penalizer=0.01, max_iter=50)
    copy = clone(model)
    assert type(copy) is cls and copy.get_params() == model.get_params()
    assert copy.get_params()["penalizer"] == 0.01 and not hasattr(copy, "params_")


def test_every_setting_read_is_declared():
    import pathlib
    import re

    import crmine.clv

    root = pathlib.Path(crmine.clv.__file__).parent
    read = set()
    for path in [*root.glob("*.py")]:
        read |= set(re.findall(r'ws\.setting\(\s*"([^"]+)"', path.read_text()))
    declared = {s.key for s in ANALYSIS.settings} | {"observation_end"}  # workspace's own
    assert read and read <= declared, read - declared


def test_fit_warnings_are_recorded_in_the_verdict_not_silenced(workspace, monkeypatch):
    from crmine.exceptions import ConvergenceWarning

    ingest(workspace, "orders", _profit_orders())
    original = BetaGeoModel.fit

    def noisy(self, *args, **kwargs):
        warnings.warn("slow convergence (test)", ConvergenceWarning, stacklevel=2)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BetaGeoModel, "fit", noisy)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run = run_clv(workspace, model="bgnbd")
    assert any("slow convergence (test)" in w for w in run.verdict.warnings)
    assert any("slow convergence (test)" in str(w.message) for w in seen)  # still shown
