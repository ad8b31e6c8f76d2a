"""The customer data warehouse: workspace, canonical schema, ingest, quality, history."""

from __future__ import annotations

from crmine.warehouse._schema import CORE_TABLES, ENTITIES, Check, Column, CoreTable, Entity, entity
from crmine.warehouse._workspace import SCHEMAS, Workspace

__all__ = [
    "CORE_TABLES",
    "ENTITIES",
    "SCHEMAS",
    "Check",
    "Column",
    "CoreTable",
    "Entity",
    "Workspace",
    "entity",
]
