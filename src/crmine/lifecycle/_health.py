"""The customer health score (0-100) and its held-out test against later churn.

Components, each scaled to 0 (unhealthy) .. 1 (healthy), for a customer at a date, from data
strictly before it (``W`` = the stage rules' window, ``window_cycles`` x own cycle):

============  ====================================================================  ======
component     definition                                                            weight
============  ====================================================================  ======
recency       ``max(0, 1 - recency / (lapsed_ratio x cycle))``: 1 just after a         0.40
              purchase, 0 once the customer has missed ``lapsed_ratio`` cycles
frequency     ``(purchases in last W + 0.5) / (purchases in last 2 W + 1)``            0.20
spend         ``spend in last W / spend in last 2 W`` (0.5 when both are 0)           0.15
service       ``1 / (1 + complaints + 0.5 x other tickets)`` in the last W             0.10
              (``core.fct_tickets``); a complaint, repeat contact or slow resolution
              costs its measured hazard ratio of churn minus 1 instead when the service
              analysis measured it (see below)
satisfaction  mean of the customer's survey NPS / CSAT and ticket CSAT before the       0.10
              date, each scaled by its observed range (0.5 when none)
breadth       ``n / (n + 2)`` with ``n`` distinct categories bought (products when      0.05
              there are no categories)
============  ====================================================================  ======

The score is ``100 x sum(w x component) / sum(w)`` over the components whose tables exist.
Weights are the settings ``lifecycle.weight_<component>``.

The service component's costs come from the service analysis (:mod:`crmine.service`)
when its recorded verdict is informative: ``marts.service_churn_link`` holds the hazard
ratio of churn per complaint, repeat contact and slow resolution, and each such event costs
``hazard ratio - 1``, so one complaint alone leaves ``1 / hazard ratio`` (0.22 at 4.5)
where the documented formula leaves 0.5; an event whose interval does not lie above 1
costs nothing; other tickets keep 0.5. Events are counted as the link counts them (a repeat
is a contact within ``service.repeat_days`` of the previous one, a ticket is slow once
``service.sla_hours`` passed without it closing). Otherwise (no service run, or not
informative) the documented formula is used. :func:`service_cost` says which, the health
verdict and the lifecycle summary (``health_service_component``) name it. (The hazard
ratios are estimated on the whole subscription history, the held-out period included: a
number per event type, fitted on a different outcome — contract ends, not the purchases
the health verdict labels.)

With ``lifecycle.learn_health_weights`` the weights are learned from past churn instead
(:func:`learn_weights`), and used only when they beat the documented ones on held-out churn.

The verdict: the score computed at a past cut-off (``horizon`` before the data end) ranks the
customers who bought before the cut-off; churn = no purchase in the ``horizon`` after it. Its
AUC is judged against 0.5 (a random ranking) with the Hanley-McNeil interval.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmine.contract import Verdict, auc_interval, judge, verdict_of
from crmine.exceptions import ConfigError
from crmine.lifecycle._stages import ORDERS, StageRules, _date, purchases_sql, state_sql
from crmine.warehouse import Workspace

__all__ = [
    "COMPONENTS",
    "DEFAULT_WEIGHTS",
    "HealthEvaluation",
    "LearnedWeights",
    "ServiceCost",
    "evaluate_health",
    "health_scores",
    "learn_weights",
    "service_cost",
]

COMPONENTS = ("recency", "frequency", "spend", "service", "satisfaction", "breadth")
DEFAULT_WEIGHTS: dict[str, float] = {
    "recency": 0.40,
    "frequency": 0.20,
    "spend": 0.15,
    "service": 0.10,
    "satisfaction": 0.10,
    "breadth": 0.05,
}
MIN_CLASS = 10  # churners and stayers needed for an AUC worth reporting


def _has(ws: Workspace, table: str, *columns: str) -> bool:
    if not ws.has_table(table):
        return False
    cols = set(ws.columns(table))
    return all(c in cols for c in columns)


def _filled(ws: Workspace, table: str, column: str) -> bool:
    if not _has(ws, table, column):
        return False
    row = ws.duck.execute(f"SELECT count({column}) FROM {table}").fetchone()
    return bool(row and row[0])


SERVICE_LINK = "marts.service_churn_link"
TICKETS = "core.fct_tickets"
# the service events the service churn link measures (by their names there), and others
_LINK_EVENTS = ("complaints", "repeat_contacts", "slow_resolutions")
_EVENTS = (*_LINK_EVENTS, "other_tickets")


@dataclass(frozen=True, slots=True)
class ServiceCost:
    """What a service event costs the health score's service component
    ``1 / (1 + sum of costs[event] x events in the stage window)``.

    ``source`` is ``"measured"`` (a complaint, repeat contact or slow resolution costs its
    hazard ratio of churn minus 1, from the service analysis, so one complaint alone leaves
    ``1 / hazard ratio``) or ``"documented"`` (complaint 1, other ticket 0.5); ``detail``
    says where the numbers came from.
    """

    source: str
    costs: dict[str, float]
    repeat_days: float
    sla_hours: float
    detail: str

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "costs": dict(self.costs), "detail": self.detail}


DOCUMENTED_SERVICE = "1 / (1 + complaints + 0.5 x other tickets) in the stage window"
DOCUMENTED_COSTS = {"complaints": 1.0, "other_tickets": 0.5}


def service_cost(ws: Workspace) -> ServiceCost:
    """The service component's costs: measured by the service analysis when its recorded
    verdict is informative, else the documented formula (module docstring)."""
    repeat = float(ws.setting("service.repeat_days", 7))
    sla = float(ws.setting("service.sla_hours", 48.0))
    verdict = verdict_of(ws, "service")
    why = "no service analysis has run"
    if verdict is not None and ws.has_table(SERVICE_LINK):
        link = ws.read(SERVICE_LINK).set_index("covariate")
        if verdict.status != "informative":
            why = f"the service analysis is {verdict.status.replace('_', ' ')}"
        elif "complaints" not in link.index:
            why = "the service churn link has no complaint effect"
        else:
            costs, shown = {}, []
            for event in _LINK_EVENTS:
                if event not in link.index:
                    continue
                b, lo = float(link.loc[event, "log_hazard_ratio"]), float(link.loc[event, "ci_low"])
                # only an effect shown to raise churn costs health; a protective or unclear
                # one costs nothing (health never rises above "no event")
                costs[event] = float(np.expm1(b)) if lo > 0 else 0.0
                shown.append(f"{event.replace('_', ' ')} {np.exp(b):.2f}"
                             + ("" if lo > 0 else " (interval covers 1: costs 0)"))
            costs["other_tickets"] = DOCUMENTED_COSTS["other_tickets"]
            return ServiceCost(
                "measured", costs, repeat, sla,
                f"measured: 1 / (1 + sum of (hazard ratio - 1) x events + 0.5 x other "
                f"tickets), hazard ratios of churn per event from the service analysis "
                f"({', '.join(shown)}; {SERVICE_LINK})")
    return ServiceCost("documented", dict(DOCUMENTED_COSTS), repeat, sla,
                       f"documented: {DOCUMENTED_SERVICE} ({why})")


def _service_component(ws: Workspace, day: str, cost: ServiceCost) -> pd.DataFrame:
    """``customer_id, service`` for every customer in ``_lc_win`` (registered): ``1 / (1 +
    sum of cost x events)`` over each customer's window, events counted as the service
    churn link counts them (a repeat is a contact within ``repeat_days`` of the previous
    one; a ticket is slow once its SLA passed without it being closed)."""
    flagged = "coalesce(is_complaint, false)" if _has(ws, TICKETS, "is_complaint") else "false"
    closed = "closed_ts" if _has(ws, TICKETS, "closed_ts") else "CAST(NULL AS TIMESTAMP)"
    sla = f"INTERVAL '{cost.sla_hours * 3600:.0f} seconds'"
    repeat = f"INTERVAL '{cost.repeat_days * 86400:.0f} seconds'"
    svc = ws.duck.execute(f"""
        WITH t AS (
            SELECT CAST(customer_id AS VARCHAR) AS customer_id, opened_ts,
                   {closed} AS closed_ts, {flagged} AS complaint,
                   opened_ts - lag(opened_ts) OVER (PARTITION BY customer_id
                                                     ORDER BY opened_ts) AS gap
            FROM {ws.resolved(TICKETS)} WHERE opened_ts < TIMESTAMP '{day}')
        SELECT w.customer_id,
               count(t.customer_id) FILTER (WHERE t.complaint) AS complaints,
               count(t.customer_id) FILTER (WHERE NOT t.complaint) AS other_tickets,
               count(t.customer_id) FILTER (WHERE t.gap <= {repeat}) AS repeat_contacts,
               count(t.customer_id) FILTER (
                   WHERE t.opened_ts + {sla} < TIMESTAMP '{day}'
                     AND (t.closed_ts IS NULL OR t.closed_ts > t.opened_ts + {sla}))
                   AS slow_resolutions
        FROM _lc_win w LEFT JOIN t
          ON t.customer_id = w.customer_id
         AND datediff('day', CAST(t.opened_ts AS DATE), DATE '{day}') <= w.window_days
        GROUP BY 1""").df()
    burden = sum(cost.costs.get(e, 0.0) * svc[e].astype(float) for e in _EVENTS)
    svc["service"] = 1.0 / (1.0 + np.asarray(burden, dtype=float))
    return svc[["customer_id", "service"]]


def health_scores(
    ws: Workspace,
    as_of: dt.date | str | pd.Timestamp,
    rules: StageRules | None = None,
    weights: dict[str, float] | None = None,
    service: ServiceCost | None = None,
) -> pd.DataFrame:
    """Every buyer's health score at ``as_of`` with its components (module docstring).

    Columns: ``customer_id, health_score, recency_ratio, cycle_days`` and one column per
    component used. ``service`` is the service component's costs (default
    :func:`service_cost`).
    """
    rules = rules or StageRules()
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    bad = {k: v for k, v in w.items() if k not in COMPONENTS or not v >= 0}
    if bad:
        raise ConfigError(
            f"health weights must be components {COMPONENTS} with weights >= 0; got {bad}"
        )
    day = _date(as_of)
    state = state_sql(day, rules, orders=ws.resolved(ORDERS))
    base = ws.duck.execute(f"SELECT * FROM ({state})").df()
    if base.empty:
        return pd.DataFrame(columns=["customer_id", "health_score", "recency_ratio", "cycle_days"])
    base["customer_id"] = base["customer_id"].astype(str)
    rec, prev = base["recent_purchases"].astype(float), base["previous_purchases"].astype(float)
    srec, sprev = base["recent_spend"].astype(float), base["previous_spend"].astype(float)
    comp = pd.DataFrame({"customer_id": base["customer_id"]})
    ratio = base["recency_days"].astype(float) / base["cycle_days"].astype(float)
    comp["recency"] = (1 - ratio / rules.lapsed_ratio).clip(lower=0, upper=1)
    comp["frequency"] = (rec + 0.5) / (rec + prev + 1)
    total = (srec + sprev).clip(lower=0)
    comp["spend"] = np.where(total > 0, srec.clip(lower=0) / total.where(total > 0, 1), 0.5)
    window = (rules.window_cycles * base["cycle_days"].astype(float)).rename("window_days")
    win = pd.DataFrame({"customer_id": base["customer_id"], "window_days": window})
    ws.duck.register("_lc_win", win)
    try:
        if _has(ws, TICKETS, "customer_id", "opened_ts"):
            svc = _service_component(ws, day, service or service_cost(ws))
            comp = comp.merge(svc, on="customer_id", how="left")
        sat_sources = []
        for table, ts, col in (
            ("core.fct_surveys", "response_ts", "nps"),
            ("core.fct_surveys", "response_ts", "csat"),
            ("core.fct_tickets", "opened_ts", "csat"),
        ):
            if _filled(ws, table, col) and _has(ws, table, ts, "customer_id"):
                sat_sources.append(f"""
                    SELECT CAST(customer_id AS VARCHAR) AS customer_id,
                           ({col} - min({col}) OVER ()) / nullif(max({col}) OVER ()
                               - min({col}) OVER (), 0) AS s, {ts} AS ts
                    FROM {ws.resolved(table)}
                    WHERE {col} IS NOT NULL AND {ts} < TIMESTAMP '{day}'""")
        if sat_sources:
            union = " UNION ALL ".join(sat_sources)
            sat = ws.duck.execute(f"""
                SELECT customer_id, avg(s) AS satisfaction FROM ({union}) GROUP BY 1""").df()
            comp = comp.merge(sat, on="customer_id", how="left")
            comp["satisfaction"] = comp["satisfaction"].astype(float).fillna(0.5)
    finally:
        ws.duck.unregister("_lc_win")
    item = "product_id"
    join = ""
    if _filled(ws, "core.dim_product", "category") and _filled(ws, ORDERS, "product_id"):
        item, join = "p.category", "JOIN core.dim_product p USING (product_id)"
    if _filled(ws, ORDERS, "product_id"):
        breadth = ws.duck.execute(f"""
            SELECT CAST(l.customer_id AS VARCHAR) AS customer_id, count(DISTINCT {item}) AS n
            FROM {ws.resolved(ORDERS)} l {join}
            WHERE l.status = 'completed' AND l.customer_id IS NOT NULL
              AND l.order_ts < TIMESTAMP '{day}' GROUP BY 1""").df()
        breadth["breadth"] = breadth["n"] / (breadth["n"] + 2)
        comp = comp.merge(breadth[["customer_id", "breadth"]], on="customer_id", how="left")
        comp["breadth"] = comp["breadth"].fillna(0.0)
    used = [c for c in COMPONENTS if c in comp.columns and w[c] > 0]
    if not used:
        raise ConfigError(
            "every health weight in use is 0: set at least one lifecycle.weight_<component> above 0"
        )
    weight = np.array([w[c] for c in used], dtype=float)
    values = comp[used].astype(float).fillna(0.5).to_numpy()
    comp["health_score"] = 100 * values @ weight / weight.sum()
    comp["recency_ratio"] = ratio.to_numpy()
    comp["cycle_days"] = base["cycle_days"].astype(float).to_numpy()
    return comp[["customer_id", "health_score", "recency_ratio", "cycle_days", *used]]


@dataclass(frozen=True, slots=True)
class HealthEvaluation:
    """The health score's held-out test: ``scores`` at ``cutoff`` with ``churned`` after it."""

    cutoff: pd.Timestamp
    horizon_days: int
    scores: pd.DataFrame
    verdict: Verdict
    auc: float
    deciles: pd.DataFrame = field(default_factory=pd.DataFrame)
    service: ServiceCost | None = None  # where the service component's costs came from


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def default_horizon(ws: Workspace, end: pd.Timestamp, rules: StageRules) -> int:
    """``lapsed_ratio`` times the customers' median purchase cycle (a typical customer missing
    that many purchases), within 60..365 days and at most a third of the history."""
    row = ws.duck.execute(f"""
        WITH days AS ({purchases_sql(end, ws.resolved(ORDERS))}),
        g AS (SELECT customer_id, datediff('day', lag(d) OVER (PARTITION BY customer_id
                     ORDER BY d), d) AS gap FROM days),
        per AS (SELECT quantile_cont(gap, 0.5) AS c, count(gap) AS n FROM g GROUP BY customer_id)
        SELECT (SELECT quantile_cont(c, 0.5) FROM per WHERE n >= {rules.min_gaps}),
               (SELECT datediff('day', min(d), max(d)) FROM days)""").fetchone()
    cycle = float(row[0]) if row and row[0] is not None else rules.default_cycle_days
    span = float(row[1]) if row and row[1] is not None else 0.0
    return int(max(1, min(max(60.0, rules.lapsed_ratio * cycle), 365.0, span / 3)))


