"""The dashboard: one page served by the API process, offline (plotly.js is the copy the
Python plotly package ships, served from here, never a CDN). It holds no data: every view
asks the API with the user's token, so the role policy and masking apply unchanged."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

__all__ = ["STATIC", "mount_dashboard", "plotly_js"]

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css"}


def plotly_js() -> Path:
    """plotly.min.js as bundled with the installed plotly package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def mount_dashboard(app: FastAPI) -> None:
    index = (STATIC / "index.html").read_text(encoding="utf-8")
    headers = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                          "script-src 'self' 'unsafe-eval'; "
                                          "style-src 'self' 'unsafe-inline'"}

    @app.get("/", include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(index, headers=headers)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript",
                            headers={"Cache-Control": "max-age=86400"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        path = STATIC / name
        if "/" in name or path.suffix not in _TYPES or not path.is_file():
            from crmine.api._errors import ApiError

            raise ApiError(404, f"no dashboard file {name[:80]!r}")
        return FileResponse(path, media_type=_TYPES[path.suffix])
