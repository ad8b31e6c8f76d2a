"""Typed ``[settings]``: every key declared (by the workspace or by an analysis), checked on use.

An unknown key is an error naming the nearest valid one; a value of the wrong type or outside
its choices is an error saying what is expected. Never a traceback, never silently ignored.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from crmine.contract._analysis import Setting, all_analyses
from crmine.exceptions import ConfigError

__all__ = ["WORKSPACE_SETTINGS", "all_settings", "validate_settings"]


def _date(value: Any) -> str | None:
    import pandas as pd

    try:
        pd.Timestamp(value)
    except (ValueError, TypeError):
        return "a date such as 2024-12-31"
    return None


WORKSPACE_SETTINGS: tuple[Setting, ...] = (
    Setting("time_unit", str, "D", "unit of recency/T/frequency periods", choices=("D", "W", "M")),
    Setting("currency", str, "USD", "currency code shown with money"),
    Setting("observation_end", str, None, "the data's end date (default: the latest date in "
            "the data)", check=_date),
    Setting("cube_bands", dict, None, "custom bands of numeric cube dimensions"),
    # Written by `crmine demo` before the demo's marker moved to its own [demo] table.
    Setting("demo_seed", int, None, "the seed of a demo company (older demo workspaces)"),
)


def all_settings() -> dict[str, Setting]:
    """Every declared setting by key: the workspace's and each analysis's."""
    out = {s.key: s for s in WORKSPACE_SETTINGS}
    for a in all_analyses().values():
        for s in a.settings:
            out.setdefault(s.key, s)
    return out


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "a whole number", float: "a number", str: "text", bool: "true or false",
             dict: "a table", list: "a list"}  # fmt: skip
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _type_ok(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int) and float in kinds:
        return True
    return isinstance(value, kinds)


def flatten(
    settings: Mapping[str, Any], prefix: str = "", declared: Mapping[str, Setting] | None = None
) -> dict[str, Any]:
    """``{"clv": {"margin": 0.4}}`` (TOML's ``clv.margin = 0.4``) as ``{"clv.margin": 0.4}``;
    tables that are themselves a declared setting's value are kept whole."""
    declared = all_settings() if declared is None else declared
    out: dict[str, Any] = {}
    for key, value in settings.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and full not in declared:
            out.update(flatten(value, f"{full}.", declared))
        else:
            out[full] = value
    return out


def _declared_for(settings: Mapping[str, Any]) -> dict[str, Setting]:
    """The workspace's own settings when they cover every key (no analysis is imported: a
    CLI command checking crmine.toml stays fast), else every declared setting."""
    own = {s.key: s for s in WORKSPACE_SETTINGS}
    if set(flatten(settings, declared=own)) <= set(own):
        return own
    return all_settings()


def validate_settings(settings: Mapping[str, Any], where: str = "crmine.toml") -> dict[str, Any]:
    """``settings`` flattened and checked against the declared schema.

    Raises
    ------
    ConfigError
        For an unknown key (naming the nearest valid one) or a value of the wrong type.
    """
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{where}: [settings] must be a table of key = value lines, "
                          f"not {settings!r}")  # fmt: skip
    declared = _declared_for(settings)
    flat = flatten(settings, declared=declared)
    problems = []
    for key, value in flat.items():
        spec = declared.get(key)
        if spec is None:
            near = difflib.get_close_matches(key, list(declared), n=1, cutoff=0.5)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            problems.append(f"unknown setting {key!r}{hint} (valid: "
                            f"{', '.join(sorted(declared))})")  # fmt: skip
            continue
        if value is None:
            continue
        if not _type_ok(value, spec.kind):
            problems.append(f"setting {key} = {value!r} must be {_type_name(spec.kind)} "
                            f"({spec.help})")  # fmt: skip
            continue
        if spec.choices and value not in spec.choices:
            problems.append(f"setting {key} = {value!r} must be one of "
                            f"{', '.join(map(repr, spec.choices))}")  # fmt: skip
            continue
        if spec.check is not None and (text := spec.check(value)):
            problems.append(f"setting {key} = {value!r} must be {text}")
    if problems:
        raise ConfigError(f"{where} [settings]: " + "; ".join(problems))
    return flat