def evaluate_health(
    ws: Workspace,
    end: pd.Timestamp,
    *,
    horizon_days: int | None = None,
    rules: StageRules | None = None,
    weights: dict[str, float] | None = None,
    min_gain: float = 0.10,
    service: ServiceCost | None = None,
) -> HealthEvaluation:
    """Score at ``end - horizon`` from data before it; label churn in the ``horizon`` after.

    ``end`` is exclusive (the day after the data end). ``min_gain`` is the AUC gain over 0.5
    an informative score must reach (0.6 AUC by default). ``service``: the service
    component's costs (default :func:`service_cost`), named in the verdict.
    """
    rules = rules or StageRules()
    horizon = int(horizon_days or default_horizon(ws, end, rules))
    if horizon < 1:
        raise ConfigError(f"lifecycle.horizon_days must be >= 1, got {horizon}")
    cutoff = (pd.Timestamp(end) - pd.Timedelta(days=horizon)).normalize()
    service = service or service_cost(ws)
    scores = health_scores(ws, cutoff, rules, weights, service)
    uses_service = "service" in scores.columns
    service_note = f" Service component: {service.detail}." if uses_service else ""
    later = ws.duck.execute(f"""
        SELECT DISTINCT customer_id FROM ({purchases_sql(end, ws.resolved(ORDERS))})
        WHERE d >= DATE '{_date(cutoff)}'""").df()
    bought = set(later["customer_id"].astype(str))
    scores["churned"] = ~scores["customer_id"].isin(bought)
    metric = f"held-out churn AUC ({horizon:,}-day horizon)"
    n_pos = int(scores["churned"].sum())
    n_neg = int(len(scores) - n_pos)
    if n_pos < MIN_CLASS or n_neg < MIN_CLASS:
        verdict = Verdict(
            "not_informative",
            metric,
            None,
            0.5,
            None,
            why=f"Only {n_pos:,} customers churned and {n_neg:,} bought again in the "
            f"{horizon:,} days after the cut-off {cutoff:%Y-%m-%d}: too few to test the "
            "health score.",
            what_to_try="Load a longer order history (at least two horizons) or more customers.",
        )
        return HealthEvaluation(cutoff, horizon, scores, verdict, float("nan"),
                                service=service if uses_service else None)
    y = scores["churned"].to_numpy(dtype=int)
    risk = -scores["health_score"].to_numpy(dtype=float)
    auc = _auc(y, risk)
    interval = auc_interval(auc, n_pos, n_neg)
    verdict = judge(
        metric,
        auc,
        0.5,
        interval,
        min_gain=min_gain,
        why=f"Scored at {cutoff:%Y-%m-%d} from earlier data only, the health score ranks the "
        f"{n_pos:,} customers who then bought nothing for {horizon:,} days above the "
        f"{n_neg:,} who bought again with AUC {auc:.3f} (95% interval {interval[0]:.3f}-"
        f"{interval[1]:.3f}; a random ranking scores 0.5).{service_note}",
        what_to_try="Map the tickets and surveys (service and satisfaction components), try a "
        "longer lifecycle.horizon_days or re-weight the components "
        "(lifecycle.weight_*) and check again.",
    )
    alive = (scores["recency_ratio"] <= rules.lapsed_ratio).to_numpy()
    ya = y[alive]
    if 0 < ya.sum() < len(ya) and min(ya.sum(), len(ya) - ya.sum()) >= MIN_CLASS:
        auc_a = _auc(ya, risk[alive])
        iv = auc_interval(auc_a, int(ya.sum()), int(len(ya) - ya.sum()))
        check = judge(
            "held-out churn AUC among customers not yet lapsed",
            auc_a,
            0.5,
            iv,
            min_gain=min_gain / 2,
            why=f"Among the {len(ya):,} customers not lapsed at the cut-off (the hard cases), "
            f"AUC {auc_a:.3f} (95% interval {iv[0]:.3f}-{iv[1]:.3f}).",
            what_to_try="The score mostly separates customers who had already lapsed; add "
            "service and satisfaction data.",
        )
        verdict = Verdict(
            **{**{f: getattr(verdict, f) for f in Verdict.__dataclass_fields__}, "checks": (check,)}
        )
    scores["decile"] = (
        pd.qcut(scores["health_score"].rank(method="first"), 10, labels=False, duplicates="drop")
        + 1
    )
    deciles = (
        scores.groupby("decile")
        .agg(
            customers=("customer_id", "size"),
            mean_health=("health_score", "mean"),
            churn_rate=("churned", "mean"),
        )
        .reset_index()
    )
    deciles["decile"] = deciles["decile"].astype("int64")
    deciles["customers"] = deciles["customers"].astype("int64")
    deciles["churn_rate"] = deciles["churn_rate"].astype(float)
    return HealthEvaluation(cutoff, horizon, scores, verdict, auc, deciles,
                            service=service if uses_service else None)


