"""CSAT and resolution time by agent group (the team that handled a ticket), where recorded.

Per group: CSAT mean with its 95% interval, and resolution time relative to the other groups
as a ratio of geometric means *within priority* (a team handling urgent tickets is not slow
for closing them fast), with its interval; open tickets are left out of resolution times.
Every pair of groups is compared on both (Welch t tests), p-values Holm-corrected within each
metric, so that with many teams a difference is not found by looking at enough pairs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from crmine.contract import Verdict, judge

__all__ = ["AGENT_DIFF_COLUMNS", "AGENT_GROUP_COLUMNS", "AgentGroups", "agent_groups", "holm"]

AGENT_GROUP_COLUMNS = ("agent_group", "tickets", "closed", "csat_responses", "csat_mean",
                       "csat_ci_low", "csat_ci_high", "median_hours", "hours_ratio",
                       "hours_ratio_ci_low", "hours_ratio_ci_high")
AGENT_DIFF_COLUMNS = ("metric", "group_a", "group_b", "difference", "ci_low", "ci_high",
                      "p_value", "p_holm", "significant")
MIN_TICKETS = 10  # a group with fewer is not compared
CSAT_MIN_GAIN = 0.2  # CSAT points


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control).

    Examples
    --------
    >>> holm(np.array([0.01, 0.04, 0.03])).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order]).clip(max=1.0)
    out = np.empty(m)
    out[order] = adjusted
    return out


def _welch(a: np.ndarray, b: np.ndarray, level: float = 0.95
           ) -> tuple[float, float, float, float]:
    """Difference of means a - b, its interval and the two-sided p-value (Welch)."""
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    diff = float(a.mean() - b.mean())
    if not se > 0:
        return diff, diff, diff, 1.0 if diff == 0 else 0.0
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    q = stats.t.ppf(0.5 + level / 2, df)
    return diff, diff - q * se, diff + q * se, float(2 * stats.t.sf(abs(diff) / se, df))


@dataclass(frozen=True, slots=True)
class AgentGroups:
    """``groups`` (``AGENT_GROUP_COLUMNS``), pairwise ``differences``
    (``AGENT_DIFF_COLUMNS``: ``csat`` in points, ``hours`` as a log ratio within priority)
    and the verdict on the largest CSAT difference at the family-wise level."""

    groups: pd.DataFrame
    differences: pd.DataFrame
    verdict: Verdict


def agent_groups(t: pd.DataFrame) -> AgentGroups | None:
    """Compare agent groups on :func:`crmine.service.prepare_tickets` output; None without an
    ``agent_group`` column holding two groups of ``MIN_TICKETS`` tickets or more."""
    if "agent_group" not in t or t["agent_group"].isna().all():
        return None
    t = t[t["agent_group"].notna()].assign(agent_group=lambda d: d["agent_group"].astype(str))
    sizes = t["agent_group"].value_counts()
    kept = sorted(sizes[sizes >= MIN_TICKETS].index)
    if len(kept) < 2:
        return None
    t = t[t["agent_group"].isin(kept)]
    closed = t[t["resolved"] & (t["hours"] > 0)]
    # log hours relative to the ticket's priority: a group's mix of priorities cancels out
    log_h = np.log(closed["hours"])
    rel = (log_h - log_h.groupby(closed["priority"]).transform("mean")).to_numpy()
    group_of = closed["agent_group"].to_numpy()
    rows, diffs = [], []
    for g in kept:
        csat = t.loc[(t["agent_group"] == g), "csat"].dropna().to_numpy(dtype=float)
        mine, rest = rel[group_of == g], rel[group_of != g]
        ok = len(mine) > 1 and len(rest) > 1
        d, lo, hi, _ = _welch(mine, rest) if ok else (np.nan,) * 4
        c_lo, c_hi = ((np.nan, np.nan) if len(csat) < 2 else stats.t.interval(
            0.95, len(csat) - 1, loc=csat.mean(), scale=csat.std(ddof=1) / np.sqrt(len(csat))))
        rows.append({
            "agent_group": g, "tickets": int((t["agent_group"] == g).sum()),
            "closed": len(mine), "csat_responses": len(csat),
            "csat_mean": float(csat.mean()) if len(csat) else np.nan,
            "csat_ci_low": float(c_lo), "csat_ci_high": float(c_hi),
            "median_hours": float(closed.loc[group_of == g, "hours"].median()),
            "hours_ratio": float(np.exp(d)), "hours_ratio_ci_low": float(np.exp(lo)),
            "hours_ratio_ci_high": float(np.exp(hi)),
        })  # fmt: skip
    for a, b in itertools.combinations(kept, 2):
        ca = t.loc[t["agent_group"] == a, "csat"].dropna().to_numpy(dtype=float)
        cb = t.loc[t["agent_group"] == b, "csat"].dropna().to_numpy(dtype=float)
        if len(ca) > 1 and len(cb) > 1:
            diffs.append(("csat", a, b, *_welch(ca, cb)))
        ha, hb = rel[group_of == a], rel[group_of == b]
        if len(ha) > 1 and len(hb) > 1:
            diffs.append(("log_hours", a, b, *_welch(ha, hb)))
    frame = pd.DataFrame(diffs, columns=list(AGENT_DIFF_COLUMNS[:7]))
    frame["p_holm"] = np.nan
    for _metric, idx in frame.groupby("metric").groups.items():
        frame.loc[idx, "p_holm"] = holm(frame.loc[idx, "p_value"].to_numpy())
    frame["significant"] = frame["p_holm"] < 0.05
    return AgentGroups(pd.DataFrame(rows, columns=list(AGENT_GROUP_COLUMNS)),
                       frame[list(AGENT_DIFF_COLUMNS)], _verdict(t, frame))


def _verdict(t: pd.DataFrame, frame: pd.DataFrame) -> Verdict:
    """The largest CSAT difference between two groups, with its interval at the family-wise
    level (Bonferroni over the pairs, the first step of Holm)."""
    csat = frame[frame["metric"] == "csat"]
    metric = "largest CSAT difference between agent groups (Holm)"
    if csat.empty:
        return Verdict("not_informative", metric, None, 0.0,
                       why="Too few CSAT answers per agent group to compare them.",
                       what_to_try="collect CSAT on closed tickets")
    top = csat.loc[csat["difference"].abs().idxmax()]
    a, b = (top["group_a"], top["group_b"]) if top["difference"] > 0 else (
        top["group_b"], top["group_a"])
    xa = t.loc[t["agent_group"] == a, "csat"].dropna().to_numpy(dtype=float)
    xb = t.loc[t["agent_group"] == b, "csat"].dropna().to_numpy(dtype=float)
    d, lo, hi, _ = _welch(xa, xb, level=1 - 0.05 / len(csat))
    return judge(
        metric, d, 0.0, (lo, hi), min_gain=CSAT_MIN_GAIN,
        why=f"CSAT of {a} is {d:.2f} points above {b} ({100 - 5 / len(csat):.1f}% interval "
            f"{lo:.2f}-{hi:.2f}, the family-wise level over {len(csat)} pairs of groups; Holm "
            f"p = {top['p_holm']:.3g}).",
        what_to_try="more CSAT answers per group; the groups may answer equally well",
    )
