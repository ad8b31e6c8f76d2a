"""The marketing-effectiveness analysis's declaration (read by the pipeline, checks, report
and CLI)."""

from __future__ import annotations

from crmine.contract import Analysis, Mart, Setting, accepted, not_null, unique
from crmine.marketing._mix_workspace import (
    ADSTOCK_CHOICES,
    MIX_CHANNEL_COLUMNS,
    run_marketing_mix,
)
from crmine.marketing._workspace import BUDGET_COLUMNS, EFFECT_COLUMNS, run_marketing

__all__ = ["ANALYSIS", "MARKETING_MIX"]

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


# Aggregated media spend (ad-platform exports) and the marketing-mix model: an analysis of its
# own, with its own verdict (held-out weeks vs trend and seasonality without media), because
# it needs no customer-level data. Discovered through the package crmine.marketing_mix (one
# declaration per package), run and declared here with the rest of marketing.
def _weeks(value: int) -> str | None:
    return None if int(value) >= 4 else "a whole number of weeks >= 4"


def _replicates(value: int) -> str | None:
    return None if int(value) >= 0 else "a whole number >= 0"


def _change(value: float) -> str | None:
    return None if 0 <= float(value) <= 1 else "a share between 0 and 1"


def _budget(value: float) -> str | None:
    return None if float(value) > 0 else "a weekly budget > 0"


_PERF = ("spend", "impressions", "clicks", "conversions", "approved_conversions", "revenue",
         "rows", *(f"{m}{s}" for m in ("ctr", "cpc", "cpm", "conversion_rate", "cpa",
                                       "approved_cpa", "roas")
                   for s in ("", "_ci_low", "_ci_high")),
         "cpa_vs_rest", "p_value", "p_adjusted", "significant")  # fmt: skip

MARKETING_MIX = Analysis(
    name="marketing_mix",
    title="Media spend and marketing mix",
    run=run_marketing_mix,
    requires=("core.fct_marketing_spend",),
    cli="campaigns",
    marts=(
        Mart("spend_performance", "one row per dimension (channel, campaign, ad set, ad, age, "
             "gender, interest, audience) and group", ("dimension", "group", *_PERF, *_STAMP),
             (unique("dimension", "group"), not_null("dimension", "group", "spend"))),
        Mart("spend_cheapest_audiences", "one row per audience among the five cheapest per "
             "result", ("audience", "spend", "conversions", "cpa", "cpa_ci_low", "cpa_ci_high",
                        "cpa_vs_rest", "p_adjusted", "cheaper_than_rest", *_STAMP),
             (unique("audience"), not_null("audience", "cpa"))),
        Mart("mmm_channels", "one row per channel", (*MIX_CHANNEL_COLUMNS, *_STAMP),
             (unique("channel"), not_null("channel", "roi"))),
        Mart("mmm_contributions", "one row per week and component (baseline or channel)",
             ("week", "actual", "component", "contribution", *_STAMP),
             (unique("week", "component"), not_null("week", "component"))),
        Mart("mmm_response_curves", "one row per channel per weekly spend level",
             ("channel", "multiplier", "spend", "expected", "ci_low", "ci_high",
              "marginal_roi", *_STAMP),
             (unique("channel", "multiplier"), not_null("channel", "spend", "expected"))),
        Mart("mmm_backtest", "one row per held-out week",
             ("week", "actual", "forecast", "baseline_forecast", *_STAMP),
             (unique("week"), not_null("week", "actual"))),
        Mart("mmm_budget", "one row per channel (empty when the verdict is not informative)",
             ("channel", "current_spend", "optimal_spend", "change", "min_spend", "max_spend",
              "expected_current", "expected_optimal", "weekly_budget", "expected_gain",
              "gain_ci_low", "gain_ci_high", "prob_gain_positive", *_STAMP),
             (unique("channel"), not_null("channel", "optimal_spend")), actionable=True),
    ),
    settings=(
        Setting("mmm_outcome", str, "revenue", "what the marketing-mix model explains: weekly "
                "revenue or conversions (of core.fct_marketing_outcomes, else of the orders)",
                choices=("revenue", "conversions")),
        Setting("mmm_adstock", str, "geometric", "carry-over of spend in the marketing-mix "
                "model: geometric (decays from the week of spend), weibull (may peak weeks "
                "later: TV, video) or auto (the one forecasting held-back training weeks "
                "better)", choices=ADSTOCK_CHOICES),
        Setting("mmm_holdout_weeks", int, 13, "last weeks held out to judge the model's "
                "forecast against trend and seasonality without media", check=_weeks),
        Setting("mmm_bootstrap", int, 100, "moving-block bootstrap replicates for the "
                "intervals of ROI, contributions, curves and the budget gain",
                check=_replicates),
        Setting("mmm_max_change", float, 0.5, "the budget optimiser keeps every channel within "
                "this share of its current weekly spend, up or down", check=_change),
        Setting("mmm_budget", float, None, "weekly media budget to split (default: the "
                "current average weekly total)", check=_budget),
    ),
)
