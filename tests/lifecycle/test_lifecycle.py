"""Stages, transitions, cohorts and the health verdict on small generated data and the demo."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crmine.contract import check_marts, verdict_of
from crmine.lifecycle import (
    ANALYSIS,
    StageRules,
    cohort_matrix,
    customer_stages,
    run_lifecycle,
    stage_transitions,
)
from crmine.warehouse import ingest

AS_OF = pd.Timestamp("2024-07-01")


def _every(cid: str, start: str, end: str, days: int = 10, amount: float = 100.0) -> list[dict]:
    dates = pd.date_range(start, end, freq=f"{days}D")
    return [
        {
            "order_id": f"{cid}-{d:%Y%m%d}",
            "customer_id": cid,
            "order_ts": d + pd.Timedelta(hours=12),
            "amount": amount,
        }
        for d in dates
    ]


def _staged_orders() -> pd.DataFrame:
    last = AS_OF - pd.Timedelta(days=5)
    rows = (
        _every("active", "2024-01-06", f"{last:%Y-%m-%d}")
        + _every("growing", "2024-01-06", "2024-05-27")
        + _every("growing", "2024-06-06", f"{last:%Y-%m-%d}", amount=300.0)
        + _every("overdue", "2024-01-01", "2024-06-11")  # last purchase 22 days before
        + _every("lapsed", "2024-01-01", "2024-05-02")  # 60 days before
        + _every("back", "2024-01-01", "2024-03-01")  # then 100+ days away
        + _every("back", f"{last:%Y-%m-%d}", f"{last:%Y-%m-%d}")
        + _every("newbie", "2024-06-28", "2024-06-28")
        + _every("fading", "2024-01-06", "2024-05-27")
        + _every("fading", "2024-06-06", f"{last:%Y-%m-%d}", amount=20.0)
    )
    return pd.DataFrame(rows)


@pytest.fixture
def staged(workspace):
    ingest(workspace, "orders", _staged_orders(), source_name="test:orders")
    customers = pd.DataFrame(
        {
            "customer_id": [
                "active",
                "growing",
                "overdue",
                "lapsed",
                "back",
                "newbie",
                "fading",
                "someone",
            ],
            "signup_date": ["2023-12-01"] * 8,
        }
    )
    ingest(workspace, "customers", customers, source_name="test:customers")
    return workspace


def test_stage_rules_against_each_customers_own_cycle(staged):
    stages = customer_stages(staged, AS_OF).set_index("customer_id")
    assert stages["stage"].to_dict() == {
        "active": "active",
        "growing": "growing",
        "overdue": "at_risk",
        "lapsed": "lapsed",
        "back": "reactivated",
        "newbie": "new",
        "fading": "at_risk",
        "someone": "prospect",
    }
    assert stages.loc["active", "cycle_days"] == 10.0
    assert stages.loc["newbie", "cycle_days"] == 10.0  # one purchase: everyone's median cycle
    assert stages.loc["overdue", "recency_days"] == 22.0  # last on 2024-06-09
    assert stages.loc["overdue", "recency_ratio"] == 2.2
    assert stages.loc["back", "n_purchases"] == 8
    assert stages.loc["someone", "n_purchases"] == 0
    assert stages["action"].str.len().min() > 30
    # thresholds are settings: at risk after 2.5 cycles and a spend fall to 20%: active
    loose = customer_stages(staged, AS_OF, StageRules(at_risk_ratio=2.5, decline_ratio=0.2))
    assert loose.set_index("customer_id").loc["overdue", "stage"] == "active"


def test_transition_matrix_between_two_dates(staged):
    t = stage_transitions(staged, "2024-06-01", AS_OF)
    pairs = {(r.from_stage, r.to_stage): r.customers for r in t.itertuples()}
    assert pairs[("prospect", "new")] == 1  # newbie bought for the first time
    assert pairs[("lapsed", "reactivated")] == 1  # back came back
    assert pairs[("active", "at_risk")] == 2  # overdue, and fading whose spend fell
    assert pairs[("active", "growing")] == 1
    assert pairs[("lapsed", "lapsed")] == 1 and pairs[("prospect", "prospect")] == 1
    assert sum(pairs.values()) == 8
    assert t.groupby("from_stage")["share_of_from"].sum().round(9).eq(1).all()
    back = t[(t.from_stage == "lapsed") & (t.to_stage == "reactivated")]
    assert back["revenue"].iloc[0] == 100.0
    grew = t[(t.from_stage == "active") & (t.to_stage == "growing")]
    assert grew["revenue"].iloc[0] == 900.0  # the value that moved: 3 purchases of 300


def test_cohort_retention_counts_only_customers_observable_that_long(workspace):
    orders = pd.DataFrame(
        {
            "order_id": ["1", "2", "3", "4", "5"],
            "customer_id": ["C1", "C1", "C2", "C2", "C3"],
            "order_ts": pd.to_datetime(
                ["2024-01-05", "2024-03-10", "2024-01-20", "2024-02-02", "2024-02-14"]
            ),
            "amount": [10.0, 30.0, 20.0, 5.0, 40.0],
        }
    )
    ingest(workspace, "orders", orders, source_name="test:orders")
    ingest(
        workspace,
        "customers",
        pd.DataFrame(
            {"customer_id": ["C1", "C2", "C3"], "acquisition_channel": ["web", "store", "web"]}
        ),
        source_name="test:customers",
    )
    c = cohort_matrix(workspace).set_index(["dimension", "cohort", "period"])
    jan = c.loc[("acquisition_month", "2024-01")]
    assert jan["customers"].tolist() == [2, 1, 1]
    assert jan["retention"].tolist() == [1.0, 0.5, 0.5]
    assert jan["revenue"].tolist() == [30.0, 5.0, 30.0]
    assert jan["cumulative_revenue_per_customer"].tolist() == [15.0, 17.5, 32.5]
    assert c.loc[("acquisition_month", "2024-02", 0), "cohort_size"] == 1
    web = c.loc[("acquisition_channel", "web")]
    # C3 (web, February) cannot be seen two months on: the month-2 share is of C1 alone
    assert web.loc[2, "eligible"] == 1 and web.loc[2, "retention"] == 1.0
    assert web.loc[0, "eligible"] == 2


def _no_signal_orders(n: int = 1200, seed: int = 4) -> pd.DataFrame:
    """Every customer buys as a Poisson process of one common rate, from one common start:
    whether one buys in any future window is independent of its past."""
    rng = np.random.default_rng(seed)
    rows = []
    start, days = pd.Timestamp("2022-07-01"), 730
    for i in range(n):
        k = rng.poisson(days / 40)
        for j, t in enumerate(np.sort(rng.uniform(0, days, k))):
            rows.append(
                {
                    "order_id": f"O{i}-{j}",
                    "customer_id": f"C{i:05d}",
                    "order_ts": start + pd.Timedelta(days=float(t)),
                    "amount": float(rng.gamma(2.0, 25.0)),
                }
            )
    return pd.DataFrame(rows)


def test_no_signal_gives_not_informative_and_withholds_the_at_risk_list(workspace):
    ingest(workspace, "orders", _no_signal_orders(), source_name="test:orders")
    run = run_lifecycle(workspace)
    assert run.verdict.status == "not_informative", run.verdict.why
    assert 0.42 < run.verdict.value < 0.58
    for mart in ("lifecycle_health", "lifecycle_at_risk"):
        table = workspace.read(f"marts.{mart}")
        assert table.empty
        declared = next(m for m in ANALYSIS.marts if m.name == mart)
        assert set(declared.columns) <= set(table.columns)
        assert declared.actionable
    scores = workspace.read("marts.customer_scores")
    assert scores["health_score"].isna().all() and scores["lifecycle_stage"].notna().all()
    assert "withheld" in run.summary()
    assert verdict_of(workspace, "lifecycle").status == "not_informative"
    # stages and cohorts do not depend on the health verdict
    assert len(workspace.read("marts.lifecycle_stages")) == 1200


@pytest.fixture(scope="module")
def demo_run(demo_workspace):
    return demo_workspace, run_lifecycle(demo_workspace)


def test_demo_health_score_predicts_later_churn(demo_run):
    ws, run = demo_run
    v = run.verdict
    assert v.status == "informative", v.why
    assert v.value > 0.7 and v.interval[0] > 0.65
    assert run.evaluation.cutoff < run.as_of
    # the least healthy decile at the cut-off churned far more than the healthiest
    d = run.evaluation.deciles.set_index("decile")["churn_rate"]
    assert d.loc[1] > d.loc[10] + 0.2
    assert len(run.at_risk) > 0
    assert (run.at_risk["health_score"] < 40).all()
    assert set(run.at_risk["stage"]) <= {"new", "active", "growing", "reactivated", "at_risk"}
    assert verdict_of(ws, "lifecycle") == v


def test_demo_stages_cohorts_and_declared_marts(demo_run):
    ws, run = demo_run
    counts = run.stage_counts()
    assert sum(counts.values()) == 2000
    assert counts["reactivated"] > 0 and counts["at_risk"] > 0 and counts["lapsed"] > 0
    t = run.transitions
    assert t.loc[t.to_stage == "reactivated", "customers"].sum() > 0
    assert set(run.cohorts["dimension"]) == {
        "acquisition_month",
        "acquisition_channel",
        "first_category",
    }
    month0 = run.cohorts[(run.cohorts.dimension == "acquisition_month") & (run.cohorts.period == 0)]
    assert (month0["retention"] == 1.0).all()
    for mart in ANALYSIS.marts:
        assert ws.has_table(mart.table), mart.table
        assert set(mart.columns) <= set(ws.columns(mart.table)), mart.table
        assert mart.table in run.marts
    failures = [
        (c.table, c.check)
        for c in check_marts(ws)
        if c.table.startswith("marts.lifecycle") and not c.passed
    ]
    assert failures == []
    json.dumps(run.summary())
    frame = run.to_frame()
    assert len(frame) == 2000 and frame["health_score"].notna().sum() > 1000


def test_cli_sbg_and_stages_json(staged):
    from crmine.cli import app

    runner = CliRunner()
    out = runner.invoke(
        app, ["lifecycle", "sbg", "--counts", "1000,631,468,382,326,289,262,241", "--json"]
    )
    assert out.exit_code == 0, out.stdout
    data = json.loads(out.stdout)
    assert round(data["alpha"], 3) == 0.704 and round(data["log_likelihood"], 2) == -1680.27
    bad = runner.invoke(app, ["lifecycle", "sbg", "--counts", "1000,1200", "--json"])
    assert bad.exit_code == 2 and "must not rise" in bad.stdout
    folder = str(staged.root)
    staged.close()
    out = runner.invoke(app, ["lifecycle", "stages", "-w", folder, "--json"])
    assert out.exit_code == 0, out.stdout
    data = json.loads(out.stdout)
    assert data["stages"]["prospect"] == 1 and data["verdict"]["status"] == "not_informative"
    out = runner.invoke(
        app, ["lifecycle", "transitions", "-w", folder, "--since", "2024-06-01", "--json"]
    )
    assert out.exit_code == 0, out.stdout
    rows = json.loads(out.stdout)["transitions"]
    assert {(r["from_stage"], r["to_stage"]) for r in rows} >= {("lapsed", "reactivated")}
    bad = runner.invoke(app, ["lifecycle", "transitions", "-w", folder, "--since", "soon"])
    assert bad.exit_code == 2 and "'soon' is not a date" in bad.stderr + bad.stdout
    out = runner.invoke(app, ["lifecycle", "cohorts", "-w", folder])
    assert out.exit_code == 0 and "acquisition month" in out.stdout


@pytest.mark.slow
def test_online_retail_cohorts_match_the_published_table(tmp_path):
    """The Online Retail cohort table as the usual tutorials publish it (first purchase month
    cohorts, share buying again n months later): 2010-12 36.6%, 32.3%, 38.4%, 36.3%, 39.8%;
    2011-01 22.1%, 26.6%, 23.0%, 32.1%, 28.8%; and every customer gets a stage."""
    from crmine.warehouse import Workspace
    from tests.conftest import shared_file

    path = shared_file("online_retail/online_retail.csv.gz")
    ws = Workspace.init(tmp_path / "retail")
    try:
        ingest(ws, "orders", path)
        run = run_lifecycle(ws)
        c = run.cohorts[run.cohorts["dimension"] == "acquisition_month"]
        grid = c.pivot(index="cohort", columns="period", values="retention")
        assert grid.loc["2010-12", 1:5].round(3).tolist() == [0.366, 0.323, 0.384, 0.363, 0.398]
        assert grid.loc["2011-01", 1:5].round(3).tolist() == [0.221, 0.266, 0.230, 0.321, 0.288]
        assert len(grid) == 13
        n_customers = ws.duck.execute(
            "SELECT count(DISTINCT customer_id) FROM core.fct_order_lines"
        ).fetchone()[0]
        assert len(run.stages) == n_customers and run.stages["stage"].notna().all()
        assert run.verdict.status in ("informative", "weak", "not_informative")
        assert run.verdict.value is not None and 0.55 < run.verdict.value < 0.75
    finally:
        ws.close()


def test_demo_subscriptions_get_an_sbg_per_plan(demo_run):
    ws, run = demo_run
    plans = run.sbg_plans.set_index("plan")
    assert {"(all)", "basic", "standard", "premium"} <= set(plans.index)
    subs = ws.read("core.fct_subscriptions")
    assert plans.loc["(all)", "contracts"] == len(subs)
    # premium contracts are cancelled most often in the demo, so their sBG churns most
    share = subs.groupby("plan")["churned"].mean()
    assert share.idxmax() == plans.drop("(all)")["mean_churn_probability"].idxmax()
    contracts = ws.read("marts.lifecycle_sbg_contracts")
    assert len(contracts) == int((~subs["churned"].astype(bool)).sum())
    assert (contracts["discounted_residual_lifetime"] > 1).all()
