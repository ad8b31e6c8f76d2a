"""The churn analysis's declaration (read by the pipeline, registry, checks, report and CLI)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crmine.churn._model import ChurnModel
from crmine.churn._workspace import current_features, run_churn
from crmine.contract import (
    Analysis,
    Mart,
    ModelSpec,
    Setting,
    accepted,
    not_null,
    saved_status,
    unique,
)

__all__ = ["ANALYSIS", "score_churn"]


def score_churn(model: ChurnModel, meta: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """``churn_risk`` and ``churn_reasons`` of each row of churn features (missing for a model
    whose held-out verdict was not informative, or that was saved without a verdict and so
    was never judged — refit it with ``crmine churn train``: its ranking must drive no
    offers)."""
    scores = model.explain(frame)
    if saved_status(meta) not in ("informative", "weak"):
        scores = scores.assign(churn_risk=float("nan"), churn_reasons=None)
    return scores


def _share(value: float) -> str | None:
    return None if 0 < value <= 1 else "a share between 0 (excluded) and 1"


def _window(value: int) -> str | None:
    return None if 1 <= value <= 3_650 else "a number of days between 1 and 3,650"


_STAMP = ("model_version", "scored_at")
_DIRECTIONS = ("higher → more churn", "higher → less churn", "mixed", "by level")

ANALYSIS = Analysis(
    name="churn",
    title="Churn prediction and retention",
    run=run_churn,
    # Contracts with end dates, or failing that purchases (churn = no purchase in the window).
    requires=(("core.fct_subscriptions", "core.fct_order_lines"),),
    uses=("clv",),  # the retention list ranks by 12-month CLV when CLV has run
    marts=(
        Mart("churn_drivers", "one row per feature",
             ("feature", "importance", "importance_std", "direction", "detail", "cutoff",
              "window_days", *_STAMP),
             (unique("feature"), not_null("feature", "importance"),
              accepted("direction", _DIRECTIONS))),
        Mart("churn_rules", "one row per leaf of the companion decision tree",
             ("rule", "conditions", "churn_rate", "customers", "cutoff", "window_days", *_STAMP),
             (not_null("rule"),)),
        Mart("churn_tree", "one row per node of the decision tree",
             ("node", "parent", "split", "churn_rate", "customers", "is_leaf", *_STAMP),
             (unique("node"),)),
        Mart("churn_profile", "one row per numeric feature, or per level of a category",
             ("feature", "level", "churned", "retained", "difference", "std_difference",
              *_STAMP), (not_null("feature"),)),
        Mart("churn_model_comparison", "one row per method compared",
             ("method", "roc_auc", "roc_auc_std", "pr_auc", "brier", "selected", "cutoff",
              "window_days", "window_source", "evaluated_on", *_STAMP),
             (unique("method"), accepted("method", ("tree", "logistic", "boosting")))),
        Mart("churn_metrics", "one row per held-out metric of the selected method",
             ("metric", "value", "cutoff", "window_days", *_STAMP),
             (unique("metric"), not_null("metric"))),
        Mart("churn_roc", "one row per point of the held-out ROC curve",
             ("fpr", "tpr", "threshold", *_STAMP)),
        Mart("churn_lift", "one row per decile of held-out risk (1 = riskiest)",
             ("decile", "customers", "churners", "churn_rate", "lift", "cumulative_capture",
              "cumulative_lift", *_STAMP), (unique("decile"),)),
        Mart("churn_calibration", "one row per bin of held-out predicted risk",
             ("bin", "mean_predicted", "observed_rate", "customers", *_STAMP), (unique("bin"),)),
        Mart("retention_list", "one row per active customer, best offer first",
             ("rank", "customer_id", "churn_risk", "value", "value_at_risk", "expected_saved",
              "expected_profit", "target", "risk_band", "value_band", "as_of", "value_source",
              *_STAMP),
             (unique("customer_id"), unique("rank"), not_null("customer_id", "churn_risk"),
              accepted("risk_band", ("low risk", "medium risk", "high risk")),
              accepted("value_band", ("low value", "medium value", "high value"))),
             actionable=True),
        Mart("churn_profit_curve", "one row per number of customers targeted (thinned)",
             ("customers_targeted", "risk_threshold", "cumulative_profit", "offer_cost",
              "save_rate", "best_threshold", "best_customers", "max_profit", *_STAMP),
             (not_null("customers_targeted"),), actionable=True),
        Mart("churn_risk_value", "one row per risk band × value band",
             ("risk_band", "value_band", "customers", "value_at_risk", *_STAMP),
             (unique("risk_band", "value_band"),), actionable=True),
        Mart("churn_km", "one row per group and tenure time of the Kaplan–Meier curves",
             ("group", "time", "survival", "ci_lower", "ci_upper", "at_risk", *_STAMP)),
        Mart("churn_hazard_ratios", "one row per Cox model covariate",
             ("covariate", "hazard_ratio", "ci_lower", "ci_upper", "p", *_STAMP),
             (unique("covariate"),)),
    ),
    model=ModelSpec("churn", features=current_features, score=score_churn),
    settings=(
        Setting("churn_offer_cost", float, 20.0, "cost of one retention offer (incentive and "
                "contact), in the data's currency", check=lambda v: None if v >= 0 else
                "zero or a positive amount"),
        Setting("churn_save_rate", float, 0.3, "share of would-be churners a retention offer "
                "keeps", check=_share),
        Setting("churn_window_days", int, None, "churn window in days (default: the purchase "
                "cycle's 90th percentile for orders, 90 days for contracts)", check=_window),
    ),
)
