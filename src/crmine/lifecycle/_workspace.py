"""``run_lifecycle``: cohorts, stages, transitions and the health score on a workspace."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from crmine.contract import SkipAnalysis, Verdict, record_verdict, recorded_warnings
from crmine.exceptions import ConfigError
from crmine.lifecycle._cohorts import COHORT_COLUMNS, cohort_matrix
from crmine.lifecycle._contractual import (
    SBG_CONTRACT_COLUMNS,
    SBG_PLAN_COLUMNS,
    SUBSCRIPTIONS,
    contract_durations,
    fit_plans,
)
from crmine.lifecycle._health import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    HealthEvaluation,
    LearnedWeights,
    default_horizon,
    evaluate_health,
    health_scores,
    learn_weights,
)
from crmine.lifecycle._loyalty import (
    DEFAULT_LOYALTY_WEIGHTS,
    LoyaltyEvaluation,
    evaluate_loyalty,
    loyalty_by_segment,
    loyalty_measures,
)
from crmine.lifecycle._nps import (
    CSAT_COLUMNS,
    DRIVER_COLUMNS,
    NPS_COLUMNS,
    NpsResult,
    run_nps,
)
from crmine.lifecycle._stages import (
    ACTIONS,
    ORDERS,
    STAGES,
    StageRules,
    _date,
    customer_stages,
    stage_transitions,
)
from crmine.warehouse import Workspace

__all__ = [
    "AT_RISK_COLUMNS",
    "HEALTH_COLUMNS",
    "NPS_CHURN_COLUMNS",
    "TRANSITION_COLUMNS",
    "LifecycleRun",
    "data_end",
    "loyalty_weights_from_settings",
    "rules_from_settings",
    "run_lifecycle",
    "transition_history",
    "transitions_between",
    "weights_from_settings",
]

MODEL_VERSION = "lifecycle-rules-2"
# Stages whose customers are still worth saving (the at-risk list leaves prospects and lapsed)
SAVEABLE = ("new", "active", "growing", "reactivated", "at_risk")
HEALTH_COLUMNS = (
    "customer_id",
    "stage",
    "health_score",
    "recency_ratio",
    "cycle_days",
    *COMPONENTS,
)
TRANSITION_COLUMNS = (
    "from_stage",
    "to_stage",
    "customers",
    "share_of_from",
    "revenue",
    "from_date",
    "to_date",
)
NPS_CHURN_COLUMNS = ("band", "customers", "churn_rate", "mean_spend_after", "horizon_days")
AT_RISK_COLUMNS = (
    "customer_id",
    "stage",
    "health_score",
    "recency_ratio",
    "cycle_days",
    "total_spend",
    "action",
)


def data_end(ws: Workspace) -> pd.Timestamp:
    """The exclusive end of the data: the day after ``observation_end`` (setting) or after
    the latest completed purchase of a known customer."""
    setting = ws.setting("observation_end")
    if setting:
        return pd.Timestamp(setting).normalize() + pd.Timedelta(days=1)
    if not ws.has_table(ORDERS):
        raise SkipAnalysis(f"no {ORDERS} in the workspace: load orders with `crmine ingest`")
    row = ws.duck.execute(
        f"SELECT max(order_ts) FROM {ORDERS} WHERE status = 'completed' AND customer_id IS NOT NULL"
    ).fetchone()
    if not row or row[0] is None:
        raise SkipAnalysis(f"{ORDERS} has no completed purchases of known customers")
    return pd.Timestamp(row[0]).normalize() + pd.Timedelta(days=1)


def rules_from_settings(ws: Workspace) -> StageRules:
    """The stage rules with the workspace's ``lifecycle.*`` settings."""
    d = StageRules()
    return StageRules(
        new_cycles=float(ws.setting("lifecycle.new_cycles", d.new_cycles)),
        at_risk_ratio=float(ws.setting("lifecycle.at_risk_ratio", d.at_risk_ratio)),
        lapsed_ratio=float(ws.setting("lifecycle.lapsed_ratio", d.lapsed_ratio)),
        window_cycles=float(ws.setting("lifecycle.window_cycles", d.window_cycles)),
        growth_ratio=float(ws.setting("lifecycle.growth_ratio", d.growth_ratio)),
        decline_ratio=float(ws.setting("lifecycle.decline_ratio", d.decline_ratio)),
        min_gaps=int(ws.setting("lifecycle.min_gaps", d.min_gaps)),
        default_cycle_days=float(ws.setting("lifecycle.default_cycle_days", d.default_cycle_days)),
    )


