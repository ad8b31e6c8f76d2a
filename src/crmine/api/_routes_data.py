"""Routes reading the warehouse: overview, analyses, customers, cube, segments, campaigns,
rules, models and scores. Each parses, calls one function, masks by role, renders."""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from crmine.api import _views
from crmine.api._app import guarded, state_of
from crmine.api._errors import ApiError
from crmine.api._masking import mask_frame
from crmine.api._policy import has_pii_rights
from crmine.api._users import ApiUser

router = APIRouter()

MAX_PAGE = 1000
Where = Annotated[list[str], Query(
    max_length=20, description="Cube filter column<op>value (= != > >= < <=; several "
                               "values a,b). Repeat for AND.")]
Page = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE)]
CustomerId = Annotated[str, PathParam(min_length=1, max_length=100)]


def _user(request: Request) -> ApiUser:
    user: ApiUser = request.state.user
    return user


def _pii(request: Request) -> bool:
    return has_pii_rights(_user(request).role)


def _where(where: list[str]) -> list[str]:
    for i, w in enumerate(where):
        if len(w) > 500:
            raise ApiError(422, f"filter {i + 1} is longer than 500 characters",
                           field=f"query.where.{i}")
    return where


class Rows(BaseModel):
    rows: list[dict[str, Any]]


class Me(BaseModel):
    user_id: str
    name: str
    role: str
    pii: bool


@router.get("/me", response_model=Me, **guarded("whoami"))
def whoami(request: Request) -> dict[str, Any]:
    """Who the token belongs to, its role and whether it sees personal data."""
    u = _user(request)
    return {"user_id": u.user_id, "name": u.name, "role": u.role, "pii": _pii(request)}


@router.get("/overview", **guarded("overview"))
def overview(request: Request) -> dict[str, Any]:
    """Headline KPIs, each analysis's verdict and the last run."""
    with state_of(request).pool.borrow() as ws:
        return _views.overview(ws)


@router.get("/analyses", response_model=Rows, **guarded("analyses_list"))
def analyses_list(request: Request) -> dict[str, Any]:
    """Every declared analysis with its verdict and marts (new analyses appear by
    themselves)."""
    with state_of(request).pool.borrow() as ws:
        return {"rows": _views.analyses_summary(ws)}


@router.get("/analyses/{name}", **guarded("analysis_get"))
def analysis_get(request: Request, name: Annotated[str, PathParam(max_length=100)]
                 ) -> dict[str, Any]:
    """One analysis: verdict, marts (the first rows of the actionable ones), model, its step
    in the last run."""
    with state_of(request).pool.borrow() as ws:
        found = _views.analyses_summary(ws, name, pii=_pii(request))
    return found[0]


class CustomerPage(BaseModel):
    count: int
    where: list[str]
    page: int
    page_size: int
    pages: int
    customers: list[dict[str, Any]]
    consent_excluded: int = 0  # matching customers left out: they opted out of marketing


@router.get("/customers", response_model=CustomerPage, **guarded("customers_search"))
def customers_search(request: Request, where: Where = [], page: Page = 1,  # noqa: B006
                     page_size: PageSize = 50) -> dict[str, Any]:
    """Customers matching every cube filter, a page at a time (contact details masked for
    roles without PII rights)."""
    state = state_of(request)
    with _cube(state) as ws:
        return _views.customers_page(ws, _where(where), page=page, page_size=page_size,
                                     pii=_pii(request))


@router.get("/customers/{customer_id}", **guarded("customer_get"))
async def customer_get(request: Request, customer_id: CustomerId) -> Response:
    """A customer's 360-degree view: attributes and history, orders, tickets, segment,
    scores with reasons, next-best products, lifecycle stage."""
    request.state.audit = {"customer_id": customer_id}
    state, pii = state_of(request), _pii(request)
    lookup = state.pool.loaded_lookup()
    if lookup is not None:  # a millisecond of slicing memory-mapped rows: in the event loop
        found = _views.customer_360_of(lookup, customer_id, pii=pii)
    else:  # queries (or the first load of the lookup), in a thread
        found = await run_in_threadpool(_customer_360, state, customer_id, pii)
    if found is None:
        raise ApiError(404, f"no customer {customer_id!r}")
    # already JSON-ready: FastAPI's jsonable_encoder would walk it again (a millisecond)
    return JSONResponse(found)


def _customer_360(state: Any, customer_id: str, pii: bool) -> dict[str, Any] | None:
    with state.pool.borrow() as ws:
        return _views.customer_360(ws, customer_id, pii=pii)


