"""The pipeline step, CLI commands and report section of segmentation and the cube."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from crmine.cli import app
from crmine.warehouse import Workspace
from tests.segment._synth import load_company, simple_rfm


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("seg_cli") / "ws"
    ws = Workspace.init(root)
    load_company(ws, 300, seed=4)
    simple_rfm(ws)
    ws.close()
    return root


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cli_cluster_profile_tiers_rfm_cube(folder):
    runner = CliRunner()
    w = ["--workspace", str(folder), "--json"]
    out = _json(runner.invoke(app, ["segment", "cluster", *w]))
    assert out["n_clusters"] == 3 and len(out["k_scores"]) == 9
    assert sum(c["customers"] for c in out["clusters"]) == out["buyers"]
    prof = _json(runner.invoke(app, ["segment", "profile", *w]))
    assert len(prof["profiles"]) == 3 and prof["rules"]
    tiers = _json(runner.invoke(app, ["segment", "tiers", *w]))
    assert 0 < tiers["top_share_for_80pct"] < 0.8
    rfm = _json(runner.invoke(app, ["segment", "rfm", *w]))
    assert sum(s["customers"] for s in rfm["segments"]) == rfm["customers"]

    cube = _json(runner.invoke(app, ["cube", "--where", "gender=F", "--where", "city=Shanghai",
                                     "--by", "region", "--list", *w]))
    with Workspace.open(folder) as ws:
        cust = ws.read("core.dim_customer")
    expected = int(((cust.gender == "F") & (cust.city == "Shanghai")).sum())
    assert cube["count"] == expected
    assert len(cube["customers"]) == min(expected, 50)
    assert cube["groups"][0]["region"] == "East"


def test_cli_cube_bad_filter_exits_2_with_valid_values(folder):
    res = CliRunner().invoke(app, ["cube", "--where", "city=Paris", "--workspace", str(folder),
                                   "--json"])
    assert res.exit_code == 2
    err = json.loads(res.stdout)["error"]
    assert "Shanghai" in err["message"] and err["type"] == "DataError"


def test_pipeline_step_and_report_section(folder):
    from crmine.pipeline import run_pipeline
    from crmine.report import all_sections

    with Workspace.open(folder) as ws:
        results = run_pipeline(ws, only=["segment"], strict=True)
        # the features step rebuilds marts.customer_rfm and customer_features first
        assert [r.name for r in results] == ["features", "segment"]
        result = results[-1]
        assert result.ok and result.summary["n_clusters"] == 3
        assert result.verdict is not None and result.verdict.status == "informative"
        json.dumps(result.summary)  # JSON-able
        spec = next(s for s in all_sections() if s.key == "segment")
        sec = spec.fn(ws)
    assert sec is not None
    assert sec.html.count('class="chart"') == 5
    assert "clusters" in sec.summary
