"""The customer data warehouse: workspace, canonical schema, ingest, quality, history."""

from __future__ import annotations

from crmine.warehouse._ingest import LoadReport, ingest
from crmine.warehouse._quality import CheckResult, QualityReport, quality_report, run_checks
from crmine.warehouse._runs import Run, last_run, published_run
from crmine.warehouse._schema import (
    CORE_TABLES,
    ENTITIES,
    MART_TABLES,
    Check,
    Column,
    CoreTable,
    Entity,
    entity,
)
from crmine.warehouse._workspace import SCHEMAS, Workspace

__all__ = [
    "CORE_TABLES",
    "ENTITIES",
    "MART_TABLES",
    "SCHEMAS",
    "Check",
    "CheckResult",
    "Column",
    "CoreTable",
    "Entity",
    "LoadReport",
    "QualityReport",
    "Run",
    "Workspace",
    "entity",
    "ingest",
    "last_run",
    "published_run",
    "quality_report",
    "run_checks",
]