# -- cube ------------------------------------------------------------------------------------
@contextlib.contextmanager
def _cube(state: Any) -> Iterator[Any]:
    """A connection with the stored cube fresh (built from one connection at a time); a
    filter the cube cannot evaluate is the client's error (422), not the server's."""
    import duckdb

    from crmine.exceptions import CrmineError

    with state.pool.borrow_cube() as (ws, _):
        try:
            yield ws
        except CrmineError:
            raise
        except (ValueError, TypeError, OverflowError, duckdb.Error) as exc:
            # e.g. a date filter pandas cannot parse raises its own ValueError
            raise ApiError(422, f"the filters cannot be evaluated: {exc}"[:500],
                           field="query.where") from exc


@router.get("/cube/columns", **guarded("cube_columns"))
def cube_columns(request: Request) -> dict[str, str]:
    """The cube's dimensions and measures with their kind (text, number, bool, date)."""
    from crmine.cube import cube_columns as columns

    state = state_of(request)
    with _cube(state) as ws:
        return columns(ws)


class Count(BaseModel):
    count: int
    where: list[str]


@router.get("/cube/count", response_model=Count, **guarded("cube_count"))
async def cube_count(request: Request, where: Where = []) -> dict[str, Any]:  # noqa: B006
    """How many customers match every filter
    (``?where=city=Shanghai&where=gender=F``)."""
    state = state_of(request)
    found = _count_in_memory(state, _where(where))
    if found is None:  # a filter the index cannot express: SQL, in a thread
        found = await run_in_threadpool(_count_sql, state, where)
    return found


def _count_in_memory(state: Any, where: list[str]) -> dict[str, Any] | None:
    """The count from the served copy's in-memory index (microseconds, in the event loop),
    or None when it is not built yet or cannot answer these filters."""
    from crmine.cube import parse_where

    index = state.pool.index
    if index is None:
        return None
    filters = parse_where(where)
    if not index.answerable(filters):
        return None
    return {"count": index.count(filters), "where": [str(f) for f in filters]}


def _count_sql(state: Any, where: list[str]) -> dict[str, Any]:
    from crmine.cube import query

    with _cube(state) as ws:
        result = query(ws, where=where)
    return {"count": result.count, "where": [str(f) for f in result.filters]}


@router.get("/cube/list", response_model=CustomerPage, **guarded("cube_list"))
def cube_list(request: Request, where: Where = [], page: Page = 1,  # noqa: B006
              page_size: PageSize = 50,
              column: Annotated[list[str], Query(max_length=100)] = []  # noqa: B006
              ) -> dict[str, Any]:
    """A page of the matching customers with the chosen cube columns (default all)."""
    state = state_of(request)
    with _cube(state) as ws:
        return _views.customers_page(ws, _where(where), page=page, page_size=page_size,
                                     pii=_pii(request), columns=column or None,
                                     contactable=True)


class Groups(BaseModel):
    count: int
    where: list[str]
    by: list[str]
    groups: list[dict[str, Any]]


@router.get("/cube/group", response_model=Groups, **guarded("cube_group"))
def cube_group(request: Request,
               by: Annotated[list[str], Query(min_length=1, max_length=5)],
               where: Where = [],  # noqa: B006
               measure: Annotated[list[str], Query(max_length=20)] = []  # noqa: B006
               ) -> dict[str, Any]:
    """Counts and measures per combination of the ``by`` dimensions."""
    from crmine.cube import query

    state = state_of(request)
    with _cube(state) as ws:
        result = query(ws, where=_where(where), by=by, measures=measure or None)
    groups = result.groups if result.groups is not None else None
    return {"count": result.count, "where": [str(f) for f in result.filters], "by": by,
            "groups": [] if groups is None else _views.records(groups)}


@router.get("/cube/export", **guarded("cube_export"),
            response_class=Response,
            openapi_extra={"responses": {"200": {"content": {"text/csv": {
                "schema": {"type": "string"}}}}}})
def cube_export(request: Request, where: Where = []) -> Response:  # noqa: B006
    """Every matching customer as CSV (personal data masked for roles without PII rights;
    rate-limited per user)."""
    from crmine.cube import query

    state = state_of(request)
    user = _user(request)
    state.exports.admit(user.user_id)
    import pandas as pd

    with _cube(state) as ws, tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "export.parquet"
        consent = _views.consent_filters(ws)  # opted-out customers are not exported
        result = query(ws, where=[*_where(where), *consent], export=target)
        left_out = query(ws, where=_where(where)).count - result.count if consent else 0
        frame = pd.read_parquet(target) if target.exists() else pd.DataFrame()
        frame = _views._with_contact(ws, frame, _pii(request))
    request.state.audit = {"export": "cube", "where": where, "rows": len(frame),
                           "consent_excluded": left_out}
    buf = io.StringIO()
    mask_frame(frame, _pii(request)).to_csv(buf, index=False)
    return Response(buf.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": 'attachment; filename="customers.csv"',
        "X-Count": str(result.count), "X-Consent-Excluded": str(left_out)})


