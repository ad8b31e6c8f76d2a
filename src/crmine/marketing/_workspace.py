"""Running the marketing analyses on a workspace and writing their marts."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import pandas as pd

from crmine.exceptions import ConvergenceWarning, CrmineError, DataError
from crmine.marketing._attribution import attribution, build_journeys
from crmine.marketing._budget import BudgetAllocation, ResponseCurves
from crmine.marketing._effects import channel_effects, compare_arms
from crmine.marketing._funnel import FunnelResult, funnel
from crmine.marketing._kpis import campaign_contacts, campaign_kpis

__all__ = ["MODEL_VERSION", "MarketingResult", "load_contacts", "run_marketing"]

MODEL_VERSION = "marketing-1"


@dataclass(frozen=True, slots=True)
class MarketingResult:
    """Everything :func:`run_marketing` computed (also written to ``marts.*``)."""

    kpis: pd.DataFrame
    channel_effects: pd.DataFrame
    budget: BudgetAllocation | None
    curves: pd.DataFrame
    funnel: FunnelResult | None
    attribution: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        eff = self.channel_effects.set_index("channel")
        out: dict[str, Any] = {
            "channels": len(eff),
            "best_roi_channel": str(eff["prob_best_roi"].idxmax()),
            "prob_best_roi": float(eff["prob_best_roi"].max()),
            "best_conversion_channel": str(eff["prob_best_conversion"].idxmax()),
        }
        if self.budget is not None:
            out |= {"budget": self.budget.budget,
                    "expected_gain": self.budget.expected_gain,
                    "gain_interval": [self.budget.gain_ci_low, self.budget.gain_ci_high]}
        if self.funnel is not None and not self.funnel.leaks.empty:
            leak = self.funnel.leak
            out["funnel_leak"] = f"{leak['group']}: {leak['from_stage']} -> {leak['stage']}"
        return out


def _segments(ws: Any) -> pd.DataFrame | None:
    """Customer segments from the segmentation step, when it has run: the named RFM segment
    (readable by a marketer), else the cluster."""
    if not ws.has_table("marts.customer_scores"):
        return None
    columns = ws.columns("marts.customer_scores")
    for name in ("rfm_segment", "cluster", "segment"):
        if name in columns:
            seg = ws.read("marts.customer_scores", columns=["customer_id", name])
            seg = seg.rename(columns={name: "segment"})
            seg["segment"] = seg["segment"].astype("string")
            return seg.dropna()
    return None


def load_contacts(ws: Any) -> pd.DataFrame:
    """One row per customer per campaign from the workspace's core tables."""
    events = ws.read("core.fct_events") if ws.has_table("core.fct_events") else None
    campaigns = ws.read("core.dim_campaign") if ws.has_table("core.dim_campaign") else None
    assignments = (ws.read("core.campaign_assignments")
                   if ws.has_table("core.campaign_assignments") else None)
    if events is None and assignments is None:
        raise DataError(
            f"{ws.root}: no campaign data (core.fct_events, core.campaign_assignments); load "
            "them with `crmine ingest events FILE` and `crmine ingest campaign_assignments FILE`"
        )
    return campaign_contacts(events, campaigns=campaigns, assignments=assignments,
                             customers=_segments(ws))


def _budget_history(contacts: pd.DataFrame) -> pd.DataFrame:
    """One point per campaign: its channel, total cost and treated conversions."""
    treated = contacts[contacts["group"] != "control"]
    return (treated.groupby(["campaign_id", "channel"], as_index=False)
            .agg(cost=("cost", "sum"), conversions=("converted", "sum"),
                 revenue=("revenue", "sum")))


