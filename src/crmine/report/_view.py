"""Showing a written report in the browser (``crmine report --open``).

A plain report is opened as its file. A sealed one (an encrypted workspace) is decrypted in
memory and served once from 127.0.0.1 under a random path: no decrypted copy is written to
disk, and the server stops as soon as the page has been fetched (or after ``timeout``).
"""

from __future__ import annotations

import secrets
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from crmine.warehouse._sealed import is_sealed, read_bytes

__all__ = ["open_report", "serve_once"]


class _Once(ThreadingHTTPServer):
    page: bytes
    path: str
    served: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Once

    def do_GET(self) -> None:  # the name http.server calls
        if self.path != self.server.path:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.server.page)))
        self.send_header("Cache-Control", "no-store")  # not into the browser's disk cache
        self.end_headers()
        self.wfile.write(self.server.page)
        self.server.served.set()

    def log_message(self, format: str, *args: object) -> None:  # quiet: the CLI prints
        return


def serve_once(page: bytes, *, timeout: float = 120.0) -> tuple[str, threading.Thread]:
    """Serve ``page`` at a random local URL until it was fetched once or ``timeout``
    seconds passed; returns the URL and the serving thread."""
    server = _Once(("127.0.0.1", 0), _Handler)
    server.page, server.path = page, f"/{secrets.token_urlsafe(16)}/report.html"
    server.served = threading.Event()
    url = f"http://127.0.0.1:{server.server_address[1]}{server.path}"

    def serve() -> None:
        with server:
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            server.served.wait(timeout)
            server.shutdown()

    thread = threading.Thread(target=serve, daemon=True, name="crmine-report-view")
    thread.start()
    return url, thread


def open_report(path: str | Path, key: str | None = None, *, timeout: float = 120.0,
                wait: bool = True) -> str:  # fmt: skip
    """Open the report at ``path`` in the browser; returns the URL opened. A sealed report
    is served decrypted from memory (module docstring); ``wait`` blocks until it was fetched."""
    path = Path(path)
    if not is_sealed(path):
        url = path.resolve().as_uri()
        webbrowser.open(url)
        return url
    url, thread = serve_once(read_bytes(path, key), timeout=timeout)
    webbrowser.open(url)
    if wait:
        thread.join(timeout + 5)
    return url
