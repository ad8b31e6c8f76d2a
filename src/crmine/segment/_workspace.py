"""Segmentation of a workspace's customers, written back to ``marts.customer_segments``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from crmine.exceptions import DataError
from crmine.segment._cluster import CustomerSegmenter
from crmine.segment._profiles import SegmentProfiles, profile_segments
from crmine.segment._rfm import RFMResult, rfm_segments
from crmine.segment._tiers import GoldenRule, ValueTiers, golden_customers, value_tiers
from crmine.warehouse._models import feature_profile, save_model

__all__ = [
    "CLUSTER_EXCLUDE",
    "MODEL_VERSION",
    "SegmentationResult",
    "customer_feature_table",
    "segment_workspace",
    "smooth_shares",
]

MODEL_VERSION = "segment-1"
NO_PURCHASE = "No purchase"
# Columns that are bookkeeping, not behaviour, in marts.customer_features.
_NOT_FEATURES = ("model_version", "scored_at", "observation_end", "time_unit")
# lifetimes-convention RFM columns are 0 for every one-time buyer (no repeat purchase yet): a
# spike k-means isolates as a cluster of its own whatever the customers' behaviour. orders,
# avg_basket and recency_days carry the same facts without it, so clustering uses those.
CLUSTER_EXCLUDE = ("frequency", "recency", "T", "monetary_value")
# Pseudo-observations of the population mix added to each customer's shares (see smooth_shares).
PSEUDO_COUNT = 3.0


def smooth_shares(feats: pd.DataFrame, *, pseudo_count: float = PSEUDO_COUNT) -> pd.DataFrame:
    """Shrink each customer's shares toward the population's, by how much evidence they rest on.

    A customer with one order has a channel share of exactly 0 or 1; taken at face value,
    occasional buyers scatter to the corners of the share space and split into spurious
    clusters. The posterior mean under a Dirichlet prior centred on the population mix
    with ``pseudo_count`` observations, ``(n * share + m * mean) / (n + m)`` (the usual
    empirical-Bayes smoothing of proportions; e.g. Efron & Morris 1975), keeps frequent buyers'
    shares nearly as they are and pulls one-order customers toward the average. Channel shares
    rest on ``orders``; category and discount shares on ``lines``.
    """
    out = feats.copy()
    for prefix, count in (("channel_share_", "orders"), ("cat_share_", "lines"),
                          ("discount_share", "lines")):
        if count not in out:
            continue
        n = pd.to_numeric(out[count], errors="coerce").fillna(0).clip(lower=0)
        for c in [c for c in out.columns if c.startswith(prefix)]:
            v = pd.to_numeric(out[c], errors="coerce")
            mean = float(v[n > 0].mean()) if (n > 0).any() else 0.0
            out[c] = (v.fillna(mean) * n + pseudo_count * mean) / (n + pseudo_count)
    return out


@dataclass(frozen=True, slots=True)
class SegmentationResult:
    """Everything :func:`segment_workspace` computed.

    ``segments`` is what went to ``marts.customer_segments`` (one row per customer: rfm_score,
    rfm_cell, rfm_segment, cluster, value_tier, is_golden; customers without a purchase get
    rfm_segment "No purchase", cluster -1 and tier C).
    """

    segments: pd.DataFrame
    rfm: RFMResult
    profiles: SegmentProfiles
    tiers: ValueTiers
    k_scores: pd.DataFrame
    n_clusters: int
    stability: float
    features_used: list[str]
    dropped_features: dict[str, str]
    golden_rule: str

    def to_frame(self) -> pd.DataFrame:
        return self.segments.copy()

    @property
    def summary(self) -> dict[str, Any]:
        """A small JSON-able summary (pipeline step, CLI --json)."""
        prof = self.profiles.summary
        return {
            "customers": len(self.segments),
            "buyers": int((self.segments["cluster"] >= 0).sum()),
            "n_clusters": int(self.n_clusters),
            "stability_ari": round(float(self.stability), 3) if self.stability == self.stability
            else None,
            "features_used": list(self.features_used),
            "clusters": [
                {"cluster": int(r.segment), "customers": int(r.customers),
                 "revenue_share": round(float(r.revenue_share), 4),
                 "description": str(r.description), "rule": str(r.rule)}
                for r in prof.itertuples()],
            "rfm_segments": {str(k): int(v) for k, v in
                             self.segments["rfm_segment"].value_counts().items()},
            "top_share_for_80pct_revenue": round(float(self.tiers.top_share_for_80), 4),
            "golden_customers": int(self.segments["is_golden"].sum()),
            "golden_rule": self.golden_rule,
        }


def customer_feature_table(ws: Any, *, as_of: Any = None, rebuild: bool = False) -> pd.DataFrame:
    """``marts.customer_features``, built (with ``marts.customer_rfm``) when missing."""
    if rebuild or not ws.has_table("marts.customer_features"):
        if not ws.has_table("marts.customer_rfm"):
            from crmine.features import build_customer_rfm

            build_customer_rfm(ws, observation_end=as_of)
        from crmine.features._behaviour import build_customer_features

        return build_customer_features(ws, as_of)
    feats = ws.read("marts.customer_features")
    return feats.drop(columns=[c for c in _NOT_FEATURES if c in feats.columns])


def _buyers(feats: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every customer's features, and those of the customers who bought."""
    feats = feats.drop(columns=[c for c in _NOT_FEATURES if c in feats.columns])
    feats["customer_id"] = feats["customer_id"].astype(str)
    count_col = "orders" if "orders" in feats else "lines" if "lines" in feats else None
    buyers_mask = (feats[count_col].fillna(0) > 0) if count_col else pd.Series(True, feats.index)
    return feats, feats[buyers_mask.to_numpy()].reset_index(drop=True)


