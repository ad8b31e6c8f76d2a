"""The HTML report: one self-contained page (charts bundled, works offline).

An analysis adds its section with one module in ``crmine/report/sections/``::

    from crmine.report import Section, plot, section, table

    @section("clv", order=40, title="Customer lifetime value")
    def clv_section(ws: Workspace) -> Section | None:
        if not ws.has_table("marts.clv_summary"):
            return None                      # analysis not run: the section is left out
        fig = ...                            # a plotly figure
        return Section(html=plot(fig) + table(df), summary="12-month CLV: ...")

Sections read what the analyses wrote to the warehouse (``marts.*``), so ``crmine report``
rebuilds the page at any time without refitting anything.
"""

from __future__ import annotations

from crmine.report._build import build_report
from crmine.report._registry import Section, SectionSpec, all_sections, section
from crmine.report._render import kpis, note, plot, table

__all__ = [
    "Section",
    "SectionSpec",
    "all_sections",
    "build_report",
    "kpis",
    "note",
    "plot",
    "section",
    "table",
]
