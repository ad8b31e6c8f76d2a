"""Fitted models kept with their metadata: one folder per version, the latest marked.

``models/<name>/<version>/`` holds ``model.joblib`` (the fitted object) and ``metadata.json``
(what it is, when it was fitted, by which crmine, on what, and how well it did);
``models/<name>/latest`` names the version used by default. Every analysis that keeps a
model (churn, response, CLV, segmentation) saves it here, so ``crmine models list`` shows them
all, an older version can be scored or compared, and ``model_drift`` says whether today's
data still look like those a model was fitted on.

Examples
--------
>>> import tempfile
>>> from sklearn.linear_model import LogisticRegression
>>> from crmine.models import save_model, load_model, list_models
>>> folder = tempfile.mkdtemp()  # a workspace's models/ folder
>>> fitted = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
>>> saved = save_model(fitted, folder, "churn", kind="logistic",
...                    metadata={"metrics": {"roc_auc": 0.85}})
>>> model, meta = load_model(folder, "churn")
>>> model.predict([[2.5]]).tolist(), meta["metrics"]
([1], {'roc_auc': 0.85})
>>> list_models(folder)[["name", "kind", "latest"]].values.tolist()
[['churn', 'logistic', True]]
"""

from crmine.models._analysis import ANALYSIS
from crmine.models._drift import DRIFT_LEVELS, population_stability
from crmine.models._monitor import model_drift, run_drift
from crmine.models._score import model_specs, score_table
from crmine.warehouse._models import (
    SavedModel,
    feature_profile,
    headline,
    list_models,
    load_metadata,
    load_model,
    save_model,
    use_version,
)

__all__ = [
    "ANALYSIS",
    "DRIFT_LEVELS",
    "SavedModel",
    "feature_profile",
    "headline",
    "list_models",
    "load_metadata",
    "load_model",
    "model_drift",
    "model_specs",
    "population_stability",
    "run_drift",
    "save_model",
    "score_table",
    "use_version",
]
