"""Aggregated spend: an ad-platform export loads with its column names recognised and every
row accounted for; cost per result by any dimension equals an independent computation, with
intervals that widen where results are few; differences are Holm-corrected."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

from crmine.cli import app
from crmine.marketing import (
    cheapest_groups,
    spend_kpis_of,
    spend_performance,
    summarise_spend,
    wilson_interval,
)
from crmine.marketing._effects import adjust_pvalues
from crmine.warehouse import ingest

# Columns as Facebook Ads Manager / Kaggle's KAG_conversion_data name them.
EXPORT = """\
Day,Platform,Campaign name,Ad Set Name,Age,Gender,interest,Amount spent (USD),Impressions,\
Link clicks,Total_Conversion,Approved_Conversion,Purchase value
2024-01-01,facebook,c1,as1,25-34,F,10,100.0,20000,400,24,10,960
2024-01-01,facebook,c1,as1,25-34,M,10,100.0,20000,300,12,5,480
2024-01-02,facebook,c1,as1,25-34,F,,50.0,9000,200,10,4,400
2024-01-01,google,c2,,35-44,F,16,300.0,30000,900,30,12,1500
2024-01-01,google,c2,,35-44,F,16,300.0,30000,900,30,12,1500
2024-01-02,google,c2,x,35-44,F,16,-3,1200,30,3,2,80
2024-01-03,google,c2,x,35-44,M,16,120.0,15000,300,2400,900,1000
"""


@pytest.fixture
def loaded(workspace, tmp_path):
    path = tmp_path / "ads.csv"
    path.write_text(EXPORT, encoding="utf-8")
    report = ingest(workspace, "marketing_spend", path)
    return workspace, report, path


def test_export_columns_are_recognised_and_rows_accounted_for(loaded):
    ws, report, path = loaded
    assert (report.rows_read, report.rows_staged, report.rows_quarantined) == (7, 5, 2)
    reasons = dict(ws.duck.execute("SELECT reason, count(*) FROM quarantine.rejects "
                                   "GROUP BY 1").fetchall())
    assert reasons == {"duplicate key": 1, "negative value": 1}
    core = ws.read("core.fct_marketing_spend")
    assert set(core["channel"]) == {"facebook", "google"}
    assert (core["ad"] == "(all)").all()  # the export has no ad column: one level
    assert set(core["ad_set"]) == {"as1", "(none)", "x"}  # blank ad set kept, not dropped
    assert core["interest"].isna().sum() == 0 and "(none)" in set(core["interest"])
    assert core["spend"].sum() == pytest.approx(670.0)
    assert core["approved_conversions"].sum() == pytest.approx(931)
    fixed = path.with_name("ads-corrected.csv")  # a re-export replaces rows, never doubles
    fixed.write_text(EXPORT.replace("100.0,20000,400", "110.0,20000,400"), encoding="utf-8")
    again = ingest(ws, "marketing_spend", fixed)
    core = ws.read("core.fct_marketing_spend")
    assert again.rows_staged == 5 and len(core) == 5
    assert core["spend"].sum() == pytest.approx(680.0)


def test_cost_per_result_equals_an_independent_computation(loaded):
    ws, *_ = loaded
    core = ws.read("core.fct_marketing_spend")
    perf = spend_kpis_of(ws, ["campaign", "gender"]).set_index(["campaign", "gender"])
    g = core.groupby(["campaign", "gender"])[["spend", "conversions", "clicks",
                                                "impressions", "revenue"]].sum()
    assert perf["cpa"].to_numpy() == pytest.approx((g["spend"] / g["conversions"]).to_numpy())
    assert perf["cpc"].to_numpy() == pytest.approx((g["spend"] / g["clicks"]).to_numpy())
    assert perf["cpm"].to_numpy() == pytest.approx(
        (1000 * g["spend"] / g["impressions"]).to_numpy())
    assert perf["roas"].to_numpy() == pytest.approx((g["revenue"] / g["spend"]).to_numpy())
    lo, hi = proportion_confint(g["clicks"], g["impressions"], method="wilson")
    assert perf["ctr_ci_low"].to_numpy() == pytest.approx(lo.to_numpy())
    assert perf["ctr_ci_high"].to_numpy() == pytest.approx(hi.to_numpy())
    # CPA interval: spend over the exact Poisson interval of the conversions.
    row = perf.loc[("c1", "F")]
    k = 34
    assert row["cpa_ci_low"] == pytest.approx(150 / stats.chi2.ppf(0.975, 2 * k + 2) * 2)
    assert row["cpa_ci_high"] == pytest.approx(150 / stats.chi2.ppf(0.025, 2 * k) * 2)


def test_intervals_widen_where_results_are_few():
    rows = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"] * 2), "campaign": ["few", "many"],
                         "spend": [150.0, 15000.0], "impressions": [1e4, 1e6],
                         "clicks": [300.0, 30000.0], "conversions": [24.0, 2400.0],
                         "approved_conversions": [10.0, 1000.0], "revenue": [900.0, 90000.0]})
    perf = spend_performance(summarise_spend(rows, ["campaign"]), ["campaign"]).set_index(
        "campaign")
    width = (perf["cpa_ci_high"] - perf["cpa_ci_low"]) / perf["cpa"]
    assert perf.loc["few", "cpa"] == perf.loc["many", "cpa"] == pytest.approx(6.25)
    assert width["few"] > 5 * width["many"]  # 24 conversions: 6.25 is far from exact
    assert perf.loc["few", "cpa_ci_low"] < 4.5 and perf.loc["few", "cpa_ci_high"] > 9
    lo, _hi = wilson_interval(np.array([24]), np.array([300]))
    assert perf.loc["few", "conversion_rate_ci_low"] == pytest.approx(lo[0])


def test_group_differences_are_holm_corrected():
    rng = np.random.default_rng(3)
    spend = np.full(6, 1000.0)
    conv = rng.poisson([100, 100, 100, 100, 100, 160]).astype(float)
    rows = pd.DataFrame({"date": pd.Timestamp("2024-01-01"), "age": list("abcdef"),
                         "spend": spend, "impressions": 1e5, "clicks": 2000.0,
                         "conversions": conv, "approved_conversions": conv / 2,
                         "revenue": conv * 50})
    perf = spend_performance(summarise_spend(rows, ["age"]), ["age"])
    assert perf["p_adjusted"].to_numpy() == pytest.approx(
        adjust_pvalues(perf["p_value"].to_numpy(), "holm"))
    assert perf.set_index("age")["significant"].to_dict() == {
        "a": False, "b": False, "c": False, "d": False, "e": False, "f": True}
    top = cheapest_groups(perf, ["age"])
    assert top.iloc[0]["age"] == "f" and bool(top.iloc[0]["cheaper_than_rest"])


def test_kpis_cli_reads_spend_by_audience(loaded):
    ws, *_ = loaded
    runner = CliRunner()
    res = runner.invoke(app, ["campaigns", "kpis", "--by", "age,gender", "-w", str(ws.root),
                              "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert {(r["age"], r["gender"]) for r in rows} == {("25-34", "F"), ("25-34", "M"),
                                                       ("35-44", "F"), ("35-44", "M")}
    bad = runner.invoke(app, ["campaigns", "spend", "--by", "planet", "-w", str(ws.root)])
    assert bad.exit_code == 2 and "unknown spend dimension 'planet'" in bad.output
    assert "Traceback" not in bad.output


def test_ingest_cli_loads_an_export_and_reports_every_row(workspace, tmp_path):
    path = tmp_path / "ads.csv"
    path.write_text(EXPORT, encoding="utf-8")
    res = CliRunner().invoke(app, ["ingest", "marketing_spend", str(path), "-w",
                                   str(workspace.root)])
    assert res.exit_code == 0, res.output
    assert "7 rows read = 5 staged + 2 quarantined" in res.output
    from crmine.warehouse import run_checks
    from crmine.warehouse._schema import CORE_TABLES

    core = [t for t in CORE_TABLES if t.name == "core.fct_marketing_spend"]
    assert core and all(r.passed for r in run_checks(workspace, core))