def _cluster_input(buyers: pd.DataFrame) -> pd.DataFrame:
    return smooth_shares(buyers).drop(columns=[c for c in CLUSTER_EXCLUDE if c in buyers.columns])


def current_cluster_input(ws: Any) -> pd.DataFrame:
    """Today's buyers as the segmenter sees them: features computed afresh from the core
    tables (and ``marts.customer_rfm``), nothing written."""
    from crmine.features._behaviour import build_customer_features

    return _cluster_input(_buyers(build_customer_features(ws, write=False))[1])


def segment_workspace(
    ws: Any,
    *,
    as_of: Any = None,
    segmenter: CustomerSegmenter | None = None,
    bins: int = 5,
    golden_rule: GoldenRule | None = None,
    rebuild_features: bool = False,
    write: bool = True,
) -> SegmentationResult:
    """RFM segments, clusters, value tiers and golden customers for every customer.

    Reads ``marts.customer_features`` (built from the core tables when missing), writes
    ``marts.customer_segments`` and the tables the report draws (``marts.segment_profiles``,
    ``marts.segment_feature_stats``, ``marts.segment_k_scores``, ``marts.segment_rfm_summary``,
    ``marts.segment_pareto``, ``marts.segment_rules``) and merges ``rfm_segment``,
    ``cluster``, ``value_tier`` into ``marts.customer_scores``.
    """
    feats, buyers = _buyers(customer_feature_table(ws, as_of=as_of, rebuild=rebuild_features))
    if len(buyers) < 3:
        raise DataError(f"only {len(buyers)} customers have purchases; segmentation needs more "
                        "(load orders with `crmine ingest orders FILE`)")

    rfm = rfm_segments(buyers, bins=bins)
    seg = segmenter or CustomerSegmenter(random_state=0)
    cluster_input = _cluster_input(buyers)
    seg.fit(cluster_input)
    tiers = value_tiers(buyers, value="total_spend" if "total_spend" in buyers else None)
    rule = golden_rule or GoldenRule()
    golden = golden_customers(buyers.assign(recency_days=rfm.scores["recency_days"].to_numpy()),
                              rule=rule)
    prof = profile_segments(buyers, seg.labels_, feature_columns=seg.features_used_ + [
        c for c in ("total_spend", "orders", "recency_days") if c in buyers and
        c not in seg.features_used_])

    out = feats[["customer_id"]].copy()
    scored = rfm.scores[["customer_id", "r_score", "f_score", "m_score", "rfm_cell", "rfm_score",
                         "rfm_segment"]].assign(cluster=seg.labels_)
    scored = scored.merge(tiers.customers[["customer_id", "value_tier"]], on="customer_id")
    scored = scored.merge(golden[["customer_id", "is_golden"]], on="customer_id")
    out = out.merge(scored, on="customer_id", how="left")
    out["rfm_segment"] = out["rfm_segment"].fillna(NO_PURCHASE)
    out["cluster"] = out["cluster"].fillna(-1).astype("int64")
    out["value_tier"] = out["value_tier"].fillna("C")
    out["is_golden"] = out["is_golden"].astype("boolean").fillna(False).astype(bool)
    out = out[["customer_id", "rfm_score", "rfm_cell", "rfm_segment", "r_score", "f_score",
               "m_score", "cluster", "value_tier", "is_golden"]]

    result = SegmentationResult(
        segments=out, rfm=rfm, profiles=prof, tiers=tiers, k_scores=seg.k_scores_,
        n_clusters=seg.n_clusters_, stability=seg.stability_, features_used=seg.features_used_,
        dropped_features=seg.dropped_features_, golden_rule=golden.attrs.get("rule", ""))
    if write:
        _write(ws, result)
        chosen = seg.k_scores_[seg.k_scores_["chosen"]] if not seg.k_scores_.empty else None
        save_model(seg, ws.models_dir, "segment", kind=seg.method_, metadata={
            "feature_profile": feature_profile(cluster_input[seg.features_used_]),
            "clusters": seg.n_clusters_, "features_used": seg.features_used_,
            "dropped_features": seg.dropped_features_, "customers": len(seg.labels_),
            "metrics": {"stability": seg.stability_, **(
                {m: float(chosen[m].iloc[0]) for m in ("silhouette", "calinski_harabasz",
                                                       "davies_bouldin") if m in chosen}
                if chosen is not None and len(chosen) else {})},
        })  # fmt: skip
    return result


