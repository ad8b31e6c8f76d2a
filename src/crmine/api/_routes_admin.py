"""Routes that change things or show who did what: jobs, users, the audit log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from crmine.api._app import guarded, state_of
from crmine.api._errors import ApiError
from crmine.api._policy import ADMIN_JOBS
from crmine.api._users import ROLES, ApiUser, add_user, list_users, revoke_user

router = APIRouter()

JobId = Annotated[str, PathParam(min_length=1, max_length=40)]


class JobRequest(BaseModel):
    kind: Literal["run", "train", "score", "ingest"]
    analysis: str | None = Field(None, max_length=50, description="train: the analysis")
    only: list[Annotated[str, Field(max_length=50)]] | None = Field(
        None, max_length=50, description="run: these analyses (and what they need)")
    model: str | None = Field(None, max_length=50, description="score: the model")
    version: str | None = Field(None, max_length=40, description="score: a model version")
    entity: str | None = Field(None, max_length=50, description="ingest: the entity")
    path: str | None = Field(None, max_length=500,
                             description="ingest: a file inside the workspace, relative")


class JobView(BaseModel):
    job_id: str
    kind: str
    params: dict[str, Any]
    user: str
    status: str
    progress: float
    step: str | None
    created_at: str
    finished_at: str | None
    result: dict[str, Any] | None
    error: str | None
    cancel_requested: bool


class JobList(BaseModel):
    rows: list[JobView]


@router.get("/jobs", response_model=JobList, **guarded("jobs_list"))
def jobs_list(request: Request) -> dict[str, Any]:
    """Jobs of this server process, newest first."""
    return {"rows": [j.to_dict() for j in state_of(request).jobs.all()]}


@router.post("/jobs", response_model=JobView, status_code=202, **guarded("job_start"))
def job_start(request: Request, body: Annotated[JobRequest, Body()]) -> dict[str, Any]:
    """Start a run, a training, a scoring or an ingest in the background."""
    user: ApiUser = request.state.user
    if body.kind in ADMIN_JOBS and user.role != "admin":
        raise ApiError(403, f"role {user.role!r} may not start {body.kind} jobs; only admin")
    params = body.model_dump(exclude_none=True, exclude={"kind"})
    job = state_of(request).jobs.start(body.kind, params, user.name)
    request.state.audit = {"job": job.job_id, "kind": body.kind, **params}
    return job.to_dict()


def _job(request: Request, job_id: str) -> Any:
    job = state_of(request).jobs.get(job_id)
    if job is None:
        raise ApiError(404, f"no job {job_id!r} in this server process")
    return job


@router.get("/jobs/{job_id}", response_model=JobView, **guarded("job_get"))
def job_get(request: Request, job_id: JobId) -> dict[str, Any]:
    """A job's status and progress (0-1), its result or error."""
    return dict(_job(request, job_id).to_dict())


@router.post("/jobs/{job_id}/cancel", response_model=JobView, **guarded("job_cancel"))
def job_cancel(request: Request, job_id: JobId) -> dict[str, Any]:
    """Ask a job to stop at its next step; nothing of it is kept."""
    _job(request, job_id)
    job = state_of(request).jobs.cancel(job_id)
    return dict(job.to_dict()) if job else {}


class UserView(BaseModel):
    user_id: str
    name: str
    role: str
    created_at: str
    revoked_at: str | None
    active: bool


class UserList(BaseModel):
    rows: list[UserView]


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.@+-]+$")
    role: Literal["viewer", "marketer", "analyst", "admin"]


class Token(UserView):
    token: str


@router.get("/users", response_model=UserList, **guarded("users_list"))
def users_list(request: Request) -> dict[str, Any]:
    """API users (revoked ones too); never their tokens."""
    with state_of(request).pool.borrow() as ws:
        return {"rows": [u.to_dict() for u in list_users(ws)]}


@router.post("/users", response_model=Token, status_code=201, **guarded("user_add"))
def user_add(request: Request, body: Annotated[NewUser, Body()]) -> dict[str, Any]:
    """Add a user; the token is in this response only."""
    assert body.role in ROLES
    with state_of(request).writing() as ws:
        user, token = add_user(ws, body.name, body.role)
    request.state.audit = {"added": user.name, "role": user.role}
    return {**user.to_dict(), "token": token}


@router.delete("/users/{name}", response_model=UserView, **guarded("user_revoke"))
def user_revoke(request: Request, name: Annotated[str, PathParam(max_length=64)]
                ) -> dict[str, Any]:
    """Revoke a user: its token stops working at once."""
    state = state_of(request)
    with state.writing() as ws:
        user = revoke_user(ws, name)
    state.tokens.drop(user.user_id)
    request.state.audit = {"revoked": user.name}
    return user.to_dict()


class AuditList(BaseModel):
    rows: list[dict[str, Any]]


@router.get("/audit", response_model=AuditList, **guarded("audit_list"))
def audit_list(request: Request, limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
               user: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """The newest entries of the audit log (who read or exported what, when)."""
    return {"rows": state_of(request).audit.newest(limit, user)}
