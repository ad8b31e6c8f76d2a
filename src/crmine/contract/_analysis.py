"""The analysis declaration: one ``Analysis`` per analysis package, read by everything else.

The pipeline orders analyses from ``requires``/``uses``; the model registry scores and measures
drift from ``model``; ``crmine check`` runs every declared mart's checks; the report section and
the CLI module are found by the analysis's ``name`` (``crmine/report/sections/<name>.py``,
``crmine/cli/commands/<name>.py``); settings are validated against ``settings``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pandas as pd

from crmine.warehouse._schema import Check, CoreTable

if TYPE_CHECKING:
    from crmine.contract._verdict import Verdict
    from crmine.warehouse import Workspace

__all__ = [
    "Analysis",
    "AnalysisRun",
    "Mart",
    "ModelSpec",
    "Requirement",
    "Setting",
    "SkipAnalysis",
    "accepted",
    "all_analyses",
    "analysis",
    "check_marts",
    "declared_marts",
    "not_null",
    "unique",
]

# A required input: a table ("core.fct_order_lines"), a column that must hold values
# ("core.fct_order_lines.product_id"), another analysis by name ("clv"), or a tuple of those
# any one of which will do.
Requirement = str | tuple[str, ...]


class SkipAnalysis(Exception):
    """Raised by a run that finds nothing to do; its message says why (shown as skipped)."""


@runtime_checkable
class AnalysisRun(Protocol):
    """What every ``run_<name>(ws, ...)`` returns (``ChurnRun``, ``ClvRun``...)."""

    @property
    def verdict(self) -> Verdict | None: ...

    @property
    def marts(self) -> tuple[str, ...]: ...

    def summary(self) -> dict[str, Any]: ...

    def to_frame(self) -> pd.DataFrame: ...


@dataclass(frozen=True, slots=True)
class Mart:
    """A table an analysis writes: ``marts.<name>``, its grain, columns and checks (as dbt's
    ``models/*.yml``). ``crmine check`` runs the checks; ``columns`` are those always present."""

    name: str
    grain: str
    columns: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    actionable: bool = False  # a list that drives action: withheld when not informative

    @property
    def table(self) -> str:
        return self.name if "." in self.name else f"marts.{self.name}"

    def as_core_table(self) -> CoreTable:
        return CoreTable(self.table, self.grain, self.checks)


def unique(*columns: str) -> Check:
    return Check("unique", columns)


def not_null(*columns: str) -> Check:
    return Check("not_null", columns)


def accepted(column: str, values: Sequence[str]) -> Check:
    return Check("accepted_values", (column,), tuple(values))


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """How the registry treats the analysis's saved model ``name``.

    ``features(ws)`` gives today's features as the model scores them (drift compares them
    with the training profile); ``score(bundle, metadata, frame)`` scores a table of them.
    """

    name: str
    features: Callable[[Workspace], pd.DataFrame]
    score: Callable[[Any, dict[str, Any], pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True, slots=True)
class Setting:
    """A ``[settings]`` key of ``crmine.toml``: its type, default and meaning.

    ``kind`` is a type or a tuple of types the value must have (``int`` is accepted where
    ``float`` is); ``choices`` restricts string values; ``check`` validates further and returns
    an error text or None.
    """

    key: str
    kind: type | tuple[type, ...]
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    check: Callable[[Any], str | None] | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    """The declaration of one analysis.

    Parameters
    ----------
    name : str
        Short name: the pipeline step, ``crmine <name>`` CLI group, report section key.
    title : str
    run : callable
        ``run(ws) -> AnalysisRun`` with the workspace's settings.
    requires : tuple
        Inputs without which it cannot run: tables, ``schema.table.column`` columns that must
        hold values, or other analyses' names (which then run first; if one is skipped or
        fails, so is this).
    uses : tuple of str
        Analyses whose output is used when present (they run first when they can).
    marts : tuple of Mart
        Everything it writes.
    model : ModelSpec or None
    settings : tuple of Setting
    fits : bool
        False for steps that fit nothing (features, drift): their verdict is None.
    before_models : bool
        Runs before every analysis that has a ``model`` (drift: measured before the refit).
    section, cli : str
        The report section key and CLI module, when they are not named ``name``.
    """

    name: str
    title: str
    run: Callable[[Workspace], AnalysisRun]
    requires: tuple[Requirement, ...] = ()
    uses: tuple[str, ...] = ()
    marts: tuple[Mart, ...] = ()
    model: ModelSpec | None = None
    settings: tuple[Setting, ...] = ()
    fits: bool = True
    before_models: bool = False
    section: str = ""  # report section key, when not ``name``
    cli: str = ""  # CLI module (crmine/cli/commands/<cli>.py), when not ``name``
    package: str = field(default="", compare=False)

    @property
    def section_key(self) -> str:
        return self.section or self.name

    @property
    def cli_module(self) -> str:
        return self.cli or self.name

    def analyses_required(self) -> tuple[str, ...]:
        return tuple(r for r in self.requires if isinstance(r, str) and "." not in r)

    def tables_required(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requires if not (isinstance(r, str) and "." not in r))


def _discover() -> dict[str, Analysis]:
    import crmine

    found: dict[str, Analysis] = {}
    root = Path(crmine.__path__[0])
    for info in sorted(pkgutil.iter_modules(crmine.__path__), key=lambda m: m.name):
        # An analysis package keeps its declaration in _analysis.py: others are not imported
        # (interfaces import the analyses; some packages import heavy optional libraries).
        if not info.ispkg or not (root / info.name / "_analysis.py").exists():
            continue
        module = importlib.import_module(f"crmine.{info.name}")
        declared = getattr(module, "ANALYSES", None) or (
            (module.ANALYSIS,) if hasattr(module, "ANALYSIS") else ()
        )
        for a in declared:
            if a.name in found:
                raise RuntimeError(f"analysis {a.name!r} declared twice")
            found[a.name] = Analysis(**{**_fields(a), "package": f"crmine.{info.name}"})
    return found


def _fields(a: Analysis) -> dict[str, Any]:
    return {name: getattr(a, name) for name in Analysis.__dataclass_fields__}


_CACHE: dict[str, Analysis] = {}


def all_analyses() -> dict[str, Analysis]:
    """Every declared analysis by name, discovered from the packages' ``ANALYSIS``."""
    if not _CACHE:
        _CACHE.update(_discover())
    return dict(_CACHE)


def analysis(name: str) -> Analysis:
    """The declaration of analysis ``name``; a clear error lists the known ones."""
    from crmine.exceptions import ConfigError

    found = all_analyses()
    if name not in found:
        import difflib

        near = difflib.get_close_matches(name, list(found), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ConfigError(f"no analysis named {name!r}{hint}; known: {', '.join(sorted(found))}")
    return found[name]


def declared_marts() -> dict[str, tuple[Analysis | None, Mart]]:
    """Every declared mart by table name (``marts.x``) with the analysis writing it (None for
    the marts several analyses share, such as ``marts.customer_scores``)."""
    from crmine.warehouse._schema import MART_TABLES

    out: dict[str, tuple[Analysis | None, Mart]] = {
        t.name: (None, Mart(t.name, t.grain, checks=t.checks)) for t in MART_TABLES
    }
    for a in all_analyses().values():
        for m in a.marts:
            out.setdefault(m.table, (a, m))
    return out


def check_marts(ws: Workspace) -> list[Any]:
    """Every declared check of the core tables and of every declared mart present in ``ws``
    (what ``crmine check`` runs); a list of ``CheckResult``."""
    from crmine.warehouse import run_checks

    return run_checks(ws, [m.as_core_table() for _, m in declared_marts().values()])
