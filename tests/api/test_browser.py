"""The dashboard in headless Chromium (Debian's, driven by Playwright; no browser download)
against a real server on the demo company: sign in per role, filter the cube and see the
API's count, open a customer, export CSV; a viewer's page never holds a personal value.

Screenshots go to ``$CRMINE_ARTIFACTS/browser`` (default: the test's temporary folder)."""

from __future__ import annotations

import os
import re
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


def test_marketer_exports_masked_csv_and_analyst_sees_emails(browser, live_url, tokens, shots,
                                                            app):
    page = sign_in(browser, live_url, tokens["marketer"])
    filter_cube(page, "gender", "F")
    with page.expect_download() as download:
        page.click("#cube-export")
    csv = Path(download.value.path()).read_text(encoding="utf-8")
    lines = csv.splitlines()
    with app.state.crmine.pool.borrow() as ws:  # 1,002 women, less those who opted out
        contactable = ws.duck.execute("SELECT count(*) FROM core.dim_customer WHERE gender = 'F' "
                                      "AND marketing_opt_out IS FALSE").fetchone()[0]
    assert 900 < contactable < 1002
    assert len(lines) == 1 + contactable and "@" not in csv
    page.close()
    page = sign_in(browser, live_url, tokens["analyst"])
    filter_cube(page, "gender", "F")
    page.screenshot(path=str(shots / "analyst-cube.png"), full_page=True)
    assert "@" in page.inner_text("#cube-list")
    page.close()


# -- the analysis pages ------------------------------------------------------------------------
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d{11,13}")
_ADDRESS = re.compile(r"No\. \d+ [^,<>\"]+, [A-Za-z]+")


def personal_values(app: Any) -> set[str]:
    with app.state.crmine.pool.borrow() as ws:
        rows = ws.duck.execute("SELECT email, phone, address FROM core.dim_customer").fetchall()
    return {v for row in rows for v in row if v}


def personal_in(html: str, personal: set[str]) -> set[str]:
    """The demo's personal values the page holds (found by their shapes: one pass over the
    page per shape, not one per value)."""
    found = set(_EMAIL.findall(html)) | set(_PHONE.findall(html)) | set(_ADDRESS.findall(html))
    return found & personal


def fitted_analyses() -> list[str]:
    from crmine.contract import all_analyses

    return [a.name for a in all_analyses().values() if a.fits]


def open_page(page: Any, name: str) -> None:
    page.click(f"#analysis-nav button[data-analysis={name}]")
    page.wait_for_selector(f"#analysis-page[data-name={name}]")


def check_analysis_page(page: Any, name: str, personal: set[str]) -> None:
    """Verdict first, every chart drawn with its table view, no personal value."""
    open_page(page, name)
    first = page.locator("#analysis-page h2 + *").first
    assert first.get_attribute("id") == "ap-verdict", name
    assert first.inner_text().startswith("Verdict: "), name
    page.wait_for_function("[...document.querySelectorAll('#analysis-page figure.block')]"
                           ".every((f) => f.dataset.state)")
    charts = page.locator("#analysis-page figure.block[data-state=drawn]")
    assert charts.count() >= 2 if name != "basket" else 1, name  # viewers: no rules
    for i in range(charts.count()):
        fig = charts.nth(i)
        assert fig.locator(".main-svg").count() >= 1, name  # the bundled plotly drew it
        assert fig.locator("details summary").inner_text() == "Table view", name
        assert fig.locator("details table").count() == 1, name
    assert not personal_in(page.content(), personal), name


def test_every_analysis_page_per_role_verdict_first_charts_with_tables_no_personal_data(
        browser, live_url, tokens, app, shots):
    personal = personal_values(app)
    names = fitted_analyses()
    assert {"churn", "clv", "basket", "marketing", "lifecycle", "service", "sales",
            "marketing_mix"} <= set(names)
    for role in ("viewer", "marketer"):
        page = sign_in(browser, live_url, tokens[role])
        nav = page.locator("#analysis-nav button")
        assert nav.count() == len(names)
        for name in names:
            check_analysis_page(page, name, personal)
            if role == "viewer":  # the top of each page (a full page costs seconds)
                page.screenshot(path=str(shots / f"{role}-page-{name}.png"))
        if role == "viewer":  # on a phone: the page reflows, nothing scrolls sideways
            page.set_viewport_size({"width": 390, "height": 844})
            open_page(page, "churn")
            page.wait_for_timeout(300)  # plotly's resize
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(shots / "viewer-page-churn-phone.png"))
        page.close()


