"""``run_service`` on the demo: contact marts, topics, routing and the planted churn link."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crmine.contract import check_marts, verdict_of
from crmine.service import (
    ANALYSIS,
    contact_groups,
    contact_periods,
    prepare_tickets,
    run_service,
)

END = pd.Timestamp("2024-02-01")


def _tickets() -> pd.DataFrame:
    ts = pd.Timestamp
    return pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3", "t4"],
        "customer_id": ["a", "a", "b", "c"],
        "opened_ts": [ts("2024-01-01 10:00"), ts("2024-01-03 10:00"), ts("2024-01-10"),
                      ts("2024-01-30")],
        "closed_ts": [ts("2024-01-01 20:00"), ts("2024-01-06 10:00"), ts("2024-01-10 02:00"),
                      pd.NaT],
        "category": ["billing", "billing", "delivery", "delivery"],
        "channel": ["phone", "chat", "chat", "app"],
        "priority": ["high", "low", "low", "low"],
        "is_complaint": [True, True, False, True],
        "csat": [2.0, np.nan, 5.0, np.nan],
        "text": ["x"] * 4,
    })  # fmt: skip


def test_contact_figures_by_hand() -> None:
    t = prepare_tickets(_tickets(), END, repeat_days=7, sla_hours=48)
    g = contact_groups(t).set_index(["dimension", "value"])
    overall = g.loc[("all", "all")]
    assert overall["tickets"] == 4 and overall["still_open"] == 1
    # closed in 10 h, 72 h and 2 h; the open ticket has been open 48 h at the end
    assert overall["median_hours"] == pytest.approx(10.0)
    assert overall["sla_breach_rate"] == pytest.approx(1 / 4)  # 72 h > 48 (48 h is not)
    # t1 is followed by t2 within 7 days; t4 is too recent to know
    assert overall["repeat_rate"] == pytest.approx(1 / 3)
    assert g.loc[("category", "billing"), "csat_mean"] == 2.0
    orders = pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["a", "d"],
                           "order_ts": [pd.Timestamp("2024-01-05")] * 2})
    p = contact_periods(t, orders, END).set_index("period").loc["2024-01"]
    assert p["complaints"] == 3 and p["orders"] == 2 and p["active_customers"] == 4
    assert p["complaints_per_1000_orders"] == pytest.approx(1500.0)
    assert p["backlog_at_end"] == 1


@pytest.fixture(scope="module")
def service_run(demo_workspace):
    return run_service(demo_workspace)


def test_demo_run_recovers_the_planted_complaint_effect(demo_workspace, service_run) -> None:
    run = service_run
    truth = demo_workspace.read("truth.churn_drivers").set_index("feature")
    planted = float(truth.loc["n_complaints", "effect"])
    effects = run.link.effects.set_index("covariate")
    lo, hi = effects.loc["complaints", ["ci_low", "ci_high"]]
    assert lo > 0 and lo <= planted <= hi
    # slow resolution is not planted: its interval covers no effect
    lo_s, hi_s = effects.loc["slow_resolutions", ["ci_low", "ci_high"]]
    assert lo_s < 0 < hi_s
    assert run.verdict.status == "informative"
    assert verdict_of(demo_workspace, "service").status == "informative"
    statuses = {c.metric: c.status for c in run.verdict.checks}
    assert statuses["held-out adjusted Rand index (topic vs recorded reason)"] == "informative"
    assert run.topic_evaluation.ari >= 0.8
    assert run.reason_classifier is not None and run.reason_classifier.accuracy > 0.9


def test_demo_run_recovers_the_planted_cost_of_complaints_in_spend(demo_workspace,
                                                                   service_run) -> None:
    truth = demo_workspace.read("truth.service_spend").set_index("feature")["effect"]
    assert truth["complaints"] < 0  # planted: complaints lower the next months' spend
    spend = service_run.spend
    assert spend is not None and spend.customers > 500
    effects = spend.effects.set_index("covariate")
    lo, hi = effects.loc["complaints", ["ci_low", "ci_high"]]
    assert lo <= truth["complaints"] <= hi and hi < 0
    for other in ("repeat_contacts", "slow_resolutions"):  # not planted
        lo_o, hi_o = effects.loc[other, ["ci_low", "ci_high"]]
        assert lo_o < 0 < hi_o, other
    statuses = {c.metric: c.status for c in service_run.verdict.checks}
    assert statuses["log spend ratio per complaint in the window"] == "informative"
    mart = demo_workspace.read("marts.service_spend_link").set_index("covariate")
    assert mart.loc["complaints", "spend_ratio"] == pytest.approx(
        np.exp(effects.loc["complaints", "log_spend_ratio"]))


def test_demo_run_finds_the_planted_slow_agent_group(demo_workspace, service_run) -> None:
    truth = demo_workspace.read("truth.service_agent_groups").set_index("agent_group")
    slow = truth.index[truth["planted_poor"]].item()
    agents = service_run.agents
    assert agents is not None
    groups = agents.groups.set_index("agent_group")
    lo, hi = groups.loc[slow, ["hours_ratio_ci_low", "hours_ratio_ci_high"]]
    assert lo <= truth.loc[slow, "hours_ratio"] <= hi
    assert groups["csat_mean"].idxmin() == slow and groups["hours_ratio"].idxmax() == slow
    d = agents.differences
    with_slow = d[(d["group_a"] == slow) | (d["group_b"] == slow)]
    assert with_slow["significant"].all() and len(with_slow) == 2 * (len(groups) - 1)
    others = d[(d["metric"] == "csat") & (d["group_a"] != slow) & (d["group_b"] != slow)]
    assert not others["significant"].any()  # equal teams are not told apart
    assert (d["p_holm"] >= d["p_value"]).all()
    assert agents.verdict.status == "informative"
    contacts = demo_workspace.read("marts.service_contacts")
    assert set(contacts.loc[contacts["dimension"] == "agent_group", "value"]) == set(truth.index)


def test_demo_marts_declared_and_checked(demo_workspace, service_run) -> None:
    declared = {m.name for m in ANALYSIS.marts}
    assert {m.removeprefix("marts.") for m in service_run.marts} == declared
    for mart in ANALYSIS.marts:
        frame = demo_workspace.read(f"marts.{mart.name}")
        assert set(mart.columns) <= set(frame.columns) | {"model_version", "scored_at"}
    failed = [r for r in check_marts(demo_workspace)
              if not r.passed and r.table.startswith("marts.service_")]
    assert failed == []
    topics = demo_workspace.read("marts.service_topics")
    assert topics["size"].sum() == len(demo_workspace.read("marts.service_ticket_topics"))
    # cancellation topics are where churners are: their churn rate is the highest
    top = topics.sort_values("churn_rate", ascending=False).iloc[0]
    assert "cancel" in top["terms"] or "取消" in top["terms"]
    examples = " ".join(demo_workspace.read("marts.service_topic_examples")["text"])
    assert "@" not in examples
    from crmine.report.sections.service import service

    html = service(demo_workspace).html
    assert "Tickets per week: no significant yearly season" in html  # none planted
    assert "Outsourced" in html and "Spend in a month per service event" in html


def test_measured_complaint_effect_sets_the_health_service_component(demo_workspace,
                                                                     service_run) -> None:
    """An informative service run: a complaint costs the health score's service component
    its hazard ratio - 1 (planted e^1.5 = 4.48), and the held-out AUC is no worse than
    with the documented cost of 1."""
    from crmine.lifecycle._health import DOCUMENTED_COSTS, ServiceCost, evaluate_health
    from crmine.lifecycle._health import service_cost as health_service_cost
    from crmine.lifecycle._workspace import data_end

    cost = health_service_cost(demo_workspace)
    assert cost.source == "measured" and "marts.service_churn_link" in cost.detail
    effects = service_run.link.effects.set_index("covariate")
    assert cost.costs["complaints"] == pytest.approx(effects.loc["complaints", "hazard_ratio"]
                                                     - 1)
    truth = float(demo_workspace.read("truth.churn_drivers").set_index("feature")
                  .loc["n_complaints", "effect"])
    assert 0.5 * np.expm1(truth) < cost.costs["complaints"] < 2 * np.expm1(truth)
    assert cost.costs["slow_resolutions"] == 0.0  # not planted: its interval covers 1
    end = data_end(demo_workspace)
    measured = evaluate_health(demo_workspace, end, service=cost)
    documented = evaluate_health(demo_workspace, end, service=ServiceCost(
        "documented", dict(DOCUMENTED_COSTS), 7, 48, "documented"))
    assert "Service component: measured" in measured.verdict.why
    assert measured.auc >= documented.auc - 0.002  # measured 0.7727 against 0.7717
    complained = measured.scores["service"] < documented.scores["service"]
    assert complained.any()  # complainers are less healthy than the documented cost says


@pytest.mark.slow
def test_no_signal_company_is_not_informative(tmp_path) -> None:
    from crmine.demo._workspace import build_demo_workspace

    ws, _ = build_demo_workspace(tmp_path / "flat", n_customers=2_000, seed=0, signal=False)
    try:
        run = run_service(ws)
        assert run.verdict.status == "not_informative"
        assert all(c.status == "not_informative" for c in run.verdict.checks)
        from crmine.lifecycle._health import service_cost as health_service_cost

        # nothing measured: the health score keeps the documented service cost
        cost = health_service_cost(ws)
        assert cost.source == "documented" and "not informative" in cost.detail
        assert ws.read("marts.service_ticket_routing").empty
        assert run.link is not None
        lo, hi = run.link.effects.set_index("covariate").loc["complaints",
                                                             ["ci_low", "ci_high"]]
        assert lo < 0 < hi
        assert run.agents is not None and not run.agents.differences["significant"].any()
        assert run.spend is not None
        lo, hi = run.spend.effects.set_index("covariate").loc["complaints",
                                                              ["ci_low", "ci_high"]]
        assert lo < 0 < hi
    finally:
        ws.close()


def test_cli(demo_workspace, service_run, workspace) -> None:
    from crmine.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["service", "link-to-churn", "-w", str(demo_workspace.root),
                              "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["verdict"]["status"] == "informative"
    assert {e["covariate"] for e in data["effects"]} >= {"complaints", "repeat_contacts"}
    spend = {e["covariate"]: e for e in data["spend_effects"]}
    assert spend["complaints"]["spend_ratio"] < 1 and data["spend_verdict"]["status"] == (
        "informative")
    res = runner.invoke(app, ["service", "classify", "-w", str(demo_workspace.root), "--json",
                              "--text", "订单的快递五天没到", "--text",
                              "charged twice, mail me at a.b@example.com"])
    assert res.exit_code == 0, res.output
    routed = json.loads(res.stdout)["routed"]
    assert [r["predicted_category"] for r in routed] == ["delivery", "billing"]
    assert "[email]" in routed[1]["text"]
    res = runner.invoke(app, ["service", "contacts", "-w", str(demo_workspace.root)])
    assert res.exit_code == 0, res.output
    assert "Outsourced" in res.output and "yearly season" in res.output
    res = runner.invoke(app, ["service", "contacts", "-w", str(workspace.root)])
    assert res.exit_code == 2 and "core.fct_tickets" in res.output
    assert "Traceback" not in res.output
