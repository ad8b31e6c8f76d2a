"""The analysis contract, proved over every declared analysis (as datasette's test_docs.py
proves every hook documented): each has its report section, CLI module and README entry;
everything it writes is declared and passes its checks; every setting read is declared."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from pathlib import Path

import pytest

from crmine.contract import (
    Analysis,
    AnalysisRun,
    Verdict,
    all_analyses,
    all_settings,
    check_marts,
    declared_marts,
    judge,
    read_verdicts,
    validate_settings,
)
from crmine.exceptions import ConfigError
from crmine.pipeline import plan, run_pipeline
from crmine.report import all_sections

SRC = Path(__file__).resolve().parents[1] / "src" / "crmine"
README = (SRC.parents[1] / "README.md").read_text(encoding="utf-8")
ANALYSES = all_analyses()


def test_every_package_that_analyses_declares_itself():
    assert {"features", "drift", "segment", "clv", "churn", "basket", "response",
            "marketing"} <= set(ANALYSES)  # fmt: skip
    for a in ANALYSES.values():
        assert isinstance(a, Analysis) and a.package.startswith("crmine.")
        assert importlib.import_module(a.package).ANALYSIS.name == a.name


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_each_analysis_has_section_cli_and_readme_entry(name):
    a = ANALYSES[name]
    assert a.section_key in {s.key for s in all_sections()}, f"no report section {a.section_key}"
    assert (SRC / "cli" / "commands" / f"{a.cli_module}.py").exists()
    assert f"`{a.package}`" in README, f"README does not describe {a.package}"


def test_marts_are_declared_once():
    seen: dict[str, str] = {}
    for a in ANALYSES.values():
        for m in a.marts:
            assert m.table.startswith("marts."), m.table
            assert m.table not in seen, f"{m.table} declared by {seen.get(m.table)} and {a.name}"
            seen[m.table] = a.name
            assert m.grain.startswith("one row per"), (m.table, m.grain)


def test_every_setting_read_is_declared():
    """A key read with ws.setting("...") that is not declared would be refused in crmine.toml."""
    declared = all_settings()
    read = set()
    for path in SRC.rglob("*.py"):
        read |= set(re.findall(r"""\.setting\(\s*["']([\w.]+)["']""", path.read_text("utf-8")))
    assert read, "the pattern must find the settings read"
    assert sorted(read - set(declared)) == []


def test_settings_are_validated():
    assert validate_settings({"time_unit": "W", "currency": "EUR"})["time_unit"] == "W"
    with pytest.raises(ConfigError, match="unknown setting 'time_unt'; did you mean 'time_unit'"):
        validate_settings({"time_unt": "D"})
    with pytest.raises(ConfigError, match="must be one of 'D', 'W', 'M'"):
        validate_settings({"time_unit": "Y"})
    with pytest.raises(ConfigError, match="observation_end = 'soon' must be a date"):
        validate_settings({"observation_end": "soon"})


def test_plan_puts_what_an_analysis_needs_first():
    order = [a.name for a in plan()]
    for a in ANALYSES.values():
        for dep in (*a.analyses_required(), *a.uses):
            assert order.index(dep) < order.index(a.name), (dep, a.name)
        if a.model is not None:
            assert order.index("drift") < order.index(a.name)
    only = [a.name for a in plan(["churn"])]
    assert only[-1] == "churn" and "clv" in only and "features" in only
    assert "basket" not in only
    with pytest.raises(ConfigError, match="did you mean 'churn'"):
        plan(["chrun"])


def test_judge_grades_against_the_baseline():
    assert judge("AUC", 0.51, 0.5, (0.47, 0.55), min_gain=0.05).status == "not_informative"
    assert judge("AUC", 0.45, 0.5, None, min_gain=0.05).status == "not_informative"
    assert judge("AUC", 0.53, 0.5, (0.515, 0.545), min_gain=0.05).status == "weak"
    v = judge("MAE", 1.2, 2.0, (1.0, 1.4), min_gain=0.2, higher_is_better=False)
    assert v.status == "informative" and v.what_to_try == ""
    assert judge("MAE", 1.9, 2.0, (1.7, 2.1), min_gain=0.2,
                 higher_is_better=False).status == "not_informative"  # fmt: skip
    back = Verdict.from_dict(json.loads(json.dumps(v.with_warnings(["W: x", "W: x"]).to_dict())))
    assert back == dataclasses.replace(v, warnings=("W: x",))


@pytest.fixture(scope="module")
def pipeline_run(demo_workspace):
    return demo_workspace, run_pipeline(demo_workspace)


def test_demo_pipeline_honours_the_contract(pipeline_run):
    ws, results = pipeline_run
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == [a.name for a in plan()]
    failed = {r.name: r.error for r in results if not r.ok}
    assert failed == {}
    declared = declared_marts()
    for r in results:
        a = ANALYSES[r.name]
        json.dumps(r.to_dict())  # what `crmine run --json` prints
        if r.skipped:
            continue
        if a.fits:
            assert r.verdict is not None, f"{r.name} fitted something but gave no verdict"
        else:
            assert r.verdict is None
    written = {f"marts.{t}" for (t,) in ws.duck.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
    ).fetchall()}  # fmt: skip
    assert sorted(written - set(declared)) == [], "marts written but not declared"
    for table, (_owner, mart) in declared.items():
        if table in written and mart.columns:
            missing = set(mart.columns) - set(ws.columns(table))
            assert not missing, f"{table} lacks declared columns {sorted(missing)}"
    failures = [(c.table, c.check, c.example) for c in check_marts(ws) if not c.passed]
    assert failures == []
    verdicts = read_verdicts(ws)
    fitted = {r.name for r in results if r.verdict is not None}
    assert set(verdicts["analysis"]) == fitted
    assert by_name["features"].summary["customers_rfm"] > 1000


def test_every_run_has_the_result_shape(pipeline_run):
    _ws, results = pipeline_run
    for r in results:
        if r.skipped:
            continue
        assert isinstance(r.run, AnalysisRun), f"{r.name}'s run lacks the result shape"
        json.dumps(r.run.summary())
        assert r.run.verdict == r.verdict or r.verdict.warnings, r.name
        assert set(r.run.marts) <= set(declared_marts()), r.name
        assert r.run.to_frame() is not None


def test_an_interval_that_could_not_be_computed_clears_nothing():
    assert judge("Qini", 0.2, 0.0, (float("nan"), float("nan")), min_gain=0.01).status == (
        "not_informative"
    )