def weights_from_settings(ws: Workspace) -> dict[str, float]:
    """The health weights with the workspace's ``lifecycle.weight_*`` settings."""
    read = {
        "recency": ws.setting("lifecycle.weight_recency"),
        "frequency": ws.setting("lifecycle.weight_frequency"),
        "spend": ws.setting("lifecycle.weight_spend"),
        "service": ws.setting("lifecycle.weight_service"),
        "satisfaction": ws.setting("lifecycle.weight_satisfaction"),
        "breadth": ws.setting("lifecycle.weight_breadth"),
    }
    return {k: float(v) if v is not None else DEFAULT_WEIGHTS[k] for k, v in read.items()}


def loyalty_weights_from_settings(ws: Workspace) -> dict[str, float]:
    """The loyalty index's weights with the workspace's ``lifecycle.loyalty_weight_*``."""
    read = {
        "persistence": ws.setting("lifecycle.loyalty_weight_persistence"),
        "firmness": ws.setting("lifecycle.loyalty_weight_firmness"),
        "stability": ws.setting("lifecycle.loyalty_weight_stability"),
    }
    return {k: float(v) if v is not None else DEFAULT_LOYALTY_WEIGHTS[k] for k, v in read.items()}


def transition_history(
    ws: Workspace, end: pd.Timestamp, rules: StageRules, days: int, periods: int
) -> pd.DataFrame:
    """The transition matrices of ``periods`` consecutive windows of ``days`` ending at
    ``end`` (oldest first): how the customer base moved between stages over time."""
    frames = []
    for k in range(periods, 0, -1):
        to = end - pd.Timedelta(days=days * (k - 1))
        frames.append(stage_transitions(ws, to - pd.Timedelta(days=days), to, rules))
    return pd.concat(frames, ignore_index=True) if frames else _empty(TRANSITION_COLUMNS)


def _segment_labels(ws: Workspace, stages: pd.DataFrame) -> dict[str, pd.Series]:
    """Customer -> segment label for each grouping available: the lifecycle stage, the
    segmentation's RFM segment when it ran, the acquisition channel."""
    groups = {"stage": stages.set_index("customer_id")["stage"]}
    if ws.has_table("marts.customer_segments") and "rfm_segment" in ws.columns(
        "marts.customer_segments"
    ):
        seg = ws.duck.execute("""SELECT CAST(customer_id AS VARCHAR) AS customer_id,
            rfm_segment FROM marts.customer_segments""").df()
        if seg["rfm_segment"].notna().any():
            groups["rfm_segment"] = seg.set_index("customer_id")["rfm_segment"].astype(str)
    if ws.has_table("core.dim_customer") and "acquisition_channel" in ws.columns(
        "core.dim_customer"
    ):
        dim = ws.duck.execute(f"""SELECT DISTINCT ON (customer_id)
            CAST(customer_id AS VARCHAR) AS customer_id, acquisition_channel
            FROM {ws.resolved("core.dim_customer")} WHERE acquisition_channel IS NOT NULL""").df()
        if len(dim):
            groups["acquisition_channel"] = dim.set_index("customer_id")["acquisition_channel"]
    return groups


