"""The lifecycle analysis's declaration (read by the pipeline, registry, checks, report, CLI)."""

from __future__ import annotations

from crmine.contract import Analysis, Mart, Setting, accepted, not_null, unique
from crmine.lifecycle._cohorts import COHORT_COLUMNS
from crmine.lifecycle._contractual import SBG_CONTRACT_COLUMNS, SBG_PLAN_COLUMNS
from crmine.lifecycle._health import COMPONENTS
from crmine.lifecycle._stages import STAGE_COLUMNS, STAGES
from crmine.lifecycle._workspace import AT_RISK_COLUMNS, HEALTH_COLUMNS, run_lifecycle

__all__ = ["ANALYSIS"]


def _positive(value: float) -> str | None:
    return None if float(value) > 0 else "a number > 0"


def _non_negative(value: float) -> str | None:
    return None if float(value) >= 0 else "a number >= 0"


def _days(value: int) -> str | None:
    return None if int(value) >= 1 else "a whole number of days >= 1"


def _score(value: float) -> str | None:
    return None if 0 <= float(value) <= 100 else "a health score between 0 and 100"


_FROM_STAGES = (*STAGES, "(none)")

_MARTS: tuple[Mart, ...] = (
    Mart(
        "lifecycle_stages",
        "one row per customer (stage at the data end)",
        (
            *STAGE_COLUMNS,
            "model_version",
            "scored_at",
        ),
        (
            unique("customer_id"),
            not_null("customer_id", "stage", "action"),
            accepted("stage", STAGES),
        ),
    ),
    Mart(
        "lifecycle_stage_summary",
        "one row per lifecycle stage",
        (
            "stage",
            "customers",
            "share",
            "recent_spend",
            "total_spend",
            "action",
            "model_version",
            "scored_at",
        ),
        (unique("stage"), not_null("stage", "customers"), accepted("stage", STAGES)),
    ),
    Mart(
        "lifecycle_transitions",
        "one row per pair of stages (from one date to another)",
        (
            "from_stage",
            "to_stage",
            "customers",
            "share_of_from",
            "revenue",
            "from_date",
            "to_date",
            "model_version",
            "scored_at",
        ),
        (
            unique("from_stage", "to_stage"),
            not_null("from_stage", "to_stage", "customers"),
            accepted("from_stage", _FROM_STAGES),
            accepted("to_stage", STAGES),
        ),
    ),
    Mart(
        "lifecycle_cohorts",
        "one row per cohort dimension, cohort and month since acquisition",
        (*COHORT_COLUMNS, "model_version", "scored_at"),
        (
            unique("dimension", "cohort", "period"),
            not_null("dimension", "cohort", "period"),
            accepted("dimension", ("acquisition_month", "acquisition_channel", "first_category")),
        ),
    ),
    Mart(
        "lifecycle_health",
        "one row per customer who bought (health score at the data end)",
        (*HEALTH_COLUMNS, "model_version", "scored_at"),
        (unique("customer_id"), not_null("customer_id", "health_score")),
        actionable=True,
    ),
    Mart(
        "lifecycle_at_risk",
        "one row per saveable customer whose health is below the threshold",
        (*AT_RISK_COLUMNS, "model_version", "scored_at"),
        (unique("customer_id"), not_null("customer_id", "health_score", "action")),
        actionable=True,
    ),
    Mart(
        "lifecycle_sbg_plans",
        "one row per subscription plan, and (all) pooled (shifted-beta-geometric fit)",
        (*SBG_PLAN_COLUMNS, "model_version", "scored_at"),
        (unique("plan"), not_null("plan", "alpha", "beta")),
    ),
    Mart(
        "lifecycle_sbg_contracts",
        "one row per active subscription (discounted expected residual lifetime)",
        (*SBG_CONTRACT_COLUMNS, "model_version", "scored_at"),
        (unique("subscription_id"), not_null("subscription_id", "discounted_residual_lifetime")),
    ),
    Mart(
        "lifecycle_health_holdout",
        "one row per health-score decile at the held-out cut-off",
        ("decile", "customers", "mean_health", "churn_rate", "model_version", "scored_at"),
        (unique("decile"),),
    ),
)

_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "lifecycle.new_cycles",
        float,
        1.0,
        "a customer is new until this many own purchase cycles after the first purchase",
        check=_positive,
    ),
    Setting(
        "lifecycle.at_risk_ratio",
        float,
        1.5,
        "at risk when the days since the last purchase exceed this many own cycles",
        check=_positive,
    ),
    Setting(
        "lifecycle.lapsed_ratio",
        float,
        3.0,
        "lapsed when the days since the last purchase exceed this many own cycles",
        check=_positive,
    ),
    Setting(
        "lifecycle.window_cycles",
        float,
        3.0,
        "length in own cycles of the recent and previous windows compared for spend trends",
        check=_positive,
    ),
    Setting(
        "lifecycle.growth_ratio",
        float,
        1.25,
        "growing when recent spend is at least this multiple of the previous window's",
        check=_positive,
    ),
    Setting(
        "lifecycle.decline_ratio",
        float,
        0.5,
        "at risk when recent spend is below this multiple of the previous window's",
        check=_non_negative,
    ),
    Setting(
        "lifecycle.min_gaps",
        int,
        2,
        "purchase gaps a customer needs for an own cycle (else the median cycle of all customers)",
        check=_days,
    ),
    Setting(
        "lifecycle.default_cycle_days",
        float,
        30.0,
        "the purchase cycle when no customer has bought repeatedly",
        check=_positive,
    ),
    Setting(
        "lifecycle.transition_days",
        int,
        90,
        "days between the two dates of the stage transition matrix",
        check=_days,
    ),
    Setting(
        "lifecycle.horizon_days",
        int,
        None,
        "churn horizon of the health score's test "
        "(default: lapsed_ratio x the median purchase cycle, within 60..365 days)",
        check=_days,
    ),
    Setting(
        "lifecycle.sbg_discount_rate",
        float,
        0.01,
        "monthly discount rate of the subscriptions' discounted expected residual lifetime",
        check=_positive,
    ),
    Setting(
        "lifecycle.at_risk_below",
        float,
        40.0,
        "health score under which a saveable customer joins the at-risk list",
        check=_score,
    ),
    *(
        Setting(
            f"lifecycle.weight_{c}",
            float,
            w,
            f"weight of the {c} component of the health score",
            check=_non_negative,
        )
        for c, w in (
            ("recency", 0.40),
            ("frequency", 0.20),
            ("spend", 0.15),
            ("service", 0.10),
            ("satisfaction", 0.10),
            ("breadth", 0.05),
        )
    ),
)
assert {s.key.removeprefix("lifecycle.weight_") for s in _SETTINGS if "weight_" in s.key} == set(
    COMPONENTS
)

ANALYSIS = Analysis(
    name="lifecycle",
    title="Customer lifecycle: cohorts, stages and health",
    run=run_lifecycle,
    requires=("core.fct_order_lines.customer_id",),
    marts=_MARTS,
    settings=_SETTINGS,
)
