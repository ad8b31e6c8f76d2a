"""Running the API: uvicorn on loopback unless told otherwise, stopping gracefully (requests
in flight finish, jobs stop at their next step and roll back, connections close)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["LOOPBACK", "serve"]

LOOPBACK = "127.0.0.1"


def serve(workspace: str | Path, *, host: str = LOOPBACK, port: int = 8000,
          log_level: str = "warning") -> None:
    """Serve the API and dashboard of ``workspace`` until interrupted (Ctrl-C, SIGTERM)."""
    import uvicorn

    from crmine.api._app import create_app

    app = create_app(workspace)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            timeout_graceful_shutdown=30, access_log=False)
    uvicorn.Server(config).run()