@dataclass(frozen=True, slots=True)
class LifecycleRun:
    """The result of :func:`run_lifecycle`.

    Attributes
    ----------
    as_of : Timestamp
        The (exclusive) date of the stages and health scores: the day after the data end.
    stages, transitions, cohorts : DataFrame
        Every customer's stage; the transition matrix from ``as_of - transition_days``; the
        cohort table (:func:`crmine.lifecycle.cohort_matrix`).
    health : DataFrame
        Today's health scores (empty when the verdict is not informative).
    at_risk : DataFrame
        The saveable customers with a health score below ``at_risk_below`` (empty when not
        informative).
    evaluation : HealthEvaluation
        The held-out test of the score.
    sbg_plans : DataFrame
        The shifted-beta-geometric fit per subscription plan (empty without subscriptions).
    loyalty, loyalty_segments : DataFrame
        Loyalty measures per customer and their means per segment (:mod:`._loyalty`).
    loyalty_evaluation : LoyaltyEvaluation
        The held-out test of what loyalty adds to recency (a check of the verdict).
    transition_history : DataFrame
        Transition matrices of ``lifecycle.transition_periods`` consecutive windows.
    nps : NpsResult or None
        NPS, CSAT, drivers and the satisfaction -> churn link (None without survey answers).
    learned : LearnedWeights
        Health weights learned from past churn and their held-out test against the
        documented ones; ``health_weights`` are those the scores used (learned only with
        ``lifecycle.learn_health_weights`` and when they beat the documented ones).
    """

    as_of: pd.Timestamp
    rules: StageRules
    stages: pd.DataFrame
    transitions: pd.DataFrame
    cohorts: pd.DataFrame
    health: pd.DataFrame
    at_risk: pd.DataFrame
    evaluation: HealthEvaluation
    sbg_plans: pd.DataFrame
    loyalty: pd.DataFrame
    loyalty_segments: pd.DataFrame
    loyalty_evaluation: LoyaltyEvaluation
    transition_history: pd.DataFrame
    nps: NpsResult | None
    learned: LearnedWeights
    health_weights: dict[str, float]
    marts: tuple[str, ...]
    verdict: Verdict

    def stage_counts(self) -> dict[str, int]:
        counts = self.stages["stage"].value_counts()
        return {s: int(counts.get(s, 0)) for s in STAGES}

    def summary(self) -> dict[str, Any]:
        """The run as a JSON-able dict."""
        out: dict[str, Any] = {
            "as_of": f"{self.as_of:%Y-%m-%d}",
            "customers": len(self.stages),
            "stages": self.stage_counts(),
            "transition_from": (
                f"{self.transitions['from_date'].iloc[0]:%Y-%m-%d}"
                if len(self.transitions)
                else None
            ),
            "cohorts": int(
                self.cohorts.loc[
                    self.cohorts["dimension"] == "acquisition_month", "cohort"
                ].nunique()
            )
            if len(self.cohorts)
            else 0,
            "cohort_dimensions": sorted(self.cohorts["dimension"].unique().tolist())
            if len(self.cohorts)
            else [],
            "health_cutoff": f"{self.evaluation.cutoff:%Y-%m-%d}",
            "health_horizon_days": self.evaluation.horizon_days,
            "health_auc": None if np.isnan(self.evaluation.auc) else self.evaluation.auc,
            "at_risk": len(self.at_risk),
            "sbg_plans": self.sbg_plans[["plan", "contracts", "alpha", "beta"]].to_dict("records"),
            "loyalty_index_mean": float(self.loyalty["loyalty_index"].mean())
            if len(self.loyalty)
            else None,
            "loyalty_verdict": self.loyalty_evaluation.verdict.to_dict(),
            "nps": (
                float(self.nps.nps.loc[self.nps.nps["dimension"] == "all", "nps"].iloc[0])
                if self.nps is not None
                else None
            ),
            "nps_churn_verdict": self.nps.verdict.to_dict() if self.nps is not None else None,
            "top_nps_drivers": self.nps.drivers.head(3)["feature"].tolist()
            if self.nps is not None
            else [],
            "transition_periods": int(self.transition_history["from_date"].nunique())
            if len(self.transition_history)
            else 0,
            "health_weights": self.health_weights,
            "health_service_component": None if self.evaluation.service is None
            else self.evaluation.service.to_dict(),
            "learned_weights_verdict": self.learned.verdict.to_dict(),
            "rules": self.rules.to_dict(),
            "marts": list(self.marts),
            "verdict": self.verdict.to_dict(),
        }
        if not self.verdict.actionable:
            out["withheld"] = (
                "health scores and the at-risk list are withheld: the score did "
                "not predict churn on held-out data"
            )
        elif self.verdict.status == "weak":
            out["warning"] = (
                "the health score predicts churn only weakly on held-out data; "
                "use the at-risk list with care"
            )
        return out

    def to_frame(self) -> pd.DataFrame:
        """Every customer's stage and loyalty index, with its health score when the
        verdict allows."""
        out = self.stages.merge(
            self.loyalty[["customer_id", "loyalty_index"]], on="customer_id", how="left"
        )
        if self.health.empty:
            return out.assign(health_score=np.nan)
        return out.merge(self.health[["customer_id", "health_score"]], on="customer_id", how="left")


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _stage_summary(stages: pd.DataFrame) -> pd.DataFrame:
    g = stages.groupby("stage").agg(
        customers=("customer_id", "size"),
        recent_spend=("recent_spend", "sum"),
        total_spend=("total_spend", "sum"),
    )
    g = g.reindex(list(STAGES)).fillna(0).reset_index()
    g["customers"] = g["customers"].astype("int64")
    g["share"] = g["customers"] / max(int(g["customers"].sum()), 1)
    g["action"] = g["stage"].map(ACTIONS)
    return g[["stage", "customers", "share", "recent_spend", "total_spend", "action"]]


