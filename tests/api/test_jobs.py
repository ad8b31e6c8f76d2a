"""Background jobs: a scoring writes its scores with the model version; a cancelled run
leaves the last complete run served; ingest only of workspace files, only by an admin."""

from __future__ import annotations

import time
from typing import Any

from tests.api.conftest import auth


def wait(client: Any, job_id: str, token: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=auth(token)).json()
        if job["status"] in ("done", "failed", "cancelled"):
            return dict(job)
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def test_score_job_writes_scores_with_the_model_version(client, tokens, app, api_root):
    h = auth(tokens["analyst"])
    started = client.post("/api/v1/jobs", json={"kind": "score", "model": "clv"}, headers=h)
    assert started.status_code == 202 and started.json()["status"] in ("queued", "running",
                                                                        "done")
    job = wait(client, started.json()["job_id"], tokens["analyst"])
    assert job["status"] == "done", job["error"]
    latest = (api_root / "models" / "clv" / "latest").read_text().strip()
    assert job["result"] == {"model": "clv", "version": latest, "customers": 2000}
    with app.state.crmine.pool.borrow() as ws:
        versions = ws.duck.execute("SELECT DISTINCT clv_model_version FROM "
                                   "marts.customer_scores").fetchall()
    assert versions == [(latest,)]
    listed = client.get("/api/v1/jobs", headers=h).json()["rows"]
    assert job["job_id"] in [j["job_id"] for j in listed]


def test_cancelled_run_changes_nothing(client, tokens, app):
    h = auth(tokens["analyst"])
    with app.state.crmine.pool.borrow() as ws:
        runs = ws.duck.execute("SELECT count(*) FROM meta.runs").fetchone()[0]
    job_id = client.post("/api/v1/jobs", json={"kind": "run"}, headers=h).json()["job_id"]
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=h).json()["cancel_requested"]
    # while it winds down, the API still answers from the last complete run
    assert client.get("/api/v1/cube/count", headers=h).json()["count"] == 2000
    job = wait(client, job_id, tokens["analyst"])
    assert job["status"] == "cancelled", job
    with app.state.crmine.pool.borrow() as ws:
        assert ws.duck.execute("SELECT count(*) FROM meta.runs").fetchone()[0] == runs


def test_job_validation(client, tokens):
    h = auth(tokens["admin"])
    for body, text in (({"kind": "train"}, "names the analysis"),
                       ({"kind": "run", "only": ["nosuch"]}, "unknown analysis 'nosuch'"),
                       ({"kind": "ingest", "entity": "customers", "path": "../../etc/passwd"},
                        "inside the workspace"),
                       ({"kind": "ingest", "entity": "planets", "path": "x.csv"}, "entity")):
        r = client.post("/api/v1/jobs", json=body, headers=h)
        assert r.status_code == 422 and text in r.json()["error"]["message"], (body, r.text)
    r = client.post("/api/v1/jobs", json={"kind": "ingest", "entity": "customers",
                                          "path": "crmine.toml"}, headers=auth(tokens["analyst"]))
    assert r.status_code == 403
