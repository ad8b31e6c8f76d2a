from __future__ import annotations

import datetime as dt
import html
import traceback
from pathlib import Path

from plotly.offline import get_plotlyjs

import crmine
from crmine.contract import Verdict, all_analyses, verdict_of
from crmine.report._registry import all_sections
from crmine.report._render import note, verdict_block
from crmine.warehouse import Workspace, last_run
from crmine.warehouse._sealed import seal_key, write_bytes

_CSS = (Path(__file__).with_name("report.css")).read_text(encoding="utf-8")


def build_report(ws: Workspace, path: str | Path | None = None) -> Path:
    """Write the HTML report of ``ws`` (default ``reports/index.html``) and return its path.

    A section whose analysis has not run is left out; one that fails shows its error instead
    of breaking the page.
    """
    out = Path(path) if path else ws.reports_dir / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    parts, links = [], []
    judged = _verdicts_by_section(ws)
    for spec in all_sections():
        verdict = judged.get(spec.key)
        if verdict is not None and not verdict.actionable:
            # Charts of a result that does not beat its baseline would look like findings.
            links.append(f'<a href="#{spec.key}">{html.escape(spec.title)}</a>')
            body = verdict_block(verdict) + note(
                "Nothing from this analysis is shown or written as a list to act on: on held-"
                "out data it does no better than the naive baseline."
            )
            parts.append(f'<section id="{spec.key}"><h2>{html.escape(spec.title)}</h2>'
                         f"{body}</section>")  # fmt: skip
            continue
        try:
            result = spec.fn(ws)
        except Exception as exc:  # one broken section must not hide the others
            body = (
                f'<p class="error">This section failed: {html.escape(repr(exc))}\n'
                f"{html.escape(traceback.format_exc(limit=2))}</p>"
            )
            summary = ""
        else:
            if result is None:
                continue
            body, summary = result.html, result.summary
            if verdict is not None:
                body = verdict_block(verdict) + body
        links.append(f'<a href="#{spec.key}">{html.escape(spec.title)}</a>')
        summary_html = f'<p class="summary">{html.escape(summary)}</p>' if summary else ""
        title = html.escape(spec.title)
        parts.append(f'<section id="{spec.key}"><h2>{title}</h2>{summary_html}{body}</section>')
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>crmine report: {html.escape(ws.root.name)}</title><style>{_CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>crmine report: {html.escape(ws.root.name)}</h1>"
        f"<p>Generated {now} by crmine {crmine.__version__} from "
        f"{html.escape(str(ws.warehouse_path))}. {html.escape(_run_line(ws))}</p></header>"
        f"<nav>{''.join(links)}</nav><main>{''.join(parts)}</main></body></html>"
    )
    # atomic; sealed in an encrypted workspace (`crmine report --open` shows it decrypted)
    write_bytes(out, page.encode("utf-8"), seal_key(ws))
    return out


def _run_line(ws: Workspace) -> str:
    """Which run the page shows: results are published a whole run at a time."""
    run = last_run(ws)
    if run is None:
        return "No complete run yet: sections show what single commands wrote."
    failed = [s["step"] for s in run["steps"] if not s.get("ok", True)]
    extra = f" ({', '.join(failed)} failed in it)" if failed else ""
    return (f"Results of {run['run_id']}, finished {run['finished_at']:%Y-%m-%d %H:%M} UTC"
            f"{extra}; commands run since may have updated single sections.")


def _verdicts_by_section(ws: Workspace) -> dict[str, Verdict]:
    """The recorded verdict of each analysis, keyed by its report section."""
    out = {}
    for a in all_analyses().values():
        if a.fits and (v := verdict_of(ws, a.name)) is not None:
            out[a.section_key] = v
    return out
