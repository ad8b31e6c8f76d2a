"""Errors and warnings raised by crmine.

Every error derives from :class:`CrmineError` and also from the matching built-in exception, so
callers can catch either (``except ValueError`` keeps working). Messages name the table, column,
row and bad value, and say what to do.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConvergenceWarning",
    "CrmineError",
    "CrmineWarning",
    "DataError",
    "IngestError",
    "MissingColumnError",
    "NotFittedError",
    "SchemaError",
    "WorkspaceError",
]


class CrmineError(Exception):
    """Base class of every crmine error."""


class ConfigError(CrmineError, ValueError):
    """``crmine.toml`` or a setting is invalid."""


class WorkspaceError(CrmineError, FileNotFoundError):
    """The workspace folder or its warehouse is missing or unusable."""


class SchemaError(CrmineError, ValueError):
    """A table does not have the columns or types an operation needs."""


class MissingColumnError(SchemaError, KeyError):
    """A required column is absent; the message lists the columns that were found."""

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0]) if self.args else ""


class DataError(CrmineError, ValueError):
    """Values are invalid (negative counts, recency > T, NaN...); the message names the rows."""


class IngestError(CrmineError, ValueError):
    """A source cannot be loaded (missing file, unreadable format, missing required column)."""


class NotFittedError(CrmineError, ValueError, AttributeError):
    """An estimator method was called before ``fit``."""


class CrmineWarning(UserWarning):
    """Base class of crmine warnings."""


class ConvergenceWarning(CrmineWarning):
    """An optimiser stopped without converging; results may be unreliable."""
