"""The lifecycle analysis's declaration (read by the pipeline, registry, checks, report, CLI)."""

from __future__ import annotations

from crmine.contract import Analysis, Mart, Setting, accepted, not_null, unique
from crmine.lifecycle._cohorts import COHORT_COLUMNS
from crmine.lifecycle._contractual import SBG_CONTRACT_COLUMNS, SBG_PLAN_COLUMNS
from crmine.lifecycle._health import COMPONENTS
from crmine.lifecycle._loyalty import LOYALTY_COLUMNS, LOYALTY_PILLARS, LOYALTY_SEGMENT_COLUMNS
from crmine.lifecycle._nps import CSAT_COLUMNS, DRIVER_COLUMNS, NPS_COLUMNS
from crmine.lifecycle._stages import STAGE_COLUMNS, STAGES
from crmine.lifecycle._workspace import (
    AT_RISK_COLUMNS,
    HEALTH_COLUMNS,
    NPS_CHURN_COLUMNS,
    TRANSITION_COLUMNS,
    run_lifecycle,
)

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
        (*TRANSITION_COLUMNS, "model_version", "scored_at"),
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
        "lifecycle_transition_history",
        "one row per window (from_date) and pair of stages: transitions over time",
        (*TRANSITION_COLUMNS, "model_version", "scored_at"),
        (
            unique("from_date", "from_stage", "to_stage"),
            not_null("from_stage", "to_stage", "customers"),
            accepted("from_stage", _FROM_STAGES),
            accepted("to_stage", STAGES),
        ),
    ),
    Mart(
        "lifecycle_loyalty",
        "one row per customer who bought (loyalty measures at the data end)",
        (*LOYALTY_COLUMNS, "model_version", "scored_at"),
        (unique("customer_id"), not_null("customer_id", "loyalty_index", *LOYALTY_PILLARS)),
    ),
    Mart(
        "lifecycle_loyalty_segments",
        "one row per grouping (dimension) and segment",
        (*LOYALTY_SEGMENT_COLUMNS, "model_version", "scored_at"),
        (unique("dimension", "segment"), not_null("dimension", "segment", "customers")),
    ),
    Mart(
        "lifecycle_nps",
        "one row per grouping (all, segment, channel, acquisition_channel, period) and group",
        (*NPS_COLUMNS, "model_version", "scored_at"),
        (unique("dimension", "group"), not_null("dimension", "group", "responses", "nps")),
    ),
    Mart(
        "lifecycle_csat",
        "one row per grouping (all, ticket category, ticket channel) and group",
        (*CSAT_COLUMNS, "model_version", "scored_at"),
        (unique("dimension", "group"), not_null("dimension", "group", "responses")),
    ),
    Mart(
        "lifecycle_nps_drivers",
        "one row per feature of the NPS regression",
        (*DRIVER_COLUMNS, "model_version", "scored_at"),
        (unique("feature"), not_null("feature", "effect")),
    ),
    Mart(
        "lifecycle_nps_churn",
        "one row per NPS band (promoter, passive, detractor)",
        (*NPS_CHURN_COLUMNS, "model_version", "scored_at"),
        (unique("band"), accepted("band", ("promoter", "passive", "detractor"))),
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
    Setting(
        "lifecycle.learn_health_weights",
        bool,
        False,
        "learn the health weights from past churn; used only when they beat the documented "
        "weights on held-out churn",
    ),
    Setting(
        "lifecycle.transition_periods",
        int,
        4,
        "consecutive windows of transition_days in the transitions over time",
        check=_days,
    ),
    Setting(
        "lifecycle.loyalty_horizon_days",
        int,
        180,
        "window after the cut-off in which the loyalty test counts a repeat purchase",
        check=_days,
    ),
    Setting(
        "lifecycle.nps_horizon_days",
        int,
        180,
        "days after a survey answer without a purchase that count as churn (satisfaction link)",
        check=_days,
    ),
    *(
        Setting(
            f"lifecycle.loyalty_weight_{p}",
            float,
            w,
            f"weight of the {p} pillar in the loyalty index",
            check=_non_negative,
        )
        for p, w in (("persistence", 0.30), ("firmness", 0.40), ("stability", 0.30))
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
assert {s.key.removeprefix("lifecycle.weight_") for s in _SETTINGS if ".weight_" in s.key} == set(
    COMPONENTS
)
assert {
    s.key.removeprefix("lifecycle.loyalty_weight_") for s in _SETTINGS if "loyalty_weight_" in s.key
} == set(LOYALTY_PILLARS)

ANALYSIS = Analysis(
    name="lifecycle",
    title="Customer lifecycle: cohorts, stages and health",
    run=run_lifecycle,
    requires=("core.fct_order_lines.customer_id",),
    # the RFM segments group loyalty and NPS when they exist; the service analysis's
    # measured churn effects set the health score's service component
    uses=("segment", "service"),
    marts=_MARTS,
    settings=_SETTINGS,
)
