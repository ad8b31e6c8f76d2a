"""Running the marketing analyses on a workspace, judging the campaign effects, writing marts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from crmine.contract import Status, Verdict, record_verdict, recorded_warnings
from crmine.exceptions import CrmineError, DataError
from crmine.marketing._attribution import attribution, build_journeys
from crmine.marketing._budget import BudgetAllocation, ResponseCurves
from crmine.marketing._effects import (
    Correction,
    adjust_pvalues,
    channel_effects,
    compare_arms,
    two_proportion_test,
)
from crmine.marketing._funnel import FunnelResult, funnel
from crmine.marketing._kpis import campaign_contacts, campaign_kpis
from crmine.warehouse import Workspace

__all__ = [
    "BUDGET_COLUMNS",
    "EFFECT_COLUMNS",
    "KPI_KEYS",
    "MIN_RELATIVE_LIFT",
    "MODEL_VERSION",
    "BudgetPlan",
    "JudgedEffects",
    "MarketingResult",
    "MarketingRun",
    "attribution_of",
    "budget_of",
    "budget_of_contacts",
    "campaign_effects",
    "effects_of",
    "effects_verdict",
    "funnel_of",
    "judged_effects",
    "kpis_of",
    "load_contacts",
    "run_marketing",
]

MODEL_VERSION = "marketing-1"
# A conversion uplift of 10% of the control group's rate is about the least that changes a
# campaign decision once contact costs are counted; smaller significant effects are "weak".
MIN_RELATIVE_LIFT = 0.10
ALPHA = 0.05
EFFECT_COLUMNS = ("level", "key", "contacts", "control", "conversion_rate", "control_rate",
                  "uplift", "uplift_ci_low", "uplift_ci_high", "relative_lift", "p_value",
                  "p_adjusted", "significant")  # fmt: skip


@dataclass(frozen=True, slots=True)
class MarketingRun:
    """Everything :func:`run_marketing` computed (also written to ``marts.*``).

    ``effects`` is the family of campaign and channel conversion effects over their control
    groups that the verdict judges (p-values Holm-corrected across the whole family);
    ``verdict`` says whether any is significant and material. When it is not informative the
    budget reallocation (``marts.budget_allocation``) is written empty: without a measured
    effect, moving money between channels acts on conversions that may happen anyway.
    """

    kpis: pd.DataFrame
    channel_effects: pd.DataFrame
    budget: BudgetAllocation | None
    curves: pd.DataFrame
    funnel: FunnelResult | None
    attribution: pd.DataFrame
    effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdict: Verdict | None = None
    marts: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        eff = self.channel_effects.set_index("channel")
        out: dict[str, Any] = {
            "channels": len(eff),
            "best_roi_channel": str(eff["prob_best_roi"].idxmax())
            if eff["prob_best_roi"].notna().any() else None,
            "prob_best_roi": float(eff["prob_best_roi"].max()),
            "best_conversion_channel": str(eff["prob_best_conversion"].idxmax()),
            "effects_tested": int(self.effects["p_value"].notna().sum())
            if len(self.effects) else 0,
            "effects_significant": int(self.effects["significant"].sum())
            if len(self.effects) else 0,
        }  # fmt: skip
        if self.budget is not None:
            out |= {"budget": self.budget.budget,
                    "expected_gain": self.budget.expected_gain,
                    "gain_interval": [self.budget.gain_ci_low, self.budget.gain_ci_high]}
        if self.funnel is not None and not self.funnel.leaks.empty:
            leak = self.funnel.leak
            out["funnel_leak"] = f"{leak['group']}: {leak['from_stage']} -> {leak['stage']}"
        if self.verdict is not None and not self.verdict.actionable:
            harmful = len(self.effects) and self.effects["significant"].any()
            out["note"] = ("no budget reallocation: every significant campaign or channel "
                           "effect over its control group lowers conversion" if harmful else
                           "no budget reallocation: no campaign or channel effect over its "
                           "control group is significant (family-wise)")
        elif self.verdict is not None and self.verdict.status == "weak":
            out["warning"] = "weak evidence, act with care: " + self.verdict.why
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.effects.copy()


MarketingResult = MarketingRun  # the name before the analysis contract


def _segments(ws: Workspace) -> pd.DataFrame | None:
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


def load_contacts(ws: Workspace) -> pd.DataFrame:
    """One row per customer per campaign from the workspace's core tables."""
    events = ws.read(ws.resolved("core.fct_events")) if ws.has_table("core.fct_events") else None
    campaigns = ws.read("core.dim_campaign") if ws.has_table("core.dim_campaign") else None
    assignments = (ws.read(ws.resolved("core.campaign_assignments"))
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


def _by_campaign_and_group(contacts: pd.DataFrame) -> pd.DataFrame:
    """Contacts (``size``) and conversions (``sum``) per campaign, treated (False) and
    control (True) side by side; only campaigns that have both groups."""
    g = contacts.groupby(["campaign_id", contacts["group"] == "control"])["converted"].agg(
        ["size", "sum"]).unstack()
    full = pd.MultiIndex.from_product([["size", "sum"], [False, True]])
    return g.reindex(columns=full).dropna()


def _pooled_effect(contacts: pd.DataFrame, alpha: float) -> dict[str, Any] | None:
    """The average conversion effect of the campaigns that kept a control group, stratified
    by campaign (each campaign's difference weighted by ``n_t n_c / (n_t + n_c)``, as the
    Cochran-Mantel-Haenszel risk difference), so campaigns with different control shares
    cannot create a Simpson's-paradox effect."""
    g = _by_campaign_and_group(contacts)
    if g.empty:
        return None
    nt, nc = g[("size", False)].to_numpy(float), g[("size", True)].to_numpy(float)
    pt, pc = g[("sum", False)].to_numpy(float) / nt, g[("sum", True)].to_numpy(float) / nc
    wts = nt * nc / (nt + nc)
    diff = float((wts * (pt - pc)).sum() / wts.sum())
    var = float((wts**2 * (pt * (1 - pt) / nt + pc * (1 - pc) / nc)).sum() / wts.sum() ** 2)
    control_rate = float((wts * pc).sum() / wts.sum())
    se = math.sqrt(var)
    q = stats.norm.ppf(1 - alpha / 2)
    z = diff / se if se > 0 else 0.0
    return {"level": "all campaigns", "key": "all", "contacts": int(nt.sum()),
            "control": int(nc.sum()), "conversion_rate": control_rate + diff,
            "control_rate": control_rate, "uplift": diff, "uplift_ci_low": diff - q * se,
            "uplift_ci_high": diff + q * se,
            "p_value": float(2 * stats.norm.sf(abs(z))) if se > 0 else 1.0}  # fmt: skip


def _arm_effects(contacts: pd.DataFrame, by: str, alpha: float) -> pd.DataFrame:
    """Each arm's treated vs control conversion (two-proportion test), nothing else: the
    ROI posteriors of :func:`channel_effects` are not needed to judge effects."""
    g = contacts.groupby([by, contacts["group"] == "control"])["converted"].agg(
        ["size", "sum"]).unstack()
    g = g.reindex(columns=pd.MultiIndex.from_product([["size", "sum"], [False, True]]))
    rows = []
    for arm, r in g.iterrows():
        nt, st, nc, sc = (r[("size", False)], r[("sum", False)], r[("size", True)],
                          r[("sum", True)])  # fmt: skip
        if not nt > 0:
            continue
        row: dict[str, Any] = {"key": arm, "contacts": int(nt),
                               "control": int(nc) if nc > 0 else 0,
                               "conversion_rate": float(st / nt)}  # fmt: skip
        if nc > 0:
            t = two_proportion_test(st, nt, sc, nc, alpha=alpha)
            row |= {"control_rate": t["mean_b"], "uplift": t["difference"],
                    "uplift_ci_low": t["ci_low"], "uplift_ci_high": t["ci_high"],
                    "p_value": t["p_value"]}  # fmt: skip
        else:
            row |= dict.fromkeys(("control_rate", "uplift", "uplift_ci_low", "uplift_ci_high",
                                  "p_value"), np.nan)  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def campaign_effects(contacts: pd.DataFrame, *, alpha: float = ALPHA,
                     correction: Correction = "holm") -> pd.DataFrame:
    """The family of conversion effects the verdict judges, tested in two steps.

    First the campaigns' average effect over their control groups (stratified by campaign,
    ``level`` "all campaigns"); only when it is significant, every campaign (``level``
    "campaign") and every channel (``level`` "channel") against its control group, Holm-
    corrected across them. This serial gatekeeping (Dmitrienko, Offen & Westfall 2003)
    keeps the chance of any false finding at ``alpha`` while a real average effect is not
    drowned by the correction for dozens of small campaigns; the adjusted p-value of a
    second-step effect is the larger of its Holm p-value and the first step's.

    Returns one row per effect with the columns of :data:`EFFECT_COLUMNS`: the treated and
    control rates, the uplift with its 95% interval, ``relative_lift`` (uplift / control
    rate), ``p_value`` (two-proportion test), ``p_adjusted`` and ``significant``
    (``p_adjusted`` < ``alpha``). Arms without a control group have nothing to test (NaN).

    References
    ----------
    Dmitrienko, A., Offen, W. W. & Westfall, P. H. (2003). Gatekeeping strategies for
    clinical trials that do not require all primary effects to be significant. *Statistics
    in Medicine* 22, 2387-2400.
    """
    parts = []
    pooled = _pooled_effect(contacts, alpha)
    if pooled is not None:
        parts.append(pd.DataFrame([pooled]))
    for level, by in (("campaign", "campaign_id"), ("channel", "channel")):
        parts.append(_arm_effects(contacts, by, alpha).assign(level=level))
    fam = pd.concat(parts, ignore_index=True)
    fam["key"] = fam["key"].astype(str)
    with np.errstate(divide="ignore", invalid="ignore"):
        fam["relative_lift"] = np.where(fam["control_rate"] > 0,
                                        fam["uplift"] / fam["control_rate"],
                                        np.where(fam["uplift"] > 0, np.inf, np.nan))
    fam["p_adjusted"] = np.nan
    first = (fam["level"] == "all campaigns").to_numpy()
    second = ~first & fam["p_value"].notna().to_numpy()
    gate = float(fam.loc[first, "p_value"].iloc[0]) if first.any() else 1.0
    fam.loc[first, "p_adjusted"] = gate
    if second.any():
        holm = adjust_pvalues(fam.loc[second, "p_value"].to_numpy(), correction)
        fam.loc[second, "p_adjusted"] = np.maximum(holm, gate)
    fam["significant"] = (fam["p_adjusted"] < alpha).fillna(False).astype(bool)
    return fam[list(EFFECT_COLUMNS)]


def _detectable_uplift(contacts: pd.DataFrame) -> tuple[float, int, int] | None:
    """The uplift a median campaign with a control group could detect (5% two-sided, 80%
    power), with its median treated and control sizes."""
    sizes = _by_campaign_and_group(contacts)
    if sizes.empty:
        return None
    nt = float(sizes[("size", False)].median())
    nc = float(sizes[("size", True)].median())
    rate = float(sizes["sum"].to_numpy().sum() / sizes["size"].to_numpy().sum())
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(0.8)
    return float(z * math.sqrt(rate * (1 - rate) * (1 / nt + 1 / nc))), int(nt), int(nc)


def effects_verdict(effects: pd.DataFrame, contacts: pd.DataFrame | None = None, *,
                    alpha: float = ALPHA, min_relative_lift: float = MIN_RELATIVE_LIFT
                    ) -> Verdict:
    """Are any campaign or channel effects real? (:func:`campaign_effects`' family.)

    ``informative`` when at least one effect is significant (family-wise, see
    :func:`campaign_effects`) and raises conversion by at least ``min_relative_lift`` of its
    control rate; ``weak`` when the significant increases are all smaller; ``not_informative``
    when none is significant, no campaign kept a control group, or every significant effect
    LOWERS conversion: a harmful campaign is a finding (the verdict says so, and what to do),
    but no budget can be moved towards contacts that cost conversions, and the response
    curves of the reallocation assume that spending more buys more. The value is the headline
    effect's relative lift with its family-wise (Bonferroni) interval; the baseline is 0, no
    effect.
    """
    metric = "conversion lift over control (relative, family-wise)"
    tested = effects[effects["p_value"].notna()]
    campaigns = effects[effects["level"] == "campaign"]
    n_control = int(campaigns["p_value"].notna().sum())
    control_advice = (f"keep a random control group in every campaign (only {n_control:,} "
                      f"of {len(campaigns):,} campaigns have one)")  # fmt: skip
    if tested.empty:
        return Verdict("not_informative", metric, None, 0.0,
                       why=f"None of the {len(campaigns):,} campaigns kept a control group, so "
                           "no effect of a campaign or channel can be measured; conversions of "
                           "contacted customers alone do not say what the contact caused.",
                       what_to_try=control_advice)  # fmt: skip
    m = len(tested)
    sig = tested[tested["significant"]]
    # The first step is tested at alpha; the second's intervals are family-wise (Bonferroni).
    n_second = max(1, int((tested["level"] != "all campaigns").sum()))
    z_of = np.where(tested["level"] == "all campaigns", stats.norm.ppf(1 - alpha / 2),
                    stats.norm.ppf(1 - alpha / (2 * n_second)))
    se_of = (tested["uplift_ci_high"] - tested["uplift_ci_low"]) / (
        2 * stats.norm.ppf(1 - alpha / 2))
    # How surely large each effect is: its family-wise bound nearer zero, relative to the
    # control rate. The headline is the surest (the largest point estimate would be the
    # luckiest of many small campaigns); an increase when there is one, as only an increase
    # can be acted on with budget.
    with np.errstate(divide="ignore", invalid="ignore"):
        sure = ((tested["uplift"].abs() - z_of * se_of).clip(lower=0)
                / tested["control_rate"]).replace(np.inf, np.nan)
    raised = sig[sig["uplift"] > 0]
    harmed = sig[sig["uplift"] < 0]
    if len(sig):
        lead = raised if len(raised) else harmed
        row = tested.loc[sure[lead.index].fillna(-1).idxmax()]
    else:
        pooled = tested[tested["level"] == "all campaigns"]
        row = pooled.iloc[0] if len(pooled) else tested.loc[tested["p_value"].idxmin()]
    z = float(z_of[tested.index.get_loc(row.name)])
    se = float(se_of.loc[row.name])
    base = row["control_rate"]
    lo, hi = row["uplift"] - z * se, row["uplift"] + z * se
    rel = float(row["relative_lift"])
    interval = (float(lo / base), float(hi / base)) if base > 0 else None
    label = "95% interval" if row["level"] == "all campaigns" else "family-wise 95% interval"
    what = ("the campaigns' average effect" if row["level"] == "all campaigns"
            else f"{row['level']} {row['key']}")
    fig = (f"{row['uplift']:+.2%} points of conversion ({rel:+.0%} of its control rate "
           f"{base:.2%}; {label} {lo:+.2%} to {hi:+.2%}, adjusted p "
           f"{row['p_adjusted']:.3f})") if math.isfinite(rel) else (
           f"{row['uplift']:+.2%} points of conversion over a control group that never "
           f"converted (adjusted p {row['p_adjusted']:.3f})")  # fmt: skip
    n_sig = len(sig)
    status: Status
    if n_sig == 0:
        status = "not_informative"
        why = (f"None of {m:,} campaign and channel effects over their control groups is "
               f"significant (the campaigns' average first, then each campaign and channel "
               f"with Holm's correction); {what} is {fig}.")
    elif not len(raised):
        status = "not_informative"
        why = (f"{n_sig:,} of {m:,} campaign and channel effects over their control groups "
               f"are significant (the campaigns' average first, then each campaign and "
               f"channel with Holm's correction), and every one LOWERS conversion: the "
               f"surest, {what}, is {fig}. No contact is shown to raise conversion, so no "
               f"budget is reallocated (more spend would buy fewer conversions).")
    else:
        material = raised["relative_lift"] >= min_relative_lift
        status = "informative" if material.any() else "weak"
        why = (f"{n_sig:,} of {m:,} campaign and channel effects over their control groups "
               f"are significant (the campaigns' average first, then each campaign and "
               f"channel with Holm's correction); the surest increase, {what}, is {fig}.")
        if status == "weak":
            why += (f" None raises conversion by {min_relative_lift:.0%} of its control "
                    "rate.")
    if len(harmed) and len(raised):
        why += (f" {len(harmed):,} significantly lower conversion: "
                f"{_effect_names(harmed)}.")
    advice = [control_advice] if n_control < len(campaigns) else []
    if len(harmed):
        advice.insert(0, f"stop or rework {_effect_names(harmed)}: contacted customers "
                         "convert less than their control group (check contact frequency, "
                         "targeting and the offer), and test the change against a control "
                         "group")
    if contacts is not None:
        mde = _detectable_uplift(contacts)
        if mde is not None:
            advice.append(f"more contacts per campaign or larger control groups: with a "
                          f"median of {mde[1]:,} treated and {mde[2]:,} control customers a "
                          f"campaign's uplift below about {mde[0]:.2%} points cannot be told "
                          "from chance")  # fmt: skip
    return Verdict(status, metric, rel if math.isfinite(rel) else None, 0.0, interval, why,
                   "; ".join(advice) if status != "informative" else "")  # fmt: skip


def _effect_names(effects: pd.DataFrame, most: int = 5) -> str:
    """``campaign K03, channel sms`` (the campaigns' average by that name), at most ``most``."""
    names = ["the campaigns' average" if r.level == "all campaigns" else f"{r.level} {r.key}"
             for r in effects.itertuples()]
    more = f" and {len(names) - most:,} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _empty_like(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[0:0].copy()


BUDGET_COLUMNS = ("channel", "current_spend", "optimal_spend", "change", "budget",
                  "expected_gain", "gain_ci_low", "gain_ci_high", "prob_gain_positive")
CURVE_COLUMNS = ("channel", "spend", "expected")


# The funnel and attribution marts' columns (as declared in _analysis.py), text ones first.
_EVENT_MARTS = {
    "funnel": (("group", "stage", "dimension"), ("step", "customers", "conversion")),
    "funnel_leaks": (("group", "from_stage", "stage", "dimension"),
                     ("conversion", "expected_conversion", "lost_customers")),
    "attribution": (("model", "channel"), ("conversions", "value", "share")),
}


def _declared_columns(name: str) -> tuple[str, ...]:
    text, numbers = _EVENT_MARTS[name]
    return (*text, *numbers)


def _no_rows(columns: tuple[str, ...]) -> pd.DataFrame:
    """An empty mart with its declared columns (written so no earlier run's rows survive)."""
    text = {c for texts, _ in _EVENT_MARTS.values() for c in texts} | {"channel"}
    return pd.DataFrame({c: pd.Series(dtype="string" if c in text else "float64")
                         for c in columns})  # fmt: skip


def run_marketing(ws: Workspace, *, model_version: str = MODEL_VERSION, period: str = "M",
                  budget: float | None = None, lookback_days: float = 30) -> MarketingRun:
    """KPIs, campaign and channel effects with their verdict, budget split, funnel and
    attribution, written to marts.

    Writes ``marts.campaign_kpis`` (tidy, ``level`` = campaign/channel/segment/period),
    ``marts.campaign_effects`` (every campaign and channel against its control group,
    Holm-corrected across all of them: what the verdict judges), ``marts.channel_effects``,
    ``marts.channel_comparisons`` (channel vs channel), ``marts.budget_allocation`` (EMPTY
    when no effect significantly raises conversion) and ``marts.response_curves`` (both
    empty when no budget can be planned), ``marts.funnel`` and ``marts.funnel_leaks`` (by
    channel, and by segment once the segmentation step has run: column ``dimension``) and
    ``marts.attribution``. Parts that lack their data (no costs for a budget, no stages for a
    funnel) are skipped, not failed.
    """
    contacts = load_contacts(ws)
    written: list[str] = []

    def write(name: str, frame: pd.DataFrame) -> None:
        ws.write_mart(name, frame, model_version=model_version)
        written.append(f"marts.{name}")

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
    write("campaign_kpis", kpis)

    effects = channel_effects(contacts)
    family = campaign_effects(contacts)
    verdict = effects_verdict(family, contacts)
    write("campaign_effects", family)
    write("channel_effects", effects)
    write("channel_comparisons", compare_arms(contacts))

    alloc: BudgetAllocation | None = None
    curve_pts = pd.DataFrame()
    caught: list[str] = []
    plan = None
    try:
        plan = budget_of_contacts(contacts, budget=budget)
        caught = list(plan.warnings)
    except CrmineError:
        plan = None  # no costs, or too few campaigns per channel to fit a curve
    if plan is not None:
        alloc, curve_pts = plan.allocation, plan.curves.curve_points()
        table = plan.table()
        write("budget_allocation", table if verdict.actionable else _empty_like(table))
        write("response_curves", curve_pts)
    else:  # no plan this run: an earlier run's split and curves must not stand in for one
        write("budget_allocation", _no_rows(BUDGET_COLUMNS))
        write("response_curves", _no_rows(CURVE_COLUMNS))

    fun: FunnelResult | None = None
    att = pd.DataFrame()
    if ws.has_table("core.fct_events"):
        events = ws.read(ws.resolved("core.fct_events"))
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
            write("funnel", pd.concat(stages, ignore_index=True))
            kept = [f for f in leaks if not f.empty]
            if kept:
                write("funnel_leaks", pd.concat(kept, ignore_index=True))
        except CrmineError:
            fun = None
        att = _attribution(events, lookback_days)
        if not att.empty:
            write("attribution", att)
    # every declared mart on every run: no funnel or attribution this time (no events, no
    # stages) must not leave an earlier run's standing
    for name in ("funnel", "funnel_leaks", "attribution"):
        if f"marts.{name}" not in written:
            write(name, _no_rows(_declared_columns(name)))
    verdict = verdict.with_warnings(caught)
    record_verdict(ws, "marketing", verdict)
    return MarketingRun(kpis, effects, alloc if verdict.actionable else None, curve_pts, fun,
                        att, family, verdict, tuple(written))  # fmt: skip


@dataclass(frozen=True, slots=True)
class BudgetPlan:
    """Response curves per channel and the budget split they recommend."""

    curves: ResponseCurves
    allocation: BudgetAllocation
    outcome: str = "conversions"
    warnings: tuple[str, ...] = ()

    def table(self) -> pd.DataFrame:
        """The allocation with each channel's curve parameters and the overall gain."""
        alloc = self.allocation
        table = alloc.allocation.merge(self.curves.params_.reset_index(), on="channel")
        table["budget"] = alloc.budget
        table["expected_gain"] = alloc.expected_gain
        table["gain_ci_low"] = alloc.gain_ci_low
        table["gain_ci_high"] = alloc.gain_ci_high
        table["prob_gain_positive"] = alloc.prob_gain_positive
        return table

    def summary(self) -> dict[str, Any]:
        a = self.allocation
        return {"budget": a.budget, "outcome": self.outcome,
                "expected_current": a.expected_current, "expected_optimal": a.expected_optimal,
                "expected_gain": a.expected_gain, "gain_interval": [a.gain_ci_low, a.gain_ci_high],
                "prob_gain_positive": a.prob_gain_positive}  # fmt: skip

    def to_frame(self) -> pd.DataFrame:
        return self.allocation.allocation.copy()


def budget_of_contacts(contacts: pd.DataFrame, *, budget: float | None = None,
                       outcome: str = "conversions") -> BudgetPlan:
    """Fit response curves to one point per campaign and split ``budget`` (default: the
    current average spend per campaign round) to maximise ``outcome``; fit warnings are
    recorded in :attr:`BudgetPlan.warnings`."""
    if outcome not in ("conversions", "revenue"):
        from crmine.exceptions import ConfigError

        raise ConfigError(f"outcome must be conversions or revenue, not {outcome!r}")
    hist = _budget_history(contacts)
    if not hist["cost"].sum() > 0:
        raise DataError("no campaign costs recorded: load campaigns with a cost column to "
                        "fit response curves and split a budget")  # fmt: skip
    with recorded_warnings() as caught:
        curves = ResponseCurves().fit(hist, outcome_col=outcome)
        alloc = curves.allocate(budget)
    return BudgetPlan(curves, alloc, outcome, tuple(caught))


def budget_of(ws: Workspace, *, budget: float | None = None,
              outcome: str = "conversions") -> BudgetPlan:
    """:func:`budget_of_contacts` on the workspace's campaigns (``crmine campaigns budget``)."""
    return budget_of_contacts(load_contacts(ws), budget=budget, outcome=outcome)


KPI_KEYS = {"campaign": "campaign_id", "channel": "channel", "segment": "segment",
            "period": "period"}  # fmt: skip


def kpis_of(ws: Workspace, *, by: str = "campaign", period: str = "M") -> pd.DataFrame:
    """Campaign KPIs of the workspace by campaign, channel, segment or period."""
    if by not in KPI_KEYS:
        from crmine.exceptions import ConfigError

        raise ConfigError(f"by must be one of {', '.join(KPI_KEYS)}; got {by!r}")
    return campaign_kpis(load_contacts(ws), by=KPI_KEYS[by], period=period)


def effects_of(ws: Workspace, *, by: str = "channel", correction: Correction = "holm"
               ) -> pd.DataFrame:
    """Per channel (or ``campaign_id``) of the workspace: conversion uplift over control and
    ROI with intervals (:func:`crmine.marketing.channel_effects`)."""
    return channel_effects(load_contacts(ws), by=by, correction=correction)


@dataclass(frozen=True, slots=True)
class JudgedEffects:
    """Channel effects with ROI, the family of effects over control and their verdict."""

    channels: pd.DataFrame
    family: pd.DataFrame
    verdict: Verdict
    marts: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        return {"effects_tested": int(self.family["p_value"].notna().sum()),
                "effects_significant": int(self.family["significant"].sum())}

    def to_frame(self) -> pd.DataFrame:
        return self.family.copy()


def judged_effects(ws: Workspace, *, correction: Correction = "holm") -> JudgedEffects:
    """Per channel: conversion uplift over control and ROI with intervals; and the family of
    campaign and channel effects (:func:`campaign_effects`) with its verdict
    (:func:`effects_verdict`), as ``crmine campaigns effect`` shows them."""
    contacts = load_contacts(ws)
    family = campaign_effects(contacts, correction=correction)
    return JudgedEffects(channel_effects(contacts, correction=correction), family,
                         effects_verdict(family, contacts))


def funnel_of(ws: Workspace, *, by: str | None = "channel") -> FunnelResult:
    """The workspace's funnel (``core.fct_events``), split by ``by``."""
    if not ws.has_table("core.fct_events"):
        raise DataError(f"{ws.root}: no core.fct_events; load events with `crmine ingest "
                        "events FILE` to see the funnel")  # fmt: skip
    return funnel(ws.read("core.fct_events"), by=by or None)


def attribution_of(ws: Workspace, *, lookback_days: float = 30) -> pd.DataFrame:
    """Conversions credited to channels by every attribution model (``marts.attribution``'s
    shape), from the workspace's events."""
    events = ws.read("core.fct_events") if ws.has_table("core.fct_events") else pd.DataFrame()
    att = _attribution(events, lookback_days)
    if att.empty:
        raise DataError("no conversions with touches before them in core.fct_events "
                        "(stage 'convert' and channel needed)")  # fmt: skip
    return att


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