def transitions_between(
    ws: Workspace,
    *,
    as_of: str | pd.Timestamp | None = None,
    since: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """:func:`stage_transitions` with the workspace's rules and default dates (``as_of`` the
    day after the data end, ``since`` ``lifecycle.transition_days`` before it)."""
    end = pd.Timestamp(_date(as_of)) if as_of is not None else data_end(ws)
    days = int(ws.setting("lifecycle.transition_days", 90))
    start = pd.Timestamp(_date(since)) if since is not None else end - pd.Timedelta(days=days)
    return stage_transitions(ws, start, end, rules_from_settings(ws))


def run_lifecycle(
    ws: Workspace,
    *,
    as_of: str | pd.Timestamp | None = None,
    since: str | pd.Timestamp | None = None,
    horizon_days: int | None = None,
) -> LifecycleRun:
    """Cohorts, stages, transitions and the health score; writes the ``lifecycle_*`` marts.

    Parameters
    ----------
    as_of : date, optional
        The date of the stages (exclusive; default: the day after the data end).
    since : date, optional
        The start of the transition matrix (default ``as_of`` minus ``lifecycle.
        transition_days``).
    horizon_days : int, optional
        The churn horizon of the health verdict (default setting ``lifecycle.horizon_days``,
        else lapsed_ratio x the median purchase cycle within 60..365 days).
    """
    end = pd.Timestamp(_date(as_of)) if as_of is not None else data_end(ws)
    rules = rules_from_settings(ws)
    weights = weights_from_settings(ws)
    days = int(ws.setting("lifecycle.transition_days", 90))
    if days < 1:
        raise ConfigError(f"lifecycle.transition_days must be >= 1, got {days}")
    start = pd.Timestamp(_date(since)) if since is not None else end - pd.Timedelta(days=days)
    below = float(ws.setting("lifecycle.at_risk_below", 40.0))
    horizon = horizon_days or ws.setting("lifecycle.horizon_days")
    with recorded_warnings() as caught:
        stages = customer_stages(ws, end, rules)
        if stages.empty:
            raise SkipAnalysis(
                f"no customers in {ORDERS} or core.dim_customer before {end:%Y-%m-%d}"
            )
        transitions = stage_transitions(ws, start, end, rules)
        cohorts = cohort_matrix(ws)
        h = int(horizon) if horizon else default_horizon(ws, end, rules)
        learned = learn_weights(ws, end, h, rules=rules, weights=weights)
        if ws.setting("lifecycle.learn_health_weights", False) and learned.verdict.status != (
            "not_informative"
        ):
            weights = learned.weights
        evaluation = evaluate_health(
            ws, end, horizon_days=int(horizon) if horizon else None, rules=rules, weights=weights
        )
        verdict = evaluation.verdict
        health = _empty(HEALTH_COLUMNS)
        at_risk = _empty(AT_RISK_COLUMNS)
        if verdict.actionable:
            current = health_scores(ws, end, rules, weights)
            current = current.merge(
                stages[["customer_id", "stage", "total_spend", "action"]],
                on="customer_id",
                how="left",
            )
            for c in COMPONENTS:
                if c not in current.columns:
                    current[c] = np.nan
            health = current[list(HEALTH_COLUMNS)]
            at_risk = (
                current[current["stage"].isin(SAVEABLE) & (current["health_score"] < below)]
                .sort_values(["health_score", "total_spend"], ascending=[True, False])[
                    list(AT_RISK_COLUMNS)
                ]
                .reset_index(drop=True)
            )
        plans, contracts = _empty(SBG_PLAN_COLUMNS), _empty(SBG_CONTRACT_COLUMNS)
        if ws.has_table(SUBSCRIPTIONS):
            durations = contract_durations(ws, end)
            if len(durations) and durations["cancelled"].any():
                rate = float(ws.setting("lifecycle.sbg_discount_rate", 0.01))
                plans, contracts = fit_plans(durations, discount_rate=rate)
        periods = int(ws.setting("lifecycle.transition_periods", 4))
        history = transition_history(ws, end, rules, days, periods)
        loyalty_w = loyalty_weights_from_settings(ws)
        loyalty = loyalty_measures(ws, end, rules, loyalty_w)
        groups = _segment_labels(ws, stages)
        loyalty_segments = loyalty_by_segment(loyalty, groups)
        loyalty_eval = evaluate_loyalty(
            ws,
            end,
            int(ws.setting("lifecycle.loyalty_horizon_days", 180)),
            rules=rules,
            weights=loyalty_w,
        )
        segment_for_nps = groups.get("rfm_segment", groups["stage"])
        nps = run_nps(ws, end, int(ws.setting("lifecycle.nps_horizon_days", 180)), segment_for_nps)
    checks = (
        *verdict.checks,
        learned.verdict,
        loyalty_eval.verdict,
        *((nps.verdict,) if nps else ()),
    )
    verdict = replace(verdict, checks=checks).with_warnings(caught)
    cols = [c for c in COHORT_COLUMNS]
    written = {
        "lifecycle_stages": stages,
        "lifecycle_stage_summary": _stage_summary(stages),
        "lifecycle_transitions": transitions,
        "lifecycle_cohorts": cohorts[cols],
        "lifecycle_health": health,
        "lifecycle_at_risk": at_risk,
        "lifecycle_health_holdout": evaluation.deciles
        if len(evaluation.deciles)
        else _empty(("decile", "customers", "mean_health", "churn_rate")),
        "lifecycle_sbg_plans": plans,
        "lifecycle_sbg_contracts": contracts,
        "lifecycle_transition_history": history,
        "lifecycle_loyalty": loyalty,
        "lifecycle_loyalty_segments": loyalty_segments,
        "lifecycle_nps": nps.nps if nps is not None else _empty(NPS_COLUMNS),
        "lifecycle_csat": nps.csat if nps is not None else _empty(CSAT_COLUMNS),
        "lifecycle_nps_drivers": nps.drivers if nps is not None else _empty(DRIVER_COLUMNS),
        "lifecycle_nps_churn": nps.churn_by_band
        if nps is not None and len(nps.churn_by_band)
        else _empty(NPS_CHURN_COLUMNS),
    }
    for name, frame in written.items():
        ws.write_mart(name, frame, model_version=MODEL_VERSION)
    scores = stages[["customer_id", "stage"]].rename(columns={"stage": "lifecycle_stage"})
    hs = health.set_index("customer_id")["health_score"] if len(health) else pd.Series(dtype=float)
    scores["health_score"] = scores["customer_id"].map(hs).astype(float)
    ws.upsert_customer_scores(scores, model="lifecycle", model_version=MODEL_VERSION)
    record_verdict(ws, "lifecycle", verdict)
    return LifecycleRun(
        as_of=end,
        rules=rules,
        stages=stages,
        transitions=transitions,
        cohorts=cohorts,
        health=health,
        at_risk=at_risk,
        evaluation=evaluation,
        sbg_plans=plans,
        loyalty=loyalty,
        loyalty_segments=loyalty_segments,
        loyalty_evaluation=loyalty_eval,
        transition_history=history,
        nps=nps,
        learned=learned,
        health_weights=weights,
        marts=tuple(f"marts.{n}" for n in written),
        verdict=verdict,
    )
