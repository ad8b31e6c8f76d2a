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
    settings: dict[str, Any] = field(default_factory=lambda: {"time_unit": "D", "currency": "USD"})
    mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "warehouse": {"engine": self.engine, "path": self.warehouse_path},
            "settings": self.settings,
            "mappings": self.mappings,
            "sources": self.sources,
        }
        data.update(self.extra)
        return data


def load_config(folder: Path) -> Config:
    """Read ``crmine.toml`` from ``folder``; a missing file gives the defaults."""
    path = folder / CONFIG_FILE
    if not path.exists():
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file or delete it") from exc
    warehouse = raw.pop("warehouse", {})
    engine = warehouse.get("engine", "duckdb")
    if engine not in ENGINES:
        raise ConfigError(
            f"{path}: [warehouse] engine = {engine!r} is not supported; use one of {ENGINES}"
        )
    mappings = raw.pop("mappings", {})
    for entity_name, mapping in mappings.items():
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ConfigError(
                f"{path}: [mappings.{entity_name}] must map source column names to canonical "
                f'column names, e.g. "Invoice No" = "order_id"'
            )
    settings = {"time_unit": "D", "currency": "USD"} | raw.pop("settings", {})
    return Config(
        engine=engine,
        warehouse_path=warehouse.get("path", "warehouse.duckdb"),
        settings=settings,
        mappings=mappings,
        sources=raw.pop("sources", {}),
        extra=raw,
    )


def save_config(folder: Path, config: Config) -> Path:
    """Write ``config`` to ``folder/crmine.toml`` atomically."""
    path = folder / CONFIG_FILE
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(config.to_dict()), encoding="utf-8")
    tmp.replace(path)
    return path
