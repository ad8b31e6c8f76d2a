"""Validation of the RFM summaries the CLV models are fitted on and predict from.

Kept apart from the optimiser (:mod:`crmine.clv._optimise`): these checks name the offending
rows and say what to do; they run before any likelihood is evaluated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crmine.exceptions import DataError, MissingColumnError

__all__ = ["check_summary"]

FloatArray = NDArray[np.float64]


def _bad_rows(frame: pd.DataFrame, mask: NDArray[np.bool_], limit: int = 5) -> str:
    rows = frame.index[mask][:limit]
    more = int(mask.sum()) - len(rows)
    text = ", ".join(repr(r) for r in rows)
    return f"{text} (and {more} more)" if more > 0 else text


def check_summary(
    summary: pd.DataFrame,
    columns: tuple[str, ...] = ("frequency", "recency", "T"),
    *,
    integer_frequency: bool = False,
    what: str = "RFM summary",
) -> dict[str, FloatArray]:
    """Validate the RFM columns and return them as float arrays.

    Raises
    ------
    MissingColumnError
        A column is missing (the message lists the columns found).
    DataError
        NaN/infinite values, negative counts or times, or ``recency > T``; the message names the
        first offending rows (index labels) and says what to do.
    """
    if not isinstance(summary, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame, not {type(summary).__name__}")
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise MissingColumnError(
            f"{what} has no column(s) {missing}; columns found: {list(summary.columns)}. "
            "Build it with crmine.clv.rfm_summary(...) or rename your columns."
        )
    out: dict[str, FloatArray] = {}
    for col in columns:
        try:
            values = summary[col].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{what} column {col!r} is not numeric ({exc})") from exc
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"{what} column {col!r} has NaN/infinite values in row(s) "
                f"{_bad_rows(summary, bad)}; "
                "drop or fill those customers before fitting"
            )
        neg = values < 0
        if neg.any():
            raise DataError(
                f"{what} column {col!r} has negative values in row(s) {_bad_rows(summary, neg)} "
                f"(e.g. {values[neg][0]!r}); counts and durations must be >= 0"
            )
        out[col] = values
    if integer_frequency and "frequency" in out:
        frac = out["frequency"] != np.round(out["frequency"])
        if frac.any():
            raise DataError(
                f"{what} column 'frequency' must hold whole numbers; row(s) "
                f"{_bad_rows(summary, frac)} do not"
            )
    if "recency" in out and "T" in out:
        # a tiny tolerance: recency and T are often computed from float timestamps
        late = out["recency"] > out["T"] * (1 + 1e-12) + 1e-12
        if late.any():
            raise DataError(
                f"{what} has recency > T in row(s) {_bad_rows(summary, late)}; the last purchase "
                "cannot be after the end of observation (check observation_period_end)"
            )
        if "frequency" in out:
            zero = (out["frequency"] == 0) & (out["recency"] != 0)
            if zero.any():
                raise DataError(
                    f"{what} has frequency 0 but recency > 0 in row(s) {_bad_rows(summary, zero)}; "
                    "customers without repeat purchases must have recency 0"
                )
    return out