@dataclass(frozen=True, slots=True)
class LearnedWeights:
    """Health weights learned from past churn and their held-out comparison with the
    documented ones (``verdict``: learned AUC against documented AUC on the same customers)."""

    weights: dict[str, float]
    auc_learned: float
    auc_documented: float
    verdict: Verdict


def learn_weights(
    ws: Workspace,
    end: pd.Timestamp,
    horizon_days: int,
    *,
    rules: StageRules | None = None,
    weights: dict[str, float] | None = None,
    min_gain: float = 0.01,
) -> LearnedWeights:
    """Learn the components' weights from past churn, then test them on later churn.

    A logistic regression of churn (no purchase in the ``horizon`` after ``end - 2 horizons``)
    on the components at that earlier cut-off gives one coefficient per component; a
    component's learned weight is ``max(0, -coefficient)`` (only what protects from churn adds
    to health), normalised to sum 1. Learned and documented (``weights``) scores are then
    compared at the held-out cut-off ``end - horizon`` on the churn after it, with a paired
    bootstrap interval of the AUC gain.
    """
    from sklearn.linear_model import LogisticRegression

    from crmine.lifecycle._loyalty import _paired_gain_interval

    rules = rules or StageRules()
    documented = {**DEFAULT_WEIGHTS, **(weights or {})}
    test_at = (pd.Timestamp(end) - pd.Timedelta(days=horizon_days)).normalize()
    train_at = test_at - pd.Timedelta(days=horizon_days)
    metric = "held-out churn AUC, health weights learned from past churn"

    def labelled(at: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
        scores = health_scores(ws, at, rules, documented)
        later = ws.duck.execute(f"""
            SELECT DISTINCT customer_id FROM ({purchases_sql(until, ws.resolved(ORDERS))})
            WHERE d >= DATE '{_date(at)}'""").df()
        scores["churned"] = ~scores["customer_id"].isin(set(later["customer_id"].astype(str)))
        return scores

    train, test = labelled(train_at, test_at), labelled(test_at, end)
    used = [c for c in COMPONENTS if c in train.columns and c in test.columns]
    counts = [
        int(train["churned"].sum()),
        int((~train["churned"]).sum()),
        int(test["churned"].sum()),
        int((~test["churned"]).sum()),
    ]
    if min(counts) < MIN_CLASS or not used:
        verdict = Verdict(
            "not_informative",
            metric,
            None,
            None,
            why=f"Too little history to learn weights: {counts[0]:,} churners and "
            f"{counts[1]:,} stayers after {train_at:%Y-%m-%d}, {counts[2]:,} and {counts[3]:,} "
            f"after {test_at:%Y-%m-%d}.",
            what_to_try="Keep the documented weights; load a history of three horizons.",
        )
        return LearnedWeights(dict(documented), float("nan"), float("nan"), verdict)
    X = train[used].astype(float).fillna(0.5).to_numpy()
    model = LogisticRegression(C=1.0).fit(X, train["churned"].to_numpy(int))
    raw = np.maximum(0.0, -model.coef_[0])
    if raw.sum() <= 0:
        raw = np.ones(len(used))
    learned = {c: float(w) for c, w in zip(used, raw / raw.sum(), strict=True)}
    y = test["churned"].to_numpy(int)
    values = test[used].astype(float).fillna(0.5).to_numpy()
    risk_learned = -(values @ np.array([learned[c] for c in used]))
    risk_documented = -test["health_score"].to_numpy(float)
    auc_l, auc_d = _auc(y, risk_learned), _auc(y, risk_documented)
    lo, hi = _paired_gain_interval(y, risk_learned, risk_documented)
    shown = ", ".join(f"{c} {w:.2f}" for c, w in learned.items())
    verdict = judge(
        metric,
        auc_l,
        auc_d,
        (auc_d + lo, auc_d + hi),
        min_gain=min_gain,
        why=f"Learned from churn after {train_at:%Y-%m-%d} ({shown}) and tested on churn after "
        f"{test_at:%Y-%m-%d}: AUC {auc_l:.3f} against {auc_d:.3f} with the documented weights "
        f"(gain {auc_l - auc_d:+.3f}, paired bootstrap 95% interval {lo:+.3f} to {hi:+.3f}).",
        what_to_try="The documented weights do as well: keep them (lifecycle.learn_health_weights "
        "= false).",
    )
    return LearnedWeights(learned, auc_l, auc_d, verdict)
