"""The role x route policy: every route declared, each role allowed or refused as declared."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import pytest

from crmine.api import POLICY, ROLES
from crmine.api._app import api_operations
from tests.api.conftest import auth

# Path parameters filled with values the demo has (C000003 is a demo customer).
SAMPLE = {"customer_id": "C000003", "name": "churn", "segment": "0", "model": "clv",
          "job_id": "nosuchjob", "mart": "retention_list"}
BODIES = {"scores_batch": {"customer_ids": ["C000003"]},
          "job_start": {"kind": "score", "model": "nosuchmodel"},
          "user_add": {"name": "bad name!", "role": "viewer"}}
# Destructive calls are made with arguments that fail validation, so the matrix changes
# nothing: allowed is any status but 401/403.
DELETE_SAMPLE = {"user_revoke": "nobody-at-all"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    operation_id: str | None


def api_routes(app: Any) -> list[Route]:
    return [Route(*r) for r in api_operations(app)]


def call(client: Any, route: Route, token: str | None, **params: Any) -> Any:
    op = route.operation_id
    path = route.path
    for name in re.findall(r"{(\w+)}", path):
        value = DELETE_SAMPLE.get(str(op), SAMPLE[name])
        path = path.replace("{" + name + "}", value)
    query = {"by": "gender"} if op == "cube_group" else {}
    headers = auth(token) if token else {}
    return client.request(route.method, path, headers=headers, json=BODIES.get(str(op)),
                          params={**query, **params})


def test_every_route_has_a_policy_entry_and_the_policy_no_stale_entry(app):
    ops = {r.operation_id for r in api_routes(app)}
    assert None not in ops
    assert ops == set(POLICY), (ops ^ set(POLICY))


def test_a_route_without_policy_entry_stops_the_app(api_root, monkeypatch):
    from crmine.api import _policy, create_app

    monkeypatch.setattr(_policy, "POLICY", {k: v for k, v in POLICY.items()
                                            if k != "cube_count"})
    import crmine.api._app as app_module

    monkeypatch.setattr(app_module, "POLICY", _policy.POLICY)
    with pytest.raises(RuntimeError, match="cube/count"):
        create_app(api_root)


def test_role_route_matrix(app, client, tokens):
    checked = 0
    for route in api_routes(app):
        for role in ROLES:
            r = call(client, route, tokens[role])
            allowed = role in POLICY[str(route.operation_id)]
            if allowed:
                assert r.status_code not in (401, 403), (route.path, role, r.text)
                assert r.status_code != 500, (route.path, role, r.text)
            else:
                assert r.status_code == 403, (route.path, role, r.status_code)
                assert r.json()["error"]["code"] == "forbidden"
            checked += 1
    assert checked == len(POLICY) * len(ROLES)


def test_unauthenticated_and_bad_tokens_are_refused_everywhere(app, client):
    for route in api_routes(app):
        for token in (None, "nonsense", "crm_00000000_" + "x" * 43):
            r = call(client, route, token)
            assert r.status_code == 401, (route.path, token, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"


def test_declared_roles_are_ordered_by_what_they_may_do():
    # each role may do at least what the one below it may
    for lower, higher in itertools.pairwise(ROLES):
        for op, roles in POLICY.items():
            if lower in roles:
                assert higher in roles, (op, lower, higher)


def test_pii_rights_only_for_analyst_and_admin():
    from crmine.api import has_pii_rights

    assert [r for r in ROLES if has_pii_rights(r)] == ["analyst", "admin"]
