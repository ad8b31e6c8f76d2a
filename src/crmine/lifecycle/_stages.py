"""Lifecycle stages per customer at a date, judged against each customer's own purchase cycle.

The rules (first match wins; ``cycle`` = the customer's median days between purchase days when
it has at least ``min_gaps`` gaps, else the median of those cycles over all customers;
``recency`` = days from the last purchase to the date; ``W`` = ``window_cycles`` x cycle):

=============  ================================================================================
prospect       a known customer (``core.dim_customer``, signed up before the date) who has not
               bought yet
lapsed         recency > ``lapsed_ratio`` x cycle (default 3: three missed purchases)
at_risk        recency > ``at_risk_ratio`` x cycle (default 1.5: a purchase is overdue), or
               spend in the last W < ``decline_ratio`` x spend in the W before (default 0.5)
reactivated    the gap before the last purchase was > ``lapsed_ratio`` x cycle: the customer
               had lapsed and came back (Optimove's "back from churn")
new            first purchase within ``new_cycles`` x cycle of the date (default 1)
growing        spend in the last W >= ``growth_ratio`` x spend in the W before (default 1.25)
active         everyone else: buying at their usual pace (mature)
=============  ================================================================================

(``at_risk`` by spend decline is tested after ``reactivated`` and ``new``.) All purchases are
completed order lines of known customers, counted by day, strictly before the date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import pandas as pd

from crmine.exceptions import ConfigError
from crmine.warehouse import Workspace

__all__ = [
    "ACTIONS",
    "STAGES",
    "STAGE_COLUMNS",
    "StageRules",
    "customer_stages",
    "purchases_sql",
    "stage_transitions",
]

STAGES = ("prospect", "new", "active", "growing", "at_risk", "lapsed", "reactivated")

ACTIONS: dict[str, str] = {
    "prospect": "Convert: a welcome offer on the first purchase, sent through the channel the "
    "customer signed up on.",
    "new": "Onboard: thank them, show how to get the most from the first purchase and suggest "
    "the product most often bought second, before their usual cycle runs out.",
    "active": "Keep: recognise their loyalty (service, early access) rather than discount; "
    "cross-sell categories they have not bought.",
    "growing": "Grow: recommend the next category, invite them to the loyalty programme or a "
    "higher tier while their spend is rising.",
    "at_risk": "Win back now: a purchase is overdue or spend is falling; contact them personally "
    "or with a time-limited offer and ask what went wrong.",
    "lapsed": "Reactivate or let go: a low-cost win-back campaign; stop expensive contact if "
    "they do not respond.",
    "reactivated": "Secure the return: follow up quickly on the purchase that brought them "
    "back so that it becomes a habit again.",
}

ORDERS = "core.fct_order_lines"

# The columns of a customer's stage (the marts.lifecycle_stages mart adds its stamps).
STAGE_COLUMNS = (
    "customer_id", "stage", "action", "as_of", "n_purchases", "first_purchase",
    "last_purchase", "cycle_days", "recency_days", "recency_ratio", "total_spend",
    "recent_spend", "previous_spend",
)


@dataclass(frozen=True, slots=True)
class StageRules:
    """The thresholds of the stage rules (module docstring), in multiples of the own cycle."""

    new_cycles: float = 1.0
    at_risk_ratio: float = 1.5
    lapsed_ratio: float = 3.0
    window_cycles: float = 3.0
    growth_ratio: float = 1.25
    decline_ratio: float = 0.5
    min_gaps: int = 2
    default_cycle_days: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.at_risk_ratio < self.lapsed_ratio:
            raise ConfigError(
                f"lifecycle.at_risk_ratio ({self.at_risk_ratio}) must be > 0 and below "
                f"lifecycle.lapsed_ratio ({self.lapsed_ratio}); e.g. 1.5 and 3"
            )
        for name in ("new_cycles", "window_cycles", "growth_ratio", "default_cycle_days"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"lifecycle.{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.decline_ratio < self.growth_ratio:
            raise ConfigError(
                f"lifecycle.decline_ratio ({self.decline_ratio}) must be >= 0 and below "
                f"lifecycle.growth_ratio ({self.growth_ratio})"
            )
        if self.min_gaps < 1:
            raise ConfigError(f"lifecycle.min_gaps must be >= 1, got {self.min_gaps}")

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def _date(value: dt.date | str | pd.Timestamp) -> str:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ConfigError(f"{str(value)[:40]!r} is not a date; write it as YYYY-MM-DD")
    return stamp.strftime("%Y-%m-%d")


def purchases_sql(
    as_of: dt.date | str | pd.Timestamp | None = None, orders: str = ORDERS
) -> str:
    """Completed purchases of known customers by day (``customer_id, d, amount``) from
    ``orders`` (pass ``ws.resolved(ORDERS)``: one customer per person once resolved)."""
    before = f"AND order_ts < TIMESTAMP '{_date(as_of)}'" if as_of is not None else ""
    return (
        "SELECT customer_id, CAST(order_ts AS DATE) AS d, sum(coalesce(amount, 0)) AS amount "
        f"FROM {orders} WHERE status = 'completed' AND customer_id IS NOT NULL "
        f"AND order_ts IS NOT NULL {before} GROUP BY 1, 2"
    )


def state_sql(
    as_of: dt.date | str | pd.Timestamp,
    rules: StageRules,
    days_table: str | None = None,
    orders: str = ORDERS,
) -> str:
    """One row per buyer before ``as_of``: cycle, recency and the two spend windows.

    ``days_table`` is a table of :func:`purchases_sql` rows to read instead of the order lines
    (one scan of them for several dates).
    """
    day = _date(as_of)
    days = (
        f"SELECT * FROM {days_table} WHERE d < DATE '{day}'"
        if days_table
        else purchases_sql(day, orders)
    )
    return f"""
    WITH days AS ({days}),
    g AS (
        SELECT *, datediff('day', lag(d) OVER (PARTITION BY customer_id ORDER BY d), d) AS gap
        FROM days
    ),
    per AS (
        SELECT customer_id, count(*) AS n_purchases, min(d) AS first_purchase,
               max(d) AS last_purchase, quantile_cont(gap, 0.5) AS own_cycle,
               count(gap) AS n_gaps, arg_max(gap, d) AS last_gap,
               sum(amount) AS total_spend
        FROM g GROUP BY 1
    ),
    pop AS (
        SELECT coalesce(quantile_cont(own_cycle, 0.5), {rules.default_cycle_days}) AS pop_cycle
        FROM per WHERE n_gaps >= {rules.min_gaps}
    ),
    c AS (
        SELECT per.*, greatest(1.0, CASE WHEN n_gaps >= {rules.min_gaps} THEN own_cycle
                                         ELSE pop_cycle END) AS cycle_days,
               datediff('day', last_purchase, DATE '{day}') AS recency_days,
               datediff('day', first_purchase, DATE '{day}') AS age_days
        FROM per, pop
    ),
    w AS (
        SELECT c.customer_id,
               coalesce(sum(days.amount) FILTER (WHERE datediff('day', days.d, DATE '{day}')
                   <= {rules.window_cycles} * c.cycle_days), 0) AS recent_spend,
               coalesce(sum(days.amount) FILTER (WHERE datediff('day', days.d, DATE '{day}')
                   > {rules.window_cycles} * c.cycle_days AND datediff('day', days.d,
                   DATE '{day}') <= 2 * {rules.window_cycles} * c.cycle_days), 0)
                   AS previous_spend,
               count(*) FILTER (WHERE datediff('day', days.d, DATE '{day}')
                   <= {rules.window_cycles} * c.cycle_days) AS recent_purchases,
               count(*) FILTER (WHERE datediff('day', days.d, DATE '{day}')
                   > {rules.window_cycles} * c.cycle_days AND datediff('day', days.d,
                   DATE '{day}') <= 2 * {rules.window_cycles} * c.cycle_days)
                   AS previous_purchases
        FROM c JOIN days USING (customer_id) GROUP BY 1
    )
    SELECT c.customer_id, n_purchases, first_purchase, last_purchase, cycle_days,
           recency_days, recency_days / cycle_days AS recency_ratio, age_days, last_gap,
           total_spend, recent_spend, previous_spend, recent_purchases, previous_purchases
    FROM c JOIN w USING (customer_id)
    """


def _stage_case(rules: StageRules) -> str:
    return f"""CASE
        WHEN recency_days > {rules.lapsed_ratio} * cycle_days THEN 'lapsed'
        WHEN recency_days > {rules.at_risk_ratio} * cycle_days THEN 'at_risk'
        WHEN last_gap > {rules.lapsed_ratio} * cycle_days THEN 'reactivated'
        WHEN age_days <= {rules.new_cycles} * cycle_days THEN 'new'
        WHEN previous_spend > 0 AND recent_spend < {rules.decline_ratio} * previous_spend
            THEN 'at_risk'
        WHEN previous_spend > 0 AND recent_spend >= {rules.growth_ratio} * previous_spend
            THEN 'growing'
        ELSE 'active' END"""


def _prospects_sql(ws: Workspace, day: str) -> str | None:
    if not ws.has_table("core.dim_customer"):
        return None
    customers = ws.resolved("core.dim_customer")  # ids as the buyers' (pseudonyms, resolved)
    cols = set(ws.columns(customers))
    cond = "customer_id IS NOT NULL"
    if "is_current" in cols:
        cond += " AND is_current"
    if "signup_date" in cols:
        cond += f" AND (signup_date IS NULL OR signup_date < DATE '{day}')"
    return (
        "SELECT DISTINCT CAST(customer_id AS VARCHAR) AS customer_id "
        f"FROM {customers} WHERE {cond}"
    )


def stages_sql(
    ws: Workspace,
    as_of: dt.date | str | pd.Timestamp,
    rules: StageRules,
    days_table: str | None = None,
) -> str:
    """SQL of one row per customer (buyers and prospects) with its stage at ``as_of``."""
    day = _date(as_of)
    state = state_sql(day, rules, days_table, ws.resolved(ORDERS))
    buyers = f"SELECT *, {_stage_case(rules)} AS stage FROM ({state})"
    prospects = _prospects_sql(ws, day)
    if prospects is None:
        return buyers
    return f"""
    WITH b AS ({buyers})
    SELECT * FROM b
    UNION ALL BY NAME
    SELECT p.customer_id, 'prospect' AS stage, 0 AS n_purchases, 0.0 AS total_spend,
           0.0 AS recent_spend, 0.0 AS previous_spend
    FROM ({prospects}) p ANTI JOIN b USING (customer_id)
    """


def customer_stages(
    ws: Workspace, as_of: dt.date | str | pd.Timestamp, rules: StageRules | None = None
) -> pd.DataFrame:
    """Every customer's stage at ``as_of`` (purchases strictly before it) with the figures the
    rules used and the recommended action; sorted by customer.

    Columns: ``customer_id, stage, action, as_of, n_purchases, first_purchase,
    last_purchase, cycle_days, recency_days, recency_ratio, total_spend, recent_spend,
    previous_spend``.
    """
    rules = rules or StageRules()
    day = _date(as_of)
    df = ws.duck.execute(f"SELECT * FROM ({stages_sql(ws, day, rules)}) ORDER BY customer_id").df()
    df["as_of"] = pd.Timestamp(day)
    df["action"] = df["stage"].map(ACTIONS)
    out = df[list(STAGE_COLUMNS)].copy()
    for c in ("first_purchase", "last_purchase"):
        out[c] = pd.to_datetime(out[c])
    for c in (
        "cycle_days",
        "recency_days",
        "recency_ratio",
        "total_spend",
        "recent_spend",
        "previous_spend",
    ):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    out["n_purchases"] = out["n_purchases"].fillna(0).astype("int64")
    out["customer_id"] = out["customer_id"].astype(str)
    return out.reset_index(drop=True)


def stage_transitions(
    ws: Workspace,
    start: dt.date | str | pd.Timestamp,
    end: dt.date | str | pd.Timestamp,
    rules: StageRules | None = None,
) -> pd.DataFrame:
    """The transition matrix between the stages at ``start`` and at ``end`` (long form).

    One row per (from_stage, to_stage) pair that occurs: ``customers``, ``share_of_from``
    (the row share: of the customers in ``from_stage`` at ``start``, how many are in
    ``to_stage`` at ``end``) and ``revenue`` (what they spent between the two dates: the value
    that moved along that path). Customers unknown at ``start`` come from ``"(none)"``.
    """
    rules = rules or StageRules()
    s, e = _date(start), _date(end)
    if pd.Timestamp(s) >= pd.Timestamp(e):
        raise ConfigError(f"the transition start {s} must be before its end {e}")
    days = "_crmine_lifecycle_days"
    sql = f"""
    WITH a AS (SELECT customer_id, stage FROM ({stages_sql(ws, s, rules, days)})),
    b AS (SELECT customer_id, stage FROM ({stages_sql(ws, e, rules, days)})),
    spend AS (
        SELECT customer_id, sum(amount) AS revenue FROM {days}
        WHERE d >= DATE '{s}' GROUP BY 1
    ),
    pairs AS (
        SELECT coalesce(a.stage, '(none)') AS from_stage, b.stage AS to_stage,
               coalesce(spend.revenue, 0) AS revenue
        FROM b LEFT JOIN a USING (customer_id) LEFT JOIN spend USING (customer_id)
    )
    SELECT from_stage, to_stage, count(*) AS customers, sum(revenue) AS revenue
    FROM pairs GROUP BY 1, 2 ORDER BY 1, 2
    """
    purchases = purchases_sql(e, ws.resolved(ORDERS))
    ws.duck.execute(f"CREATE OR REPLACE TEMP TABLE {days} AS {purchases}")
    try:
        df = ws.duck.execute(sql).df()
    finally:
        ws.duck.execute(f"DROP TABLE IF EXISTS {days}")
    totals = df.groupby("from_stage")["customers"].transform("sum")
    df["share_of_from"] = df["customers"] / totals
    df["customers"] = df["customers"].astype("int64")
    df["revenue"] = df["revenue"].astype(float)
    df["from_date"] = pd.Timestamp(s)
    df["to_date"] = pd.Timestamp(e)
    return df[
        ["from_stage", "to_stage", "customers", "share_of_from", "revenue", "from_date", "to_date"]
    ]
