"""The response/uplift analysis's declaration (read by the pipeline, registry, checks, report
and CLI)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from crmine.contract import Analysis, Mart, ModelSpec, Setting, accepted, not_null, unique
from crmine.response._workspace import TARGET_COLUMNS, customer_features, run_response
from crmine.warehouse import Workspace

__all__ = ["ANALYSIS", "score_response"]

UPLIFT_CLASSES = ("persuadable", "sure thing", "lost cause", "sleeping dog")


def _not_informative(meta: dict[str, Any], metric: str) -> bool:
    """Whether the saved verdict (or its check) on ``metric`` was not informative."""
    verdict = meta.get("verdict") or {}
    for v in (verdict, *verdict.get("checks", ())):
        if v.get("metric") == metric:
            return bool(v.get("status") == "not_informative")
    return False


UNJUDGED_NOTE = ("this response model was saved without a verdict (trained with cv < 2: "
                 "nothing was held out), so its scores are withheld; retrain it with "
                 "`crmine response train` and cv of 2 or more")


def score_response(bundle: Any, meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """``response_score`` (and ``uplift``, ``p_treated``, ``p_control``) of customer features.

    A score whose saved verdict was ``not_informative`` is returned empty (NaN): it ranks
    no better than random and must not drive who is contacted. So is every score of a model
    saved without a verdict (``train_response`` with ``cv`` < 2): unjudged, it is not
    actionable either; a :class:`UserWarning` says so.
    """
    out = pd.DataFrame({"response_score": bundle["response"].predict_proba(frame)[:, 1]},
                       index=frame.index)  # fmt: skip
    unjudged = not meta.get("verdict")
    if unjudged:
        warnings.warn(UNJUDGED_NOTE, UserWarning, stacklevel=2)
    if unjudged or _not_informative(meta, "held-out AUC"):
        out["response_score"] = np.nan
    if "uplift" in bundle:
        both = bundle["uplift"].predict_response(frame)
        out["uplift"] = both["p_treated"] - both["p_control"]
        out["p_treated"], out["p_control"] = both["p_treated"], both["p_control"]
        if unjudged or _not_informative(meta, "held-out Qini coefficient"):
            out[["uplift", "p_treated", "p_control"]] = np.nan
    if unjudged:
        out.attrs["note"] = UNJUDGED_NOTE
    return out


def current_response_features(ws: Workspace) -> pd.DataFrame:
    """Today's customer features, as the response models score them."""
    return customer_features(ws).reset_index()


def _share(value: Any) -> str | None:
    return None if 0 <= value < 1 else "a share between 0 and 1, e.g. 0.3"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "a number of 0 or more"


_STAMP = ("model_version", "scored_at")

ANALYSIS = Analysis(
    name="response",
    title="Campaign response and uplift",
    run=run_response,
    requires=("core.campaign_assignments.responded",),
    uses=("features",),  # RFM features now come from core.fct_order_lines per send date
    model=ModelSpec("response", features=current_response_features, score=score_response),
    marts=(
        Mart("uplift_scores", "one row per current customer",
             ("customer_id", "response_score", "uplift", "p_treated", "p_control",
              "uplift_class", "uplift_rank", *_STAMP),
             (unique("customer_id"), not_null("customer_id"),
              accepted("uplift_class", UPLIFT_CLASSES))),
        Mart("response_targets", "one row per customer to contact, best first",
             (*TARGET_COLUMNS, *_STAMP),
             (unique("customer_id"), unique("rank"), not_null("customer_id", "rank", "score"),
              accepted("basis", ("uplift", "response"))),
             actionable=True),
        Mart("response_gains", "one row per score decile of held-out treated customers",
             ("bin", "depth", "n", "responders", "response_rate", "lift", "cum_responders",
              "cum_response_rate", "cum_lift", "gain", *_STAMP),
             (unique("bin"), not_null("bin", "n", "responders"))),
        Mart("response_profit", "one row per targeting depth per basis (held out)",
             ("depth", "contacted", "cost", "revenue", "profit", "basis", "profit_per_1000",
              *_STAMP),
             (unique("basis", "contacted"), not_null("depth", "contacted", "profit", "basis"))),
        Mart("uplift_curves", "one row per targeting depth per curve (qini, uplift; held out)",
             ("n", "depth", "model", "random", "curve", *_STAMP),
             (unique("curve", "n"), not_null("n", "depth", "model", "random"),
              accepted("curve", ("qini", "uplift")))),
        Mart("response_metrics", "one row per held-out figure",
             ("metric", "value", *_STAMP), (unique("metric"), not_null("metric"))),
    ),
    settings=(
        Setting("uplift_threshold", float, 0.01, "uplift (difference of response "
                "probabilities) above which a customer is persuadable, below minus which a "
                "sleeping dog", check=_share),
        Setting("response_cost_per_contact", float, None, "cost of one campaign contact "
                "(default: the campaigns' recorded cost per treated contact, else 1)",
                check=_non_negative),
        Setting("response_margin", float, None, "profit of one response before the contact "
                "cost (default: mean response revenue x gross_margin)", check=_non_negative),
        Setting("gross_margin", float, 0.3, "share of revenue that is profit, for response "
                "margins when no response_margin is set", check=_share),
    ),
)
