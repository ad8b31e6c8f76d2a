"""Service -> spend: how much complaints, repeat contacts and slow resolution change what a
customer spends afterwards.

A time-ordered panel like the churn link's: one row per customer and calendar month, the
outcome the customer's spend in the month, the service covariates counted over the
``window_days`` before the month starts. The model is a Poisson pseudo-likelihood regression
with a fixed effect per customer and per calendar month (Hausman, Hall & Griliches 1984;
Wooldridge 1999): the customer effects absorb everything constant about a customer (their
segment, how often they contact service, how much they spend), the month effects seasonality
and trend, so the service coefficients compare a customer with themselves in months after
more or fewer service events. It needs no distribution of spend beyond its mean (zero months
are fine) and its intervals are robust, clustered by customer. A customer's months start once
a full window has passed since their first order (earlier windows are cut short by the
customer's own start, and first months hold the first purchase). Tickets asking to cancel
are left out, as in the churn link.

References
----------
Hausman, J., Hall, B. H. & Griliches, Z. (1984). Econometric models for count data with an
application to the patents-R&D relationship. Econometrica 52(4), 909-938.

Wooldridge, J. M. (1999). Distribution-free estimation of some nonlinear panel data models.
Journal of Econometrics 90(1), 77-97.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from crmine.contract import Verdict, judge
from crmine.service._churn_link import SERVICE_COVARIATES

__all__ = ["SPEND_COLUMNS", "SpendLink", "customer_months", "spend_link"]

SPEND_COLUMNS = ("covariate", "log_spend_ratio", "ci_low", "ci_high", "spend_ratio",
                 "p_value", "unit")
_UNITS = {
    "complaints": "per complaint ticket in the window before the month",
    "repeat_contacts": "per contact made within the repeat window of the previous one",
    "slow_resolutions": "per ticket that took longer than the SLA to close",
}
MIN_GAIN = 0.05  # |log spend ratio| below this (~5 %) is weak however sure


def _service_keys(tickets: pd.DataFrame, codes: dict[object, int], *, sla_hours: float,
                  repeat_days: float) -> dict[str, np.ndarray]:
    """Sorted keys (customer code * 1e6 + day) of each kind of service event."""
    origin = pd.Timestamp("1970-01-01")
    t = tickets[~tickets["category"].str.contains("cancel", case=False, na=False)]
    t = t[t["customer_id"].isin(codes)]
    cust = t["customer_id"].map(codes).to_numpy(dtype=float)
    day = (t["opened_ts"] - origin).dt.total_seconds().to_numpy() / 86_400.0
    gap = (t.groupby("customer_id")["opened_ts"].diff().dt.total_seconds() / 86_400.0)
    slow = (t["hours"] > sla_hours).to_numpy()
    complaint = t["is_complaint"].to_numpy(dtype=bool)
    return {
        "complaints": np.sort(cust[complaint] * 1e6 + day[complaint]),
        "repeat_contacts": np.sort((cust * 1e6 + day)[(gap <= repeat_days).to_numpy()]),
        # a ticket is known to be slow once the SLA has passed
        "slow_resolutions": np.sort(cust[slow] * 1e6 + day[slow] + sla_hours / 24.0),
    }


def customer_months(spend: pd.DataFrame, first_order: pd.Series, tickets: pd.DataFrame,
                    end: pd.Timestamp, *, window_days: float, sla_hours: float,
                    repeat_days: float) -> pd.DataFrame:
    """The panel: one row per customer and calendar month they are followed in.

    ``spend`` has ``customer_id``, ``month`` (the month's first day) and ``spend``;
    ``first_order`` is each customer's first order time (index customer_id); ``tickets`` is
    :func:`crmine.service.prepare_tickets` output. A customer is followed from the first month
    starting a full window after their first order to the last month ending before ``end``.
    """
    origin = pd.Timestamp("1970-01-01")
    first = pd.to_datetime(first_order) + pd.Timedelta(days=window_days)
    start = first.dt.to_period("M").dt.start_time
    start = start.where(start >= first, (first.dt.to_period("M") + 1).dt.start_time)
    last = (end.to_period("M") - 1).start_time  # the last whole month before the end
    n_months = ((last.year - start.dt.year) * 12 + (last.month - start.dt.month) + 1)
    keep = n_months > 1
    start, n_months = start[keep], n_months[keep].astype(int)
    if start.empty:
        return pd.DataFrame(columns=["customer_id", "month", "spend", *SERVICE_COVARIATES])
    codes = {c: i for i, c in enumerate(start.index)}
    row = np.repeat(np.arange(len(start)), n_months.to_numpy())
    offset = np.arange(len(row)) - np.repeat(np.cumsum(n_months.to_numpy())
                                             - n_months.to_numpy(), n_months.to_numpy())
    first_period = start.dt.to_period("M").to_numpy()[row]
    month = pd.PeriodIndex(first_period, freq="M") + offset
    panel = pd.DataFrame({"customer_id": start.index.to_numpy()[row],
                          "month": month.start_time})
    got = spend.assign(month=pd.to_datetime(spend["month"]))
    panel = panel.merge(got[["customer_id", "month", "spend"]], on=["customer_id", "month"],
                        how="left")
    panel["spend"] = panel["spend"].fillna(0.0).clip(lower=0.0)
    day = (panel["month"] - origin).dt.total_seconds().to_numpy() / 86_400.0
    base = panel["customer_id"].map(codes).to_numpy(dtype=float) * 1e6
    for name, key in _service_keys(tickets, codes, sla_hours=sla_hours,
                                   repeat_days=repeat_days).items():
        panel[name] = (np.searchsorted(key, base + day, side="right")
                       - np.searchsorted(key, base + day - window_days, side="right")
                       ).astype(float)
    return panel


def fe_poisson(y: np.ndarray, x: np.ndarray, group: np.ndarray, period: np.ndarray, *,
               max_iter: int = 50, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Poisson pseudo-likelihood with a fixed effect per ``group`` (concentrated out: the
    conditional multinomial likelihood) and per ``period`` (dummies); returns the covariates'
    coefficients and their covariance, robust and clustered by group.

    ``group`` must be sorted (rows of one group together); groups spending nothing carry no
    information and are left out.
    """
    total = np.bincount(group, weights=y)
    use = total[group] > 0
    y, x, group, period = y[use], x[use], group[use], period[use]
    _, group = np.unique(group, return_inverse=True)
    _, period = np.unique(period, return_inverse=True)
    k, n_periods = x.shape[1], int(period.max()) + 1
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    n_groups = len(starts)
    y_total = np.add.reduceat(y, starts)
    scale = y.mean()
    y, y_total = y / scale, y_total / scale  # money to a unit scale: same coefficients
    theta = np.zeros(k + n_periods - 1)  # the first period is the reference

    def per_group_period(values: np.ndarray) -> np.ndarray:
        out = np.zeros((n_groups, n_periods))
        out[group, period] = values  # one row per customer and month
        return out[:, 1:]

    def step(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # The month dummies are never built as columns: their blocks are bin counts.
        eta = x @ theta[:k] + np.r_[0.0, theta[k:]][period]
        eta -= np.maximum.reduceat(eta, starts)[group]
        w = np.exp(eta)
        p = w / np.add.reduceat(w, starts)[group]
        resid = y - y_total[group] * p
        scores = np.column_stack([np.add.reduceat(resid[:, None] * x, starts),
                                  per_group_period(resid)])  # one row per group
        wp = y_total[group] * p
        h_xd = np.stack([np.bincount(period, weights=wp * x[:, j], minlength=n_periods)[1:]
                         for j in range(k)])
        h_dd = np.diag(np.bincount(period, weights=wp, minlength=n_periods)[1:])
        hess = np.block([[(x * wp[:, None]).T @ x, h_xd], [h_xd.T, h_dd]])
        mean_z = np.column_stack([np.add.reduceat(p[:, None] * x, starts),
                                  per_group_period(p)])
        hess -= (mean_z * y_total[:, None]).T @ mean_z
        return scores, hess, scores.sum(axis=0)

    for _ in range(max_iter):
        scores, hess, grad = step(theta)
        delta = np.linalg.solve(hess + 1e-10 * np.eye(len(theta)), grad)
        theta += delta
        if np.max(np.abs(delta)) < tol:
            break
    scores, hess, _ = step(theta)
    inv = np.linalg.pinv(hess)
    cov = inv @ (scores.T @ scores) @ inv * n_groups / max(n_groups - 1, 1)
    return theta[:k], cov[:k, :k]


@dataclass(frozen=True, slots=True)
class SpendLink:
    """The change in later spend per service event, with intervals.

    Attributes
    ----------
    effects : DataFrame
        One row per service covariate (``SPEND_COLUMNS``): ``log_spend_ratio`` with its 95%
        interval, ``spend_ratio`` (a month's spend is multiplied by it per event),
        ``p_value``, ``unit``.
    customers, months : int
        Customers (with any spend) and customer-months fitted.
    verdict : Verdict
        On the complaint effect: its interval against no effect.
    """

    effects: pd.DataFrame
    customers: int
    months: int
    verdict: Verdict


def _not_informative(why: str, customers: int, months: int) -> SpendLink:
    verdict = Verdict("not_informative", "log spend ratio per complaint in the window", None,
                      0.0, why=why, what_to_try="load orders and tickets flagged "
                      "is_complaint over a longer period")
    return SpendLink(pd.DataFrame(columns=list(SPEND_COLUMNS)), customers, months, verdict)


def spend_link(panel: pd.DataFrame, *, window_days: float = 90) -> SpendLink:
    """Fit the fixed-effects Poisson model of monthly spend on the panel and judge the
    complaint effect (two-sided: a rise in spend after complaints is a finding too)."""
    covariates = [c for c in SERVICE_COVARIATES if c in panel and panel[c].std() > 0]
    n_customers = int(panel["customer_id"].nunique()) if len(panel) else 0
    if "complaints" not in covariates or (panel["complaints"] > 0).sum() < 20:
        n = int((panel["complaints"] > 0).sum()) if "complaints" in panel else 0
        return _not_informative(f"{n} customer-months follow a complaint: too few to "
                                "estimate its effect on spend", n_customers, len(panel))
    panel = panel.sort_values(["customer_id", "month"], kind="stable")
    group = pd.factorize(panel["customer_id"])[0]
    period = pd.factorize(panel["month"], sort=True)[0]
    coef, cov = fe_poisson(panel["spend"].to_numpy(dtype=float),
                           panel[covariates].to_numpy(dtype=float), group, period)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    z = stats.norm.ppf(0.975)
    effects = pd.DataFrame({
        "covariate": covariates, "log_spend_ratio": coef, "ci_low": coef - z * se,
        "ci_high": coef + z * se, "spend_ratio": np.exp(coef),
        "p_value": 2 * stats.norm.sf(np.abs(coef) / np.where(se > 0, se, np.inf)),
        "unit": [_UNITS[c] for c in covariates],
    })  # fmt: skip
    row = effects.set_index("covariate").loc["complaints"]
    value, lo, hi = float(row["log_spend_ratio"]), float(row["ci_low"]), float(row["ci_high"])
    spenders = int((panel.groupby("customer_id")["spend"].sum() > 0).sum())
    verdict = judge(
        "log spend ratio per complaint in the window", value, 0.0, (lo, hi),
        min_gain=MIN_GAIN, higher_is_better=value > 0,
        why=f"Each complaint in the {window_days:g} days before a month multiplies the "
            f"customer's spend in that month by {np.exp(value):.2f} (95% interval "
            f"{np.exp(lo):.2f}-{np.exp(hi):.2f}), comparing each customer with themselves "
            f"(fixed effects per customer and month), from {spenders:,} customers and "
            f"{len(panel):,} customer-months.",
        what_to_try="more months of orders and tickets; complaints may not change spend here",
    )
    return SpendLink(effects, spenders, len(panel), verdict)
