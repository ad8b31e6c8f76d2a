"""Value tiers: Pareto/ABC tiers by revenue and the "golden customers" list."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmine._format import fmt_number
from crmine.exceptions import ConfigError, CrmineWarning, DataError, MissingColumnError

__all__ = ["GoldenRule", "ValueTiers", "golden_customers", "value_tiers"]


@dataclass(frozen=True, slots=True)
class ValueTiers:
    """ABC tiers of customers by value.

    Attributes
    ----------
    customers : DataFrame
        customer_id, value, rank, cum_customer_share, cum_value_share, value_tier (A/B/C).
    summary : DataFrame
        One row per tier: customers, share, value, value_share.
    pareto : DataFrame
        The Pareto (Lorenz) curve: customer_share, value_share, at most ~200 points.
    top_share_for_80 : float
        Share of customers making 80% of the value.
    """

    customers: pd.DataFrame
    summary: pd.DataFrame
    pareto: pd.DataFrame
    top_share_for_80: float

    def to_frame(self) -> pd.DataFrame:
        return self.customers.copy()


def value_tiers(
    df: pd.DataFrame,
    *,
    value: str | None = None,
    customer_id: str = "customer_id",
    thresholds: tuple[float, float] = (0.8, 0.95),
) -> ValueTiers:
    """Pareto/ABC tiers: A = the top customers making the first ``thresholds[0]`` of value,
    B = up to ``thresholds[1]``, C = the rest.

    A customer is in A when the value accumulated *before* them is below 80%, so the customer
    who crosses the line is counted in A (the smallest set reaching 80%). Ties in value are
    ordered by customer id, so tiers do not depend on row order.

    References
    ----------
    Juran, J. M. (1951). *Quality Control Handbook* (the Pareto principle, ABC analysis).

    Examples
    --------
    >>> d = pd.DataFrame({"customer_id": list("abcd"), "total_spend": [80.0, 10, 6, 4]})
    >>> value_tiers(d).customers.value_tier.tolist()
    ['A', 'B', 'B', 'C']
    """
    a, b = thresholds
    if not 0 < a < b <= 1:
        raise ConfigError(f"tier thresholds must satisfy 0 < A < B <= 1, got {thresholds}")
    if value is None:
        value = next((c for c in ("total_spend", "monetary", "revenue", "clv") if c in df), None)
        if value is None:
            raise MissingColumnError(
                f"no value column found (looked for total_spend, monetary, revenue, clv); pass "
                f"value=<column>. Columns found: {list(df.columns)}")
    for col in (customer_id, value):
        if col not in df.columns:
            raise MissingColumnError(f"column {col!r} not found; columns found: {list(df.columns)}")
    v = pd.to_numeric(df[value], errors="coerce")
    if v.isna().any():
        row = int(np.flatnonzero(v.isna().to_numpy())[0])
        raise DataError(f"value column {value!r} is missing/non-numeric at row {row} (customer "
                        f"{df[customer_id].iloc[row]!r}); fill or drop it first")
    out = pd.DataFrame({"customer_id": df[customer_id].to_numpy(), "value": v.to_numpy(float)})
    out = out.sort_values(["value", "customer_id"], ascending=[False, True], kind="stable")
    pos = out["value"].clip(lower=0)
    total = float(pos.sum())
    n = len(out)
    cum = pos.cumsum() / total if total > 0 else pd.Series(np.zeros(n), index=out.index)
    before = cum - (pos / total if total > 0 else 0.0)
    out["rank"] = np.arange(1, n + 1)
    out["cum_customer_share"] = out["rank"] / n
    out["cum_value_share"] = cum.to_numpy()
    eps = 1e-12
    out["value_tier"] = np.where(before < a - eps, "A", np.where(before < b - eps, "B", "C"))
    if total <= 0:
        out["value_tier"] = "C"
    out = out.reset_index(drop=True)
    summary = (out.groupby("value_tier")
               .agg(customers=("customer_id", "size"), value=("value", "sum")).reset_index())
    summary["share"] = summary["customers"] / n
    summary["value_share"] = summary["value"] / total if total > 0 else np.nan
    step = max(1, n // 200)
    idx = np.unique(np.r_[np.arange(0, n, step), n - 1])
    pareto = pd.DataFrame({"customer_share": np.r_[0.0, out["cum_customer_share"].to_numpy()[idx]],
                           "value_share": np.r_[0.0, out["cum_value_share"].to_numpy()[idx]]})
    top80 = float((out["value_tier"] == "A").mean())
    return ValueTiers(customers=out, summary=summary, pareto=pareto, top_share_for_80=top80)


@dataclass(frozen=True, slots=True)
class GoldenRule:
    """Which customers are golden: every criterion must hold.

    ``at_least`` maps a column to the quantile it must reach (value >= that quantile of all
    customers); ``at_most`` to the quantile it must not exceed. Columns absent from the table
    are skipped with a warning (e.g. no service data): the rule names what it actually used.

    The default: value and frequency in the top 20%, bought in the more recent half, and
    service contacts no higher than the median customer's.
    """

    at_least: Mapping[str, float] = field(default_factory=lambda: {
        "total_spend": 0.8, "orders": 0.8})
    at_most: Mapping[str, float] = field(default_factory=lambda: {
        "recency_days": 0.5, "service_contacts": 0.5})

    def describe(self) -> str:
        parts = [f"{c} >= q{q:.2f}" for c, q in self.at_least.items()]
        parts += [f"{c} <= q{q:.2f}" for c, q in self.at_most.items()]
        return " and ".join(parts)


def golden_customers(df: pd.DataFrame, *, rule: GoldenRule | None = None,
                     customer_id: str = "customer_id") -> pd.DataFrame:
    """Flag golden customers (high value, frequent, recent, low service cost).

    ``recency_days`` is derived as ``T - recency`` when the table has lifetimes-style columns.
    Returns customer_id, is_golden and one boolean column per criterion used
    (``golden_<column>``); the rule applied is in ``df.attrs["rule"]``.
    """
    rule = rule or GoldenRule()
    data = df.copy()
    if "recency_days" not in data and {"T", "recency"} <= set(data.columns):
        data["recency_days"] = data["T"] - data["recency"]
    out = pd.DataFrame({"customer_id": data[customer_id].to_numpy()})
    flags = np.ones(len(data), dtype=bool)
    used, skipped = [], []
    for col, q in [*((c, (q, True)) for c, q in rule.at_least.items()),
                   *((c, (q, False)) for c, q in rule.at_most.items())]:
        quant, high = q
        if not 0 <= quant <= 1:
            raise ConfigError(f"golden rule quantile for {col!r} must be in [0, 1], got {quant}")
        if col not in data.columns:
            skipped.append(col)
            continue
        v = pd.to_numeric(data[col], errors="coerce").to_numpy(float)
        cut = float(np.nanquantile(v, quant))
        ok = (v >= cut) if high else (v <= cut)
        out[f"golden_{col}"] = ok
        flags &= ok
        used.append(f"{col} {'>=' if high else '<='} {fmt_number(cut, digits=4)} (q{quant:.2f})")
    if skipped:
        warnings.warn(f"golden customers: column(s) {skipped} not in the table, criteria skipped",
                      CrmineWarning, stacklevel=2)
    if not used:
        raise MissingColumnError(
            f"none of the golden rule's columns are in the table ({rule.describe()}); columns "
            f"found: {list(df.columns)}")
    out["is_golden"] = flags
    out.attrs["rule"] = " and ".join(used)
    return out
