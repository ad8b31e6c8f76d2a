"""Who may call what: one declared role x route policy, checked on every request.

Each route's OpenAPI operation id maps to the roles allowed to call it. A route missing from
:data:`POLICY` cannot be served (:func:`crmine.api.create_app` refuses to start), so a new
route is closed until someone decides who may use it.

Roles, least to most:

- ``viewer``: a manager reading KPIs: overview, verdicts, segments, campaigns, cube counts,
  customers with personal data masked;
- ``marketer``: pulls target lists: also scores, rules and exports (masked);
- ``analyst``: also sees personal data and starts runs and scorings;
- ``admin``: also ingests data and manages users.
"""

from __future__ import annotations

from crmine.api._users import ROLES

__all__ = ["PII_ROLES", "POLICY", "ROLES", "allowed", "has_pii_rights"]

PII_ROLES = frozenset({"analyst", "admin"})

_ALL = frozenset(ROLES)
_MARKETING = frozenset({"marketer", "analyst", "admin"})
_ANALYSTS = frozenset({"analyst", "admin"})
_ADMIN = frozenset({"admin"})

POLICY: dict[str, frozenset[str]] = {
    "whoami": _ALL,
    "overview": _ALL,
    "analyses_list": _ALL,
    "analysis_get": _ALL,
    "analysis_page": _ALL,
    "analysis_mart": _ALL,
    "analysis_mart_export": _MARKETING,
    "customers_search": _ALL,
    "customer_get": _ALL,
    "cube_columns": _ALL,
    "cube_count": _ALL,
    "cube_list": _ALL,
    "cube_group": _ALL,
    "cube_export": _MARKETING,
    "segments_list": _ALL,
    "segment_customers": _MARKETING,
    "campaigns_kpis": _ALL,
    "rules_list": _MARKETING,
    "models_list": _MARKETING,
    "scores_customer": _MARKETING,
    "scores_batch": _MARKETING,
    "jobs_list": _ANALYSTS,
    "job_start": _ANALYSTS,
    "job_get": _ANALYSTS,
    "job_cancel": _ANALYSTS,
    "audit_list": _ADMIN,
    "users_list": _ADMIN,
    "user_add": _ADMIN,
    "user_revoke": _ADMIN,
}

# Jobs that only an admin may start (loading data changes what everyone sees).
ADMIN_JOBS = frozenset({"ingest"})


def allowed(operation_id: str, role: str) -> bool:
    """Whether ``role`` may call the route ``operation_id`` (unknown routes: nobody)."""
    return role in POLICY.get(operation_id, frozenset())


def has_pii_rights(role: str) -> bool:
    return role in PII_ROLES