def _write(ws: Any, r: SegmentationResult) -> None:
    v = MODEL_VERSION
    ws.write_mart("customer_segments", r.segments, model_version=v)
    ws.write_mart("segment_profiles", r.profiles.summary.assign(
        segment=r.profiles.summary["segment"].astype(str)), model_version=v)
    ws.write_mart("segment_feature_stats", r.profiles.stats.assign(
        segment=r.profiles.stats["segment"].astype(str)), model_version=v)
    ws.write_mart("segment_rules", r.profiles.rules.assign(
        segment=r.profiles.rules["segment"].astype(str)), model_version=v)
    if not r.k_scores.empty:
        ws.write_mart("segment_k_scores", r.k_scores, model_version=v)
    ws.write_mart("segment_rfm_summary", r.rfm.segments, model_version=v)
    ws.write_mart("segment_pareto", r.tiers.pareto.assign(
        top_share_for_80=r.tiers.top_share_for_80), model_version=v)
    cells = (r.rfm.scores.groupby(["r_score", "fm_score"])
             .agg(customers=("customer_id", "size"), mean_monetary=("monetary", "mean"))
             .reset_index())
    ws.write_mart("segment_rfm_grid", cells, model_version=v)
    # Behaviour by cluster: the basis for personalised offers per segment.
    from crmine.segment._behaviour import workspace_behaviour

    buyers_seg = r.segments[r.segments["cluster"] >= 0]
    if ws.has_table("core.fct_order_lines") and len(buyers_seg):
        b = workspace_behaviour(ws, buyers_seg, segment="cluster")
        for name, frame in (("categories", b.categories), ("discounts", b.discounts),
                            ("channels", b.channels), ("seasonality", b.seasonality)):
            if len(frame):
                ws.write_mart(f"segment_{name}", frame, model_version=v)
    ws.upsert_customer_scores(
        r.segments[["customer_id", "rfm_segment", "cluster", "value_tier", "is_golden"]],
        model="segment", model_version=v)


