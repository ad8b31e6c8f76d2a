"""Customer segmentation: RFM scores and named segments, clustering with automatic k, profiles
a marketer can read, value tiers and golden customers, behaviour by segment.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from crmine.segment import CustomerSegmenter
>>> rng = np.random.default_rng(0)
>>> features = pd.DataFrame(np.repeat([[1.0, 50.0], [12.0, 900.0]], 100, axis=0)
...                         * rng.lognormal(0, 0.15, (200, 2)), columns=["orders", "spend"])
>>> seg = CustomerSegmenter().fit(features)
>>> seg.n_clusters_, seg.profiles_["customers"].tolist()
(2, [100, 100])
>>> run = run_segment(ws)            # on a workspace: judged, marts written    # doctest: +SKIP
>>> run.verdict.status, run.summary()                                           # doctest: +SKIP
"""

from crmine.segment._analysis import ANALYSIS
from crmine.segment._behaviour import SegmentBehaviour, segment_behaviour, workspace_behaviour
from crmine.segment._cluster import METHODS, CustomerSegmenter
from crmine.segment._engine import assign_clusters, segment_table
from crmine.segment._profiles import SegmentProfiles, describe_segment, profile_segments
from crmine.segment._rfm import DEFAULT_SEGMENT_MAP, RFM_SEGMENTS, RFMResult, rfm_segments
from crmine.segment._tiers import GoldenRule, ValueTiers, golden_customers, value_tiers
from crmine.segment._verdict import SegmentEvidence, judge_segmentation
from crmine.segment._workspace import (
    CLUSTER_EXCLUDE,
    MODEL_VERSION,
    SegmentRun,
    customer_feature_table,
    read_profiles,
    rfm_workspace,
    run_segment,
    smooth_shares,
    tiers_workspace,
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
    "SegmentEvidence",
    "SegmentProfiles",
    "SegmentRun",
    "ValueTiers",
    "assign_clusters",
    "customer_feature_table",
    "describe_segment",
    "golden_customers",
    "judge_segmentation",
    "profile_segments",
    "read_profiles",
    "rfm_segments",
    "rfm_workspace",
    "run_segment",
    "segment_behaviour",
    "segment_table",
    "smooth_shares",
    "tiers_workspace",
    "value_tiers",
    "workspace_behaviour",
]
