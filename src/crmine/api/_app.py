"""The FastAPI application: authentication, the role x route policy, the audit log, the
error shape, the routes and the dashboard, over one workspace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crmine.api._errors import ApiError, install_handlers
from crmine.api._policy import POLICY, allowed
from crmine.api._state import ServerState
from crmine.api._users import ApiUser, authenticate

__all__ = ["API_PREFIX", "api_operations", "authorise", "create_app", "state_of"]

API_PREFIX = "/api/v1"


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.crmine
    return state


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "no API token: send 'Authorization: Bearer <token>' (an admin "
                       "makes one with `crmine users add NAME --role ROLE`)",
                       headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def _verified(state: ServerState, token: str) -> ApiUser:
    """The token's user, checked against its argon2 hash (slow on purpose: once per token)."""
    with state.pool.borrow() as ws:
        user = authenticate(ws.duck, token)
    if user is None:
        raise ApiError(401, "the API token is unknown or revoked; ask an admin for a new "
                       "one", headers={"WWW-Authenticate": "Bearer"})
    state.tokens.put(token, user)
    return user


def authorise(operation_id: str) -> Callable[[Request], Awaitable[ApiUser]]:
    """The dependency guarding route ``operation_id``: a valid token whose role the policy
    allows.

    Asynchronous: a token already verified costs a keyed hash in the event loop, not a hop to
    the thread pool (which a route answered in memory does not need either); only argon2, on
    a token's first use, runs in a thread.
    """
    async def check(request: Request) -> ApiUser:
        request.state.operation = operation_id
        token = _bearer(request)
        state = state_of(request)
        user = state.tokens.get(token)
        if user is None:
            user = await run_in_threadpool(_verified, state, token)
        request.state.user = user
        if not allowed(operation_id, user.role):
            roles = ", ".join(sorted(POLICY.get(operation_id, ())))
            raise ApiError(403, f"role {user.role!r} may not call {operation_id}; roles that "
                           f"may: {roles or 'none'}")
        return user

    return check


def create_app(workspace: str | Path, *, export_limit: int = 10, export_window: float = 60.0,
               pool_size: int = 4, watch: float | None = 1.0) -> FastAPI:
    """The API and dashboard over the workspace in ``workspace``.

    Parameters
    ----------
    workspace : folder of a crmine workspace
    export_limit, export_window : at most ``export_limit`` exports per user per
        ``export_window`` seconds (then 429 with Retry-After).
    pool_size : warehouse connections serving requests at once.
    watch : seconds between looks for a changed warehouse (None: only the server's own
        writes are published). Requests are served from a copy of the last complete state
        (:mod:`crmine.api._serving`), so a run in another process can write meanwhile.
    """
    root = Path(workspace).expanduser().resolve()
    state = ServerState(root, pool_size=pool_size, export_limit=export_limit,
                        export_window=export_window, watch=watch)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        state.close()  # jobs asked to stop at their next step, connections closed

    from crmine import __version__

    app = FastAPI(title="crmine API", version=__version__, lifespan=lifespan,
                  description="CRM data mining over one crmine workspace. Every route needs "
                              "`Authorization: Bearer <token>`; personal data is masked for "
                              "roles without PII rights (viewer, marketer).")
    app.state.crmine = state
    install_handlers(app)

    from crmine.api import _routes_admin, _routes_data
    from crmine.api._dashboard import mount_dashboard

    app.include_router(_routes_data.router, prefix=API_PREFIX)
    app.include_router(_routes_admin.router, prefix=API_PREFIX)
    from crmine.api import _pages_routes  # the dashboard's analysis pages

    app.include_router(_pages_routes.router, prefix=API_PREFIX)
    mount_dashboard(app)
    _check_policy(app)

    app.add_middleware(_Audited, state=state)
    return app


def api_operations(app: FastAPI) -> list[tuple[str, str, str | None]]:
    """(method, path, operation id) of every API route, as the OpenAPI schema lists them."""
    out = []
    for path, methods in app.openapi()["paths"].items():
        if path.startswith(API_PREFIX):
            for method, op in methods.items():
                out.append((method.upper(), path, op.get("operationId")))
    return out


def _check_policy(app: FastAPI) -> None:
    """Every API route has an operation id in the policy."""
    for method, path, op in api_operations(app):
        if op is None or op not in POLICY:
            raise RuntimeError(f"route {method} {path} ({op}) has no entry in "
                               "crmine.api._policy.POLICY: decide who may call it")
    app.openapi_schema = None  # built again on first request, after the middleware


def guarded(operation_id: str) -> dict[str, Any]:
    """The keyword arguments of a route decorator: its stable operation id, its guard and the
    error responses it documents."""
    from crmine.api._errors import ERROR_RESPONSES

    return {"operation_id": operation_id, "dependencies": [Depends(authorise(operation_id))],
            "responses": ERROR_RESPONSES}


class _Audited:
    """Pure ASGI middleware (no per-request task as with BaseHTTPMiddleware): every API
    request, its user, route, status and what it read is appended to the audit log."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", []).append((b"x-content-type-options",
                                                          b"nosniff"))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            found = scope.get("state", {})
            detail = found.get("audit")
            query = scope.get("query_string", b"").decode("latin-1")
            if detail is None and query:
                detail = {"query": query[:1000]}
            route = getattr(scope.get("route"), "path", None)  # the template, when matched
            if route is not None and not route.startswith(API_PREFIX):
                route = API_PREFIX + route  # routes of an included router: without the prefix
            self.state.audit.append(found.get("user"), scope["method"], scope["path"],
                                    found.get("operation"), status[0], detail, route=route,
                                    params=scope.get("path_params"))
