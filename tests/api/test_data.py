"""The API answers what the Python API and the warehouse hold: counts, 360 views, scores
with their model version, verdicts of every declared analysis, the audit log."""

from __future__ import annotations

import pytest

from crmine.contract import all_analyses
from tests.api.conftest import auth


@pytest.fixture(scope="module")
def con(app):  # type: ignore[no-untyped-def]
    with app.state.crmine.pool.borrow() as ws:
        yield ws.duck


def test_cube_count_equals_the_warehouse(client, tokens, con):
    h = auth(tokens["viewer"])
    r = client.get("/api/v1/cube/count?where=city=Shanghai&where=gender=F", headers=h).json()
    truth = con.execute("SELECT count(*) FROM core.dim_customer WHERE is_current AND city = "
                        "'Shanghai' AND gender = 'F'").fetchone()[0]
    assert r == {"count": truth, "where": ["city=Shanghai", "gender=F"]} and truth > 100
    either = client.get("/api/v1/cube/count", params={"where": "city=Shanghai,Beijing"},
                        headers=h).json()["count"]
    assert either == con.execute("SELECT count(*) FROM core.dim_customer WHERE is_current AND "
                                 "city IN ('Shanghai', 'Beijing')").fetchone()[0]


def test_customer_search_pages_through_everyone_once(client, tokens):
    h = auth(tokens["analyst"])
    seen: list[str] = []
    first = client.get("/api/v1/customers?where=city=Shanghai&page_size=100", headers=h).json()
    for page in range(1, first["pages"] + 1):
        body = client.get(f"/api/v1/customers?where=city=Shanghai&page_size=100&page={page}",
                          headers=h).json()
        seen += [c["customer_id"] for c in body["customers"]]
        assert all(c["city"] == "Shanghai" and "@" in c["email"] for c in body["customers"])
    assert len(seen) == len(set(seen)) == first["count"] == 344 and first["pages"] == 4


def test_group_by_sums_to_the_count(client, tokens):
    g = client.get("/api/v1/cube/group?by=gender&by=city", headers=auth(tokens["viewer"])).json()
    assert sum(row["customers"] for row in g["groups"]) == g["count"] == 2000


@pytest.fixture(scope="module")
def reachable(con) -> str:
    """A customer with offers to act on (the demo's planted opt-outs have none)."""
    return con.execute("SELECT min(customer_id) FROM marts.basket_recommendations").fetchone()[0]


def test_customer_360(client, tokens, con, reachable):
    c = client.get(f"/api/v1/customers/{reachable}", headers=auth(tokens["analyst"])).json()
    lines = con.execute("SELECT count(*) FROM core.fct_order_lines WHERE customer_id = ?",
                        [reachable]).fetchone()[0]
    assert len(c["orders"]) == min(lines, 50) and lines > 0
    assert c["attributes"]["email"] == con.execute(
        "SELECT email FROM core.dim_customer WHERE customer_id = ? AND is_current", [reachable]
    ).fetchone()[0]
    seg = con.execute("SELECT cluster, rfm_segment FROM marts.customer_segments WHERE "
                      "customer_id = ?", [reachable]).fetchone()
    assert (c["segment"]["cluster"], c["segment"]["rfm_segment"]) == seg
    assert c["scores"]["predicted_clv_12m"] > 0 and c["lifecycle"]["stage"]
    assert [p["rank"] for p in c["next_best_products"]] == sorted(
        p["rank"] for p in c["next_best_products"]) and c["next_best_products"]
    assert len(c["history"]) >= 1 and isinstance(c["tickets"], list)


@pytest.mark.parametrize(("model", "column"), [("clv", "predicted_clv_12m"),
                                               ("clv", "p_alive"),
                                               ("churn", "churn_risk"),
                                               ("segment", "cluster")])
def test_realtime_scores_equal_the_runs_scores(client, tokens, con, api_root, model,
                                               column):
    """Scored now from today's features, the score equals what the run wrote (same model,
    same data), and carries the model's version."""
    ids = [r[0] for r in con.execute(
        f"SELECT customer_id FROM marts.customer_scores WHERE {column} IS NOT NULL "
        "ORDER BY customer_id LIMIT 40").fetchall()]
    r = client.post(f"/api/v1/scores/{model}", json={"customer_ids": [*ids, "NOPE"]},
                    headers=auth(tokens["marketer"])).json()
    assert r["unknown"] == ["NOPE"] and len(r["scores"]) == len(ids)
    run = dict(con.execute(f"SELECT customer_id, {column} FROM marts.customer_scores WHERE "
                           "customer_id IN (SELECT unnest(?::VARCHAR[]))", [ids]).fetchall())
    for s in r["scores"]:
        assert s[column] == pytest.approx(run[s["customer_id"]], rel=1e-6, abs=1e-9)
    # the registry's latest version (the marts label some models' columns differently)
    latest = (api_root / "models" / model / "latest").read_text().strip()
    assert r["version"] == latest
    one = client.get(f"/api/v1/scores/{model}/{ids[0]}", headers=auth(tokens["marketer"]))
    assert one.json()["scores"][0][column] == pytest.approx(run[ids[0]], rel=1e-6, abs=1e-9)


