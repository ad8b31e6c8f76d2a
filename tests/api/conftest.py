"""The API's fixtures: a demo company with every analysis run, users of each role, an
in-process client and a real uvicorn server on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def api_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace (2,000 customers, seed 0) after a full run.

    ``CRMINE_API_DEMO`` may name such a workspace built earlier (``crmine demo --customers
    2000``): it is copied, which saves the run (about a minute) when re-running these tests.
    """
    root = tmp_path_factory.mktemp("api") / "ws"
    prebuilt = os.environ.get("CRMINE_API_DEMO")
    if prebuilt:
        shutil.copytree(prebuilt, root)
        return root
    from crmine.demo._workspace import build_demo_workspace
    from crmine.pipeline import run_pipeline

    ws, _ = build_demo_workspace(root, n_customers=2_000, seed=0)
    with ws:
        run_pipeline(ws)
    return root


@pytest.fixture(scope="session")
def app(api_root: Path):  # type: ignore[no-untyped-def]
    from crmine.api import create_app

    application = create_app(api_root, export_limit=1000)
    yield application
    application.state.crmine.close()


@pytest.fixture(scope="session")
def tokens(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One token per role."""
    from crmine.api import ROLES, add_user

    out = {}
    with app.state.crmine.writing() as ws:  # the workspace's file, then published
        for role in ROLES:
            _, out[role] = add_user(ws, f"test-{role}", role)
    return out


@pytest.fixture(scope="session")
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    return TestClient(app, raise_server_exceptions=False)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A real uvicorn server (in a thread of this process) serving ``app`` on loopback."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