def run_marketing(ws: Any, *, model_version: str = MODEL_VERSION, period: str = "M",
                  budget: float | None = None, lookback_days: float = 30) -> MarketingResult:
    """KPIs, channel effects, budget split, funnel and attribution, written to marts.

    Writes ``marts.campaign_kpis`` (tidy, ``level`` = campaign/channel/segment/period),
    ``marts.channel_effects``, ``marts.channel_comparisons`` (channel vs channel),
    ``marts.budget_allocation``, ``marts.response_curves``,
    ``marts.funnel`` and ``marts.funnel_leaks`` (by channel, and by segment once the
    segmentation step has run: column ``dimension``) and ``marts.attribution``. Parts that lack
    their data (no costs for a budget, no stages for a funnel) are skipped, not failed.
    """
    contacts = load_contacts(ws)
    frames = []
    for level, by in (("campaign", "campaign_id"), ("channel", "channel"),
                      ("segment", "segment"), ("period", "period")):
        k = campaign_kpis(contacts, by=by, period=period)
        k = k.rename(columns={"campaign_id" if by == "campaign_id" else by: "key"})
        k.insert(0, "level", level)
        k["key"] = k["key"].astype(str)
        frames.append(k)
    kpis = pd.concat(frames, ignore_index=True)
    if ws.has_table("core.dim_campaign"):
        camp = ws.read("core.dim_campaign").set_index("campaign_id")
        is_c = kpis["level"] == "campaign"
        for col in ("campaign_name", "channel"):
            if col in camp:
                kpis.loc[is_c, col if col != "channel" else "campaign_channel"] = (
                    kpis.loc[is_c, "key"].map(camp[col]))
    ws.write_mart("campaign_kpis", kpis, model_version=model_version)

    effects = channel_effects(contacts)
    ws.write_mart("channel_effects", effects, model_version=model_version)
    ws.write_mart("channel_comparisons", compare_arms(contacts), model_version=model_version)

    alloc: BudgetAllocation | None = None
    curve_pts = pd.DataFrame()
    hist = _budget_history(contacts)
    if hist["cost"].sum() > 0:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                curves = ResponseCurves().fit(hist)
            alloc = curves.allocate(budget)
            table = alloc.allocation.merge(curves.params_.reset_index(), on="channel")
            table["budget"] = alloc.budget
            table["expected_gain"] = alloc.expected_gain
            table["gain_ci_low"] = alloc.gain_ci_low
            table["gain_ci_high"] = alloc.gain_ci_high
            table["prob_gain_positive"] = alloc.prob_gain_positive
            ws.write_mart("budget_allocation", table, model_version=model_version)
            curve_pts = curves.curve_points()
            ws.write_mart("response_curves", curve_pts, model_version=model_version)
        except CrmineError:
            # Too few campaigns per channel to fit a curve: the rest still runs.
            alloc = None

    fun: FunnelResult | None = None
    if ws.has_table("core.fct_events"):
        events = ws.read("core.fct_events")
        stages, leaks = [], []
        try:
            fun = funnel(events, by="channel")
            stages.append(fun.stages.assign(dimension="channel"))
            leaks.append(fun.leaks.assign(dimension="channel"))
            seg = _segments(ws)
            if seg is not None:
                by_seg = funnel(events.merge(seg, on="customer_id", how="left"), by="segment")
                stages.append(by_seg.stages[by_seg.stages["group"] != "all"]
                              .assign(dimension="segment"))
                leaks.append(by_seg.leaks.assign(dimension="segment"))
            ws.write_mart("funnel", pd.concat(stages, ignore_index=True),
                          model_version=model_version)
            leak_frame = pd.concat([f for f in leaks if not f.empty], ignore_index=True) if any(
                not f.empty for f in leaks) else pd.DataFrame()
            if not leak_frame.empty:
                ws.write_mart("funnel_leaks", leak_frame, model_version=model_version)
        except CrmineError:
            fun = None
        att = _attribution(events, lookback_days)
        if not att.empty:
            ws.write_mart("attribution", att, model_version=model_version)
    else:
        att = pd.DataFrame()
    return MarketingResult(kpis, effects, alloc, curve_pts, fun, att)


def _attribution(events: pd.DataFrame, lookback_days: float) -> pd.DataFrame:
    """Journeys: campaign sends and ad touches (not every funnel step) before the first
    conversion; conversions are ``convert`` events with their value."""
    if "stage" not in events or "channel" not in events:
        return pd.DataFrame()
    stage = events["stage"].astype("string").str.lower()
    touches = events[(stage.isna() | (stage == "sent")) & events["channel"].notna()]
    conv = events[stage == "convert"].rename(columns={"event_ts": "conversion_ts"})
    if conv.empty or touches.empty:
        return pd.DataFrame()
    journeys = build_journeys(touches, conv[["customer_id", "conversion_ts", "value"]],
                              lookback_days=lookback_days)
    try:
        return attribution(journeys)
    except CrmineError:
        return pd.DataFrame()
