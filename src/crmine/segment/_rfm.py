"""RFM scoring and named RFM segments.

Recency, frequency and monetary value are scored on quantile bins (Hughes 1994, *Strategic
Database Marketing*); the (recency, frequency-monetary) cell is then named from a segment map,
by default the eleven segments marketers know (Champions … Lost).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmine.exceptions import ConfigError, DataError, MissingColumnError

__all__ = ["DEFAULT_SEGMENT_MAP", "RFM_SEGMENTS", "RFMResult", "rfm_segments"]

# Keys are regular expressions matched against "<R score><FM score>" (each 1..5, FM = the
# rounded mean of the F and M scores); the first matching entry wins. The 25 cells are all
# covered, so every customer gets a name with 5 bins.
DEFAULT_SEGMENT_MAP: dict[str, str] = {
    "Champions": r"5[4-5]",
    "Loyal": r"[3-4][4-5]",
    "Potential Loyalists": r"[4-5][2-3]",
    "New": r"51",
    "Promising": r"41",
    "Need Attention": r"33",
    "About to Sleep": r"3[1-2]",
    "Can't Lose": r"[1-2]5",
    "At Risk": r"[1-2][3-4]",
    "Hibernating": r"2[1-2]|12",
    "Lost": r"11",
}
RFM_SEGMENTS: tuple[str, ...] = tuple(DEFAULT_SEGMENT_MAP)
OTHER = "Other"


@dataclass(frozen=True, slots=True)
class RFMResult:
    """RFM scores per customer and a summary per named segment.

    Attributes
    ----------
    scores : DataFrame
        One row per customer: ``customer_id``, ``recency_days``, ``frequency``, ``monetary``,
        ``r_score``, ``f_score``, ``m_score``, ``fm_score``, ``rfm_cell`` ("545"),
        ``rfm_score`` (weighted mean of the three scores) and ``rfm_segment``.
    segments : DataFrame
        One row per segment: customers, share, revenue share and mean R/F/M.
    bins : int
        Number of quantile bins used.
    """

    scores: pd.DataFrame
    segments: pd.DataFrame
    bins: int

    def to_frame(self) -> pd.DataFrame:
        return self.scores.copy()


def _pick(df: pd.DataFrame, wanted: str | None, candidates: Sequence[str], what: str) -> str:
    if wanted is not None:
        if wanted not in df.columns:
            raise MissingColumnError(
                f"RFM {what} column {wanted!r} is not in the table; "
                f"columns found: {list(df.columns)}"
            )
        return wanted
    for c in candidates:
        if c in df.columns:
            return c
    raise MissingColumnError(
        f"no RFM {what} column found (looked for {list(candidates)}); pass {what}=<column>. "
        f"Columns found: {list(df.columns)}"
    )


def quantile_scores(values: pd.Series, bins: int, *, higher_is_better: bool = True) -> pd.Series:
    """Quantile score 1..``bins`` of each value; equal values always get the same score.

    The score is the bin of the value's mid-rank percentile, so ties never straddle a bin
    edge (``pd.qcut`` fails or splits ties arbitrarily on heavily tied data such as frequency,
    where most customers bought once) and the result does not depend on row order.
    """
    x = values.astype(float)
    if not higher_is_better:
        x = -x
    pct = x.rank(method="average") / len(x)
    return np.clip(np.ceil(pct * bins), 1, bins).astype("int64")


def rfm_segments(
    df: pd.DataFrame,
    *,
    bins: int = 5,
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
    segment_map: Mapping[str, str] | None = None,
    customer_id: str = "customer_id",
    recency: str | None = None,
    frequency: str | None = None,
    monetary: str | None = None,
) -> RFMResult:
    """Score customers on recency, frequency and monetary value and name their segment.

    Parameters
    ----------
    df : DataFrame
        One row per customer. ``marts.customer_rfm`` works as is: recency is taken as days since
        the last purchase (``T - recency`` for lifetimes-style columns, or a ``recency_days`` /
        ``days_since_last`` column), frequency from ``orders`` (else ``frequency``), monetary
        from ``total_spend`` (else ``monetary_value``).
    bins : int
        Number of quantile bins per dimension (scores 1..bins; 5 = best).
    weights : (float, float, float)
        Weights of R, F and M in ``rfm_score`` (the weighted mean score).
    segment_map : mapping of segment name to regular expression, optional
        Matched in order against ``f"{r_score}{fm_score}"``; first match wins, unmatched cells
        are "Other". Defaults to :data:`DEFAULT_SEGMENT_MAP` (needs ``bins=5``).
    customer_id, recency, frequency, monetary : str
        Column names, when they differ from the defaults above.

    Returns
    -------
    RFMResult

    References
    ----------
    Hughes, A. M. (1994). *Strategic Database Marketing*. Probus.

    Examples
    --------
    >>> rfm = pd.DataFrame({"customer_id": ["a", "b", "c"], "recency_days": [3, 40, 300],
    ...                     "orders": [9, 3, 1], "total_spend": [900.0, 120.0, 15.0]})
    >>> res = rfm_segments(rfm, bins=3, segment_map={"best": "33", "rest": ".*"})
    >>> res.scores.rfm_segment.tolist()
    ['best', 'rest', 'rest']
    """
    if bins < 2:
        raise ConfigError(f"RFM bins must be at least 2, got {bins}")
    if len(weights) != 3 or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ConfigError(f"RFM weights must be three non-negative numbers, got {weights!r}")
    if segment_map is None:
        if bins != 5:
            raise ConfigError(
                f"the default RFM segment map is defined on 5 bins; with bins={bins} pass "
                "segment_map={name: regex over '<R><FM>' scores}"
            )
        segment_map = DEFAULT_SEGMENT_MAP
    patterns = []
    for name, pattern in segment_map.items():
        try:
            patterns.append((name, re.compile(pattern)))
        except re.error as exc:
            raise ConfigError(f"RFM segment {name!r}: invalid pattern {pattern!r} ({exc})") from exc
    if customer_id not in df.columns:
        raise MissingColumnError(
            f"RFM needs a {customer_id!r} column; columns found: {list(df.columns)}"
        )
    if len(df) == 0:
        raise DataError("RFM scoring needs at least one customer; the table is empty")

    has_days = "recency_days" in df.columns or "days_since_last" in df.columns
    if recency is None and not has_days and {"recency", "T"} <= set(df.columns):
        # lifetimes convention: recency = age at last purchase, T = age now.
        recency_days = df["T"].astype(float) - df["recency"].astype(float)
        recency_name = "T - recency"
    else:
        recency_name = _pick(df, recency, ("recency_days", "days_since_last", "recency"), "recency")
        recency_days = df[recency_name].astype(float)
    f_col = _pick(df, frequency, ("orders", "frequency"), "frequency")
    m_col = _pick(df, monetary, ("total_spend", "monetary_value", "monetary"), "monetary")
    for name, col in ((recency_name, recency_days), (f_col, df[f_col]), (m_col, df[m_col])):
        bad = pd.to_numeric(col, errors="coerce").isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"RFM column {name!r} has a missing or non-numeric value at row {row} "
                f"(customer {df[customer_id].iloc[row]!r}); fill or drop those customers first"
            )

    out = pd.DataFrame({
        "customer_id": df[customer_id].to_numpy(),
        "recency_days": recency_days.to_numpy(dtype=float),
        "frequency": df[f_col].to_numpy(dtype=float),
        "monetary": df[m_col].to_numpy(dtype=float),
    })
    out["r_score"] = quantile_scores(out["recency_days"], bins, higher_is_better=False)
    out["f_score"] = quantile_scores(out["frequency"], bins)
    out["m_score"] = quantile_scores(out["monetary"], bins)
    # Round half up (not numpy's half-to-even) so FM of 3 and 4 is always 4.
    out["fm_score"] = np.floor((out["f_score"] + out["m_score"]) / 2 + 0.5).astype("int64")
    out["rfm_cell"] = (out["r_score"].astype(str) + out["f_score"].astype(str)
                       + out["m_score"].astype(str))
    w = np.asarray(weights, dtype=float)
    out["rfm_score"] = (out[["r_score", "f_score", "m_score"]].to_numpy() @ w) / w.sum()

    key = out["r_score"].astype(str) + out["fm_score"].astype(str)
    names = {}
    for cell in key.unique():
        names[cell] = next((n for n, p in patterns if p.fullmatch(cell)), OTHER)
    out["rfm_segment"] = key.map(names)

    order = [*segment_map, OTHER]
    total = out["monetary"].clip(lower=0).sum()
    seg = (out.groupby("rfm_segment", sort=False)
              .agg(customers=("customer_id", "size"), revenue=("monetary", "sum"),
                   mean_recency_days=("recency_days", "mean"), mean_frequency=("frequency", "mean"),
                   mean_monetary=("monetary", "mean"))
              .reset_index())
    seg["share"] = seg["customers"] / len(out)
    seg["revenue_share"] = seg["revenue"] / total if total > 0 else np.nan
    seg["_o"] = seg["rfm_segment"].map({n: i for i, n in enumerate(order)})
    seg = seg.sort_values("_o").drop(columns="_o").reset_index(drop=True)
    seg = seg[["rfm_segment", "customers", "share", "revenue", "revenue_share",
               "mean_recency_days", "mean_frequency", "mean_monetary"]]
    return RFMResult(scores=out, segments=seg, bins=bins)
