"""Serving while the warehouse is written: a real `crmine serve` keeps answering from the last
complete run while `crmine run` (another process) writes the same workspace, and serves the
new run once it has finished; users added with the CLI meanwhile can log in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import auth, free_port

CRMINE = str(Path(sys.executable).parent / "crmine")
ENV = {**os.environ, "CRMINE_PROGRESS": "0"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CRMINE, *args], capture_output=True, text=True, env=ENV,
                          timeout=300)


def _until(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            found = check()
        except (httpx.HTTPError, KeyError, TypeError) as exc:
            found, last = None, exc
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out: {last}"
        time.sleep(0.2)


@pytest.mark.slow
def test_serve_reads_the_last_complete_run_while_a_run_writes(api_root, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(api_root, root, ignore=shutil.ignore_patterns(".serving"))
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([CRMINE, "serve", "-w", str(root), "--port", str(port)],
                              env=ENV, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/api/v1"
    try:
        _until(lambda: httpx.get(f"{url}/me", timeout=5).status_code == 401, timeout=120)
        # the server holds no lock on the file: the CLI adds a user while it serves
        added = _cli("users", "add", "ops", "--role", "analyst", "-w", str(root), "--json")
        assert added.returncode == 0, added.stderr
        h = auth(json.loads(added.stdout)["token"])
        first = _until(lambda: (r := httpx.get(f"{url}/overview", headers=h, timeout=5))
                       .status_code == 200 and r.json(), timeout=120)
        before = first["last_run"]["run_id"]
        count = httpx.get(f"{url}/cube/count", headers=h).json()["count"]

        run_log = tmp_path / "run.log"
        run = subprocess.Popen([CRMINE, "run", "-w", str(root), "--only", "segment"], env=ENV,
                               stdout=run_log.open("w"), stderr=subprocess.STDOUT)
        seen = []
        while run.poll() is None:  # every answer during the run: 200, a complete run
            r = httpx.get(f"{url}/overview", headers=h, timeout=30)
            assert r.status_code == 200, r.text
            seen.append(r.json()["last_run"]["run_id"])
            c = httpx.get(f"{url}/cube/count", headers=h, timeout=30)
            assert c.status_code == 200 and c.json()["count"] == count
            time.sleep(0.1)
        assert run.returncode == 0, run_log.read_text()[-2000:]
        # read during the run (the previous run served), never a run half-written
        assert seen.count(before) >= 3, seen
        after = _until(lambda: (run_id := httpx.get(f"{url}/overview", headers=h, timeout=5)
                                .json()["last_run"]["run_id"]) != before and run_id)
        assert set(seen) <= {before, after}
        assert seen == sorted(seen, key=lambda x: x != before)  # the old, then the new
        from crmine.warehouse import Workspace, last_run

        with Workspace.open(root, read_only=True) as ws:  # no lock held by the server
            assert last_run(ws)["run_id"] == after
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    copies = list((root / ".serving").glob("warehouse-*.duckdb"))
    assert len(copies) == 1  # the last one, for a restart during a run; the older deleted


def test_a_write_while_another_process_writes_is_503_and_reads_go_on(client, tokens, api_root):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(30)", str(api_root / "warehouse.duckdb")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        r = client.post("/api/v1/users", json={"name": "late", "role": "viewer"},
                        headers=auth(tokens["admin"]))
        assert r.status_code == 503 and r.headers["Retry-After"] == "10", r.text
        assert "being written by another crmine process" in r.json()["error"]["message"]
        assert client.get("/api/v1/cube/count", headers=auth(tokens["viewer"])).json()[
            "count"] == 2000
    finally:
        holder.kill()
        holder.wait(10)
