"""The declaration, re-exported from :mod:`crmine.marketing._analysis`."""

from __future__ import annotations

from crmine.marketing._analysis import MARKETING_MIX as ANALYSIS

__all__ = ["ANALYSIS"]
