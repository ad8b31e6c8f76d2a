"""Routes behind the dashboard's analysis pages: a page per declared analysis, any of its
marts a page at a time (sorted, searched, filtered) and a mart as CSV."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from crmine.api import _pages_views as views
from crmine.api._app import guarded, state_of
from crmine.api._errors import ApiError
from crmine.api._masking import mask_frame
from crmine.api._policy import allowed, has_pii_rights
from crmine.api._users import ApiUser

router = APIRouter()

Name = Annotated[str, PathParam(min_length=1, max_length=100)]
MartName = Annotated[str, PathParam(min_length=1, max_length=100)]
Sort = Annotated[str | None, Query(max_length=100, description="Column to sort by.")]
Desc = Annotated[bool, Query(description="Sort descending.")]
Search = Annotated[str | None, Query(max_length=100,
                                     description="Rows where a text column holds this.")]
Minimum = Annotated[list[str], Query(max_length=10, description="column:number, rows at or "
                                                                 "above it. Repeat for AND.")]


def _user(request: Request) -> ApiUser:
    user: ApiUser = request.state.user
    return user


def _may(request: Request) -> Any:
    role = _user(request).role
    return lambda op: allowed(op, role)


def _known(name: str, mart: str | None = None) -> Any:
    """The declared analysis (and mart), or a 404 naming what exists."""
    from crmine.contract import all_analyses

    declared = all_analyses()
    if name not in declared:
        raise ApiError(404, f"no analysis named {name[:80]!r}; known: "
                       f"{', '.join(sorted(declared))}")
    analysis = declared[name]
    if mart is None:
        return analysis, None
    for m in analysis.marts:
        if mart in (m.name, m.table):
            return analysis, m
    raise ApiError(404, f"analysis {name!r} declares no mart {mart[:80]!r}; its marts: "
                   f"{', '.join(m.name for m in analysis.marts) or 'none'}")


def _gate(request: Request, table: str) -> None:
    op = views.GATED.get(table)
    if op is not None and not allowed(op, _user(request).role):
        raise ApiError(403, f"role {_user(request).role!r} may not read {table} (it needs the "
                       f"roles of {op})")


@router.get("/analyses/{name}/page", **guarded("analysis_page"))
def analysis_page(request: Request, name: Name) -> dict[str, Any]:
    """What the dashboard shows for one analysis: verdict, headline figures, charts with
    their rows, its lists (withheld when it is not informative) and every mart it
    declares."""
    _known(name)
    with state_of(request).pool.borrow() as ws:
        return views.analysis_page(ws, name, pii=has_pii_rights(_user(request).role),
                                   allowed=_may(request))


@router.get("/analyses/{name}/marts/{mart}", **guarded("analysis_mart"))
def analysis_mart(request: Request, name: Name, mart: MartName,
                  page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                  page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
                  sort: Sort = None, desc: Desc = False, q: Search = None,
                  minimum: Minimum = []  # noqa: B006
                  ) -> dict[str, Any]:
    """A page of one of the analysis's marts, sorted and filtered (personal data masked for
    roles without PII rights, who can neither sort nor search by it)."""
    _, m = _known(name, mart)
    _gate(request, m.table)
    with state_of(request).pool.borrow() as ws:
        return views.mart_rows(ws, name, m.name, pii=has_pii_rights(_user(request).role),
                               page=page, page_size=page_size, sort=sort, desc=desc, q=q,
                               minimum=minimum)


@router.get("/analyses/{name}/marts/{mart}/export", **guarded("analysis_mart_export"),
            response_class=Response,
            openapi_extra={"responses": {"200": {"content": {"text/csv": {
                "schema": {"type": "string"}}}}}})
def analysis_mart_export(request: Request, name: Name, mart: MartName,
                         sort: Sort = None, desc: Desc = False, q: Search = None,
                         minimum: Minimum = []  # noqa: B006
                         ) -> Response:
    """Every row of the mart matching the filters as CSV, with customers' contact details
    (masked for roles without PII rights; rate-limited per user; empty when the analysis is
    not informative and the mart drives action)."""
    import pandas as pd

    from crmine.api._views import _with_contact

    _, m = _known(name, mart)
    _gate(request, m.table)
    state = state_of(request)
    user = _user(request)
    state.exports.admit(user.user_id)
    pii = has_pii_rights(user.role)
    with state.pool.borrow() as ws:
        query = views.MartQuery(ws, m.table, pii=pii, sort=sort, desc=desc, q=q,
                                minimum=minimum)
        hold = m.actionable and views.withheld(views.verdict_of(ws, name))
        if not query.columns:
            frame = pd.DataFrame()
        else:
            order = f" ORDER BY {query.order}" if query.order else ""
            limit = 0 if hold else views.MAX_EXPORT
            frame = ws.duck.execute(query.sql() + order + " LIMIT ?",
                                    [*query.params, limit]).df()
            frame = _with_contact(ws, frame, pii)
    request.state.audit = {"export": m.table, "rows": len(frame), "withheld": hold}
    buf = io.StringIO()
    mask_frame(frame, pii).to_csv(buf, index=False)
    return Response(buf.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{m.name}.csv"',
        "X-Count": str(len(frame)), "X-Withheld": "true" if hold else "false"})