def test_retention_list_export_rules_explorer_and_keyboard(browser, live_url, tokens, app,
                                                          shots):
    personal = personal_values(app)
    page = browser.new_page(accept_downloads=True)
    page.goto(live_url + "/")
    page.keyboard.press("Tab")  # the first stop is the skip link, which moves to the content
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.close()
    page = sign_in(browser, live_url, tokens["marketer"])
    open_page(page, "churn")
    retention = "#list-churn-retention_list"
    page.wait_for_selector(f"{retention}[data-loaded='1'] tbody tr")
    page.fill(f"{retention}-min-churn_risk", "0.3")
    page.press(f"{retention}-min-churn_risk", "Enter")  # the filter form, by keyboard
    page.wait_for_selector(f"{retention}[data-loaded='1'] tbody tr")
    with app.state.crmine.pool.borrow() as ws:
        (n,) = ws.duck.execute("SELECT count(*) FROM marts.retention_list WHERE churn_risk "
                               ">= 0.3").fetchone()
    assert page.inner_text(f"{retention} p.hint").startswith(f"{n:,} rows")
    with page.expect_download() as download:
        page.click(f"{retention} button.export")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert len(text.splitlines()) == 1 + n and not personal_in(text, personal)
    assert "email" in text.splitlines()[0]  # the contact columns, masked
    page.screenshot(path=str(shots / "marketer-retention-filtered.png"))

    open_page(page, "basket")
    rules = "#list-basket-rules"
    page.wait_for_selector(f"{rules}[data-loaded='1'] tbody tr")
    page.fill(f"{rules}-q", "Phone")
    page.fill(f"{rules}-min-lift", "2")
    page.press(f"{rules}-min-lift", "Enter")
    page.wait_for_selector(f"{rules}[data-loaded='1'] tbody tr")
    # sort by confidence with the keyboard: focus the column's button, press Enter
    page.focus(f"{rules} th button[data-col=confidence]")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{rules}[data-loaded='1'] th[aria-sort=ascending] "
                           "button[data-col=confidence]")
    cells = page.locator(f"{rules} tbody tr")
    rows = [cells.nth(i).inner_text() for i in range(cells.count())]
    assert rows and all("phone" in r.lower() for r in rows)  # case-blind, as the search
    header = page.locator(f"{rules} thead th").all_inner_texts()
    col = [h.strip(" ▲▼") for h in header].index("confidence")
    conf = [float(cells.nth(i).locator("td").nth(col).inner_text()) for i in range(len(rows))]
    assert conf == sorted(conf)
    page.screenshot(path=str(shots / "marketer-rules-explorer.png"))
    page.close()


def test_a_not_informative_analysis_page_shows_no_list_to_act_on(browser, live_url, tokens,
                                                                 shots):
    """The page as the API answers for a not-informative churn model (the API side of it is
    tested in test_pages.py): verdict, no retention list, no top-risk table."""
    page = sign_in(browser, live_url, tokens["analyst"])

    def not_informative(route: Any) -> None:
        body = route.fetch().json()
        body["verdict"]["status"] = "not_informative"
        body["withheld"] = True
        body["lists"] = [{**x, "withheld": x["actionable"] or x["withheld"]}
                         for x in body["lists"]]
        body["marts"] = [{**m, "withheld": m["actionable"]} for m in body["marts"]]
        body["blocks"] = [{**b, "withheld": True, "rows": []} if b["key"] in ("risk",
                          "top-risk") else b for b in body["blocks"]]
        route.fulfill(json=body)

    page.route("**/api/v1/analyses/churn/page", not_informative)
    open_page(page, "churn")
    assert page.inner_text("#ap-verdict").startswith("Verdict: not informative")
    assert page.locator("#ap-withheld").count() == 1
    assert page.locator("#list-churn-retention_list").count() == 0
    assert page.locator("figure[data-block=top-risk]").count() == 0
    assert page.locator("figure[data-block=drivers]").count() == 1  # descriptive: kept
    browsable = page.locator("#browse-churn option").all_inner_texts()
    assert browsable and not any(o.startswith("retention_list") for o in browsable)
    page.screenshot(path=str(shots / "analyst-churn-not-informative.png"), full_page=True)
    page.close()
