"""The marketing-mix analysis's place in the pipeline: its code and declaration live in
:mod:`crmine.marketing` (``crmine.marketing.MARKETING_MIX``); this package only makes it
discoverable, one declaration per analysis package."""

from crmine.marketing_mix._analysis import ANALYSIS

__all__ = ["ANALYSIS"]
