"""The run result of a step that fits nothing (features, drift): a summary and its marts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from crmine.contract._verdict import Verdict

__all__ = ["PreparedRun"]


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """What a step that fits nothing did: its figures, the table it made and its marts."""

    figures: dict[str, Any] = field(default_factory=dict)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    marts: tuple[str, ...] = ()
    verdict: Verdict | None = None  # nothing was fitted, so nothing to judge

    def summary(self) -> dict[str, Any]:
        return dict(self.figures)

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()
