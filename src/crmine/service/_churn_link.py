"""Service -> churn: hazard ratios of complaints, repeat contacts and slow resolution.

A time-ordered design, so nothing is measured after the outcome it explains: every active
subscription-month is one interval of a Cox model with time-varying covariates (Andersen &
Gill 1982), its service covariates counted over the ``window_days`` before the month starts
and the outcome whether the subscription ends during that month. Contract type and monthly
charge, where present, are adjusted for; time since the subscription started is the Cox time
scale, so tenure is absorbed by the baseline hazard. Tickets asking to cancel are the churn
itself, not a cause, and are left out of every count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmine.contract import Verdict, auc_interval, judge

__all__ = ["SERVICE_COVARIATES", "ChurnLink", "churn_link", "subscription_months"]

MONTH_DAYS = 30.44
SERVICE_COVARIATES = ("complaints", "repeat_contacts", "slow_resolutions")
LINK_COLUMNS = ("covariate", "log_hazard_ratio", "ci_low", "ci_high", "hazard_ratio",
                "p_value", "unit")
_UNITS = {
    "complaints": "per complaint ticket in the window before the month",
    "repeat_contacts": "per contact made within the repeat window of the previous one",
    "slow_resolutions": "per ticket that took longer than the SLA to close",
}


def _count_before(key_events: np.ndarray, cust: np.ndarray, day: np.ndarray,
                  window: float) -> np.ndarray:
    """Events of each (customer, day) in (day - window, day]; keys are customer * 1e6 + day."""
    base = cust * 1e6
    return (np.searchsorted(key_events, base + day, side="right")
            - np.searchsorted(key_events, base + day - window, side="right"))


def subscription_months(subs: pd.DataFrame, tickets: pd.DataFrame, end: pd.Timestamp, *,
                        window_days: float, sla_hours: float, repeat_days: float
                        ) -> pd.DataFrame:
    """The counting-process panel: one row per subscription and month it was active.

    ``tickets`` is :func:`crmine.service.prepare_tickets` output (``repeat_of_previous`` is
    derived here: a contact within the repeat window after the customer's previous one).
    """
    origin = pd.Timestamp("1970-01-01")
    s = subs.copy()
    s["start"] = (pd.to_datetime(s["start_date"]) - origin).dt.days.astype(float)
    stop_ts = pd.to_datetime(s["end_date"]).where(pd.to_datetime(s["end_date"]) < end, end)
    s["stop"] = (stop_ts - origin).dt.days.astype(float)
    s["churned_in_data"] = pd.to_datetime(s["end_date"]).notna() & (
        pd.to_datetime(s["end_date"]) < end)
    s = s[s["stop"] > s["start"]].reset_index(drop=True)
    codes = {c: i for i, c in enumerate(pd.unique(pd.concat([s["customer_id"],
                                                             tickets["customer_id"]])))}
    t = tickets[~tickets["category"].str.contains("cancel", case=False, na=False)]
    t_cust = t["customer_id"].map(codes).to_numpy(dtype=float)
    t_day = (t["opened_ts"] - origin).dt.total_seconds().to_numpy() / 86_400.0
    prev_gap = t.groupby("customer_id")["opened_ts"].diff().dt.total_seconds() / 86_400.0
    repeat_window = float(repeat_days)
    slow_known = t_day + sla_hours / 24.0  # a ticket is known to be slow once the SLA passes
    slow = ((t["hours"] > sla_hours).to_numpy())
    keys = {
        "complaints": np.sort(t_cust[t["is_complaint"].to_numpy()] * 1e6
                              + t_day[t["is_complaint"].to_numpy()]),
        "repeat_contacts": np.sort((t_cust * 1e6 + t_day)[(prev_gap <= repeat_window)
                                                          .to_numpy()]),
        "slow_resolutions": np.sort(t_cust[slow] * 1e6 + slow_known[slow]),
    }
    n_months = np.ceil((s["stop"] - s["start"]) / MONTH_DAYS).astype(int).clip(lower=1)
    row = np.repeat(np.arange(len(s)), n_months)
    month = np.arange(len(row)) - np.repeat(np.cumsum(n_months) - n_months, n_months)
    tau = s["start"].to_numpy()[row] + month * MONTH_DAYS
    stop_day = np.minimum(tau + MONTH_DAYS, s["stop"].to_numpy()[row])
    last = month == n_months.to_numpy()[row] - 1
    panel = pd.DataFrame({
        "subscription_id": s["subscription_id"].to_numpy()[row],
        "customer_id": s["customer_id"].to_numpy()[row],
        "start": month.astype(float),
        "stop": month + (stop_day - tau) / MONTH_DAYS,
        "event": last & s["churned_in_data"].to_numpy()[row],
    })  # fmt: skip
    cust = s["customer_id"].map(codes).to_numpy(dtype=float)[row]
    for name, key in keys.items():
        panel[name] = _count_before(key, cust, tau, window_days).astype(float)
    if "contract_type" in s and s["contract_type"].notna().any():
        contract = s["contract_type"].fillna("(unknown)").to_numpy()[row]
        levels = sorted(set(contract))
        for level in levels[1:]:
            panel[f"contract={level}"] = (contract == level).astype(float)
    if "monthly_charge" in s and s["monthly_charge"].notna().all():
        charge = s["monthly_charge"].to_numpy(dtype=float)[row]
        panel["monthly_charge_per_10"] = (charge - charge.mean()) / 10.0
    return panel[panel["stop"] > panel["start"]].reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class ChurnLink:
    """Hazard ratios of service experience on later churn, and their held-out test.

    Attributes
    ----------
    effects : DataFrame
        One row per covariate (the service ones and the adjustments): ``log_hazard_ratio``
        with its 95% interval, ``hazard_ratio``, ``p_value``, ``unit``.
    holdout_auc : float
        AUC of the service covariates' hazard (fitted on other customers) for churn in the
        month, on held-out customers' subscription-months.
    subscriptions, months, churned : int
    verdict : Verdict
        On the complaint effect (its interval against no effect), with the held-out AUC as
        a further check.
    """

    effects: pd.DataFrame
    holdout_auc: float
    subscriptions: int
    months: int
    churned: int
    verdict: Verdict


def _fit(panel: pd.DataFrame, covariates: list[str]):
    from lifelines import CoxTimeVaryingFitter

    cols = ["subscription_id", "start", "stop", "event", *covariates]
    return CoxTimeVaryingFitter(penalizer=1e-4).fit(
        panel[cols].astype({"event": bool}), id_col="subscription_id", event_col="event",
        start_col="start", stop_col="stop", show_progress=False,
        # smaller Newton steps: full steps overflow exp() on rare counts (few repeats)
        fit_options={"step_size": 0.3, "max_steps": 200})


def churn_link(panel: pd.DataFrame, *, holdout_share: float = 0.3, random_state: int = 0,
               min_gain: float = 0.1) -> ChurnLink:
    """Fit the Cox model on the panel; judge the complaint effect and the held-out AUC."""
    covariates = [c for c in panel.columns
                  if c not in ("subscription_id", "customer_id", "start", "stop", "event")
                  and panel[c].std() > 0]
    n_events = int(panel["event"].sum())
    if n_events < 10 or "complaints" not in covariates:
        why = (f"{n_events} subscriptions ended and "
               f"{int(panel['complaints'].sum()) if 'complaints' in panel else 0} "
               "complaint-months were seen: too few to estimate a hazard ratio")
        verdict = Verdict("not_informative", "log hazard ratio per complaint", None, 0.0,
                          why=why, what_to_try="load subscriptions with end dates and "
                          "tickets flagged is_complaint")
        return ChurnLink(pd.DataFrame(columns=list(LINK_COLUMNS)), float("nan"),
                         int(panel["subscription_id"].nunique()), len(panel), n_events, verdict)
    model = _fit(panel, covariates)
    summary = model.summary
    effects = pd.DataFrame({
        "covariate": summary.index.astype(str),
        "log_hazard_ratio": summary["coef"].to_numpy(),
        "ci_low": summary["coef lower 95%"].to_numpy(),
        "ci_high": summary["coef upper 95%"].to_numpy(),
        "hazard_ratio": summary["exp(coef)"].to_numpy(),
        "p_value": summary["p"].to_numpy(),
        "unit": [_UNITS.get(c, "adjustment") for c in summary.index],
    })  # fmt: skip

    # Held out: the service covariates' hazard, fitted on other customers, ranks the months
    # in which held-out subscriptions end.
    customers = pd.Series(panel["customer_id"].unique())
    rng = np.random.default_rng(random_state)
    held = set(customers[rng.random(len(customers)) < holdout_share])
    is_held = panel["customer_id"].isin(held).to_numpy()
    auc, interval = float("nan"), (0.0, 1.0)
    service = [c for c in SERVICE_COVARIATES if c in covariates]
    train, test = panel[~is_held], panel[is_held]
    if train["event"].sum() >= 5 and test["event"].any() and (~test["event"]).any():
        from sklearn.metrics import roc_auc_score

        fitted = _fit(train, [c for c in covariates if train[c].std() > 0])
        beta = fitted.params_.reindex(service).fillna(0.0).to_numpy()
        risk = test[service].to_numpy() @ beta
        auc = float(roc_auc_score(test["event"], risk))
        interval = auc_interval(auc, int(test["event"].sum()), int((~test["event"]).sum()))
    holdout = judge(
        "held-out AUC of service history for churn in the month", auc, 0.5, interval,
        min_gain=0.05,
        why=f"On {len(held):,} held-out customers, the hazard from complaints, repeat "
            f"contacts and slow resolution ranks the months subscriptions end in with AUC "
            f"{auc:.3f} (95% interval {interval[0]:.3f}-{interval[1]:.3f}).",
        what_to_try="more subscription history, or tickets flagged is_complaint",
    )
    row = effects.set_index("covariate").loc["complaints"]
    lo, hi = float(row["ci_low"]), float(row["ci_high"])
    verdict = judge(
        "log hazard ratio of churn per complaint in the window", float(row["log_hazard_ratio"]),
        0.0, (lo, hi), min_gain=min_gain,
        why=f"Each complaint in the window before a month multiplies the chance the "
            f"subscription ends in that month by {np.exp(row['log_hazard_ratio']):.2f} "
            f"(95% interval {np.exp(lo):.2f}-{np.exp(hi):.2f}), adjusted for contract and "
            f"charge, from {n_events:,} churns in {len(panel):,} subscription-months.",
        what_to_try="more subscriptions and tickets; complaints may not drive churn here",
    )
    verdict = Verdict(verdict.status, verdict.metric, verdict.value, verdict.baseline,
                      verdict.interval, verdict.why, verdict.what_to_try, checks=(holdout,))
    return ChurnLink(effects, auc, int(panel["subscription_id"].nunique()), len(panel),
                     n_events, verdict)
