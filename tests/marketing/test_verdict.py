"""The marketing verdict: are any campaign or channel effects over control real?

Conversions independent of the treatment must come out not informative (and the budget
reallocation withheld); a planted effect must be found; a significant but tiny effect is weak.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crmine.contract import verdict_of
from crmine.marketing import ANALYSIS, campaign_effects, effects_verdict, run_marketing
from crmine.warehouse import Workspace, run_checks


def _company(tmp_path, *, effect: float, control_share: float = 0.3, seed: int = 0,
             name: str = "ws") -> Workspace:
    """12 campaigns over 3 channels, 500 customers each, conversion 6% (+``effect`` when
    contacted); costs vary so that response curves can be fitted."""
    rng = np.random.default_rng(seed)
    camps, rows = [], []
    channels = ["email", "sms", "display"]
    for c in range(12):
        cid = f"K{c:02d}"
        camps.append({"campaign_id": cid, "channel": channels[c % 3],
                      "cost": float(rng.uniform(200, 2000)),
                      "start_date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=30 * c)})
        treated = rng.random(500) >= control_share
        converted = rng.random(500) < 0.06 + effect * treated
        rows.append(pd.DataFrame({
            "campaign_id": cid, "customer_id": [f"C{c}-{i}" for i in range(500)],
            "group": np.where(treated, "treatment", "control"), "responded": converted,
            "revenue": np.where(converted, 50.0, 0.0)}))  # fmt: skip
    ws = Workspace.init(tmp_path / name)
    ws.write_table("core.dim_campaign", pd.DataFrame(camps))
    ws.write_table("core.campaign_assignments", pd.concat(rows, ignore_index=True))
    return ws


def test_no_effect_is_not_informative_and_withholds_the_budget_split(tmp_path):
    ws = _company(tmp_path, effect=0.0, seed=1)
    run = run_marketing(ws)
    v = run.verdict
    assert v.status == "not_informative"
    assert "None of 16 campaign and channel effects" in v.why  # 1 average + 12 + 3
    assert "more contacts per campaign" in v.what_to_try
    assert run.effects["significant"].sum() == 0
    assert ws.has_table("marts.budget_allocation")
    alloc = ws.read("marts.budget_allocation")
    assert alloc.empty and {"channel", "optimal_spend"} <= set(alloc.columns)
    assert run.budget is None and "no budget reallocation" in run.summary()["note"]
    assert verdict_of(ws, "marketing") == v
    json.dumps(run.summary())
    ws.close()


def test_planted_effect_is_informative_and_every_declared_mart_passes(tmp_path):
    ws = _company(tmp_path, effect=0.04, name="effect", seed=1)
    run = run_marketing(ws)
    v = run.verdict
    assert v.status == "informative", v.why
    assert 0.3 < v.interval[0] < 0.04 / 0.06 < v.interval[1]
    eff = run.to_frame().set_index(["level", "key"])
    avg = eff.loc[("all campaigns", "all")]
    assert avg["significant"] and avg["uplift_ci_low"] < 0.04 < avg["uplift_ci_high"]
    # a second-step p-value is never below the gate's
    second = eff.drop(index="all campaigns", level=0)
    assert (second["p_adjusted"].dropna() >= avg["p_adjusted"]).all()
    assert len(ws.read("marts.budget_allocation")) == 3
    declared = {m.table for m in ANALYSIS.marts}
    # no events: no funnel or attribution, everything else written and declared
    assert set(run.marts) <= declared
    assert set(run.marts) >= {"marts.campaign_effects", "marts.budget_allocation",
                              "marts.campaign_kpis", "marts.channel_effects"}
    for mart in ANALYSIS.marts:
        if ws.has_table(mart.table):
            assert set(mart.columns) <= set(ws.columns(mart.table)), mart.name
    failed = [r for r in run_checks(ws, [m.as_core_table() for m in ANALYSIS.marts])
              if not r.passed]
    assert not failed, failed
    ws.close()


def test_without_control_groups_nothing_can_be_judged(tmp_path):
    ws = _company(tmp_path, effect=0.04, control_share=0.0, name="nocontrol")
    run = run_marketing(ws)
    assert run.verdict.status == "not_informative" and run.verdict.value is None
    assert "control group" in run.verdict.what_to_try
    assert "only 0 of 12 campaigns" in run.verdict.what_to_try
    ws.close()


def test_a_significant_but_tiny_effect_is_weak():
    rng = np.random.default_rng(2)
    n = 400_000
    treated = rng.random(n) < 0.5
    contacts = pd.DataFrame({
        "campaign_id": "K1", "customer_id": np.arange(n).astype(str), "channel": "email",
        "group": np.where(treated, "treatment", "control"),
        "converted": (rng.random(n) < 0.40 + 0.012 * treated).astype(int),
        "cost": 0.0, "revenue": 0.0})  # fmt: skip
    fam = campaign_effects(contacts)
    assert fam["significant"].all()  # 1.2 points on 400,000 customers is no accident
    v = effects_verdict(fam, contacts)
    assert v.status == "weak" and v.value == pytest.approx(0.03, abs=0.01)
    assert "None raises conversion by 10%" in v.why


def test_demo_marketing_is_informative(demo_workspace):
    run = run_marketing(demo_workspace)
    assert run.verdict.status == "informative", run.verdict.why
    truth = demo_workspace.read("truth.uplift")
    planted = (truth["true_ate"] * truth["n_treatment"]).sum() / truth["n_treatment"].sum()
    avg = run.effects.set_index("level").loc["all campaigns"]
    assert avg["uplift_ci_low"] < planted < avg["uplift_ci_high"]
    assert len(demo_workspace.read("marts.budget_allocation")) == 5


def test_a_significantly_harmful_campaign_effect_releases_no_budget(tmp_path):
    # Contacts halve conversion (6% -> 3%): significant and far beyond 10% of the control
    # rate, but a reallocation would buy fewer conversions with more spend.
    ws = _company(tmp_path, effect=-0.03, name="harm", seed=1)
    run = run_marketing(ws)
    v = run.verdict
    assert v.status == "not_informative", v.why
    avg = run.effects.set_index("level").loc["all campaigns"]
    assert avg["significant"] and avg["uplift_ci_high"] < 0
    assert v.value is not None and v.value < -0.3 and v.interval[1] < 0
    assert "every one LOWERS conversion" in v.why and "no budget is reallocated" in v.why
    assert v.what_to_try.startswith("stop or rework the campaigns' average")
    assert ws.read("marts.budget_allocation").empty
    assert run.budget is None and "lowers conversion" in run.summary()["note"]
    ws.close()


def test_a_harmful_campaign_beside_a_helpful_one_is_named_but_the_helpful_one_leads():
    rng = np.random.default_rng(5)
    parts = []
    for cid, effect in (("K1", 0.05), ("K2", -0.05)):
        n = 20_000
        treated = rng.random(n) < 0.5
        parts.append(pd.DataFrame({
            "campaign_id": cid, "customer_id": [f"{cid}-{i}" for i in range(n)],
            "channel": "email" if cid == "K1" else "sms",
            "group": np.where(treated, "treatment", "control"),
            "converted": (rng.random(n) < 0.10 + effect * treated).astype(int),
            "cost": 0.0, "revenue": 0.0}))  # fmt: skip
    contacts = pd.concat(parts, ignore_index=True)
    fam = campaign_effects(contacts).set_index(["level", "key"])
    # the average of +5 and -5 points is no effect: the gate closes, nothing second-step
    assert not fam.loc[("all campaigns", "all"), "significant"]
    assert effects_verdict(fam.reset_index(), contacts).status == "not_informative"
    # tested without the gate (Bonferroni), the helpful campaign leads, the harmful is named
    fam = fam.drop(index="all campaigns", level=0).reset_index()
    fam["p_adjusted"] = (fam["p_value"] * len(fam)).clip(upper=1.0)
    fam["significant"] = fam["p_adjusted"] < 0.05
    assert fam["significant"].all()
    v = effects_verdict(fam, contacts)
    assert v.status == "informative", v.why
    assert v.value == pytest.approx(0.5, abs=0.15)  # +5 points on 10%
    assert "the surest increase, campaign K1" in v.why
    assert "significantly lower conversion: campaign K2, channel sms" in v.why


def test_budget_marts_of_an_earlier_run_do_not_survive_a_run_without_a_plan(tmp_path):
    ws = _company(tmp_path, effect=0.04, name="stale", seed=1)
    first = run_marketing(ws)
    assert len(ws.read("marts.budget_allocation")) == 3
    assert len(ws.read("marts.response_curves")) > 0
    camps = ws.read("core.dim_campaign").assign(cost=0.0)  # no costs now: no plan
    ws.write_table("core.dim_campaign", camps)
    second = run_marketing(ws)
    assert first.verdict.status == second.verdict.status == "informative"
    assert {"marts.budget_allocation", "marts.response_curves"} <= set(second.marts)
    for mart in ("budget_allocation", "response_curves"):
        table = ws.read(f"marts.{mart}")
        assert table.empty, mart
        declared = next(m for m in ANALYSIS.marts if m.name == mart)
        assert set(declared.columns) <= set(table.columns), mart
    failed = [r for r in run_checks(ws, [m.as_core_table() for m in ANALYSIS.marts])
              if not r.passed]
    assert not failed, failed
    ws.close()


def test_funnel_and_attribution_of_an_earlier_run_do_not_survive_a_run_without_events(tmp_path):
    ws = _company(tmp_path, effect=0.04, name="no-events", seed=2)
    for mart, row in (("funnel", {"group": "all", "stage": "visit", "step": 1.0}),
                      ("funnel_leaks", {"group": "all", "stage": "buy"}),
                      ("attribution", {"model": "last_touch", "channel": "sms", "share": 1.0})):
        ws.write_mart(mart, pd.DataFrame([row]), model_version="stale")
    run = run_marketing(ws)
    for mart in ("funnel", "funnel_leaks", "attribution"):
        table = ws.read(f"marts.{mart}")
        assert table.empty, mart
        declared = next(m for m in ANALYSIS.marts if m.name == mart)
        assert set(declared.columns) <= set(table.columns), mart
        assert f"marts.{mart}" in run.marts
    from crmine.report import all_sections

    section = next(s for s in all_sections() if s.key == "marketing").fn(ws)
    assert section is not None and "funnel leaks" not in section.summary
    ws.close()
