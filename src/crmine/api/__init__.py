"""REST API and dashboard over one workspace: ``crmine serve``.

Thin routes over the Python API (customers, cube, segments, scores, rules, campaigns, every
declared analysis's verdict, background jobs), tokens with roles kept hashed in the warehouse
(``meta.api_users``), one declared role x route policy (:data:`POLICY`), personal data masked
for roles without PII rights, an append-only audit log (``audit/api.jsonl``), and a dashboard
served by the same process, offline. Requests read a copy of the warehouse
(:mod:`crmine.api._serving`), so other crmine processes can write the workspace meanwhile.

Examples
--------
>>> import tempfile
>>> from fastapi.testclient import TestClient
>>> from crmine.api import create_app, add_user
>>> from crmine.warehouse import Workspace
>>> folder = tempfile.mkdtemp()
>>> with Workspace.init(folder) as ws:
...     user, token = add_user(ws, "ana", "analyst")
>>> app = create_app(folder)   # then: uvicorn, or `crmine serve -w FOLDER`
>>> client = TestClient(app)
>>> client.get("/api/v1/me").status_code          # no token
401
>>> client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["role"]
'analyst'
>>> app.state.crmine.close()
"""

from crmine.api._app import API_PREFIX, create_app
from crmine.api._masking import MASK, PII_COLUMNS, mask_frame, scrub
from crmine.api._policy import PII_ROLES, POLICY, ROLES, allowed, has_pii_rights
from crmine.api._server import serve
from crmine.api._users import ApiUser, add_user, authenticate, list_users, revoke_user
from crmine.api._views import analyses_summary, customer_360, customers_page, overview

__all__ = [
    "API_PREFIX",
    "MASK",
    "PII_COLUMNS",
    "PII_ROLES",
    "POLICY",
    "ROLES",
    "ApiUser",
    "add_user",
    "allowed",
    "analyses_summary",
    "authenticate",
    "create_app",
    "customer_360",
    "customers_page",
    "has_pii_rights",
    "list_users",
    "mask_frame",
    "overview",
    "revoke_user",
    "scrub",
    "serve",
]
