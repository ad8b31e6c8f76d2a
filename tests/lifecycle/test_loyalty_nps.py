"""Loyalty measures, NPS/CSAT with intervals and Holm, drivers and the satisfaction -> churn
link: exact figures on small data, the planted truth of the demo, nothing in the flat one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.lifecycle import (
    StageRules,
    holm,
    loyalty_by_segment,
    loyalty_measures,
    nps_interval,
    nps_table,
    run_lifecycle,
    stage_transitions,
    transition_history,
)
from crmine.warehouse import ingest

AS_OF = pd.Timestamp("2024-07-01")


def _orders() -> pd.DataFrame:
    rows = []
    # "steady" buys 100 every 10 days for 170 days up to 5 days before AS_OF
    for i, d in enumerate(pd.date_range("2024-01-08", periods=18, freq="10D")):
        rows.append(("steady", d, 100.0, f"s{i}"))
    # "erratic" buys at gaps of 5, 40, 5, 40 days and stops 60 days before AS_OF
    for i, d in enumerate(
        pd.to_datetime(
            [
                "2024-01-01",
                "2024-01-06",
                "2024-02-15",
                "2024-02-20",
                "2024-03-31",
                "2024-04-05",
                "2024-05-02",
            ]
        )
    ):
        rows.append(("erratic", d, 50.0, f"e{i}"))
    rows.append(("once", pd.Timestamp("2024-06-01"), 80.0, "o0"))
    return pd.DataFrame(
        [
            {
                "order_id": f"{c}-{k}",
                "customer_id": c,
                "order_ts": d + pd.Timedelta(hours=12),
                "amount": a,
            }
            for c, d, a, k in rows
        ]
    )


@pytest.fixture
def buyers(workspace):
    ingest(workspace, "orders", _orders(), source_name="test:orders")
    return workspace


def test_loyalty_measures_of_a_steady_an_erratic_and_a_one_off_buyer(buyers):
    m = loyalty_measures(buyers, AS_OF).set_index("customer_id")
    steady, erratic, once = m.loc["steady"], m.loc["erratic"], m.loc["once"]
    assert steady["interval_cv"] == 0.0  # perfectly regular: stability's regularity is 1
    assert steady["repeat_rate"] == pytest.approx(17 / 18)
    assert steady["tenure_days"] == 175 and steady["span_share"] == pytest.approx(170 / 175)
    assert steady["persistence"] == pytest.approx((175 / 540 + 170 / 175) / 2)
    # gaps 5, 40, 5, 40, 5, 27: CV = sd / mean
    gaps = np.array([5, 40, 5, 40, 5, 27], dtype=float)
    assert erratic["interval_cv"] == pytest.approx(gaps.std() / gaps.mean())
    assert np.isnan(once["interval_cv"]) and once["repeat_rate"] == 0.0
    assert once["span_share"] == 0.0
    assert steady["loyalty_index"] > erratic["loyalty_index"] > once["loyalty_index"]
    pillars = m[["persistence", "firmness", "stability"]].to_numpy()
    expected = 100 * pillars @ np.array([0.3, 0.4, 0.3])
    assert m["loyalty_index"].to_numpy() == pytest.approx(expected)
    # the weights are settings: persistence alone
    only = loyalty_measures(
        buyers, AS_OF, weights={"persistence": 1, "firmness": 0, "stability": 0}
    )
    assert only["loyalty_index"].to_numpy() == pytest.approx(100 * m["persistence"].to_numpy())


def test_loyalty_by_segment_averages_each_grouping(buyers):
    m = loyalty_measures(buyers, AS_OF)
    groups = {"tier": pd.Series({"steady": "a", "erratic": "a", "once": "b"})}
    seg = loyalty_by_segment(m, groups).set_index("segment")
    assert seg.loc["a", "customers"] == 2 and seg.loc["b", "customers"] == 1
    both = m.set_index("customer_id").loc[["steady", "erratic"], "loyalty_index"].mean()
    assert seg.loc["a", "mean_loyalty_index"] == pytest.approx(both)


def test_transitions_over_several_windows(buyers):
    rules = StageRules()
    history = transition_history(buyers, AS_OF, rules, 30, 3)
    assert history["from_date"].nunique() == 3
    last = stage_transitions(buyers, AS_OF - pd.Timedelta(days=30), AS_OF, rules)
    tail = history[history["to_date"] == AS_OF].reset_index(drop=True)
    pd.testing.assert_frame_equal(tail, last)
    assert (history.groupby("from_date")["customers"].sum() <= 3).all()


def test_nps_interval_and_holm_against_hand_computation():
    score, lo, hi = nps_interval(50, 20, 100)
    half = 1.959964 * 100 * np.sqrt((0.5 + 0.2 - 0.3**2) / 100)
    assert score == 30.0 and lo == pytest.approx(30 - half) and hi == pytest.approx(30 + half)
    assert holm(np.array([0.01, 0.04, 0.03, np.nan])).round(4)[:3].tolist() == [0.03, 0.06, 0.06]


def test_nps_table_counts_bands_and_corrects_for_several_groups():
    nps = [10] * 30 + [3] * 10 + [8] * 10 + [2] * 30 + [9] * 10 + [7] * 10
    group = ["good"] * 50 + ["bad"] * 50
    surveys = pd.DataFrame({"nps": np.array(nps, dtype=float)})
    t = nps_table(surveys, {"g": pd.Series(group)}).set_index(["dimension", "group"])
    assert t.loc[("g", "good"), ["promoters", "passives", "detractors"]].tolist() == [30, 10, 10]
    assert t.loc[("g", "good"), "nps"] == pytest.approx(40.0)
    assert t.loc[("g", "bad"), "nps"] == pytest.approx(-40.0)
    assert t.loc[("all", "all"), "nps"] == pytest.approx(0.0)
    assert t.loc[("g", "good"), "diff_vs_rest"] == pytest.approx(80.0)
    # two groups: Holm doubles the smaller p-value
    assert t.loc[("g", "good"), "p_holm"] == pytest.approx(
        min(1, 2 * t.loc[("g", "good"), "p_value"])
    )
    assert t.loc[("g", "good"), "significant"]


@pytest.fixture(scope="module")
def demo_run(demo_workspace):
    return demo_workspace, run_lifecycle(demo_workspace)


def test_demo_planted_detractor_drivers_come_first(demo_run):
    ws, run = demo_run
    assert run.nps is not None
    drivers = run.nps.drivers.set_index("feature")
    truth = ws.read("truth.nps_drivers").set_index("feature")["effect"]
    factors = ws.read("truth.survey_factors").set_index("factor")["effect"]
    c = drivers.loc["complaints"]
    assert c["rank"] == 1 and c["ci_low"] <= truth["n_complaints"] <= c["ci_high"]
    sms = drivers.loc["channel=sms"]  # against email, the most common channel
    assert sms["rank"] <= 3 and sms["ci_low"] <= factors["channel=sms"] <= sms["ci_high"]
    assert sms["p_holm"] < 0.001
    table = run.nps.nps.set_index(["dimension", "group"])
    assert table.loc[("channel", "sms"), "significant"]
    assert table.loc[("channel", "sms"), "ci_high"] < table.loc[("channel", "email"), "ci_low"]


def test_demo_detractors_churn_more_than_promoters(demo_run):
    ws, run = demo_run
    v = run.nps.verdict
    assert v.status == "informative", v.why
    assert v.value > 0.2 and v.interval[0] > 0.1
    bands = ws.read("marts.lifecycle_nps_churn").set_index("band")
    assert bands.loc["detractor", "churn_rate"] > bands.loc["promoter", "churn_rate"]
    assert v in run.verdict.checks


def test_demo_loyalty_marts_and_check(demo_run):
    ws, run = demo_run
    loyalty = ws.read("marts.lifecycle_loyalty")
    assert len(loyalty) == run.stages["n_purchases"].gt(0).sum()
    assert loyalty["loyalty_index"].between(0, 100).all()
    segs = ws.read("marts.lifecycle_loyalty_segments")
    assert {"stage", "acquisition_channel"} <= set(segs["dimension"])
    lapsed = segs[(segs.dimension == "stage") & (segs.segment == "lapsed")]
    active = segs[(segs.dimension == "stage") & (segs.segment == "active")]
    assert active["mean_loyalty_index"].iloc[0] > lapsed["mean_loyalty_index"].iloc[0]
    check = run.loyalty_evaluation.verdict
    assert check in run.verdict.checks
    # loyalty ranks repeat buyers well, and adds to recency beyond chance on the demo
    assert run.loyalty_evaluation.auc > 0.65
    assert check.status in ("weak", "informative") and check.interval[0] > check.baseline
    history = ws.read("marts.lifecycle_transition_history")
    assert history["from_date"].nunique() == 4


@pytest.mark.slow
def test_demo_learned_health_weights_beat_the_documented_ones(demo_run):
    ws, run = demo_run
    learned = run.learned
    assert learned.verdict in run.verdict.checks
    assert learned.verdict.status == "informative", learned.verdict.why
    assert learned.auc_learned > learned.auc_documented + 0.03
    assert learned.weights["recency"] == max(learned.weights.values())
    assert sum(learned.weights.values()) == pytest.approx(1.0)
    assert run.health_weights["recency"] == 0.40  # documented unless the setting asks
    ws.config.settings["lifecycle.learn_health_weights"] = True
    try:
        on = run_lifecycle(ws)
    finally:
        ws.config.settings.pop("lifecycle.learn_health_weights")
        run_lifecycle(ws)  # leave the session's demo marts as the other tests found them
    assert on.health_weights == pytest.approx(learned.weights, abs=1e-9)
    assert on.evaluation.auc == pytest.approx(learned.auc_learned, abs=0.01)
    assert on.evaluation.auc > run.evaluation.auc


@pytest.mark.slow
def test_no_signal_company_finds_no_driver_no_churn_link_no_loyalty(tmp_path):
    from crmine.demo._workspace import build_demo_workspace

    ws, _ = build_demo_workspace(tmp_path / "flat", n_customers=2_000, seed=0, signal=False)
    try:
        run = run_lifecycle(ws)
        assert run.nps is not None
        assert run.nps.verdict.status == "not_informative", run.nps.verdict.why
        assert run.loyalty_evaluation.verdict.status == "not_informative"
        assert run.learned.verdict.status == "not_informative"
        assert not (run.nps.drivers["p_holm"] < 0.05).any()
        nps = run.nps.nps
        assert not nps.loc[
            nps["dimension"].isin(["channel", "acquisition_channel"]), "significant"
        ].any()
    finally:
        ws.close()


def test_cli_scores_a_flat_order_file_and_reports_nps(tmp_path, buyers):
    import json

    from typer.testing import CliRunner

    from crmine.cli import app

    runner = CliRunner()
    orders = tmp_path / "orders.csv"
    _orders().rename(columns={"customer_id": "CustomerID", "order_ts": "InvoiceDate"}).to_csv(
        orders, index=False
    )
    out = runner.invoke(app, ["lifecycle", "stages", "--data", str(orders), "--json"])
    assert out.exit_code == 0, out.stdout
    data = json.loads(out.stdout)
    stages = {r["customer_id"]: r["stage"] for r in data["customers_by_stage"]}
    assert stages == {"erratic": "lapsed", "once": "at_risk", "steady": "active"}
    assert not list(tmp_path.glob("*.duckdb"))  # nothing written next to the data
    cohorts = json.loads(runner.invoke(app, ["lifecycle", "cohorts", "--data", str(orders),
                                             "--json"]).stdout)["cohorts"]  # fmt: skip
    first = [r for r in cohorts if r["dimension"] == "acquisition_month" and r["period"] == 0]
    assert sum(r["customers"] for r in first) == 3  # every customer in its cohort's month 0
    moved = runner.invoke(app, ["lifecycle", "transitions", "--data", str(orders), "--json"])
    assert moved.exit_code == 0, moved.stdout
    flows = json.loads(moved.stdout)["transitions"]
    assert sum(r["customers"] for r in flows) == 3 and not list(tmp_path.glob("*.duckdb"))
    missing = runner.invoke(app, ["lifecycle", "health", "--data", str(tmp_path / "no.csv")])
    assert missing.exit_code == 2 and "not found" in missing.stdout + missing.stderr
    rng = np.random.default_rng(0)
    surveys = pd.DataFrame(
        {
            "customer_id": rng.choice(["steady", "erratic", "once"], 60),
            "response_ts": pd.Timestamp("2024-03-01")
            + pd.to_timedelta(rng.integers(0, 90, 60), "D"),
            "nps": rng.integers(0, 11, 60).astype(float),
            "channel": rng.choice(["email", "app"], 60),
        }
    )
    ingest(buyers, "surveys", surveys, source_name="test:surveys")
    folder = str(buyers.root)
    buyers.close()
    out = runner.invoke(app, ["nps", "-w", folder, "--json"])
    assert out.exit_code == 0, out.stdout
    data = json.loads(out.stdout)
    overall = next(r for r in data["nps"] if r["dimension"] == "all")
    nps = surveys["nps"]
    assert overall["nps"] == pytest.approx(100 * ((nps >= 9).mean() - (nps <= 6).mean()))
    assert {r["group"] for r in data["nps"] if r["dimension"] == "channel"} == {"email", "app"}
    out = runner.invoke(app, ["loyalty", "-w", folder, "--json"])
    assert out.exit_code == 0, out.stdout
    assert json.loads(out.stdout)["customers"] == 3


def test_report_section_shows_stages_over_time_loyalty_and_nps(demo_run):
    from crmine.report.sections.lifecycle import lifecycle

    ws, _ = demo_run
    section = lifecycle(ws)
    assert section is not None
    for title in (
        "Customers per stage over time",
        "Loyalty index by lifecycle stage",
        "NPS by quarter",
        "NPS by survey channel",
        "What goes with the NPS answer",
        "Ticket CSAT by category and channel",
    ):
        assert title in section.html, title