def test_next_best_product(client, tokens, con, reachable):
    r = client.get(f"/api/v1/scores/next_best_product/{reachable}",
                   headers=auth(tokens["marketer"])).json()
    top = con.execute("SELECT product_id FROM marts.basket_recommendations WHERE customer_id = "
                      "? ORDER BY rank LIMIT 1", [reachable]).fetchone()[0]
    assert r["scores"][0]["next_best_products"][0]["product_id"] == top and r["version"]


def test_every_declared_analysis_with_its_recorded_verdict(client, tokens, con):
    rows = client.get("/api/v1/analyses", headers=auth(tokens["viewer"])).json()["rows"]
    assert [r["name"] for r in rows] == list(all_analyses())
    recorded = dict(con.execute("SELECT analysis, status FROM marts.analysis_verdicts"
                                ).fetchall())
    assert {r["name"]: r["verdict"]["status"] for r in rows if r["verdict"]} == recorded
    assert len(recorded) >= 6
    churn = client.get("/api/v1/analyses/churn", headers=auth(tokens["viewer"])).json()
    assert churn["verdict"]["interval"] and churn["model"] == "churn"
    assert all(m["rows"] is not None for m in churn["marts"] if m["actionable"])
    retention = next(m for m in churn["marts"] if m["table"] == "marts.retention_list")
    first = con.execute("SELECT customer_id FROM marts.retention_list LIMIT 20").fetchall()
    assert [r["customer_id"] for r in retention["preview"]] == [r[0] for r in first]


def test_overview_segments_campaigns_rules(client, tokens, con):
    h = auth(tokens["marketer"])
    o = client.get("/api/v1/overview", headers=h).json()
    assert o["kpis"]["customers"] == 2000
    assert o["kpis"]["revenue"] == pytest.approx(con.execute(
        "SELECT sum(total_spend) FROM marts.customer_rfm").fetchone()[0])
    s = client.get("/api/v1/segments", headers=h).json()
    assert sum(c["customers"] for c in s["clusters"]) == 2000
    members = client.get("/api/v1/segments/0/customers", headers=h).json()
    # a list to act on: the cluster's customers but those who opted out of marketing
    assert members["count"] + members["consent_excluded"] == \
        next(c["customers"] for c in s["clusters"] if c["segment"] == "0")
    assert members["consent_excluded"] > 0
    k = client.get("/api/v1/campaigns", headers=h).json()
    assert len(k["kpis"]) == con.execute("SELECT count(*) FROM marts.campaign_kpis").fetchone()[0]
    rules = client.get("/api/v1/rules?min_lift=2&limit=5", headers=h).json()["rows"]
    assert len(rules) == 5 and all(r["lift"] >= 2 for r in rules)
    assert [r["lift"] for r in rules] == sorted((r["lift"] for r in rules), reverse=True)


def test_audit_log_records_who_read_and_exported_what(client, tokens, con, app):
    h = auth(tokens["marketer"])
    client.get("/api/v1/customers/C000054", headers=h)
    client.get("/api/v1/cube/export?where=city=Beijing", headers=h)
    rows = client.get("/api/v1/audit?user=test-marketer&limit=2",
                      headers=auth(tokens["admin"])).json()["rows"]
    assert [r["operation"] for r in rows] == ["cube_export", "customer_get"]
    assert '"rows":' in rows[0]["detail"].replace(" ", "") and "Beijing" in rows[0]["detail"]
    assert "C000054" in rows[1]["detail"] and rows[0]["role"] == "marketer"
    refused = client.get("/api/v1/users", headers=h)
    assert refused.status_code == 403
    app.state.crmine.audit.flush()  # rows are written in batches, to audit/api.jsonl
    lines = (app.state.crmine.root / "audit" / "api.jsonl").read_text().splitlines()
    import json

    last = [json.loads(x) for x in lines if '"test-marketer"' in x][-1]
    assert (last["operation"], last["status"]) == ("users_list", 403)


def test_audit_log_is_append_only(client, tokens, app):
    """No route updates or deletes audit rows; reading the log is itself logged."""
    from crmine.api._app import api_operations

    assert all("audit" not in path or method == "GET" for method, path, _ in
               api_operations(app))
    h = auth(tokens["admin"])
    before = client.get("/api/v1/audit?limit=10000", headers=h).json()["rows"]
    after = client.get("/api/v1/audit?limit=10000", headers=h).json()["rows"]
    assert after[1:len(before) + 1] == before and after[0]["operation"] == "audit_list"
