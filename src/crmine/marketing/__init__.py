"""Marketing effectiveness: campaign and channel KPIs, significance of differences, budget
reallocation with response curves, funnels and multi-touch attribution."""

from __future__ import annotations

from crmine.marketing._analysis import ANALYSIS
from crmine.marketing._attribution import (
    ATTRIBUTION_MODELS,
    attribution,
    build_journeys,
    markov_removal_effects,
)
from crmine.marketing._budget import BudgetAllocation, ResponseCurves, optimize_budget
from crmine.marketing._effects import (
    adjust_pvalues,
    bootstrap_difference,
    channel_effects,
    compare_arms,
    match_value,
    prob_to_be_best,
    treatment_effect,
    two_proportion_test,
    welch_test,
)
from crmine.marketing._funnel import FunnelResult, funnel
from crmine.marketing._kpis import campaign_contacts, campaign_kpis
from crmine.marketing._workspace import (
    KPI_KEYS,
    BudgetPlan,
    JudgedEffects,
    MarketingRun,
    attribution_of,
    budget_of,
    budget_of_contacts,
    campaign_effects,
    effects_of,
    effects_verdict,
    funnel_of,
    judged_effects,
    kpis_of,
    load_contacts,
    run_marketing,
)

__all__ = [
    "ANALYSIS",
    "ATTRIBUTION_MODELS",
    "KPI_KEYS",
    "BudgetAllocation",
    "BudgetPlan",
    "FunnelResult",
    "JudgedEffects",
    "MarketingRun",
    "ResponseCurves",
    "adjust_pvalues",
    "attribution",
    "attribution_of",
    "bootstrap_difference",
    "budget_of",
    "budget_of_contacts",
    "build_journeys",
    "campaign_contacts",
    "campaign_effects",
    "campaign_kpis",
    "channel_effects",
    "compare_arms",
    "effects_of",
    "effects_verdict",
    "funnel",
    "funnel_of",
    "judged_effects",
    "kpis_of",
    "load_contacts",
    "markov_removal_effects",
    "match_value",
    "optimize_budget",
    "prob_to_be_best",
    "run_marketing",
    "treatment_effect",
    "two_proportion_test",
    "welch_test",
]
