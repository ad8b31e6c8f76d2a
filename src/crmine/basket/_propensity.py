"""Propensity to buy one chosen product (or category), on a workspace, checked out of sample.

The model learns from the past as it would be used: features are what each customer had
bought up to a cut-off (``horizon_days`` before the data end), the label is whether they
bought the chosen product in the horizon after it. A held-out share of those customers gives
an honest AUC and top-decile lift; the model refitted on all of them then scores every
customer on their whole history, for the next ``horizon_days``.

The verdict compares that held-out AUC with 0.5 (a random ordering of customers), with its
Hanley-McNeil interval; a model no better than random writes no target list.
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
from crmine.contract import Verdict, auc_interval, judge, recorded_warnings
from crmine.exceptions import DataError
from crmine.warehouse import Workspace

__all__ = ["MIN_AUC_GAIN", "PropensityResult", "workspace_propensity"]

MODEL_VERSION = "propensity-logit-1"
MIN_BUYERS = 20  # fewer buyers in the horizon cannot give a trustworthy model
#: Held-out AUC must beat 0.5 by this much (beyond its interval) to be "informative".
MIN_AUC_GAIN = 0.10
SCORE_COLUMNS = ("customer_id", "propensity", "rank", "decile")


@dataclass(frozen=True, slots=True)
class PropensityResult:
    """Scores, out-of-sample quality and verdict of a product propensity model.

    ``scores`` (``customer_id``, ``propensity``, ``rank``, ``decile`` with 1 = most likely)
    is the target list: empty when the verdict is ``not_informative``.
    """

    product: str
    level: str
    scores: pd.DataFrame
    coefficients: pd.Series  # standardised, largest effect first
    figures: dict[str, Any] = field(default_factory=dict)
    verdict: Verdict | None = None
    marts: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """JSON-able figures: the window, buyers learnt from, held-out AUC and lift."""
        return dict(self.figures)

    def to_frame(self) -> pd.DataFrame:
        return self.scores.copy()


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
    with recorded_warnings() as caught:
        held = ProductPropensity(product=product).fit(X_fit, y_fit)
        p_test = held.predict_proba(X_test).to_numpy()
        auc = float(roc_auc_score(y_test, p_test))
        top = p_test >= np.quantile(p_test, 0.9)
        lift = float(y_test[top].mean() / y_test.mean())
        verdict = _verdict(auc, int(y_test.sum()), int(len(y_test) - y_test.sum()), level,
                           product, horizon_days)  # fmt: skip

        model = ProductPropensity(product=product).fit(X, y)
        now = _features(lines, item, items, as_of)
        if new_buyers_only:
            now = now[~now.index.isin(set(lines.loc[lines[item] == product, "customer_id"]))]
        p = model.predict_proba(now[model.feature_names_])
    verdict = verdict.with_warnings(caught)
    scores = pd.DataFrame({"customer_id": p.index.astype(str), "propensity": p.to_numpy()})
    scores = scores.sort_values("propensity", ascending=False, kind="stable")
    scores["rank"] = np.arange(1, len(scores) + 1)
    scores["decile"] = np.ceil(scores["rank"] / len(scores) * 10).astype(int)
    scores = scores.reset_index(drop=True)
    expected = float(scores["propensity"].sum())
    if not verdict.actionable:
        scores = scores.iloc[:0]
    summary: dict[str, Any] = {
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
        "expected_buyers": expected if verdict.actionable else None,
        "verdict": verdict.status,
    }
    if not verdict.actionable:
        summary["note"] = ("No target list: the model ranks customers no better than chance. "
                           + verdict.why)
    elif verdict.status == "weak":
        summary["warning"] = verdict.why
    marts: tuple[str, ...] = ()
    if write:
        _write(ws, scores.assign(product=product, level=level, horizon_days=horizon_days),
               product, level)
        marts = ("marts.product_propensity",)
    return PropensityResult(product, level, scores, model.coef_, summary, verdict, marts)


def _verdict(auc: float, n_pos: int, n_neg: int, level: str, product: str,
             horizon_days: int) -> Verdict:
    """Held-out AUC vs 0.5 with its Hanley-McNeil interval."""
    lo, hi = auc_interval(auc, n_pos, n_neg)
    why = (f"On {n_pos + n_neg:,} held-out customers ({n_pos:,} bought {level} {product} in "
           f"the {horizon_days} days), the model ranks a buyer above a non-buyer with "
           f"probability {auc:.3f} (95% interval {lo:.3f} to {hi:.3f}; random: 0.5).")
    verdict = judge("held-out AUC", auc, 0.5, (lo, hi), min_gain=MIN_AUC_GAIN, why=why,
                    what_to_try="Lengthen --horizon-days, model the category (--level "
                                "category) or a more common product: more buyers make the "
                                "model and its check more reliable.")  # fmt: skip
    if verdict.status == "not_informative":
        return Verdict(verdict.status, verdict.metric, verdict.value, verdict.baseline,
                       verdict.interval, f"{why} That is no better than chance, so no "
                       "target list is written.", verdict.what_to_try)  # fmt: skip
    return verdict


def _write(ws: Workspace, scores: pd.DataFrame, product: str, level: str) -> None:
    """Replace this product's rows of ``marts.product_propensity`` (by none when its target
    list is withheld); other products keep theirs (with their own model version and time)."""
    frame = scores.assign(
        model_version=MODEL_VERSION,
        scored_at=pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
    )
    if ws.has_table("marts.product_propensity"):
        old = ws.read("marts.product_propensity")
        old = old[~((old["product"] == product) & (old["level"] == level))]
        parts = [f for f in (old, frame) if len(f)]
        frame = pd.concat(parts, ignore_index=True) if parts else frame
    ws.write_table("marts.product_propensity", frame)
