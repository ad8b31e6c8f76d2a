"""Small HTML building blocks shared by every section."""

from __future__ import annotations

import html as _html
from collections.abc import Mapping
from typing import Any

import pandas as pd

from crmine._format import fmt_number
from crmine.contract import Verdict

_PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def plot(fig: Any, *, height: int | None = None) -> str:
    """A plotly figure as an HTML fragment (the plotly library is bundled once per page)."""
    if height:
        fig.update_layout(height=height)
    # a figure title above subplot titles needs room of its own, or the two overlap
    top = 90 if fig.layout.title.text and fig.layout.annotations else 50
    fig.update_layout(template="plotly_white", margin={"l": 40, "r": 20, "t": top, "b": 40})
    return (
        '<div class="chart">'
        + fig.to_html(full_html=False, include_plotlyjs=False, config=_PLOT_CONFIG)
        + "</div>"
    )


def table(df: pd.DataFrame, *, max_rows: int = 20, digits: int = 3, caption: str = "") -> str:
    """A DataFrame as a compact HTML table (first ``max_rows`` rows)."""
    shown = df.head(max_rows).copy()
    for col in shown.columns:  # None in text columns would print as "None"
        if shown[col].dtype == object:
            shown[col] = shown[col].where(shown[col].notna(), "")
        elif pd.api.types.is_integer_dtype(shown[col]) and not _is_label(str(col)):
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
    body = shown.to_html(
        index=False,
        border=0,
        classes="data",
        float_format=lambda x: f"{x:,.{digits}f}",
        na_rep="",
        escape=True,
    )
    more = (
        f'<p class="more">{len(df) - max_rows:,} more rows not shown</p>'
        if len(df) > max_rows
        else ""
    )
    cap = f"<h4>{_html.escape(caption)}</h4>" if caption else ""
    return f'<div class="table-wrap">{cap}{body}{more}</div>'


def _is_label(column: str) -> bool:
    """Integer columns that name rather than count (ids, years): printed without grouping."""
    return column.lower().endswith(("id", "year", "version", "code", "node", "parent", "rank"))


def kpis(values: Mapping[str, object]) -> str:
    """A row of headline figures."""
    cells = "".join(
        f'<div class="kpi"><div class="kpi-value">{_html.escape(_fmt(v))}</div>'
        f'<div class="kpi-label">{_html.escape(k)}</div></div>'
        for k, v in values.items()
    )
    return f'<div class="kpis">{cells}</div>'


def note(text: str) -> str:
    return f'<p class="note">{_html.escape(text)}</p>'


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return fmt_number(v)
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


_VERDICT_LABELS = {
    "informative": "Informative",
    "weak": "Weak evidence",
    "not_informative": "Not informative",
}


def _figure(v: object) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 1000 else f"{v:,.0f}"
    return _fmt(v)


def verdict_block(verdict: Verdict, *, detail: bool = True) -> str:
    """A verdict as a coloured box: status, the held-out figure against its baseline, why,
    and what to try."""
    label = _VERDICT_LABELS[verdict.status]
    interval = ""
    if verdict.interval is not None:
        interval = f" (95% interval {_figure(verdict.interval[0])}–{_figure(verdict.interval[1])})"
    figures = (f"{verdict.metric}: {_figure(verdict.value)}{interval} against a baseline of "
               f"{_figure(verdict.baseline)}")  # fmt: skip
    parts = [f'<strong>{_html.escape(label)}</strong> — {_html.escape(figures)}.']
    if verdict.why:
        parts.append(f"<br>{_html.escape(verdict.why)}")
    if verdict.what_to_try:
        parts.append(f"<br><em>What to try:</em> {_html.escape(verdict.what_to_try)}")
    if detail and verdict.warnings:
        shown = "; ".join(verdict.warnings[:5])
        more = f" (+{len(verdict.warnings) - 5} more)" if len(verdict.warnings) > 5 else ""
        parts.append(f"<br><small>Warnings during the fit: {_html.escape(shown)}{more}</small>")
    if detail:
        for check in verdict.checks:
            label = _html.escape(_VERDICT_LABELS[check.status])
            parts.append(f"<br><small>{label}: {_html.escape(check.metric)} "
                         f"{_figure(check.value)} against {_figure(check.baseline)}. "
                         f"{_html.escape(check.why)}</small>")  # fmt: skip
    css = verdict.status.replace("_", "-")
    return f'<div class="verdict verdict-{css}">{"".join(parts)}</div>'
