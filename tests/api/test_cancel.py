"""Cancelling inside a fit: the token is checked at every step of a progress bar, and a job
cancelled in the middle of an analysis's fit stops there and writes nothing."""

from __future__ import annotations

import threading
import time

import pytest

from crmine._progress import Cancelled, cancellable, check_cancelled, stage, track
from tests.api.conftest import auth
from tests.api.test_jobs import wait


def test_the_token_stops_a_loop_at_its_next_step() -> None:
    token = threading.Event()
    seen: list[tuple[str, int, int | None]] = []
    done = []
    with cancellable(token, lambda d, i, n: seen.append((d, i, n))), \
            pytest.raises(Cancelled, match=r"bootstrap \(step 4 of 10\)"):
        for i in track(range(10), "bootstrap"):
            done.append(i)
            if i == 2:
                token.set()
    assert done == [0, 1, 2]
    assert seen == [("bootstrap", 0, 10), ("bootstrap", 1, 10), ("bootstrap", 2, 10)]


def test_stage_and_check_raise_once_cancelled_and_nothing_outside() -> None:
    token = threading.Event()
    token.set()
    with cancellable(token):
        with pytest.raises(Cancelled), stage("fitting"):
            pass
        with pytest.raises(Cancelled, match="replicates"):
            check_cancelled("replicates")
    check_cancelled("outside")  # no token here: nothing happens
    assert list(track([1, 2], "outside")) == [1, 2]


def test_cancel_stops_a_fit_midway_and_leaves_nothing(client, tokens, app, api_root):
    h = auth(tokens["analyst"])
    state = app.state.crmine
    with state.pool.borrow() as ws:
        runs = ws.duck.execute("SELECT count(*) FROM meta.runs").fetchone()[0]
    pointer = api_root / "models" / "segment" / "latest"
    latest = pointer.read_text()
    versions = sorted(p.name for p in pointer.parent.iterdir())
    job_id = client.post("/api/v1/jobs", json={"kind": "train", "analysis": "segment"},
                         headers=h).json()["job_id"]
    job = state.jobs.get(job_id)
    deadline = time.monotonic() + 120
    # inside the fit: a progress step of the segmentation itself (choosing k, bootstrap)
    while not (job.step or "").startswith("segment: "):
        assert job.status in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.005)
    inside = job.step
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=h).json()["cancel_requested"]
    done = wait(client, job_id, tokens["analyst"])
    assert done["status"] == "cancelled", done
    # it stopped in the fit it was in, not after it
    stopped = done["result"]["stopped_in"]
    assert stopped.startswith("segment: "), (inside, stopped)
    with state.pool.borrow() as ws:
        assert ws.duck.execute("SELECT count(*) FROM meta.runs").fetchone()[0] == runs
    assert pointer.read_text() == latest
    assert sorted(p.name for p in pointer.parent.iterdir()) == versions
