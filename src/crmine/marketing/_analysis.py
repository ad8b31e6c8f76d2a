"""The marketing-effectiveness analysis's declaration (read by the pipeline, checks, report
and CLI)."""

from __future__ import annotations

from crmine.contract import Analysis, Mart, accepted, not_null, unique
from crmine.marketing._workspace import BUDGET_COLUMNS, EFFECT_COLUMNS, run_marketing

__all__ = ["ANALYSIS"]

_STAMP = ("model_version", "scored_at")

ANALYSIS = Analysis(
    name="marketing",
    title="Marketing effectiveness",
    run=run_marketing,
    requires=(("core.fct_events", "core.campaign_assignments"),),
    uses=("segment",),  # effects by segment when segments exist
    cli="campaigns",
    marts=(
        Mart("campaign_kpis", "one row per level (campaign, channel, segment, period) and key",
             ("level", "key", "contacts", "sends", "conversions", "cost", "revenue",
              "conversion_rate", "roi", "cpa", *_STAMP),
             (unique("level", "key"), not_null("level", "contacts"),
              accepted("level", ("campaign", "channel", "segment", "period")))),
        Mart("campaign_effects", "one row per tested effect: the campaigns' average, each "
             "campaign, each channel", (*EFFECT_COLUMNS, *_STAMP),
             (unique("level", "key"), not_null("level", "key", "significant"),
              accepted("level", ("all campaigns", "campaign", "channel")))),
        Mart("channel_effects", "one row per channel",
             ("channel", "contacts", "control", "conversion_rate", "uplift", "uplift_ci_low",
              "uplift_ci_high", "p_value", "p_adjusted", "roi", "roi_ci_low", "roi_ci_high",
              "prob_best_conversion", "prob_best_roi", *_STAMP),
             (unique("channel"), not_null("channel", "contacts"))),
        Mart("channel_comparisons", "one row per pair of channels",
             ("arm_a", "arm_b", "rate_a", "rate_b", "difference", "ci_low", "ci_high",
              "p_value", "p_adjusted", *_STAMP),
             (unique("arm_a", "arm_b"), not_null("arm_a", "arm_b"))),
        Mart("budget_allocation", "one row per channel (empty when no campaign effect is "
             "significant)", (*BUDGET_COLUMNS, *_STAMP),
             (unique("channel"), not_null("channel", "optimal_spend")), actionable=True),
        Mart("response_curves", "one row per channel per spend point",
             ("channel", "spend", "expected", *_STAMP),
             (unique("channel", "spend"), not_null("channel", "spend", "expected"))),
        Mart("funnel", "one row per dimension, group and stage",
             ("group", "stage", "step", "customers", "conversion", "dimension", *_STAMP),
             (unique("dimension", "group", "stage"), not_null("group", "stage", "step"))),
        Mart("funnel_leaks", "one row per dimension, group and leaking stage transition",
             ("group", "from_stage", "stage", "conversion", "expected_conversion",
              "lost_customers", "dimension", *_STAMP),
             (unique("dimension", "group", "stage"), not_null("group", "stage"))),
        Mart("attribution", "one row per attribution model and channel",
             ("model", "channel", "conversions", "value", "share", *_STAMP),
             (unique("model", "channel"), not_null("model", "channel", "share"))),
    ),
)