# -- segments, campaigns, rules ----------------------------------------------------------------
@router.get("/segments", **guarded("segments_list"))
def segments_list(request: Request) -> dict[str, Any]:
    """Cluster profiles, RFM segments and the rules describing each cluster."""
    with state_of(request).pool.borrow() as ws:
        return _views.segments_overview(ws)


@router.get("/segments/{segment}/customers", response_model=CustomerPage,
            **guarded("segment_customers"))
def segment_customers(request: Request,
                      segment: Annotated[str, PathParam(min_length=1, max_length=100)],
                      page: Page = 1, page_size: PageSize = 50) -> dict[str, Any]:
    """The customers of a cluster (``0``, ``1`` …) or an RFM segment (``Champions`` …)."""
    state = state_of(request)
    with _cube(state) as ws:
        from crmine.cube import cube_columns as columns

        kinds = columns(ws)
        dimension = "cluster" if segment.isdigit() and "cluster" in kinds else "rfm_segment"
        if dimension not in kinds:
            raise ApiError(404, "no segments yet: run the segmentation (crmine run --only "
                           "segment)")
        from crmine.cube._table import prepare

        if segment not in {str(v) for v in prepare(ws).distinct(dimension)}:
            raise ApiError(404, f"no segment {segment!r} ({dimension}); GET /api/v1/segments "
                           "lists them")
        value = segment
        return _views.customers_page(ws, [f"{dimension}={value}"], page=page,
                                     page_size=page_size, pii=_pii(request), contactable=True)


@router.get("/campaigns", **guarded("campaigns_kpis"))
def campaigns_kpis(request: Request) -> dict[str, Any]:
    """Campaign KPIs (sends, opens, clicks, conversions, ROI, lift over control) and the
    funnel."""
    with state_of(request).pool.borrow() as ws:
        return _views.campaign_kpis(ws)


@router.get("/rules", response_model=Rows, **guarded("rules_list"))
def rules_list(request: Request,
               product: Annotated[str | None, Query(max_length=100)] = None,
               min_lift: Annotated[float, Query(ge=0, le=1e6)] = 1.0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Association rules by lift (optionally naming a product id or name)."""
    with state_of(request).pool.borrow() as ws:
        return {"rows": _views.rules_table(ws, product=product, min_lift=min_lift,
                                           limit=limit)}


# -- models and scores -------------------------------------------------------------------------
@router.get("/models", response_model=Rows, **guarded("models_list"))
def models_list(request: Request) -> dict[str, Any]:
    """Saved models: name, versions, which is latest, headline metrics."""
    from crmine.models import list_models

    with state_of(request).pool.borrow() as ws:
        return {"rows": _views.records(list_models(ws.models_dir))}


class Scores(BaseModel):
    model: str
    version: str | None
    scores: list[dict[str, Any]]
    unknown: list[str]
    # looked up among every customer's scores on this copy (computed in the background once
    # a model is first asked for) rather than computed for this request: the same numbers
    precomputed: bool = False


ModelName = Annotated[str, PathParam(min_length=1, max_length=50,
                                     description="churn, clv, response, segment or "
                                                 "next_best_product")]


@router.get("/scores/{model}/{customer_id}", response_model=Scores,
            **guarded("scores_customer"))
def scores_customer(request: Request, model: ModelName, customer_id: CustomerId,
                    version: Annotated[str | None, Query(max_length=40)] = None
                    ) -> dict[str, Any]:
    """Score one customer now by a saved model (the latest unless ``version``)."""
    state = state_of(request)
    request.state.audit = {"customer_id": customer_id, "model": model}
    with state.pool.borrow() as ws:
        out = state.scorer.score(ws, model, [customer_id], version=version)
    if out["unknown"]:
        raise ApiError(404, f"no customer {customer_id!r} with {model} features")
    return out


class Batch(BaseModel):
    customer_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=1000)


@router.post("/scores/{model}", response_model=Scores, **guarded("scores_batch"))
def scores_batch(request: Request, model: ModelName,
                 body: Annotated[Batch, Body()],
                 version: Annotated[str | None, Query(max_length=40)] = None
                 ) -> dict[str, Any]:
    """Score up to 1,000 customers now; ids without features are listed in ``unknown``."""
    state = state_of(request)
    request.state.audit = {"customers": len(body.customer_ids), "model": model}
    with state.pool.borrow() as ws:
        return state.scorer.score(ws, model, body.customer_ids, version=version)
