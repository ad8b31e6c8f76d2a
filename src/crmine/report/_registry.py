from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crmine._plugins import import_plugins
from crmine.warehouse import Workspace


@dataclass(frozen=True, slots=True)
class Section:
    """What a section function returns: its HTML body and a one-line summary."""

    html: str
    summary: str = ""


SectionFn = Callable[[Workspace], Section | None]


@dataclass(frozen=True, slots=True)
class SectionSpec:
    key: str
    order: int
    title: str
    fn: SectionFn


_SECTIONS: dict[str, SectionSpec] = {}


def section(key: str, *, order: int, title: str) -> Callable[[SectionFn], SectionFn]:
    """Register ``fn`` as the report section ``key`` (lower ``order`` comes first)."""

    def register(fn: SectionFn) -> SectionFn:
        _SECTIONS[key] = SectionSpec(key, order, title, fn)
        return fn

    return register


def all_sections() -> list[SectionSpec]:
    import_plugins("crmine.report.sections")
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))
