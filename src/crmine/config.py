"""The workspace configuration file, ``crmine.toml``.

Example::

    [warehouse]
    engine = "duckdb"            # or "spark"
    path = "warehouse.duckdb"

    [settings]
    time_unit = "D"              # unit of recency/T/frequency periods
    currency = "USD"

    [mappings.orders]            # source column -> canonical column
    "Invoice Number" = "order_id"

    [sources.orders]             # remembered sources, loaded by `crmine ingest orders`
    path = "data/orders.csv"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from crmine.exceptions import ConfigError

__all__ = ["CONFIG_FILE", "Config", "load_config", "save_config"]

CONFIG_FILE = "crmine.toml"
ENGINES = ("duckdb", "spark")


@dataclass(slots=True)
class Config:
    """The parsed ``crmine.toml`` of a workspace."""

    engine: str = "duckdb"
    warehouse_path: str = "warehouse.duckdb"
    # The warehouse file must lie inside the workspace folder unless this says otherwise: a
    # path into another workspace would mix two companies' data.
    warehouse_outside: bool = False
    settings: dict[str, Any] = field(default_factory=lambda: {"time_unit": "D", "currency": "USD"})
    mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "warehouse": {"engine": self.engine, "path": self.warehouse_path}
            | ({"allow_outside": True} if self.warehouse_outside else {}),
            "settings": self.settings,
            "mappings": self.mappings,
            "sources": self.sources,
        }
        data.update(self.extra)
        return data


def load_config(folder: Path) -> Config:
    """Read ``crmine.toml`` from ``folder``; a missing file gives the defaults.

    Raises
    ------
    ConfigError
        When the file is not TOML or a section or value has the wrong type (``[settings]``
        must be a table, ``[warehouse] path`` text...); the message says what to write.
        Setting *keys* are checked against the analyses' declarations where the workspace
        is opened (``crmine.contract.validate_settings``), not here.
    """
    path = folder / CONFIG_FILE
    if not path.exists():
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file or delete it") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8") from exc
    warehouse = _table(path, raw.pop("warehouse", {}), "[warehouse]",
                       '[warehouse]\nengine = "duckdb"\npath = "warehouse.duckdb"')
    engine = warehouse.get("engine", "duckdb")
    if engine not in ENGINES:
        raise ConfigError(
            f"{path}: [warehouse] engine = {engine!r} is not supported; use one of {ENGINES}"
        )
    warehouse_path = warehouse.get("path", "warehouse.duckdb")
    if not isinstance(warehouse_path, str) or not warehouse_path.strip():
        raise ConfigError(
            f"{path}: [warehouse] path = {warehouse_path!r} must be a file name in quotes, "
            'e.g. path = "warehouse.duckdb"'
        )
    outside = warehouse.get("allow_outside", False)
    if not isinstance(outside, bool):
        raise ConfigError(f"{path}: [warehouse] allow_outside = {outside!r} must be true or "
                          "false")  # fmt: skip
    inside = (folder / warehouse_path).resolve().is_relative_to(folder.resolve())
    if not inside and not outside:
        raise ConfigError(
            f"{path}: [warehouse] path = {warehouse_path!r} lies outside the workspace folder "
            f"{folder.resolve()}; keep the warehouse inside it, or add allow_outside = true to "
            "[warehouse] if the file really belongs elsewhere"
        )
    mappings = _table(path, raw.pop("mappings", {}), "[mappings]",
                      '[mappings.orders]\n"Invoice No" = "order_id"')
    for entity_name, mapping in mappings.items():
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ConfigError(
                f"{path}: [mappings.{entity_name}] must map source column names to canonical "
                f'column names, e.g. "Invoice No" = "order_id"'
            )
    settings = _table(path, raw.pop("settings", {}), "[settings]",
                      '[settings]\ntime_unit = "D"\ncurrency = "USD"')
    sources = _table(path, raw.pop("sources", {}), "[sources]",
                     '[sources.orders]\npath = "data/orders.csv"')
    for entity_name, source in sources.items():
        if not isinstance(source, dict):
            raise ConfigError(
                f"{path}: [sources.{entity_name}] must be a table describing the source, "
                f'e.g. [sources.{entity_name}] with path = "data/{entity_name}.csv"'
            )
    return Config(
        engine=engine,
        warehouse_path=warehouse_path,
        warehouse_outside=outside,
        settings={"time_unit": "D", "currency": "USD"} | settings,
        mappings=mappings,
        sources=sources,
        extra=raw,
    )


def _table(path: Path, value: Any, name: str, example: str) -> dict[str, Any]:
    """``value`` if it is a TOML table, else a ConfigError showing how to write ``name``."""
    if isinstance(value, dict):
        return value
    raise ConfigError(
        f"{path}: {name} must be a table (a section of key = value lines), not "
        f"{value!r}; write it as:\n{example}"
    )


def save_config(folder: Path, config: Config) -> Path:
    """Write ``config`` to ``folder/crmine.toml`` atomically."""
    path = folder / CONFIG_FILE
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(config.to_dict()), encoding="utf-8")
    tmp.replace(path)
    return path
