"""The report's first section: what each analysis can (and cannot) tell, on held-out data."""

from __future__ import annotations

import html
import json

from crmine.contract import Verdict, all_analyses, read_verdicts
from crmine.report import Section, section
from crmine.report._render import _figure
from crmine.warehouse import Workspace

_LABELS = {"informative": "informative", "weak": "weak", "not_informative": "not informative"}


@section("verdicts", order=-10, title="What the analyses can tell")
def verdicts_section(ws: Workspace) -> Section | None:
    rows = read_verdicts(ws)
    if rows.empty:
        return None
    titles = {a.name: a.title for a in all_analyses().values()}
    body = []
    for _, r in rows.iterrows():
        v = Verdict.from_dict(json.loads(r["verdict_json"]))
        interval = (f"{_figure(v.interval[0])}–{_figure(v.interval[1])}"
                    if v.interval is not None else "–")  # fmt: skip
        body.append(
            f"<tr><td>{html.escape(titles.get(r['analysis'], r['analysis']))}</td>"
            f'<td class="status-{v.status}">{_LABELS[v.status]}</td>'
            f"<td>{html.escape(v.metric)}</td><td>{_figure(v.value)}</td><td>{interval}</td>"
            f"<td>{_figure(v.baseline)}</td><td>{html.escape(v.why)}"
            + (f"<br><em>Try:</em> {html.escape(v.what_to_try)}" if v.what_to_try else "")
            + "</td></tr>"
        )
    counts = rows["status"].value_counts()
    summary = ", ".join(f"{int(counts.get(k, 0))} {label}" for k, label in _LABELS.items())
    head = ("<tr><th>analysis</th><th>verdict</th><th>held-out measure</th><th>value</th>"
            "<th>95% interval</th><th>naive baseline</th><th>why</th></tr>")  # fmt: skip
    html_table = (f'<div class="table-wrap"><table class="data verdicts"><thead>{head}</thead>'
                  f"<tbody>{''.join(body)}</tbody></table></div>")  # fmt: skip
    intro = ("<p>Each analysis was checked on data it was not fitted on, against the naive "
             "baseline a sceptical analyst would use. Only informative results drive lists to "
             "act on; weak ones are shown with a warning; not-informative ones show nothing "
             "that looks like a finding.</p>")  # fmt: skip
    return Section(html=intro + html_table, summary=summary)
