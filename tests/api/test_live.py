"""A real uvicorn server on loopback: the same answers as in process, stable operation ids,
the dashboard and its bundled plotly.js, the CLI's serve command."""

from __future__ import annotations

import concurrent.futures

import httpx
from typer.testing import CliRunner

from crmine.api import POLICY
from tests.api.conftest import auth

# Operation ids are the API's contract with generated clients: changing one is a breaking
# change, made on purpose by editing this list.
STABLE_IDS = sorted([
    "whoami", "overview", "analyses_list", "analysis_get", "customers_search", "customer_get",
    "cube_columns", "cube_count", "cube_list", "cube_group", "cube_export", "segments_list",
    "segment_customers", "campaigns_kpis", "rules_list", "models_list", "scores_customer",
    "scores_batch", "jobs_list", "job_start", "job_get", "job_cancel", "audit_list",
    "users_list", "user_add", "user_revoke",
    # the dashboard's page of each analysis (its verdict, lists and marts)
    "analysis_page", "analysis_mart", "analysis_mart_export"])


def test_openapi_operation_ids_are_stable(live_url):
    spec = httpx.get(live_url + "/openapi.json").json()
    ids = sorted(op["operationId"] for path, methods in spec["paths"].items()
                 for op in methods.values() if path.startswith("/api/v1"))
    assert ids == STABLE_IDS == sorted(POLICY)


def test_live_answers_equal_in_process(live_url, client, tokens):
    h = auth(tokens["viewer"])
    path = "/api/v1/cube/count?where=city=Shanghai&where=gender=F"
    live = httpx.get(live_url + path, headers=h)
    assert live.status_code == 200 and live.json() == client.get(path, headers=h).json()
    assert httpx.get(live_url + "/api/v1/cube/count").status_code == 401


def test_concurrent_clients_get_consistent_answers(live_url, tokens):
    h = auth(tokens["marketer"])
    paths = ["/api/v1/cube/count?where=gender=F", "/api/v1/scores/churn/C000003",
             "/api/v1/customers/C000003"] * 10
    with httpx.Client(base_url=live_url, headers=h, timeout=60) as c, \
            concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda p: (p, c.get(p)), paths))
    assert all(r.status_code == 200 for _, r in answers)
    counts = {r.json()["count"] for p, r in answers if "count" in p}
    assert len(counts) == 1


def test_dashboard_and_bundled_plotly(live_url):
    from crmine.api._dashboard import plotly_js

    page = httpx.get(live_url + "/")
    assert page.status_code == 200 and "crmine dashboard" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    js = httpx.get(live_url + "/static/plotly.min.js")
    assert js.status_code == 200 and js.content == plotly_js().read_bytes()
    assert httpx.get(live_url + "/static/../crmine.toml").status_code == 404


def test_serve_help_and_loopback_default():
    import inspect

    from crmine.api import serve
    from crmine.cli import app as cli_app

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    r = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert r.exit_code == 0 and "--host" in r.stdout and "127.0.0.1" in r.stdout


def test_serve_on_a_missing_workspace_is_a_clear_error(tmp_path):
    from crmine.cli import app as cli_app

    r = CliRunner().invoke(cli_app, ["serve", "-w", str(tmp_path / "none")])
    assert r.exit_code == 2 and "not a crmine workspace" in r.stderr
