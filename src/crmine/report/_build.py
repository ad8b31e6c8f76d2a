from __future__ import annotations

import datetime as dt
import html
import traceback
from pathlib import Path

from plotly.offline import get_plotlyjs

import crmine
from crmine.report._registry import sections
from crmine.warehouse import Workspace

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
header{background:#1f3a5f;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.8;font-size:13px}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid #dde3ea;font-size:14px;position:sticky;top:0;z-index:5}
nav a{margin-right:14px;color:#1f3a5f;text-decoration:none}
main{padding:8px 32px 40px;max-width:1280px}
section{background:#fff;border-radius:8px;padding:16px 24px;margin:18px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
section h2{margin-top:4px;color:#1f3a5f}.summary{color:#52606d;font-style:italic}
table.data{border-collapse:collapse;font-size:13px;margin:6px 0}
table.data th,table.data td{padding:4px 10px;border-bottom:1px solid #e4e7eb;text-align:right}
table.data th{background:#f0f4f8}.table-wrap{overflow-x:auto}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.kpi{background:#f0f4f8;border-radius:6px;padding:10px 16px;min-width:120px}
.kpi-value{font-size:20px;font-weight:600;color:#1f3a5f}.kpi-label{font-size:12px;color:#52606d}
.more,.note{font-size:12px;color:#7b8794}.error{color:#b42318;white-space:pre-wrap;font-size:12px}
.chart{margin:8px 0}
"""


def build_report(ws: Workspace, path: str | Path | None = None) -> Path:
    """Write the HTML report of ``ws`` (default ``reports/index.html``) and return its path.

    A section whose analysis has not run is left out; one that fails shows its error instead
    of breaking the page.
    """
    out = Path(path) if path else ws.reports_dir / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    parts, links = [], []
    for spec in sections():
        try:
            result = spec.fn(ws)
        except Exception as exc:  # one broken section must not hide the others
            body = f'<p class="error">This section failed: {html.escape(repr(exc))}\n' \
                   f"{html.escape(traceback.format_exc(limit=2))}</p>"
            summary = ""
        else:
            if result is None:
                continue
            body, summary = result.html, result.summary
        links.append(f'<a href="#{spec.key}">{html.escape(spec.title)}</a>')
        summary_html = f'<p class="summary">{html.escape(summary)}</p>' if summary else ""
        parts.append(
            f'<section id="{spec.key}"><h2>{html.escape(spec.title)}</h2>{summary_html}{body}</section>'
        )
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    page = (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>crmine report: {html.escape(ws.root.name)}</title><style>{_CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>crmine report: {html.escape(ws.root.name)}</h1>"
        f"<p>Generated {now} by crmine {crmine.__version__} from {html.escape(str(ws.warehouse_path))}</p></header>"
        f"<nav>{''.join(links)}</nav><main>{''.join(parts)}</main></body></html>"
    )
    tmp = out.with_suffix(".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
