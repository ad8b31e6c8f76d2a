"""Churn prediction and retention: who is about to leave, why, and who is worth saving.

- :func:`subscription_labels` / :func:`transactional_labels` label customers at a cut-off
  date; the ``*_features`` functions compute features strictly before it (no leakage).
- :class:`ChurnModel` fits a CART tree (plain-language rules), a logistic scorecard or
  calibrated gradient boosting — or compares them (``method="auto"``) — and explains the risk
  (``drivers_``, ``explain``).
- :func:`evaluate_churn`: ROC/PR AUC, lift and capture, Brier, calibration, confusion.
- :func:`kaplan_meier` and :class:`TenureModel` (Cox): survival and expected remaining tenure.
- :func:`retention_list`: risk × value → customers ranked by expected value saved.
- :func:`run_churn`: all of it on a workspace, judged on held-out customers (out of time
  when there are several cut-offs) and written back to ``marts``; the churn window adapts
  to the business's purchase cycle (:func:`churn_window`).
"""

from crmine.churn._analysis import ANALYSIS
from crmine.churn._drivers import (
    customer_reasons,
    permutation_drivers,
    profile_comparison,
    reference_values,
)
from crmine.churn._evaluate import (
    ChurnEvaluation,
    best_f1_threshold,
    churn_verdict,
    evaluate_churn,
)
from crmine.churn._labels import (
    ChurnLabels,
    customer_features,
    order_features,
    subscription_features,
    subscription_labels,
    ticket_features,
    transactional_labels,
)
from crmine.churn._model import METHODS, ChurnModel
from crmine.churn._persist import load_churn_model, save_churn_model
from crmine.churn._prep import ColumnPlan, LeakageWarning, encode_target, plan_columns
from crmine.churn._retention import RetentionList, retention_list
from crmine.churn._rules import tree_nodes, tree_rules
from crmine.churn._survival import KaplanMeierResult, TenureModel, kaplan_meier
from crmine.churn._workspace import (
    NO_LIST,
    UNJUDGED,
    ChurnDataset,
    ChurnRun,
    ChurnScores,
    build_churn_dataset,
    churn_features,
    churn_window,
    current_features,
    data_end,
    purchase_cycle,
    run_churn,
    score_workspace,
)

__all__ = [
    "ANALYSIS",
    "METHODS",
    "NO_LIST",
    "UNJUDGED",
    "ChurnDataset",
    "ChurnEvaluation",
    "ChurnLabels",
    "ChurnModel",
    "ChurnRun",
    "ChurnScores",
    "ColumnPlan",
    "KaplanMeierResult",
    "LeakageWarning",
    "RetentionList",
    "TenureModel",
    "best_f1_threshold",
    "build_churn_dataset",
    "churn_features",
    "churn_verdict",
    "churn_window",
    "current_features",
    "customer_features",
    "customer_reasons",
    "data_end",
    "encode_target",
    "evaluate_churn",
    "kaplan_meier",
    "load_churn_model",
    "order_features",
    "permutation_drivers",
    "plan_columns",
    "profile_comparison",
    "purchase_cycle",
    "reference_values",
    "retention_list",
    "run_churn",
    "save_churn_model",
    "score_workspace",
    "subscription_features",
    "subscription_labels",
    "ticket_features",
    "transactional_labels",
    "tree_nodes",
    "tree_rules",
]
