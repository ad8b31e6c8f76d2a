"""Subscriptions whose churn is driven by known factors (a discrete-time proportional hazard).

Each month of an active subscription the customer churns with probability
``1 - exp(-h)``, where::

    h = CHURN_BASE_HAZARD * exp(effect[contract_type]
                                + 1.5   * complaints in the previous 90 days
                                + 0.015 * (monthly_charge - 60)
                                - 0.035 * tenure_months)

(see ``CHURN_EFFECTS``). Gender and payment method are drawn independently and have no
effect: an analysis that ranks them as drivers is wrong.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmine.demo._customers import CustomerLatent
from crmine.demo._spec import (
    CHURN_BASE_HAZARD,
    CHURN_CONTRACT_EFFECT,
    CHURN_EFFECTS,
    CONTRACT_MIX,
    CONTRACT_TYPES,
    DAYS,
    NO_SIGNAL,
    PAYMENT_METHODS,
    PAYMENT_MIX,
    PLAN_CHARGE,
    PLANS,
    SEGMENTS,
    START,
)
from crmine.demo._util import choice_rows, days_to_ts

__all__ = ["churn_driver_truth", "make_subscriptions"]

MONTH = 30.44
COMPLAINT_WINDOW = 90.0
CHARGE_CENTER = 60.0


def make_subscriptions(rng: np.random.Generator, customers: pd.DataFrame,
                       lat: CustomerLatent, tickets: pd.DataFrame, *, signal: bool = True
                       ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The ``subscriptions`` table, plus churners' customer index and churn time (days).

    Without ``signal`` everyone subscribes with the same chance, plans are drawn from one mix
    and every active subscription ends with ``NO_SIGNAL.monthly_churn_hazard`` each month,
    whatever its contract, charge, tenure or the customer's complaints.
    """
    n = len(lat.t0)
    if signal:
        share = np.array([s.subscription_share for s in SEGMENTS])[lat.segment]
    else:
        share = np.full(n, NO_SIGNAL.subscription_share)
    start = lat.t0 + rng.exponential(45.0, n)
    subscribed = (rng.random(n) < share) & (start < DAYS - 1.0)
    cust = np.flatnonzero(subscribed)
    start = np.floor(start[cust])
    m = len(cust)

    if signal:
        plan_p = np.array([s.plan_mix for s in SEGMENTS])[lat.segment[cust]]
    else:
        plan_p = np.tile(np.array(NO_SIGNAL.plan_mix), (m, 1))
    plan = choice_rows(rng, plan_p)
    # a wide spread within each plan keeps the charge, not the plan, the driver
    charge = np.round(np.array(PLAN_CHARGE)[plan] + rng.normal(0.0, 20.0, m), 0)
    charge = np.maximum(charge, 10.0) - 0.1
    contract = rng.choice(len(CONTRACT_TYPES), size=m, p=CONTRACT_MIX)
    payment = rng.choice(len(PAYMENT_METHODS), size=m, p=PAYMENT_MIX)

    contract_effect = np.array([CHURN_CONTRACT_EFFECT[c] for c in CONTRACT_TYPES])
    # The complaint and tenure terms change month by month; these two do not.
    static = contract_effect[contract] + CHURN_EFFECTS["monthly_charge"] * (charge - CHARGE_CENTER)

    comp = tickets[tickets["is_complaint"]]
    key = np.sort(comp["cust"].to_numpy() * 10_000.0 + comp["t"].to_numpy())
    end = np.full(m, np.nan)
    active = np.ones(m, bool)
    month = 0
    while True:
        tau = start + month * MONTH
        active &= tau < DAYS
        if not active.any():
            break
        idx = np.flatnonzero(active)
        base_key = cust[idx] * 10_000.0
        recent = (np.searchsorted(key, base_key + tau[idx], side="right")
                  - np.searchsorted(key, base_key + tau[idx] - COMPLAINT_WINDOW, side="right"))
        log_h = (static[idx] + CHURN_EFFECTS["n_complaints"] * recent
                 + CHURN_EFFECTS["tenure_months"] * month)
        if signal:
            hazard = CHURN_BASE_HAZARD * np.exp(log_h)
        else:
            hazard = np.full(len(idx), NO_SIGNAL.monthly_churn_hazard)
        churn = rng.random(len(idx)) < -np.expm1(-hazard)
        t_end = tau[idx] + rng.uniform(0.0, MONTH, len(idx))
        churn &= t_end < DAYS
        end[idx[churn]] = np.floor(t_end[churn])
        active[idx[churn]] = False
        month += 1

    churned = ~np.isnan(end)
    months = np.maximum(np.ceil((np.where(churned, end, DAYS) - start) / MONTH), 1.0)
    order = np.argsort(start, kind="stable")
    subs = pd.DataFrame({
        "subscription_id": [f"S{i:06d}" for i in range(1, m + 1)],
        "customer_id": customers["customer_id"].to_numpy()[cust[order]],
        "start_date": days_to_ts(start[order], START),
        "end_date": days_to_ts(end[order], START),
        "plan": np.array(PLANS)[plan[order]],
        "contract_type": np.array(CONTRACT_TYPES)[contract[order]],
        "monthly_charge": charge[order],
        "total_charges": np.round(charge[order] * months[order], 2),
        "payment_method": np.array(PAYMENT_METHODS)[payment[order]],
        "churned": churned[order],
    })  # fmt: skip
    return subs, cust[churned], end[churned]


def churn_driver_truth(signal: bool = True) -> pd.DataFrame:
    """``truth["churn_drivers"]``: the planted log hazard ratios, and the non-drivers.

    Without ``signal`` every feature is listed with effect 0: nothing drives churn.
    """
    if not signal:
        return pd.DataFrame({
            "feature": ["contract_type", "n_complaints", "monthly_charge", "tenure_months",
                        "gender", "payment_method"],
            "direction": 0, "effect": 0.0,
            "unit": f"not a driver: constant monthly hazard {NO_SIGNAL.monthly_churn_hazard}",
        })  # fmt: skip
    ct = CHURN_CONTRACT_EFFECT
    return pd.DataFrame([
        {"feature": "contract_type", "direction": 1, "effect": ct["month-to-month"],
         "unit": "log hazard ratio month-to-month vs two_year "
                 f"(one_year vs two_year: {ct['one_year']})"},
        {"feature": "n_complaints", "direction": 1, "effect": CHURN_EFFECTS["n_complaints"],
         "unit": "log hazard ratio per complaint ticket in the previous 90 days"},
        {"feature": "monthly_charge", "direction": 1, "effect": CHURN_EFFECTS["monthly_charge"],
         "unit": "log hazard ratio per CNY of monthly charge"},
        {"feature": "tenure_months", "direction": -1, "effect": CHURN_EFFECTS["tenure_months"],
         "unit": "log hazard ratio per month of tenure"},
        {"feature": "gender", "direction": 0, "effect": 0.0, "unit": "not a driver"},
        {"feature": "payment_method", "direction": 0, "effect": 0.0, "unit": "not a driver"},
    ])  # fmt: skip
