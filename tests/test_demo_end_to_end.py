"""`crmine demo` end to end, and its report in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmine.cli import app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e") / "acme"
    result = CliRunner().invoke(
        app, ["demo", str(folder), "--customers", "1500", "--seed", "3", "--json"]
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    return folder, json.loads(result.stdout)


def test_demo_loads_everything_and_every_analysis_succeeds(demo_run):
    folder, info = demo_run
    loads = {entry["entity"]: entry for entry in info["loads"]}
    assert {
        "customers",
        "products",
        "orders",
        "events",
        "campaigns",
        "campaign_assignments",
        "tickets",
        "subscriptions",
        "surveys",
    } <= set(loads)
    for entry in loads.values():
        assert entry["rows_read"] == entry["rows_staged"] + entry["rows_quarantined"]
    assert loads["customers"]["rows_staged"] == 1500
    failed = {s["step"]: s["error"] for s in info["steps"] if not s["ok"]}
    assert failed == {}
    from crmine.pipeline import plan
    from crmine.warehouse import Workspace

    assert [s["step"] for s in info["steps"]] == [a.name for a in plan()]
    with Workspace.open(folder, read_only=True) as ws:
        truth = ws.read("truth.customers")
        assert len(truth) == 1500 and truth["segment"].nunique() >= 4
        assert ws.has_table("marts.customer_rfm")
        # analyses build on each other: campaign KPIs and the funnel by the segments found
        kpis = ws.read("marts.campaign_kpis")
        assert {"campaign", "channel", "segment", "period"} <= set(kpis["level"])
        assert "segment" in set(ws.read("marts.funnel")["dimension"])
        scores = ws.read("marts.customer_scores")
        for column in ("rfm_segment", "cluster", "p_alive", "predicted_clv_12m", "churn_risk",
                       "next_best_products", "response_score", "uplift"):
            assert column in scores.columns, column


def test_report_has_a_section_per_analysis(demo_run):
    _folder, info = demo_run
    html = Path(info["report"]).read_text(encoding="utf-8")
    from crmine.report import all_sections

    for spec in all_sections():
        assert f'id="{spec.key}"' in html, f"section {spec.key} missing from the demo report"
    assert "This section failed" not in html
    # works offline: no external script or stylesheet, the chart library is inside the page
    import re

    assert re.findall(r"<(?:script|link)[^>]+(?:src|href)=[\"']https?:", html) == []
    assert "Plotly.newPlot" in html or "Plotly.react" in html


@pytest.mark.browser
def test_report_renders_its_charts_in_chromium(demo_run, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    _folder, info = demo_run
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(Path(info["report"]).as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        charts = page.locator(".chart").count()
        drawn = page.evaluate(
            "Array.from(document.querySelectorAll('.chart')).filter("
            "c => c.querySelector('.js-plotly-plot .main-svg')).length"
        )
        page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
        browser.close()
    assert errors == []
    assert charts >= 5
    assert drawn == charts  # every chart container holds a drawn plotly figure
