"""Response and uplift models on a workspace: train on past campaigns, score every customer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from crmine.exceptions import DataError, SchemaError
from crmine.response._model import ResponseModel, expected_profit, gains_table
from crmine.response._uplift import (
    QiniResult,
    TwoModelUplift,
    incremental_profit,
    qini_curve,
    uplift_at_k,
    uplift_classes,
    uplift_curve,
)
from crmine.warehouse._models import feature_profile, load_model, save_model

__all__ = ["MODEL_VERSION", "ResponseRunResult", "customer_features", "load_models", "run_response"]

MODEL_VERSION = "response-1"
# Customer attributes used as features; PII (name, e-mail, phone, address) never is.
_ATTRIBUTES = (
    "gender",
    "age",
    "income",
    "occupation",
    "education",
    "region",
    "acquisition_channel",
)
_RFM = ("frequency", "recency", "T", "monetary_value", "orders", "total_spend")


def customer_features(ws: Any) -> pd.DataFrame:
    """One row per current customer (indexed by ``customer_id``) of model features:
    demographic attributes, tenure, and the RFM summary when ``marts.customer_rfm`` exists."""
    cust = ws.read("core.dim_customer")
    if "is_current" in cust:
        cust = cust[cust["is_current"].astype(bool)]
    cust = cust.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    feats = cust[[c for c in _ATTRIBUTES if c in cust.columns]].copy()
    if "signup_date" in cust:
        end = pd.Timestamp(ws.setting("observation_end", None) or pd.Timestamp.now().normalize())
        feats["tenure_days"] = (end - pd.to_datetime(cust["signup_date"])).dt.days
    if ws.has_table("marts.customer_rfm"):
        rfm = ws.read("marts.customer_rfm").drop_duplicates("customer_id").set_index("customer_id")
        feats = feats.join(rfm[[c for c in _RFM if c in rfm.columns]], how="left")
    if feats.shape[1] == 0:
        raise SchemaError(
            "core.dim_customer has no usable feature columns (age, gender, income, "
            "...); load customer attributes or build marts.customer_rfm"
        )
    return feats


@dataclass(frozen=True, slots=True)
class ResponseRunResult:
    """What :func:`run_response` computed on the workspace."""

    scores: pd.DataFrame
    gains: pd.DataFrame
    qini: QiniResult
    uplift: QiniResult
    profit: pd.DataFrame
    metrics: dict[str, float]

    def summary(self) -> dict[str, Any]:
        return {"customers_scored": len(self.scores), **self.metrics}


def _training_rows(ws: Any, feats: pd.DataFrame) -> pd.DataFrame:
    if not ws.has_table("core.campaign_assignments"):
        raise DataError(
            f"{ws.root}: no core.campaign_assignments; response models learn from "
            "past campaigns: load them with `crmine ingest campaign_assignments FILE`"
        )
    a = ws.read("core.campaign_assignments")
    for col in ("group", "responded"):
        if col not in a or a[col].isna().all():
            raise SchemaError(
                f"core.campaign_assignments needs a filled {col!r} column to train "
                "response and uplift models"
            )
    a = a[a["customer_id"].isin(feats.index)]
    a = a.assign(
        treated=(a["group"].astype(str).str.lower() == "treatment").astype(int),
        responded=a["responded"].fillna(False).astype(bool).astype(int),
    )
    return a


def run_response(
    ws: Any, *, model_version: str = MODEL_VERSION, test_size: float = 0.3, random_state: int = 0
) -> ResponseRunResult:
    """Train the response and uplift models on past campaigns and score every customer.

    A held-out share of customers (all their campaigns together, so nobody is in both
    parts) measures the gains/lift and Qini curves; the models are then refitted on all
    rows. Writes ``marts.uplift_scores``, ``marts.response_gains``, ``marts.uplift_curves``
    and ``marts.response_metrics``; adds ``response_score``, ``uplift`` and
    ``uplift_class`` to ``marts.customer_scores``; saves the models in ``models/``.
    Setting ``uplift_threshold`` (default 0.01) separates persuadables (uplift above it)
    and sleeping dogs (below minus it) from sure things and lost causes.
    """
    feats = customer_features(ws)
    rows = _training_rows(ws, feats)
    X = feats.loc[rows["customer_id"]].reset_index(drop=True)
    w = rows["treated"].to_numpy()
    y = rows["responded"].to_numpy()
    groups = rows["customer_id"].to_numpy()
    train, test = next(
        GroupShuffleSplit(1, test_size=test_size, random_state=random_state).split(X, y, groups)
    )
    treated_tr, treated_te = train[w[train] == 1], test[w[test] == 1]
    # A customer appears once per campaign, so small leaves memorise customers rather than
    # learn patterns (and row-wise early stopping cannot see it): leaves of 4% of the rows.
    leaf = max(20, int((w == 1).sum()) // 25)
    resp = ResponseModel(min_samples_leaf=leaf, random_state=random_state).fit(
        X.iloc[treated_tr], y[treated_tr]
    )
    score_te = resp.predict_score(X.iloc[treated_te])
    gains = gains_table(y[treated_te], score_te)
    cost, margin = _economics(ws, rows)
    profit = expected_profit(score_te, cost_per_contact=cost, margin=margin, y=y[treated_te])
    upl = TwoModelUplift(random_state=random_state).fit(X.iloc[train], w[train], y[train])
    u_te = upl.predict_uplift(X.iloc[test])
    qini = qini_curve(y[test], w[test], u_te)
    ucurve = uplift_curve(y[test], w[test], u_te)
    incremental = incremental_profit(y[test], w[test], u_te, cost_per_contact=cost,
                                     margin=margin)  # fmt: skip
    metrics = {
        "holdout_rows": len(test),
        "top_decile_lift": float(gains.loc[0, "lift"]),
        "qini_area": float(qini.area),
        "qini_coefficient": float(qini.coefficient),
        "uplift_at_30pct": uplift_at_k(y[test], w[test], u_te, k=0.3),
        "average_uplift": float(y[test][w[test] == 1].mean() - y[test][w[test] == 0].mean()),
        "cost_per_contact": cost,
        "margin_per_response": margin,
        "best_depth": profit.best_depth,
        "profit_per_1000_at_best_depth": 1000 * profit.best_profit / max(len(treated_te), 1),
        # counting only the responses the contact causes (uplift), not every responder
        "incremental_best_depth": incremental.best_depth,
        "incremental_profit_per_1000_at_best_depth": 1000
        * incremental.best_profit
        / max(len(test), 1),
    }

    # Final models on every row, then one score per current customer.
    resp = ResponseModel(min_samples_leaf=leaf, random_state=random_state).fit(
        X.iloc[w == 1], y[w == 1]
    )
    upl = TwoModelUplift(random_state=random_state).fit(X, w, y)
    both = upl.predict_response(feats)
    uplift = both["p_treated"].to_numpy() - both["p_control"].to_numpy()
    # Within +-1 point the campaign barely changes anything: those customers are sure things
    # or lost causes, not persuadables or sleeping dogs.
    threshold = float(ws.setting("uplift_threshold", 0.01))
    scores = pd.DataFrame({
        "customer_id": feats.index.astype(str), "response_score": resp.predict_score(feats),
        "uplift": uplift, "p_treated": both["p_treated"].to_numpy(),
        "p_control": both["p_control"].to_numpy(),
        "uplift_class": uplift_classes(uplift, both["p_treated"], both["p_control"],
                                       threshold=threshold),
    })  # fmt: skip
    scores["uplift_rank"] = scores["uplift"].rank(ascending=False, method="first").astype(int)
    ws.write_mart("uplift_scores", scores.sort_values("uplift_rank"), model_version=model_version)
    ws.write_mart("response_gains", gains, model_version=model_version)
    # The two curves come from held-out lists of different sizes (treated customers; both
    # groups): per 1,000 customers of the list they compare.
    profit_curves = [
        c.assign(basis=basis, profit_per_1000=1000 * c["profit"] / c["contacted"].max())
        for c, basis in (
            (profit.curve, "all responses (response model)"),
            (incremental.curve, "incremental responses (uplift model)"),
        )
    ]
    ws.write_mart("response_profit", pd.concat(profit_curves, ignore_index=True),
                  model_version=model_version)  # fmt: skip
    curves = pd.concat(
        [qini.curve.assign(curve="qini"), ucurve.curve.assign(curve="uplift")], ignore_index=True
    )
    ws.write_mart("uplift_curves", curves, model_version=model_version)
    ws.write_mart(
        "response_metrics",
        pd.DataFrame({"metric": list(metrics), "value": [float(v) for v in metrics.values()]}),
        model_version=model_version,
    )
    ws.upsert_customer_scores(
        scores[["customer_id", "response_score", "uplift", "uplift_class"]],
        model="response",
        model_version=model_version,
    )
    save_model(
        {"response": resp, "uplift": upl, "features": list(feats.columns)},
        ws.models_dir,
        "response",
        kind=f"{upl.learner_}-uplift",
        metadata={
            "model_version": model_version,
            "features": list(feats.columns),
            # one row per customer, as the drift check's side of today (customer_features)
            "feature_profile": feature_profile(feats.reset_index()),
            # the headline figures first: `crmine models list` shows the first three
            "metrics": {k: metrics[k] for k in ("qini_coefficient", "top_decile_lift",
                                                "uplift_at_30pct")} | metrics,
        },
    )
    return ResponseRunResult(scores, gains, qini, ucurve, profit.curve, metrics)


def _economics(ws: Any, rows: pd.DataFrame) -> tuple[float, float]:
    """Cost per contact and margin per response for the profit curve.

    Settings ``response_cost_per_contact`` and ``response_margin`` win; otherwise the cost
    is the campaigns' recorded cost per treated contact and the margin is the mean revenue
    of a response times ``gross_margin`` (setting, default 0.3).
    """
    cost = ws.setting("response_cost_per_contact", None)
    if cost is None:
        cost = 1.0
        if ws.has_table("core.dim_campaign") and "cost" in ws.columns("core.dim_campaign"):
            total = pd.to_numeric(ws.read("core.dim_campaign")["cost"], errors="coerce").sum()
            n_treated = int(rows["treated"].sum())
            if total > 0 and n_treated:
                cost = float(total / n_treated)
    margin = ws.setting("response_margin", None)
    if margin is None:
        revenue = pd.to_numeric(rows.get("revenue"), errors="coerce")
        responders = revenue[rows["responded"] == 1] if revenue is not None else pd.Series()
        mean_rev = float(responders.mean()) if len(responders) and responders.notna().any() else 0
        margin = mean_rev * float(ws.setting("gross_margin", 0.3)) if mean_rev > 0 else 10 * cost
    return float(cost), float(margin)


def load_models(path: str | Path, *, version: str | None = None) -> dict[str, Any]:
    """The models saved by :func:`run_response` or ``crmine response train``: a workspace's
    ``models/`` folder (the saved ``response`` versions, the latest unless ``version``) or a
    file written with ``--model FILE``. Both are pickles: open only your own."""
    p = Path(path)
    if p.is_dir():
        obj, _meta = load_model(p, "response", version=version)
    elif p.exists():
        obj = joblib.load(p)
    else:
        raise DataError(f"no saved model at {p}; train one first with `crmine response train`")
    if not isinstance(obj, dict) or "response" not in obj:
        raise DataError(f"{p} is not a crmine response model file")
    return obj
