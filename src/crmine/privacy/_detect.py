"""Recognisers of personal data in text: the shared rules of :mod:`crmine._pii_rules` (a
pattern plus a validation rule per kind, no downloaded model), which the service analysis
also masks ticket texts with, so the scanner and the masking never disagree.

Kinds: ``email``, ``phone``, ``cn_mobile``, ``cn_resident_id``, ``card``, ``name``.
"""

from __future__ import annotations

from crmine._pii_rules import KINDS, Finding, detect, luhn_ok, resident_id_ok

__all__ = ["KINDS", "Finding", "detect", "luhn_ok", "resident_id_ok"]
