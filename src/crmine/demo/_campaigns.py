"""Campaigns, randomised assignments with a known uplift, and the funnel events they cause.

Response model (per campaign ``c`` and assigned customer ``i``)::

    p_control[i]   = k_c * base[i]
    p_treatment[i] = min(k_c * (base[i] + uplift[i]), reach_lead[channel])
    true_uplift[i] = p_treatment[i] - p_control[i]

``base`` and ``uplift`` are the customer's relative propensities (premium buys anyway: high
base, zero uplift; discount seekers and customers under 30 are persuadable; loyal customers
aged 55+ are sleeping dogs with negative uplift). ``k_c`` scales the campaign so that its
expected conversions follow the channel's diminishing-returns curve
``a * (1 - exp(-b * spend))`` (Jin et al. 2017, "Bayesian methods for media mix modeling
with carryover and shape effects", use the same saturating shape).

Treated customers walk the funnel sent → delivered → open → click → visit → lead with the
channel's fixed stage rates, then convert with probability ``p_treatment / reach_lead``, so a
treated customer converts with exactly ``p_treatment``. The control group is not contacted and
has no funnel events; its responses are purchases it would have made anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmine.demo._customers import CustomerLatent
from crmine.demo._spec import (
    DAYS,
    FUNNEL,
    LEAK,
    MARKETING_CHANNELS,
    NO_SIGNAL,
    SATURATION,
    SEGMENTS,
    START,
)
from crmine.demo._util import days_to_ts, shop_hours

__all__ = ["CampaignResult", "make_campaigns"]

EVENT_TYPE = {
    "sent": "campaign_sent", "delivered": "campaign_delivered", "open": "campaign_open",
    "click": "campaign_click", "visit": "site_visit", "lead": "lead", "convert": "conversion",
}  # fmt: skip
# Mean delay (days) from the previous stage.
STAGE_DELAY = {"delivered": 0.003, "open": 0.3, "click": 0.01, "visit": 0.002, "lead": 0.5,
               "convert": 1.5}  # fmt: skip
# Channels that touch a customer on the way to a conversion (multi-touch paths): relative
# weights of the assisting touches. Display and social assist much more than they convert.
ASSIST_WEIGHT = {"email": 0.10, "sms": 0.05, "social": 0.35, "search": 0.20, "display": 0.30}
ASSISTS_PER_CONVERSION = 1.5
ASSISTS_PER_NON_CONVERTER = 0.25
TREATMENT_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class CampaignResult:
    """What :func:`make_campaigns` hands back (internal to the package)."""

    campaigns: pd.DataFrame
    assignments: pd.DataFrame
    events: pd.DataFrame
    truth: dict[str, pd.DataFrame]


def _ts(t: np.ndarray) -> pd.DatetimeIndex:
    return days_to_ts(t, START)


def make_campaigns(rng: np.random.Generator, customers: pd.DataFrame,
                   lat: CustomerLatent, *, signal: bool = True) -> CampaignResult:
    """Draw campaigns, assignments, responses and funnel events (see the module docstring).

    Without ``signal`` every assigned customer, treated or not, converts with
    ``NO_SIGNAL.response_rate`` (zero uplift), every channel walks one funnel without a leak,
    no campaign targets a segment and ad touches are not tied to conversions.
    """
    n = len(customers)
    seg_names = np.array([s.name for s in SEGMENTS])
    if signal:
        value_shape = np.array([s.gg_p for s in SEGMENTS])[lat.segment]
    else:
        value_shape = np.full(n, NO_SIGNAL.response_value_shape)
    cust_ids = customers["customer_id"].to_numpy()
    mean_value = value_shape / lat.nu

    plan = [(ch, reach) for ch in MARKETING_CHANNELS for reach in ch.campaign_reach]
    n_camp = len(plan)
    # Campaigns run over the last 18 months, when most customers have signed up.
    start_day = np.sort(np.floor(rng.uniform(DAYS - 540, DAYS - 40, n_camp)))
    start_day = start_day[rng.permutation(n_camp)]
    duration = rng.integers(14, 29, n_camp).astype(float)
    targeted = rng.choice(n_camp, size=2, replace=False)
    no_control = {i for i, (ch, _) in enumerate(plan) if ch.name in ("display", "social")}
    no_control = set(sorted(no_control)[:1] + sorted(no_control)[-1:])

    camp_rows, assign_parts, event_parts, uplift_rows, cust_uplift_parts = [], [], [], [], []
    for c, (ch, reach) in enumerate(plan):
        cid = f"CMP{c + 1:03d}"
        t_start = start_day[c]
        target = "all"
        pool = np.flatnonzero(lat.t0 < t_start)
        if signal and c == targeted[0]:
            target = "discount_seeker"
        elif signal and c == targeted[1]:
            target = "loyal_regular"
        if target != "all":
            pool = pool[seg_names[lat.segment[pool]] == target]
        size = min(round(reach * n), len(pool))
        who = np.sort(rng.choice(pool, size=size, replace=False))
        has_control = c not in no_control
        treat = rng.random(size) < TREATMENT_SHARE if has_control else np.ones(size, bool)
        n_treat = int(treat.sum())
        spend = ch.cost_per_contact * n_treat
        curve_a = ch.conversion_rate * SATURATION * n
        curve_b = 1.0 / (ch.cost_per_contact * SATURATION * n)
        expected = curve_a * (1.0 - np.exp(-curve_b * spend))

        funnel = ch.funnel if signal else NO_SIGNAL.funnel
        reach_lead = float(np.prod(funnel))
        if signal:
            base = lat.response_base[who]
            lift = lat.response_uplift[who]
            k = expected / max(float((base + lift)[treat].sum()), 1e-9)
            p_treat = np.clip(k * (base + lift), 0.0, reach_lead)
            p_ctrl = np.clip(k * base, 0.0, 1.0)
        else:
            p_treat = p_ctrl = np.full(size, min(NO_SIGNAL.response_rate, reach_lead))
            expected = float(p_treat[treat].sum())

        # Funnel for the treated: fixed stage rates up to lead, then convert with q.
        t_ids = who[treat]
        t_sent = t_start + rng.uniform(0.0, 1.0, n_treat)
        t_sent = np.floor(t_sent) + shop_hours(rng, n_treat)
        reached = np.ones(n_treat, bool)
        t_stage = t_sent.copy()
        stage_rows = [(t_ids, t_sent, "sent")]
        rates = (*funnel, None)
        for stage, rate in zip(FUNNEL[1:], rates, strict=True):
            prob = p_treat[treat] / reach_lead if rate is None else rate
            reached = reached & (rng.random(n_treat) < prob)
            t_stage = t_stage + rng.exponential(STAGE_DELAY[stage], n_treat)
            stage_rows.append((t_ids[reached], t_stage[reached], stage))
        converted = reached
        t_convert = np.minimum(t_stage, DAYS - 1e-4)

        responded = np.zeros(size, bool)
        response_t = np.full(size, np.nan)
        responded[treat] = converted
        response_t[np.flatnonzero(treat)[converted]] = t_convert[converted]
        ctrl_idx = np.flatnonzero(~treat)
        ctrl_resp = rng.random(len(ctrl_idx)) < p_ctrl[~treat]
        responded[ctrl_idx[ctrl_resp]] = True
        response_t[ctrl_idx[ctrl_resp]] = np.minimum(
            t_start + rng.uniform(0.0, duration[c], int(ctrl_resp.sum())), DAYS - 1e-4
        )
        revenue = np.where(
            responded, np.round(rng.gamma(value_shape[who], 1.0 / lat.nu[who]), 2), 0.0
        )

        camp_rows.append({
            "campaign_id": cid,
            "campaign_name": f"{ch.name.upper()} {ch.promotion_type.replace('_', ' ')} "
                             f"{(START + pd.Timedelta(days=t_start)):%b %Y}",
            "channel": ch.name,
            "start_date": START + pd.Timedelta(days=t_start),
            "end_date": START + pd.Timedelta(days=t_start + duration[c]),
            "cost": round(spend, 2),
            "promotion_type": ch.promotion_type,
            "target_segment": target,
            "has_control_group": has_control,
        })  # fmt: skip
        assign_parts.append(pd.DataFrame({
            "campaign_id": cid,
            "customer_id": cust_ids[who],
            "group": np.where(treat, "treatment", "control"),
            "responded": responded,
            "response_ts": _ts(response_t),
            "revenue": revenue,
        }))  # fmt: skip
        for ids, times, stage in stage_rows:
            event_parts.append(pd.DataFrame({
                "customer_idx": ids, "t": times, "stage": stage, "channel": ch.name,
                "campaign_id": cid,
                "cost": ch.cost_per_contact if stage == "sent" else np.nan,
                "value": np.nan,
            }))  # fmt: skip
        conv_rev = revenue[treat][converted]
        event_parts[-1]["value"] = conv_rev

        uplift = p_treat - p_ctrl
        uplift_rows.append({
            "campaign_id": cid, "channel": ch.name, "target_segment": target,
            "has_control_group": has_control, "n_assigned": size, "n_treatment": n_treat,
            "spend": round(spend, 2),
            "true_control_rate": float(p_ctrl.mean()),
            "true_treatment_rate": float(p_treat.mean()),
            "true_ate": float(uplift.mean()),
            "expected_conversions": float(p_treat[treat].sum()),
            "expected_incremental_conversions": float(uplift[treat].sum()),
            "expected_revenue": float((p_treat * mean_value[who])[treat].sum()),
            "reach_lead": reach_lead,
            "curve_expected_conversions": float(expected),
        })  # fmt: skip
        cust_uplift_parts.append(pd.DataFrame({
            "campaign_id": cid, "customer_id": cust_ids[who], "true_uplift": uplift,
            "p_control": p_ctrl, "p_treatment": p_treat,
        }))  # fmt: skip

    campaigns = pd.DataFrame(camp_rows)
    assignments = pd.concat(assign_parts, ignore_index=True)
    uplift_truth = pd.DataFrame(uplift_rows)
    events = pd.concat(event_parts, ignore_index=True)
    events = pd.concat([events, _assist_touches(rng, events, n, tied=signal)],
                       ignore_index=True)
    events = events.sort_values(["t", "customer_idx"], kind="stable", ignore_index=True)
    stage = events["stage"]
    is_visit = (stage == "visit").to_numpy()
    events_out = pd.DataFrame({
        "event_id": [f"E{i:08d}" for i in range(1, len(events) + 1)],
        "customer_id": cust_ids[events["customer_idx"].to_numpy()],
        "event_ts": _ts(events["t"].to_numpy()),
        "event_type": stage.map(EVENT_TYPE).fillna("ad_touch").to_numpy(),
        "channel": events["channel"].to_numpy(),
        "campaign_id": events["campaign_id"].to_numpy(),
        "stage": stage.to_numpy(),
        "value": events["value"].to_numpy(dtype=float),
        "cost": events["cost"].to_numpy(dtype=float),
        # Seconds on site for visits, with the landing page the campaign pointed to.
        "duration": np.where(is_visit, np.round(rng.lognormal(4.5, 0.9, len(events))), np.nan),
        "page": np.where(is_visit, "/landing/" + events["campaign_id"].astype(str), None),
    })  # fmt: skip

    truth = {
        "uplift": uplift_truth,
        "customer_uplift": pd.concat(cust_uplift_parts, ignore_index=True),
        "channels": _channel_truth(uplift_truth, n, signal),
        "funnel": _funnel_truth(uplift_truth, signal),
    }
    return CampaignResult(campaigns, assignments, events_out, truth)


def _assist_touches(rng: np.random.Generator, events: pd.DataFrame, n: int,
                    tied: bool = True) -> pd.DataFrame:
    """Ad touches in the two weeks before conversions (and a few without one).

    They give multi-touch attribution paths to work on: converters saw on average
    ``ASSISTS_PER_CONVERSION`` touches, mostly display and social, before converting. Not
    ``tied`` (the no-signal company), every touch lands on a random customer and day.
    """
    conv = events[events["stage"] == "convert"]
    if not tied:
        conv = conv.iloc[:0]
    n_assist = rng.poisson(ASSISTS_PER_CONVERSION, len(conv))
    cust = np.repeat(conv["customer_idx"].to_numpy(), n_assist)
    t = np.repeat(conv["t"].to_numpy(), n_assist) - rng.uniform(0.2, 14.0, len(cust))
    m = int(rng.poisson(ASSISTS_PER_NON_CONVERTER * n))
    cust = np.r_[cust, rng.integers(0, n, m)]
    t = np.r_[t, rng.uniform(DAYS - 540, DAYS, m)]
    names = np.array(list(ASSIST_WEIGHT))
    w = np.array(list(ASSIST_WEIGHT.values()))
    channel = names[rng.choice(len(names), size=len(cust), p=w / w.sum())]
    t = np.clip(t, 0.0, DAYS - 1e-4)
    return pd.DataFrame({"customer_idx": cust, "t": t, "stage": None, "channel": channel,
                         "campaign_id": None, "cost": np.nan, "value": np.nan})


def _channel_truth(uplift: pd.DataFrame, n: int, signal: bool = True) -> pd.DataFrame:
    rows = []
    for ch in MARKETING_CHANNELS:
        u = uplift[uplift["channel"] == ch.name]
        conversions = u["expected_conversions"].sum()
        spend = u["spend"].sum()
        revenue = u["expected_revenue"].sum()
        rows.append({
            "channel": ch.name,
            "cost_per_contact": ch.cost_per_contact,
            "n_campaigns": len(u),
            "contacts": int(u["n_treatment"].sum()),
            "spend": spend,
            "true_conversion_rate": conversions / u["n_treatment"].sum(),
            "true_incremental_rate": u["expected_incremental_conversions"].sum()
            / u["n_treatment"].sum(),
            "expected_revenue": revenue,
            "true_roi": (revenue - spend) / spend,
            "curve_a": ch.conversion_rate * SATURATION * n if signal else np.nan,
            "curve_b": 1.0 / (ch.cost_per_contact * SATURATION * n) if signal else np.nan,
            "curve": "expected_conversions = curve_a * (1 - exp(-curve_b * spend))" if signal
            else f"expected_conversions = {NO_SIGNAL.response_rate} * contacts (no curve)",
            "assist_weight": ASSIST_WEIGHT[ch.name] / sum(ASSIST_WEIGHT.values()),
            "leak_stage": LEAK[1] if signal and ch.name == LEAK[0] else None,
        })  # fmt: skip
    out = pd.DataFrame(rows)
    out["is_best_roi"] = out["true_roi"] == out["true_roi"].max()
    out["is_best_conversion"] = out["true_conversion_rate"] == out["true_conversion_rate"].max()
    return out


def _funnel_truth(uplift: pd.DataFrame, signal: bool = True) -> pd.DataFrame:
    rows = []
    for ch in MARKETING_CHANNELS:
        u = uplift[uplift["channel"] == ch.name]
        funnel = ch.funnel if signal else NO_SIGNAL.funnel
        reach_lead = float(np.prod(funnel))
        convert_rate = u["expected_conversions"].sum() / (reach_lead * u["n_treatment"].sum())
        for order, (stage, rate) in enumerate(zip(FUNNEL[1:], (*funnel, convert_rate),
                                                  strict=True), start=1):
            rows.append({
                "channel": ch.name, "stage": stage, "stage_order": order,
                "previous_stage": FUNNEL[order - 1], "true_rate_from_previous": float(rate),
                "is_leak": signal and (ch.name, stage) == LEAK,
            })  # fmt: skip
    return pd.DataFrame(rows)
