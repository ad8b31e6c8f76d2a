"""Per-customer feature tables, written as Ibis expressions so they run on any engine."""

from __future__ import annotations

from crmine.features._analysis import ANALYSIS, run_features
from crmine.features._behaviour import build_customer_features, customer_behaviour
from crmine.features._rfm import TIME_UNITS, build_customer_rfm, customer_rfm

__all__ = [
    "ANALYSIS",
    "TIME_UNITS",
    "build_customer_features",
    "build_customer_rfm",
    "customer_behaviour",
    "customer_rfm",
    "run_features",
]
