"""Where verdicts are kept: ``marts.analysis_verdicts``, one row per analysis, so that the
report (rebuilt any time without refitting) and the CLI show the latest judgement."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import pandas as pd

from crmine.contract._verdict import Verdict

if TYPE_CHECKING:
    from crmine.warehouse import Workspace

__all__ = ["VERDICTS_TABLE", "read_verdicts", "record_verdict", "verdict_of"]

VERDICTS_TABLE = "marts.analysis_verdicts"
_COLUMNS = ("analysis", "status", "metric", "value", "baseline", "interval_low",
            "interval_high", "why", "what_to_try", "verdict_json", "judged_at")  # fmt: skip


def record_verdict(ws: Workspace, analysis: str, verdict: Verdict | None) -> None:
    """Replace ``analysis``'s row of ``marts.analysis_verdicts`` (None removes it)."""
    rows = read_verdicts(ws)
    rows = rows[rows["analysis"] != analysis]
    if verdict is not None:
        lo, hi = verdict.interval if verdict.interval is not None else (None, None)
        row = pd.DataFrame([{
            "analysis": analysis, "status": verdict.status, "metric": verdict.metric,
            "value": verdict.value, "baseline": verdict.baseline, "interval_low": lo,
            "interval_high": hi, "why": verdict.why, "what_to_try": verdict.what_to_try,
            "verdict_json": json.dumps(verdict.to_dict()),
            "judged_at": pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
        }])  # fmt: skip
        rows = row if rows.empty else pd.concat([rows, row], ignore_index=True)
    for col in ("value", "baseline", "interval_low", "interval_high"):
        rows[col] = pd.to_numeric(rows[col], errors="coerce").astype(float)
    ws.write_table(VERDICTS_TABLE, rows.sort_values("analysis").reset_index(drop=True))


def read_verdicts(ws: Workspace) -> pd.DataFrame:
    """The recorded verdicts (empty, with the columns, when none were recorded)."""
    if not ws.has_table(VERDICTS_TABLE):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _COLUMNS})
    return ws.read(VERDICTS_TABLE)


def verdict_of(ws: Workspace, analysis: str) -> Verdict | None:
    """The recorded verdict of ``analysis``, or None."""
    rows = read_verdicts(ws)
    rows = rows[rows["analysis"] == analysis]
    if rows.empty:
        return None
    return Verdict.from_dict(json.loads(rows["verdict_json"].iloc[0]))
