"""Customer segmentation: RFM scores and named segments, clustering with automatic k, profiles
a marketer can read, value tiers and golden customers, behaviour by segment.

Examples
--------
>>> from crmine.segment import CustomerSegmenter, rfm_segments, value_tiers   # doctest: +SKIP
>>> seg = CustomerSegmenter().fit(features)                                     # doctest: +SKIP
>>> seg.n_clusters_, seg.k_scores_, seg.profiles_                               # doctest: +SKIP
"""

from crmine.segment._analysis import ANALYSIS
from crmine.segment._behaviour import SegmentBehaviour, segment_behaviour, workspace_behaviour
from crmine.segment._cluster import METHODS, CustomerSegmenter
from crmine.segment._engine import assign_clusters, segment_table
from crmine.segment._profiles import SegmentProfiles, describe_segment, profile_segments
from crmine.segment._rfm import DEFAULT_SEGMENT_MAP, RFM_SEGMENTS, RFMResult, rfm_segments
from crmine.segment._tiers import GoldenRule, ValueTiers, golden_customers, value_tiers
from crmine.segment._workspace import (
    CLUSTER_EXCLUDE,
    MODEL_VERSION,
    SegmentationResult,
    customer_feature_table,
    segment_workspace,
    smooth_shares,
)

__all__ = [
    "ANALYSIS",
    "CLUSTER_EXCLUDE",
    "DEFAULT_SEGMENT_MAP",
    "METHODS",
    "MODEL_VERSION",
    "RFM_SEGMENTS",
    "CustomerSegmenter",
    "GoldenRule",
    "RFMResult",
    "SegmentBehaviour",
    "SegmentProfiles",
    "SegmentationResult",
    "ValueTiers",
    "assign_clusters",
    "customer_feature_table",
    "describe_segment",
    "golden_customers",
    "profile_segments",
    "rfm_segments",
    "segment_behaviour",
    "segment_table",
    "segment_workspace",
    "smooth_shares",
    "value_tiers",
    "workspace_behaviour",
]
