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
    prob_to_be_best,
    treatment_effect,
    two_proportion_test,
    welch_test,
)
from crmine.marketing._funnel import FunnelResult, funnel
from crmine.marketing._kpis import campaign_contacts, campaign_kpis

__all__ = [
    "ANALYSIS",
    "ATTRIBUTION_MODELS",
    "BudgetAllocation",
    "FunnelResult",
    "ResponseCurves",
    "adjust_pvalues",
    "attribution",
    "bootstrap_difference",
    "build_journeys",
    "campaign_contacts",
    "campaign_kpis",
    "channel_effects",
    "compare_arms",
    "funnel",
    "markov_removal_effects",
    "optimize_budget",
    "prob_to_be_best",
    "treatment_effect",
    "two_proportion_test",
    "welch_test",
]
