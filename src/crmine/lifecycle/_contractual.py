"""Contractual retention on ``core.fct_subscriptions``: one sBG per plan, DERL per contract.

A contract's periods are its months from ``start_date`` to ``end_date`` (cancelled) or to the
data end (still active; right-censored), at least 1. ``cancelled`` = the ``churned`` flag when
the source has one, else an ``end_date`` before the data end. Plans (``plan``, else
``contract_type``) with fewer than ``MIN_CONTRACTS`` contracts or ``MIN_CANCELLED``
cancellations are pooled into ``"(all)"``, which is always fitted.
"""

from __future__ import annotations

import pandas as pd

from crmine.lifecycle._sbg import ShiftedBetaGeometric
from crmine.warehouse import Workspace

__all__ = ["SBG_CONTRACT_COLUMNS", "SBG_PLAN_COLUMNS", "contract_durations", "fit_plans"]

SUBSCRIPTIONS = "core.fct_subscriptions"
MIN_CONTRACTS = 30
MIN_CANCELLED = 5
MONTH_DAYS = 30.4375
SBG_PLAN_COLUMNS = (
    "plan",
    "contracts",
    "cancelled",
    "alpha",
    "beta",
    "log_likelihood",
    "mean_churn_probability",
    "retention_month_1",
    "retention_month_12",
    "survival_month_12",
    "derl_new_contract",
    "discount_rate",
)
SBG_CONTRACT_COLUMNS = (
    "subscription_id",
    "customer_id",
    "plan",
    "periods",
    "discounted_residual_lifetime",
    "monthly_charge",
    "residual_value",
)


def contract_durations(ws: Workspace, end: pd.Timestamp) -> pd.DataFrame:
    """One row per contract started before ``end``: ``plan, periods, cancelled``."""
    cols = set(ws.columns(SUBSCRIPTIONS))
    plan = "coalesce(CAST(plan AS VARCHAR), '(none)')" if "plan" in cols else "'(all)'"
    if "plan" not in cols and "contract_type" in cols:
        plan = "coalesce(CAST(contract_type AS VARCHAR), '(none)')"
    day = f"DATE '{end:%Y-%m-%d}'"
    ended = f"(end_date IS NOT NULL AND end_date < {day})"
    cancelled = f"coalesce(churned, {ended})" if "churned" in cols else ended
    charge = "monthly_charge" if "monthly_charge" in cols else "NULL::DOUBLE"
    df = ws.duck.execute(f"""
        SELECT CAST(subscription_id AS VARCHAR) AS subscription_id,
               CAST(customer_id AS VARCHAR) AS customer_id, {plan} AS plan,
               greatest(1, round(datediff('day', start_date, CASE WHEN {ended} THEN end_date
                   ELSE {day} END) / {MONTH_DAYS}))::BIGINT AS periods,
               {cancelled} AS cancelled, CAST({charge} AS DOUBLE) AS monthly_charge
        FROM {ws.resolved(SUBSCRIPTIONS)} WHERE start_date IS NOT NULL AND start_date < {day}
        ORDER BY subscription_id""").df()
    df["cancelled"] = df["cancelled"].fillna(False).astype(bool)
    return df


def fit_plans(
    contracts: pd.DataFrame, *, discount_rate: float = 0.01
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An sBG per plan (and all pooled): the plan table and each active contract's DERL."""
    groups: dict[str, pd.DataFrame] = {"(all)": contracts}
    for plan, part in contracts.groupby("plan", sort=True):
        if len(part) >= MIN_CONTRACTS and int(part["cancelled"].sum()) >= MIN_CANCELLED:
            groups[str(plan)] = part
    rows, per_contract = [], []
    models: dict[str, ShiftedBetaGeometric] = {}
    for name, part in groups.items():
        if int(part["cancelled"].sum()) < 1:
            continue
        m = ShiftedBetaGeometric(discount_rate=discount_rate).fit_durations(
            part["periods"].to_numpy(), part["cancelled"].to_numpy()
        )
        models[name] = m
        retention = m.predict_retention(12)
        rows.append(
            {
                "plan": name,
                "contracts": len(part),
                "cancelled": int(part["cancelled"].sum()),
                "alpha": m.params_["alpha"],
                "beta": m.params_["beta"],
                "log_likelihood": m.log_likelihood_,
                "mean_churn_probability": m.params_["alpha"] / sum(m.params_.values()),
                "retention_month_1": float(retention[0]),
                "retention_month_12": float(retention[-1]),
                "survival_month_12": float(m.predict_survival(12)[-1]),
                "derl_new_contract": float(m.discounted_residual_lifetime(0)),
                "discount_rate": discount_rate,
            }
        )
    active = contracts[~contracts["cancelled"]]
    for name, part in active.groupby("plan", sort=True):
        key = str(name) if str(name) in models else "(all)"
        if key not in models:
            continue
        derl = models[key].discounted_residual_lifetime(part["periods"].to_numpy())
        per_contract.append(part.assign(discounted_residual_lifetime=derl))
    plans = pd.DataFrame(rows, columns=list(SBG_PLAN_COLUMNS))
    if per_contract:
        out = pd.concat(per_contract, ignore_index=True)
        out["residual_value"] = out["discounted_residual_lifetime"] * out["monthly_charge"]
        out = out[list(SBG_CONTRACT_COLUMNS)].sort_values("subscription_id", kind="stable")
    else:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in SBG_CONTRACT_COLUMNS})
    return plans, out.reset_index(drop=True)
