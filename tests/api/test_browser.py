"""The dashboard in headless Chromium (Debian's, driven by Playwright; no browser download)
against a real server on the demo company: sign in per role, filter the cube and see the
API's count, open a customer, export CSV; a viewer's page never holds a personal value.

Screenshots go to ``$CRMINE_ARTIFACTS/browser`` (default: the test's temporary folder)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import auth

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists()
                              else shutil.which("chromium"), headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = os.environ.get("CRMINE_ARTIFACTS")
    folder = (Path(base) if base else tmp_path_factory.mktemp("artifacts")) / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _holds_any(html: str, values: list[str]) -> bool:
    return any(v in html for v in values)


def sign_in(browser: Any, live_url: str, token: str) -> Any:
    page = browser.new_page(accept_downloads=True)
    page.goto(live_url + "/")
    page.fill("#token", token)
    page.press("#token", "Enter")  # keyboard only
    page.wait_for_selector("#kpis .kpi")
    return page


def filter_cube(page: Any, dimension: str, value: str) -> str:
    page.click("button[data-page=cube]")
    page.wait_for_selector(f"#cube-dim option[value='{dimension}']", state="attached")
    page.select_option("#cube-dim", dimension)
    page.wait_for_selector(f"#cube-value option[value='{value}']", state="attached")
    page.select_option("#cube-value", value)
    page.click("#cube-add")
    # the count and the list of exactly these filters, not the previous ones
    page.wait_for_selector(f"#cube-count[data-where='{dimension}={value}']")
    page.wait_for_selector("#cube-list table")
    text: str = page.inner_text("#cube-count")
    return text


def test_viewer_filters_the_cube_and_sees_masked_personal_data(browser, live_url, tokens,
                                                               app, shots):
    page = sign_in(browser, live_url, tokens["viewer"])
    assert "personal data masked" in page.inner_text("#who")
    assert "informative" in page.inner_text("#verdicts")
    page.screenshot(path=str(shots / "viewer-overview.png"), full_page=True)
    shown = filter_cube(page, "city", "Shanghai")
    api = httpx.get(live_url + "/api/v1/cube/count?where=city=Shanghai",
                    headers=auth(tokens["viewer"])).json()["count"]
    assert shown.replace(",", "") == str(api) == "344"
    page.screenshot(path=str(shots / "viewer-cube.png"), full_page=True)
    first = page.inner_text("#cube-list tbody tr:first-child td:first-child")
    page.click("#cube-list tbody tr:first-child td:first-child")
    page.wait_for_selector("#customer-view table")
    page.screenshot(path=str(shots / "viewer-customer.png"), full_page=True)
    html = page.content()
    with app.state.crmine.pool.borrow() as ws:
        mine = ws.duck.execute("SELECT email, phone, address FROM core.dim_customer WHERE "
                               "customer_id = ?", [first]).fetchone()
        emails = [r[0] for r in ws.duck.execute(
            "SELECT email FROM core.dim_customer WHERE email IS NOT NULL").fetchall()]
    assert "***" in page.inner_text("#customer-view")
    assert not any(v in html for v in mine)
    page.click("button[data-page=cube]")
    assert not _holds_any(page.content(), emails)  # one read of the page per check
    for name in ("segments", "campaigns"):
        page.click(f"button[data-page={name}]")
        page.wait_for_selector(f"#page-{name} table")
        page.wait_for_selector(f"#{name}-chart .main-svg")  # the bundled plotly drew it
        page.screenshot(path=str(shots / f"viewer-{name}.png"), full_page=True)
        assert not _holds_any(page.content(), emails)  # one read of the page per check
    page.click("button[data-page=analyses]")
    page.select_option("#analysis-name", "churn")
    page.wait_for_selector("#analysis-view[data-name=churn] table")  # the retention list
    text = page.inner_text("#analysis-view")
    assert "Verdict: informative" in text and "marts.retention_list" in text
    page.screenshot(path=str(shots / "viewer-analysis-churn.png"), full_page=True)
    assert not _holds_any(page.content(), emails)  # one read of the page per check
    page.close()


def test_marketer_exports_masked_csv_and_analyst_sees_emails(browser, live_url, tokens, shots):
    page = sign_in(browser, live_url, tokens["marketer"])
    filter_cube(page, "gender", "F")
    with page.expect_download() as download:
        page.click("#cube-export")
    csv = Path(download.value.path()).read_text(encoding="utf-8")
    lines = csv.splitlines()
    assert len(lines) == 1 + 1002 and "@" not in csv  # 1,002 women in the demo
    page.close()
    page = sign_in(browser, live_url, tokens["analyst"])
    filter_cube(page, "gender", "F")
    page.screenshot(path=str(shots / "analyst-cube.png"), full_page=True)
    assert "@" in page.inner_text("#cube-list")
    page.close()
