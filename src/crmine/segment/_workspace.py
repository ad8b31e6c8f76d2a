"""Segmentation of a workspace's customers, written back to ``marts.customer_segments``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmine.contract import Verdict, record_verdict, recorded_warnings
from crmine.exceptions import DataError
from crmine.segment._cluster import CustomerSegmenter
from crmine.segment._profiles import SegmentProfiles, profile_segments
from crmine.segment._rfm import RFMResult, rfm_segments
from crmine.segment._tiers import GoldenRule, ValueTiers, golden_customers, value_tiers
from crmine.segment._verdict import SegmentEvidence, evidence, judge_segmentation
from crmine.warehouse import Workspace
from crmine.warehouse._models import feature_profile, save_model

__all__ = [
    "BEHAVIOUR_MARTS",
    "CLUSTER_EXCLUDE",
    "MODEL_VERSION",
    "SEGMENT_COLUMNS",
    "SegmentRun",
    "current_cluster_input",
    "customer_feature_table",
    "read_profiles",
    "rfm_workspace",
    "run_segment",
    "smooth_shares",
    "tiers_workspace",
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
class SegmentRun:
    """Everything :func:`run_segment` computed, and whether its clusters can be trusted.

    ``segments`` is what went to ``marts.customer_segments`` (one row per customer: rfm_score,
    rfm_cell, rfm_segment, cluster, value_tier, is_golden; customers without a purchase get
    rfm_segment "No purchase", cluster -1 and tier C). When the verdict is
    ``not_informative`` (no natural segments) every customer's cluster is -1 and the
    cluster marts are written empty: RFM segments, value tiers and golden customers are rules,
    not findings, and stay.
    """

    segments: pd.DataFrame
    rfm: RFMResult
    profiles: SegmentProfiles
    tiers: ValueTiers
    k_scores: pd.DataFrame
    n_clusters: int
    features_used: list[str]
    dropped_features: dict[str, str]
    golden_rule: str
    evidence: SegmentEvidence
    verdict: Verdict
    marts: tuple[str, ...] = ()

    @property
    def stability(self) -> float:
        """Mean bootstrap adjusted Rand index of the clusters (the verdict's evidence)."""
        return self.evidence.mean_stability

    @property
    def clusters_found(self) -> bool:
        """True when the clusters are natural segments (the verdict is not not_informative)."""
        return self.verdict.actionable

    def to_frame(self) -> pd.DataFrame:
        return self.segments.copy()

    def summary(self) -> dict[str, Any]:
        """A small JSON-able summary (pipeline step, CLI --json)."""
        prof = self.profiles.summary
        out: dict[str, Any] = {
            "customers": len(self.segments),
            "buyers": int((self.segments["rfm_segment"] != NO_PURCHASE).sum()),
            "n_clusters": int(self.n_clusters),
            "stability_ari": round(float(self.stability), 3)
            if self.stability == self.stability else None,
            "evidence": self.evidence.to_dict(),
            "features_used": list(self.features_used),
            "clusters": [
                {"cluster": int(r.segment), "customers": int(r.customers),
                 "revenue_share": round(float(r.revenue_share), 4),
                 "description": str(r.description), "rule": str(r.rule)}
                for r in prof.itertuples()] if self.clusters_found else [],
            "rfm_segments": {str(k): int(v) for k, v in
                             self.segments["rfm_segment"].value_counts().items()},
            "top_share_for_80pct_revenue": round(float(self.tiers.top_share_for_80), 4),
            "golden_customers": int(self.segments["is_golden"].sum()),
            "golden_rule": self.golden_rule,
            "verdict": self.verdict.to_dict(),
        }  # fmt: skip
        if not self.clusters_found:
            out["note"] = ("no natural segments: clusters withheld (every customer's cluster "
                           "is -1, the cluster marts are empty); use the RFM segments and "
                           "value tiers, which are rules, not findings")
        elif self.verdict.status == "weak":
            out["warning"] = f"weak segmentation: {self.verdict.why}"
        return out


def customer_feature_table(ws: Workspace, *, as_of: Any = None, rebuild: bool = False
                           ) -> pd.DataFrame:
    """``marts.customer_features``, built (with ``marts.customer_rfm``) when missing.

    ``rebuild`` runs the features step first (both marts from the core tables, at ``as_of``
    or the ``observation_end`` setting), as a command run outside the pipeline needs.
    """
    if rebuild or not ws.has_table("marts.customer_features"):
        from crmine.features import build_customer_features, build_customer_rfm

        if rebuild or not ws.has_table("marts.customer_rfm"):
            build_customer_rfm(ws, observation_end=as_of if as_of is not None
                               else ws.setting("observation_end"))
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


def current_cluster_input(ws: Workspace) -> pd.DataFrame:
    """Today's buyers as the segmenter sees them: features computed afresh from the core
    tables (and ``marts.customer_rfm``), nothing written."""
    from crmine.features import build_customer_features

    return _cluster_input(_buyers(build_customer_features(ws, write=False))[1])


def run_segment(
    ws: Workspace,
    *,
    method: str | None = None,
    n_clusters: int | None = None,
    k_max: int | None = None,
    segmenter: CustomerSegmenter | None = None,
    bins: int = 5,
    golden_rule: GoldenRule | None = None,
    as_of: Any = None,
    rebuild_features: bool = False,
    write: bool = True,
) -> SegmentRun:
    """RFM segments, clusters, value tiers and golden customers for every customer, judged.

    Reads ``marts.customer_features`` (the features step builds it; built here when missing,
    or rebuilt with ``rebuild_features``), fits the clusters, judges them (bootstrap
    stability and separation against structureless data, :mod:`crmine.segment._verdict`),
    and writes ``marts.customer_segments``, the tables the report draws
    (``marts.segment_profiles``, ``marts.segment_feature_stats``, ``marts.segment_k_scores``,
    ``marts.segment_rfm_summary``, ``marts.segment_rfm_grid``, ``marts.segment_pareto``,
    ``marts.segment_rules``, behaviour by cluster) and ``rfm_segment``, ``cluster``,
    ``value_tier``, ``is_golden`` in ``marts.customer_scores``. A ``not_informative`` verdict
    (no natural segments) writes the cluster marts empty and every cluster as -1 (NULL in
    ``marts.customer_scores``).

    Parameters
    ----------
    method, n_clusters, k_max
        The segmenter's method ("auto", "kmeans", "gmm", "ward", "hdbscan"), a fixed k, and
        the largest k tried (defaults: settings ``segment_method``, ``segment_k_max``).
    segmenter : CustomerSegmenter, optional
        A segmenter to fit instead (the three options above are then ignored).
    """
    feats, buyers = _buyers(customer_feature_table(ws, as_of=as_of, rebuild=rebuild_features))
    if len(buyers) < 3:
        raise DataError(f"only {len(buyers)} customers have purchases; segmentation needs more "
                        "(load orders with `crmine ingest orders FILE`)")
    if segmenter is None:
        k_hi = int(k_max if k_max is not None else ws.setting("segment_k_max", 10))
        # n_bootstrap=0: the verdict refits on bootstrap resamples itself.
        segmenter = CustomerSegmenter(
            method=method or ws.setting("segment_method", "auto"), n_clusters=n_clusters,
            k_range=(2, max(2, k_hi)), n_bootstrap=0, random_state=0)
    seg = segmenter
    with recorded_warnings() as caught:
        rfm = rfm_segments(buyers, bins=bins)
        cluster_input = _cluster_input(buyers)
        seg.fit(cluster_input)
        ev = evidence(seg, cluster_input, random_state=seg.random_state)
    verdict = judge_segmentation(ev).with_warnings(caught)
    found = verdict.actionable
    labels = np.asarray(seg.labels_) if found else np.full(len(buyers), -1, dtype=np.int64)

    tiers = value_tiers(buyers, value="total_spend" if "total_spend" in buyers else None)
    rule = golden_rule or GoldenRule()
    golden = golden_customers(buyers.assign(recency_days=rfm.scores["recency_days"].to_numpy()),
                              rule=rule)
    prof = profile_segments(buyers, seg.labels_, feature_columns=seg.features_used_ + [
        c for c in ("total_spend", "orders", "recency_days") if c in buyers and
        c not in seg.features_used_])
    if not found:
        prof = SegmentProfiles(summary=prof.summary.iloc[0:0], stats=prof.stats.iloc[0:0],
                               distinctive=prof.distinctive.iloc[0:0],
                               rules=prof.rules.iloc[0:0], surrogate_accuracy=float("nan"))

    out = feats[["customer_id"]].copy()
    scored = rfm.scores[["customer_id", "r_score", "f_score", "m_score", "rfm_cell", "rfm_score",
                         "rfm_segment"]].assign(cluster=labels)
    scored = scored.merge(tiers.customers[["customer_id", "value_tier"]], on="customer_id")
    scored = scored.merge(golden[["customer_id", "is_golden"]], on="customer_id")
    out = out.merge(scored, on="customer_id", how="left")
    out["rfm_segment"] = out["rfm_segment"].fillna(NO_PURCHASE)
    out["cluster"] = out["cluster"].fillna(-1).astype("int64")
    out["value_tier"] = out["value_tier"].fillna("C")
    out["is_golden"] = out["is_golden"].astype("boolean").fillna(False).astype(bool)
    out = out[list(SEGMENT_COLUMNS)]

    k_scores = seg.k_scores_
    marts: tuple[str, ...] = ()
    if write:
        marts = _write(ws, out, rfm, prof, tiers, k_scores, found)
        chosen = k_scores[k_scores["chosen"]] if not k_scores.empty else None
        save_model(seg, ws.models_dir, "segment", kind=seg.method_, metadata={
            "feature_profile": feature_profile(cluster_input[seg.features_used_]),
            "clusters": seg.n_clusters_, "features_used": seg.features_used_,
            "dropped_features": seg.dropped_features_, "customers": len(seg.labels_),
            "verdict": verdict.to_dict(),
            "metrics": {"stability": ev.mean_stability,
                        "separation_gain": ev.separation_gain, **(
                {m: float(chosen[m].iloc[0]) for m in ("silhouette", "calinski_harabasz",
                                                       "davies_bouldin") if m in chosen}
                if chosen is not None and len(chosen) else {})},
        })  # fmt: skip
        record_verdict(ws, "segment", verdict)
    return SegmentRun(
        segments=out, rfm=rfm, profiles=prof, tiers=tiers, k_scores=k_scores,
        n_clusters=int(seg.n_clusters_) if found else 0, features_used=list(seg.features_used_),
        dropped_features=dict(seg.dropped_features_), golden_rule=golden.attrs.get("rule", ""),
        evidence=ev, verdict=verdict, marts=marts)


SEGMENT_COLUMNS = ("customer_id", "rfm_score", "rfm_cell", "rfm_segment", "r_score", "f_score",
                   "m_score", "cluster", "value_tier", "is_golden")
# Behaviour by cluster and its columns (written empty when the clusters are withheld).
BEHAVIOUR_MARTS: dict[str, tuple[str, ...]] = {
    "segment_categories": ("segment", "category", "revenue", "revenue_share", "index"),
    "segment_discounts": ("segment", "revenue", "discount", "discount_rate",
                          "discounted_line_share"),
    "segment_channels": ("segment", "channel", "orders", "order_share", "index"),
    "segment_seasonality": ("segment", "month", "revenue", "revenue_share", "index"),
}


_K_SCORE_COLUMNS = ("k", "silhouette", "calinski_harabasz", "davies_bouldin", "chosen")
_TEXT_COLUMNS = ("segment", "category", "channel")


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    """An empty table with ``columns`` (text for labels, ``chosen`` boolean, else numbers)."""
    return pd.DataFrame({c: pd.Series(dtype="object" if c in _TEXT_COLUMNS else "bool"
                                      if c == "chosen" else "float64") for c in columns})


def _write(ws: Workspace, segments: pd.DataFrame, rfm: RFMResult, prof: SegmentProfiles,
           tiers: ValueTiers, k_scores: pd.DataFrame, found: bool) -> tuple[str, ...]:
    v = MODEL_VERSION
    written: list[str] = []

    def put(name: str, frame: pd.DataFrame) -> None:
        ws.write_mart(name, frame, model_version=v)
        written.append(f"marts.{name}")

    put("customer_segments", segments)
    put("segment_profiles", prof.summary.assign(segment=prof.summary["segment"].astype(str)))
    put("segment_feature_stats", prof.stats.assign(segment=prof.stats["segment"].astype(str)))
    put("segment_rules", prof.rules.assign(segment=prof.rules["segment"].astype(str)))
    put("segment_k_scores", k_scores if len(k_scores) else _empty(_K_SCORE_COLUMNS))
    put("segment_rfm_summary", rfm.segments)
    put("segment_pareto", tiers.pareto.assign(top_share_for_80=tiers.top_share_for_80))
    cells = (rfm.scores.groupby(["r_score", "fm_score"])
             .agg(customers=("customer_id", "size"), mean_monetary=("monetary", "mean"))
             .reset_index())
    put("segment_rfm_grid", cells)
    # Behaviour by cluster: the basis for personalised offers per segment (withheld, as empty
    # tables, when the clusters are not natural segments).
    from crmine.segment._behaviour import workspace_behaviour

    # Every declared mart is written on every run: a table not produced this time is written
    # empty (with its columns), so a stale one from an earlier run disappears.
    buyers_seg = segments[segments["cluster"] >= 0]
    behaviour = {name: _empty(columns) for name, columns in BEHAVIOUR_MARTS.items()}
    if found and ws.has_table("core.fct_order_lines") and len(buyers_seg):
        b = workspace_behaviour(ws, buyers_seg, segment="cluster")
        for name, frame in (("segment_categories", b.categories),
                            ("segment_discounts", b.discounts),
                            ("segment_channels", b.channels),
                            ("segment_seasonality", b.seasonality)):
            if len(frame):
                behaviour[name] = frame
    for name, frame in behaviour.items():
        put(name, frame)
    scores = segments[["customer_id", "rfm_segment", "cluster", "value_tier", "is_golden"]]
    if not found:
        scores = scores.assign(cluster=pd.array([pd.NA] * len(scores), dtype="Int64"))
    ws.upsert_customer_scores(scores, model="segment", model_version=v)
    return tuple(written)


def rfm_workspace(ws: Workspace, *, bins: int = 5) -> RFMResult:
    """RFM scores and segments of the buyers in ``marts.customer_rfm`` (nothing written).

    With ``bins`` other than 5 the named map (Champions … Lost) does not apply: every
    (R, FM) cell is its own segment.
    """
    segment_map = None if bins == 5 else {
        f"{r}{fm}": f"^{r}{fm}$" for r in range(1, bins + 1) for fm in range(1, bins + 1)}
    rfm = _read_mart(ws, "marts.customer_rfm", "crmine run --only features")
    return rfm_segments(rfm[rfm["orders"] > 0] if "orders" in rfm else rfm, bins=bins,
                        segment_map=segment_map)


def tiers_workspace(ws: Workspace) -> tuple[ValueTiers, pd.DataFrame]:
    """Value tiers and golden customers of the buyers in ``marts.customer_rfm``."""
    rfm = _read_mart(ws, "marts.customer_rfm", "crmine run --only features")
    buyers = rfm[rfm["orders"] > 0] if "orders" in rfm else rfm
    if ws.has_table("marts.customer_features"):
        feats = ws.read("marts.customer_features")
        if "service_contacts" in feats:
            buyers = buyers.merge(feats[["customer_id", "service_contacts"]],
                                  on="customer_id", how="left")
    return value_tiers(buyers), golden_customers(buyers)


def read_profiles(ws: Workspace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The written cluster profiles and surrogate-tree rules (empty when no natural segments)."""
    drop = ["model_version", "scored_at"]
    prof = _read_mart(ws, "marts.segment_profiles", "crmine segment cluster")
    rules = _read_mart(ws, "marts.segment_rules", "crmine segment cluster")
    return (prof.drop(columns=[c for c in drop if c in prof]),
            rules.drop(columns=[c for c in drop if c in rules]))


def _read_mart(ws: Workspace, table: str, how: str) -> pd.DataFrame:
    if not ws.has_table(table):
        from crmine.exceptions import SchemaError

        raise SchemaError(f"no {table} yet; run `{how}` first")
    return ws.read(table)
