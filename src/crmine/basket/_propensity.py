"""Propensity to buy one chosen product (or category), on a workspace, checked out of sample.

The model learns from the past as it would be used: features are what each customer had
bought up to a cut-off (``horizon_days`` before the data end), the label is whether they
bought the chosen product in the horizon after it. A held-out share of those customers gives
an honest AUC and top-decile lift; the model refitted on all of them then scores every
customer on their whole history, for the next ``horizon_days``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from crmine.basket._recommend import ProductPropensity, purchase_features
from crmine.basket._workspace import product_hierarchy, workspace_lines
from crmine.exceptions import DataError
from crmine.warehouse import Workspace

__all__ = ["PropensityResult", "workspace_propensity"]

MODEL_VERSION = "propensity-logit-1"
MIN_BUYERS = 20  # fewer buyers in the horizon cannot give a trustworthy model


@dataclass(frozen=True, slots=True)
class PropensityResult:
    """Scores and out-of-sample quality of a product propensity model."""

    product: str
    level: str
    scores: pd.DataFrame  # customer_id, propensity, decile (1 = most likely), rank
    coefficients: pd.Series  # standardised, largest effect first
    summary: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.scores


def _features(lines: pd.DataFrame, item: str, items: list[str],
              as_of: pd.Timestamp) -> pd.DataFrame:  # fmt: skip
    """Per customer: whether they own each of ``items`` and how they buy, as of ``as_of``."""
    by = lines.groupby("customer_id")
    habits = pd.DataFrame(
        {
            "orders": by["order_id"].nunique(),
            "distinct_items": by[item].nunique(),
            "recency_days": (as_of - by["order_ts"].max()).dt.days,
            "tenure_days": (as_of - by["order_ts"].min()).dt.days,
        }
    ).astype(float)
    return habits.join(purchase_features(by[item].unique(), items=items))


def _common_items(lines: pd.DataFrame, item: str, exclude: str, n: int) -> list[str]:
    """The ``n`` items most customers own, without the one modelled (it would predict itself)."""
    owners = lines.drop_duplicates(["customer_id", item])[item].value_counts()
    return [str(i) for i in owners.index if i != exclude][:n]


def workspace_propensity(
    ws: Workspace,
    product: str,
    *,
    level: str = "product",
    horizon_days: int = 90,
    new_buyers_only: bool = True,
    max_items: int = 200,
    test_share: float = 0.3,
    seed: int = 0,
    write: bool = True,
) -> PropensityResult:
    """Fit, check and apply a propensity model for ``product`` (at ``level``) on ``ws``.

    Parameters
    ----------
    product
        A product id, or a category/brand/... value when ``level`` is that column of
        ``core.dim_product``.
    horizon_days
        The window the model predicts a purchase in (and learns from, before the data end).
    new_buyers_only
        Cross-sell: learn from and score only customers who had not bought it yet.
    max_items
        Ownership features: the items most customers own (the modelled one left out).
    write
        Replace this product's rows of ``marts.product_propensity``.
    """
    if horizon_days < 1:
        raise DataError(f"horizon_days must be at least 1, got {horizon_days}")
    lines = workspace_lines(ws)
    item = "product_id"
    if level != "product":
        lines = lines.assign(item=lines["product_id"].map(product_hierarchy(ws, level)))
        lines = lines.dropna(subset=["item"])
        item = "item"
    known = lines[item].unique()
    if product not in set(known):
        common = lines[item].value_counts().index[:10].tolist()
        raise DataError(f"{level} {product!r} was never bought; common {level} values: {common}")
    as_of = lines["order_ts"].max()
    cutoff = as_of - pd.Timedelta(days=horizon_days)
    past, future = lines[lines["order_ts"] <= cutoff], lines[lines["order_ts"] > cutoff]
    if past.empty:
        raise DataError(
            f"no purchase before {cutoff:%Y-%m-%d} ({horizon_days} days before the data end): "
            "shorten --horizon-days"
        )
    items = _common_items(past, item, product, max_items)
    X = _features(past, item, items, cutoff)
    owned_before = set(past.loc[past[item] == product, "customer_id"])
    if new_buyers_only:
        X = X[~X.index.isin(owned_before)]
    bought = set(future.loc[future[item] == product, "customer_id"])
    y = X.index.isin(bought).astype(int)
    if y.sum() < MIN_BUYERS:
        raise DataError(
            f"only {int(y.sum())} of {len(X):,} customers bought {level} {product!r} in the "
            f"{horizon_days} days after {cutoff:%Y-%m-%d}; at least {MIN_BUYERS} are needed. "
            "Lengthen --horizon-days, model its category (--level category) or pick a more "
            "common product"
        )

    X_fit, X_test, y_fit, y_test = train_test_split(
        X, y, test_size=test_share, stratify=y, random_state=seed
    )
    held = ProductPropensity(product=product).fit(X_fit, y_fit)
    p_test = held.predict_proba(X_test).to_numpy()
    auc = float(roc_auc_score(y_test, p_test))
    top = p_test >= np.quantile(p_test, 0.9)
    lift = float(y_test[top].mean() / y_test.mean())

    model = ProductPropensity(product=product).fit(X, y)
    now = _features(lines, item, items, as_of)
    if new_buyers_only:
        now = now[~now.index.isin(set(lines.loc[lines[item] == product, "customer_id"]))]
    p = model.predict_proba(now[model.feature_names_])
    scores = pd.DataFrame({"customer_id": p.index.astype(str), "propensity": p.to_numpy()})
    scores = scores.sort_values("propensity", ascending=False, kind="stable")
    scores["rank"] = np.arange(1, len(scores) + 1)
    scores["decile"] = np.ceil(scores["rank"] / len(scores) * 10).astype(int)
    scores = scores.reset_index(drop=True)
    summary = {
        "product": product,
        "level": level,
        "horizon_days": horizon_days,
        "cutoff": str(cutoff.date()),
        "as_of": str(as_of.date()),
        "new_buyers_only": new_buyers_only,
        "customers_learnt": len(X),
        "buyers_learnt": int(y.sum()),
        "base_rate": float(y.mean()),
        "holdout_auc": auc,
        "holdout_top_decile_lift": lift,
        "customers_scored": len(scores),
        "expected_buyers": float(scores["propensity"].sum()),
    }
    if write:
        _write(ws, scores.assign(product=product, level=level, horizon_days=horizon_days))
    return PropensityResult(product, level, scores, model.coef_, summary)


def _write(ws: Workspace, scores: pd.DataFrame) -> None:
    """Replace this product's rows of ``marts.product_propensity``; other products keep
    theirs (with their own model version and time)."""
    product, level = scores["product"].iloc[0], scores["level"].iloc[0]
    frame = scores.assign(
        model_version=MODEL_VERSION,
        scored_at=pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
    )
    if ws.has_table("marts.product_propensity"):
        old = ws.read("marts.product_propensity")
        old = old[~((old["product"] == product) & (old["level"] == level))]
        frame = pd.concat([old, frame], ignore_index=True)
    ws.write_table("marts.product_propensity", frame)
