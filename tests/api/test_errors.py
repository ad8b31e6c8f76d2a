"""One JSON error shape for every error, on every route; hostile input never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from crmine.api import POLICY
from tests.api.conftest import auth
from tests.api.test_policy import api_routes, call

HOSTILE = ["city=Shanghai' OR '1'='1", "city=x\"; DROP TABLE core.dim_customer; --",
           "gender=F\x00", "age>=abc", "city=上海", "名字=张三", "=", "city", "revenue>1e999",
           "signup_date>not-a-date", "is_golden=maybe", "age>=" + "9" * 400, "\u202e=1",
           "customer_id=C000003,C000004' --", "city!=Shanghai,Beijing"]


def assert_error_shape(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"status", "code", "message", "field"}
    assert err["status"] == status and isinstance(err["message"], str) and err["message"]
    return dict(err)


def test_401_403_shape_on_every_route(app, client, tokens):
    for route in api_routes(app):
        assert_error_shape(call(client, route, None), 401)
        refused = [role for role in tokens if role not in POLICY[str(route.operation_id)]]
        for role in refused:
            assert_error_shape(call(client, route, tokens[role]), 403)


def test_404_shape(client, tokens):
    h = auth(tokens["admin"])
    for path in ("/api/v1/customers/NOPE", "/api/v1/jobs/nojob", "/api/v1/nothing-here",
                 "/api/v1/scores/churn/NOPE"):
        err = assert_error_shape(client.get(path, headers=h), 404)
        assert err["code"] == "not_found"
    assert_error_shape(client.get("/no/such/page"), 404)


def test_422_names_the_field(client, tokens):
    h = auth(tokens["admin"])
    err = assert_error_shape(client.get("/api/v1/customers?page_size=100000", headers=h), 422)
    assert err["field"] == "query.page_size"
    err = assert_error_shape(client.get("/api/v1/customers?page=abc", headers=h), 422)
    assert err["field"] == "query.page"
    err = assert_error_shape(client.post("/api/v1/scores/churn", headers=h,
                                         json={"customer_ids": "C1"}), 422)
    assert err["field"] == "body.customer_ids"
    err = assert_error_shape(client.post("/api/v1/jobs", headers=h, json={"kind": "rm -rf"}),
                             422)
    assert err["field"] == "body.kind"
    err = assert_error_shape(client.get("/api/v1/cube/count?where=city=Atlantis", headers=h),
                             422)
    assert "Atlantis" in err["message"] and "Shanghai" in err["message"]  # the valid values


def test_429_on_exports(api_root, tokens):
    from fastapi.testclient import TestClient

    from crmine.api import create_app

    app = create_app(api_root, export_limit=2, export_window=3600)
    try:
        client = TestClient(app, raise_server_exceptions=False)
        h = auth(tokens["marketer"])
        for _ in range(2):
            assert client.get("/api/v1/cube/export?where=city=Shanghai", headers=h).status_code \
                == 200
        r = client.get("/api/v1/cube/export?where=city=Shanghai", headers=h)
        err = assert_error_shape(r, 429)
        assert int(r.headers["retry-after"]) > 0 and "2 per 3600" in err["message"]
        # another user has an allowance of its own
        assert client.get("/api/v1/cube/export", headers=auth(tokens["analyst"])
                          ).status_code == 200
    finally:
        app.state.crmine.close()


def test_500_shape_without_leaking_the_cause(app, client, tokens, monkeypatch):
    from crmine.api import _views

    def broken(ws: Any) -> Any:
        raise RuntimeError("secret detail: ming.hu2871@example.cn")

    monkeypatch.setattr(_views, "overview", broken)
    r = client.get("/api/v1/overview", headers=auth(tokens["admin"]))
    err = assert_error_shape(r, 500)
    assert "example.cn" not in r.text and "secret" not in r.text
    assert "reference" in err["message"]


@pytest.mark.parametrize("where", HOSTILE)
def test_hostile_filters_get_the_error_shape_or_an_answer_never_a_500(client, tokens, where):
    h = auth(tokens["viewer"])
    for path in ("/api/v1/cube/count", "/api/v1/customers", "/api/v1/cube/list"):
        r = client.get(path, params={"where": where}, headers=h)
        assert r.status_code in (200, 422), (path, where, r.status_code, r.text)
        if r.status_code == 422:
            assert_error_shape(r, 422)
    # the warehouse is intact
    assert client.get("/api/v1/cube/count", headers=h).json()["count"] == 2000


@pytest.mark.slow
def test_wrong_types_and_unicode_everywhere(app, client, tokens):
    h = auth(tokens["admin"])
    for params in ({"page": "-1"}, {"page_size": "0"}, {"page": "1e9"}, {"limit": "x"},
                   {"min_lift": "nan"}, {"by": "名字"}, {"measure": "sum:'; --"},
                   {"column": "\U0001f600"}):
        for route in api_routes(app):
            if route.method != "GET":
                continue
            r = call(client, route, tokens["admin"], **params)
            assert r.status_code != 500, (route.path, params, r.text)
            if r.status_code >= 400:
                assert_error_shape(r, r.status_code)
    for body in ({}, [], {"customer_ids": [1, 2]}, {"customer_ids": ["x" * 101]}, "text"):
        r = client.post("/api/v1/scores/churn", headers=h, json=body)
        assert r.status_code in (200, 422), (body, r.text)
