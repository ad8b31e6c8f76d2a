"""Funnel analysis: how many customers reach each stage, how fast, and where they leak."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmine.exceptions import DataError, MissingColumnError

__all__ = ["FunnelResult", "funnel"]

# Canonical stage order (events.stage) followed by a purchase from the order lines.
DEFAULT_STAGES = ("sent", "delivered", "open", "click", "visit", "lead", "mql", "sql",
                  "opportunity", "won", "convert", "purchase")


@dataclass(frozen=True, slots=True)
class FunnelResult:
    """Stage counts, conversion, drop-off and timing, overall and by group.

    Attributes
    ----------
    stages : DataFrame
        One row per (group, stage): ``group`` ("all" for the whole funnel), ``stage``,
        ``step`` (1 = first stage), ``customers`` reaching the stage, ``conversion`` from
        the previous stage, ``overall_conversion`` from the first stage, ``drop_off``
        (customers lost since the previous stage), ``drop_off_rate`` and
        ``median_days_from_previous`` (median time from the previous stage's first touch).
    leaks : DataFrame
        Stage transitions that convert worse than the same step in the other groups, worst
        first: ``expected_conversion`` (median of the other groups), ``conversion``,
        ``shortfall``, ``lost_customers`` (shortfall x journeys entering the step),
        ``odds_ratio`` and ``leak_score`` (minus its log). The first row is the leak.
    by : str or None
        Grouping column.
    """

    stages: pd.DataFrame
    leaks: pd.DataFrame
    by: str | None

    @property
    def worst_step(self) -> pd.Series:
        """The overall transition with the lowest conversion."""
        s = self.stages[(self.stages["group"] == "all") & (self.stages["step"] > 1)]
        return s.loc[s["conversion"].idxmin()]

    @property
    def leak(self) -> pd.Series:
        """The group and step converting worst compared with the other groups."""
        if self.leaks.empty:
            return self.worst_step
        return self.leaks.iloc[0]

    def to_frame(self) -> pd.DataFrame:
        return self.stages.copy()


def _stage_table(first: pd.DataFrame, stages: Sequence[str], group: str) -> pd.DataFrame:
    """``first`` has one column per stage: each customer's first time at that stage."""
    rows = []
    prev_n: float | None = None
    first_n: float | None = None
    for i, st in enumerate(stages):
        reached = first[st].notna()
        # A customer counts at a stage only when they also passed the stages before it, so
        # the counts never go up along the funnel.
        if i > 0:
            reached &= first[stages[i - 1]].notna()
            first.loc[~reached, st] = pd.NaT
        n = int(reached.sum())
        if i > 0:
            days = (first.loc[reached, st] - first.loc[reached, stages[i - 1]]
                    ).dt.total_seconds() / 86400
            med = float(days.median()) if len(days) else np.nan
        else:
            med = np.nan
        rows.append({"group": group, "stage": st, "step": i + 1, "customers": n,
                     "conversion": n / prev_n if prev_n else (np.nan if i else 1.0),
                     "overall_conversion": n / first_n if first_n else (1.0 if i == 0 else np.nan),
                     "drop_off": (prev_n - n) if prev_n is not None else 0,
                     "drop_off_rate": 1 - n / prev_n if prev_n else np.nan,
                     "median_days_from_previous": med})
        prev_n = n
        if i == 0:
            first_n = n
    return pd.DataFrame(rows)


def _leaks(table: pd.DataFrame, stages: Sequence[str], min_group_size: int) -> pd.DataFrame:
    """Rank (group, step) pairs by how much worse they convert than the other groups.

    The benchmark of a step is the median conversion of the *other* groups at that step, so
    the leaking group cannot pull its own benchmark down, and the score is the log odds
    ratio, so a step that is naturally weak everywhere (e-mail opens) is not mistaken for a
    leak while a step that fails in one channel only (a broken landing page) is.
    """
    cand = table[(table["group"] != "all") & (table["step"] > 1)].copy()
    cand["entering"] = cand["customers"] + cand["drop_off"]
    cand = cand[cand["entering"] >= min_group_size]
    if cand["group"].nunique() < 2:
        return pd.DataFrame()
    bench = []
    for _, row in cand.iterrows():
        others = cand[(cand["step"] == row["step"]) & (cand["group"] != row["group"])]
        bench.append(float(others["conversion"].median()) if len(others) else np.nan)
    cand["expected_conversion"] = bench
    cand["shortfall"] = cand["expected_conversion"] - cand["conversion"]
    cand["lost_customers"] = cand["shortfall"] * cand["entering"]
    eps = 0.5 / cand["entering"]  # keeps the odds finite at rates of 0 or 1
    p = cand["conversion"].clip(eps, 1 - eps)
    e = cand["expected_conversion"].clip(eps, 1 - eps)
    cand["odds_ratio"] = (p / (1 - p)) / (e / (1 - e))
    cand["leak_score"] = -np.log(cand["odds_ratio"])
    cand["from_stage"] = cand["step"].map(dict(zip(range(2, len(stages) + 1), stages[:-1],
                                                   strict=True)))
    cand = cand[cand["shortfall"] > 0].sort_values("leak_score", ascending=False)
    return cand[["group", "from_stage", "stage", "entering", "conversion",
                 "expected_conversion", "shortfall", "lost_customers", "odds_ratio",
                 "leak_score"]].reset_index(drop=True)


def funnel(
    events: pd.DataFrame,
    *,
    stages: Sequence[str] | None = None,
    by: str | None = None,
    customer_col: str = "customer_id",
    stage_col: str = "stage",
    ts_col: str = "event_ts",
    orders: pd.DataFrame | None = None,
    unit: Sequence[str] | None = None,
    min_group_size: int = 30,
) -> FunnelResult:
    """Funnel from first contact to purchase: counts, conversion, drop-off, time between.

    Parameters
    ----------
    events : DataFrame
        One row per touch with the customer, the stage reached and when.
    stages : list of str, optional
        Stage order; default the canonical stages present in the data (sent → ... →
        convert), followed by ``purchase`` when ``orders`` are given.
    by : str, optional
        Column of ``events`` to split the funnel by (``channel``, ``segment``): each
        journey belongs to the group of its first touch.
    orders : DataFrame, optional
        Order lines (``customer_id``, ``order_ts``); a customer's first order after their
        first touch is the ``purchase`` stage.
    unit : list of str, optional
        What walks through the funnel once. Default: one journey per customer per campaign
        when ``campaign_id`` is present (a customer in three campaigns walks three funnels,
        each in its own channel), else one per customer.
    min_group_size : int
        Groups with fewer customers at the first stage are left out of the leak ranking
        (their rates are noise).

    Returns
    -------
    FunnelResult
    """
    for col in (customer_col, stage_col, ts_col, *([by] if by else [])):
        if col not in events.columns:
            raise MissingColumnError(f"funnel needs column {col!r} in events; columns found: "
                                     f"{list(events.columns)}")
    if unit is None:
        has_campaign = "campaign_id" in events.columns and events["campaign_id"].notna().any()
        unit = [customer_col, "campaign_id"] if has_campaign else [customer_col]
    unit = list(unit)
    missing = [c for c in unit if c not in events.columns]
    if missing:
        raise MissingColumnError(f"funnel unit column(s) {missing} not in events; columns "
                                 f"found: {list(events.columns)}")
    extra = [c for c in ([by] if by else []) if c not in unit]
    ev = events[[*unit, stage_col, ts_col, *extra]].copy()
    ev[stage_col] = ev[stage_col].astype("string").str.lower()
    ev[ts_col] = pd.to_datetime(ev[ts_col])
    ev = ev[ev[stage_col].notna()].dropna(subset=unit)
    if orders is not None:
        # Each journey's purchase is the customer's first order after the journey began.
        start = ev.groupby(unit, as_index=False)[ts_col].min()
        o = orders[[customer_col, "order_ts"]].dropna()
        o = start.merge(o, on=customer_col)
        o = o[pd.to_datetime(o["order_ts"]) >= o[ts_col]]
        o = o.groupby(unit, as_index=False)["order_ts"].min()
        o = o.rename(columns={"order_ts": ts_col})
        o[ts_col] = pd.to_datetime(o[ts_col])
        o[stage_col] = "purchase"
        ev = pd.concat([ev, o], ignore_index=True)
    present = set(ev[stage_col].unique())
    if stages is None:
        stages = [s for s in DEFAULT_STAGES if s in present]
    else:
        stages = [str(s).lower() for s in stages]
        unknown = [s for s in stages if s not in present]
        if len(unknown) == len(stages):
            raise DataError(f"none of the stages {stages} occur in column {stage_col!r}; "
                            f"values found: {sorted(present)[:15]}")
    if len(stages) < 2:
        raise DataError(f"a funnel needs at least 2 stages; found {stages} in {stage_col!r}")
    first = ev[ev[stage_col].isin(stages)].pivot_table(
        index=unit, columns=stage_col, values=ts_col, aggfunc="min")
    for st in stages:
        if st not in first:
            first[st] = pd.NaT
    first = first[list(stages)]
    frames = [_stage_table(first.copy(), stages, "all")]
    leaks = pd.DataFrame()
    if by:
        grp = (ev.sort_values(ts_col).dropna(subset=[by]).groupby(unit)[by].first()
               .astype(str)).reindex(first.index)
        for g in sorted(grp.dropna().unique()):
            frames.append(_stage_table(first.loc[(grp == g).to_numpy()].copy(), stages, g))
    table = pd.concat(frames, ignore_index=True)
    if by:
        leaks = _leaks(table, stages, min_group_size)
    return FunnelResult(table, leaks, by)
