"""Response and uplift models on a workspace: train on past campaigns, score every customer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from crmine.contract import Verdict, record_verdict, recorded_warnings
from crmine.exceptions import DataError, SchemaError
from crmine.response._evaluate import _uplift_at, response_verdict, uplift_verdict
from crmine.response._model import (
    ProfitCurve,
    ResponseModel,
    expected_profit,
    gains_table,
    target_list,
)
from crmine.response._uplift import (
    QiniResult,
    TwoModelUplift,
    incremental_profit,
    qini_curve,
    uplift_classes,
    uplift_curve,
)
from crmine.warehouse import Workspace
from crmine.warehouse._models import feature_profile, load_model, save_model

__all__ = [
    "MODEL_VERSION",
    "TARGET_COLUMNS",
    "ResponseRun",
    "ResponseRunResult",
    "SavedUplift",
    "customer_features",
    "load_models",
    "run_response",
    "score_frame",
    "workspace_scores",
    "workspace_uplift",
]

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
_ORDER_LINES = "core.fct_order_lines"
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True, slots=True)
class _History:
    """What customer features are computed from, at any date: static attributes, signup
    dates and the order history summed per customer and day."""

    attributes: pd.DataFrame
    signup: pd.Series | None
    days: pd.DataFrame | None  # customer_id, day, spend, orders (completed) and lines_spend
    end: pd.Timestamp  # the last day observed (inclusive)

    def features(self, as_of: pd.Timestamp, *, rfm: bool = True) -> pd.DataFrame:
        """Every customer's features from what happened strictly before ``as_of``."""
        feats = self.attributes.copy()
        if self.signup is not None:
            feats["tenure_days"] = (as_of - self.signup).dt.days.astype(float)
        if rfm and self.days is not None:
            feats = feats.join(_rfm_before(self.days, as_of), how="left")
        return feats


def _rfm_before(days: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Daily RFM (the conventions of ``marts.customer_rfm`` with ``time_unit`` D) of the
    purchases strictly before ``as_of``, observed up to the day before it."""
    d = days[days["day"] < as_of]
    spend = d.groupby("customer_id")["lines_spend"].sum()
    p = d[d["orders"] > 0]
    g = p.groupby("customer_id")
    first, last, n = g["day"].min(), g["day"].max(), g["day"].count()
    first_spend = g["spend"].first()  # days are sorted: the first purchase day's spend
    repeat = (g["spend"].sum() - first_spend) / (n - 1).where(n > 1)
    out = pd.DataFrame({
        "frequency": (n - 1).astype(float),
        "recency": (last - first).dt.days.astype(float),
        "T": ((as_of - _DAY) - first).dt.days.astype(float),
        "monetary_value": repeat.fillna(0.0),
        "orders": g["orders"].sum().astype(float),
    })  # fmt: skip
    return out.join(spend.rename("total_spend"), how="outer")[list(_RFM)]


def _history(ws: Workspace) -> _History:
    cust = ws.read(ws.resolved("core.dim_customer"))
    if "is_current" in cust:
        cust = cust[cust["is_current"].astype(bool)]
    cust = cust.drop_duplicates("customer_id", keep="last")
    cust = cust.assign(customer_id=cust["customer_id"].astype(str)).set_index("customer_id")
    attributes = cust[[c for c in _ATTRIBUTES if c in cust.columns]].copy()
    signup = pd.to_datetime(cust["signup_date"]) if "signup_date" in cust else None
    days = None
    last_seen: list[pd.Timestamp] = []
    if ws.has_table(_ORDER_LINES):
        wanted = ("customer_id", "order_id", "order_ts", "amount", "status", "is_anonymous")
        cols: list[str] = [c for c in wanted if c in ws.columns(_ORDER_LINES)]
        lines = ws.read(ws.resolved(_ORDER_LINES), cols)
        lines = lines[lines["customer_id"].notna() & lines["order_ts"].notna()]
        if "is_anonymous" in lines:
            lines = lines[~lines["is_anonymous"].fillna(False).astype(bool)]
        if len(lines):
            lines = lines.assign(customer_id=lines["customer_id"].astype(str),
                                 day=pd.to_datetime(lines["order_ts"]).dt.normalize(),
                                 amount=pd.to_numeric(lines.get("amount"), errors="coerce")
                                 .fillna(0.0))  # fmt: skip
            done = (lines["status"] == "completed") if "status" in lines else True
            lines = lines.assign(spend=lines["amount"].where(done, 0.0),
                                 order=lines["order_id"].where(done))  # fmt: skip
            days = (lines.groupby(["customer_id", "day"], sort=True)
                    .agg(spend=("spend", "sum"), orders=("order", "nunique"),
                         lines_spend=("amount", "sum"))
                    .reset_index().sort_values(["customer_id", "day"], kind="stable"))  # fmt: skip
            last_seen.append(days["day"].max())
    setting = ws.setting("observation_end", None)
    if setting:
        end = pd.Timestamp(setting).normalize()
    elif last_seen:
        end = max(last_seen)
    else:
        end = pd.Timestamp.now().normalize()
    if attributes.shape[1] == 0 and signup is None and days is None:
        raise SchemaError(
            "core.dim_customer has no usable feature columns (age, gender, income, "
            "signup_date, ...) and there is no core.fct_order_lines: load customer "
            "attributes or orders")
    return _History(attributes, signup, days, end)


def customer_features(ws: Workspace, *, as_of: object = None) -> pd.DataFrame:
    """One row per current customer (indexed by ``customer_id``) of model features:
    demographic attributes, ``tenure_days`` and the daily RFM summary of the order history
    (``core.fct_order_lines``), all from what happened strictly before ``as_of`` (default:
    the day after the data end, i.e. today's features, as the models score customers)."""
    h = _history(ws)
    return h.features(pd.Timestamp(as_of) if as_of is not None else h.end + _DAY)


def _send_dates(ws: Workspace, rows: pd.DataFrame) -> pd.Series:
    """Each campaign's send date: ``start_date`` in ``core.dim_campaign``, else the day of
    its earliest recorded response (NaT when neither is known)."""
    dates = pd.Series(pd.NaT, index=pd.Index(rows["campaign_id"].astype(str).unique()),
                      dtype="datetime64[ns]")  # fmt: skip
    if "response_ts" in rows:
        first = (pd.to_datetime(rows["response_ts"], errors="coerce")
                 .groupby(rows["campaign_id"].astype(str)).min().dt.normalize())  # fmt: skip
        dates = dates.fillna(first.reindex(dates.index))
    if ws.has_table("core.dim_campaign") and "start_date" in ws.columns("core.dim_campaign"):
        camp = ws.read("core.dim_campaign", ["campaign_id", "start_date"])
        start = pd.to_datetime(camp["start_date"], errors="coerce")
        start.index = camp["campaign_id"].astype(str)
        start = start[~start.index.duplicated(keep="last")].reindex(dates.index)
        start = start.dt.normalize()
        # the recorded start, unless responses were recorded before it
        dates = start.where(~(dates < start), dates).fillna(dates)
    return dates


def _training_features(hist: _History, rows: pd.DataFrame, sent: pd.Series
                       ) -> tuple[pd.DataFrame, pd.DataFrame, bool, list[str]]:
    """Each training row's features as of its campaign's send date (what was known when
    the campaign went out: a response that is itself an order must not feed its own
    features), the rows kept, whether the order history is used, and notes."""
    when = sent.reindex(rows["campaign_id"].astype(str)).to_numpy()
    dated = ~pd.isna(when)
    if not dated.any():
        note = ("UserWarning: no campaign send dates (core.dim_campaign.start_date or "
                "core.campaign_assignments.response_ts), so the models use customer "
                "attributes only: the order history as of today includes the responses "
                "themselves; load the campaigns with their start dates")
        today = hist.features(hist.end + _DAY, rfm=False)
        X = today.loc[rows["customer_id"].astype(str)].reset_index(drop=True)
        return X, rows.reset_index(drop=True), False, [note]
    notes = []
    if not dated.all():
        left = sorted(rows.loc[~dated, "campaign_id"].astype(str).unique())
        notes.append(f"UserWarning: {int((~dated).sum()):,} assignments of "
                     f"{len(left):,} campaign(s) without a send date ({', '.join(left[:5])}) "
                     "were left out: set their start_date in core.dim_campaign")
        rows, when = rows[dated], when[dated]
    rows = rows.reset_index(drop=True)
    when = pd.to_datetime(when)
    parts = []
    for day in when.unique():
        at = np.flatnonzero(when == day)
        f = hist.features(pd.Timestamp(day)).loc[rows["customer_id"].iloc[at].astype(str)]
        parts.append(f.set_axis(at))
    X = pd.concat(parts).sort_index()
    return X, rows, hist.days is not None, notes


@dataclass(frozen=True, slots=True)
class ResponseRun:
    """What :func:`run_response` computed on the workspace (also written to ``marts.*``).

    Attributes
    ----------
    scores : DataFrame
        One row per current customer: ``response_score``, ``uplift``, ``p_treated``,
        ``p_control``, ``uplift_class``, ``uplift_rank`` (a score whose verdict is
        ``not_informative`` is left empty: it must not rank anyone).
    targets : DataFrame
        The target list (``marts.response_targets``): by uplift when the campaigns kept
        control groups, else by response score; EMPTY when the verdict is not informative.
    gains : DataFrame
        Held-out gains and lift of the response model.
    qini, uplift : QiniResult or None
        Held-out Qini and uplift curves (None without control groups).
    profit : DataFrame
        Held-out profit by targeting depth.
    metrics : dict
        The held-out figures (``marts.response_metrics``).
    verdict : Verdict
        The verdict of what drives the target list (uplift with control groups, else
        response), the other one in ``verdict.checks``.
    marts : tuple of str
        The tables written.
    """

    scores: pd.DataFrame
    gains: pd.DataFrame
    qini: QiniResult | None
    uplift: QiniResult | None
    profit: pd.DataFrame
    metrics: dict[str, float]
    targets: pd.DataFrame
    verdict: Verdict
    marts: tuple[str, ...] = ()

    @property
    def target_basis(self) -> str:
        return "uplift" if self.qini is not None else "response"

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"customers_scored": len(self.scores), **self.metrics,
                               "target_basis": self.target_basis,
                               "targets": len(self.targets)}  # fmt: skip
        if not self.verdict.actionable:
            out["note"] = (f"no target list: on held-out customers the {self.target_basis} "
                           "model does not beat random targeting")  # fmt: skip
        elif self.verdict.status == "weak":
            out["warning"] = "weak evidence, act with care: " + self.verdict.why
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.scores.copy()


ResponseRunResult = ResponseRun  # the name before the analysis contract


def _training_rows(ws: Workspace, feats: pd.DataFrame) -> pd.DataFrame:
    if not ws.has_table("core.campaign_assignments"):
        raise DataError(
            f"{ws.root}: no core.campaign_assignments; response models learn from "
            "past campaigns: load them with `crmine ingest campaign_assignments FILE`"
        )
    a = ws.read(ws.resolved("core.campaign_assignments"))
    if "responded" not in a or a["responded"].isna().all():
        raise SchemaError(
            "core.campaign_assignments needs a filled 'responded' column to train response "
            "and uplift models; map the response column when loading the assignments"
        )
    a = a.assign(customer_id=a["customer_id"].astype(str))
    a = a[a["customer_id"].isin(feats.index)]
    # DuckDB returns rows in no fixed order and the held-out split is by position: sorted,
    # the same data always gives the same split (and verdict)
    key = [c for c in ("customer_id", "campaign_id") if c in a.columns]
    a = a.sort_values(key, kind="stable").reset_index(drop=True)
    group = (a["group"] if "group" in a else pd.Series("treatment", index=a.index)).fillna(
        "treatment")
    return a.assign(
        treated=(group.astype(str).str.lower() != "control").astype(int),
        responded=a["responded"].fillna(False).astype(bool).astype(int),
    )


# Fewer control rows (or control responders) than this and uplift is not attempted.
_MIN_CONTROL = 30


def _has_control(w: np.ndarray, y: np.ndarray) -> bool:
    control = w == 0
    return bool(control.sum() >= _MIN_CONTROL and y[control].sum() >= 5
                and y[~control].sum() >= 5)  # fmt: skip


def _empty_like(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[0:0].copy()


def run_response(
    ws: Workspace, *, model_version: str = MODEL_VERSION, test_size: float = 0.3,
    random_state: int = 0,
) -> ResponseRun:
    """Train the response and uplift models on past campaigns, judge them, score customers.

    A held-out share of customers (all their campaigns together, so nobody is in both
    parts) measures the gains/lift, Qini and profit curves and the verdicts: the response
    model's held-out AUC against 0.5, and, when the campaigns kept control groups, the uplift
    model's Qini coefficient against 0 (random targeting) with a bootstrap interval over
    customers. The models are then refitted on all rows and every current customer scored.

    Writes ``marts.uplift_scores``, ``marts.response_gains``, ``marts.response_profit``,
    ``marts.uplift_curves`` (empty without control groups), ``marts.response_metrics`` and
    the target list ``marts.response_targets``; adds ``response_score``, ``uplift`` and
    ``uplift_class`` to ``marts.customer_scores``; saves the models in ``models/``. A score
    whose verdict is ``not_informative`` is written empty, and so is the target list when
    the verdict that drives it (uplift with control groups, else response) is.

    Settings: ``uplift_threshold`` (default 0.01) separates persuadables (uplift above it)
    and sleeping dogs (below minus it) from sure things and lost causes;
    ``response_cost_per_contact``, ``response_margin`` and ``gross_margin`` price the
    profit curves (see :func:`_economics`).
    """
    hist = _history(ws)
    feats = hist.features(hist.end + _DAY)  # today's customers, scored with today's features
    rows = _training_rows(ws, feats)
    X, rows, with_orders, notes = _training_features(hist, rows, _send_dates(ws, rows))
    if not with_orders:
        feats = hist.features(hist.end + _DAY, rfm=False)
    w = rows["treated"].to_numpy()
    y = rows["responded"].to_numpy()
    groups = rows["customer_id"].astype(str).to_numpy()
    with_control = _has_control(w, y)
    train, test = next(
        GroupShuffleSplit(1, test_size=test_size, random_state=random_state).split(X, y, groups)
    )
    treated_tr, treated_te = train[w[train] == 1], test[w[test] == 1]
    # A customer appears once per campaign, so small leaves memorise customers rather than
    # learn patterns (and row-wise early stopping cannot see it): leaves of 4% of the rows.
    leaf = max(20, int((w == 1).sum()) // 25)
    cost, margin = _economics(ws, rows)
    with recorded_warnings() as caught:
        resp = ResponseModel(min_samples_leaf=leaf, random_state=random_state).fit(
            X.iloc[treated_tr], y[treated_tr]
        )
        score_te = resp.predict_proba(X.iloc[treated_te])[:, 1]
        gains = gains_table(y[treated_te], score_te)
        profit = expected_profit(score_te, cost_per_contact=cost, margin=margin,
                                 y=y[treated_te])  # fmt: skip
        response_v = response_verdict(y[treated_te], score_te, groups=groups[treated_te],
                                      random_state=random_state)  # fmt: skip
        metrics: dict[str, float] = {
            "holdout_rows": len(test),
            "holdout_auc": float(response_v.value) if response_v.value is not None else np.nan,
            "top_decile_lift": float(gains.loc[0, "lift"]),
            "cost_per_contact": cost,
            "margin_per_response": margin,
            "best_depth": profit.best_depth,
            "profit_per_1000_at_best_depth": 1000 * profit.best_profit / max(len(treated_te), 1),
        }
        qini = ucurve = incremental = None
        uplift_v = None
        if with_control:
            upl = TwoModelUplift(random_state=random_state).fit(X.iloc[train], w[train],
                                                                y[train])  # fmt: skip
            u_te = upl.predict_uplift(X.iloc[test])
            qini = qini_curve(y[test], w[test], u_te)
            ucurve = uplift_curve(y[test], w[test], u_te)
            incremental = incremental_profit(y[test], w[test], u_te, cost_per_contact=cost,
                                             margin=margin)  # fmt: skip
            uplift_v = uplift_verdict(y[test], w[test], u_te, groups=groups[test],
                                      random_state=random_state)  # fmt: skip
            metrics |= {
                "qini_area": float(qini.area),
                "qini_coefficient": float(qini.coefficient),
                "uplift_at_30pct": _uplift_at(y[test], w[test], u_te, 0.3),
                "average_uplift": float(y[test][w[test] == 1].mean()
                                        - y[test][w[test] == 0].mean()),
                # counting only the responses the contact causes (uplift), not every responder
                "incremental_best_depth": incremental.best_depth,
                "incremental_profit_per_1000_at_best_depth": 1000 * incremental.best_profit
                / max(len(test), 1),
            }
        # Final models on every row, then one score per current customer.
        resp = ResponseModel(min_samples_leaf=leaf, random_state=random_state).fit(
            X.iloc[w == 1], y[w == 1]
        )
        upl_final = TwoModelUplift(random_state=random_state).fit(X, w, y) if with_control else None
        response_score = resp.predict_proba(feats)[:, 1]
        if upl_final is not None:
            both = upl_final.predict_response(feats)
    if uplift_v is not None:
        verdict = replace(uplift_v, checks=(response_v,))
    else:
        verdict = replace(response_v, why=response_v.why + " The campaigns kept no control "
                          "group, so uplift (who responds because of the contact) cannot be "
                          "measured; the target list ranks by response.")  # fmt: skip
    verdict = verdict.with_warnings([*notes, *caught])

    # Within +-1 point the campaign barely changes anything: those customers are sure things
    # or lost causes, not persuadables or sleeping dogs.
    threshold = float(ws.setting("uplift_threshold", 0.01))
    ids = feats.index.astype(str)
    scores = pd.DataFrame({"customer_id": ids, "response_score": response_score})
    if upl_final is not None and uplift_v is not None and uplift_v.actionable:
        scores["uplift"] = both["p_treated"].to_numpy() - both["p_control"].to_numpy()
        scores["p_treated"] = both["p_treated"].to_numpy()
        scores["p_control"] = both["p_control"].to_numpy()
        scores["uplift_class"] = uplift_classes(scores["uplift"], scores["p_treated"],
                                                scores["p_control"], threshold=threshold)
        scores["uplift_rank"] = scores["uplift"].rank(ascending=False, method="first")
    else:  # no control group, or an uplift ranking no better than random: not written
        for col in ("uplift", "p_treated", "p_control", "uplift_rank"):
            scores[col] = np.nan
        scores["uplift_class"] = pd.Series(pd.NA, index=scores.index, dtype="string")
    scores["uplift_rank"] = scores["uplift_rank"].astype("Int64")
    if not response_v.actionable:
        scores["response_score"] = np.nan
    scores = scores.sort_values(["uplift_rank", "response_score"], ascending=[True, False],
                                na_position="last", kind="stable").reset_index(drop=True)
    targets = _targets(scores, verdict, incremental, threshold=threshold, cost=cost,
                       margin=margin)  # fmt: skip

    written = ["marts.uplift_scores", "marts.response_gains", "marts.response_profit",
               "marts.response_metrics", "marts.response_targets", "marts.customer_scores"]
    ws.write_mart("uplift_scores", scores, model_version=model_version)
    ws.write_mart("response_gains", gains, model_version=model_version)
    # The two curves come from held-out lists of different sizes (treated customers; both
    # groups): per 1,000 customers of the list they compare.
    profit_curves = [profit.curve.assign(
        basis="all responses (response model)",
        profit_per_1000=1000 * profit.curve["profit"] / profit.curve["contacted"].max())]
    if incremental is not None:
        profit_curves.append(incremental.curve.assign(
            basis="incremental responses (uplift model)",
            profit_per_1000=1000 * incremental.curve["profit"]
            / incremental.curve["contacted"].max()))
    ws.write_mart("response_profit", pd.concat(profit_curves, ignore_index=True),
                  model_version=model_version)  # fmt: skip
    # Written on every run (empty without control groups), so no earlier run's curves stay.
    if qini is not None and ucurve is not None:
        curves = pd.concat([qini.curve.assign(curve="qini"), ucurve.curve.assign(curve="uplift")],
                           ignore_index=True)  # fmt: skip
    else:
        curves = pd.DataFrame({"n": pd.Series(dtype="int64"), "depth": pd.Series(dtype=float),
                               "model": pd.Series(dtype=float),
                               "random": pd.Series(dtype=float),
                               "curve": pd.Series(dtype=str)})  # fmt: skip
    ws.write_mart("uplift_curves", curves, model_version=model_version)
    written.insert(4, "marts.uplift_curves")
    ws.write_mart(
        "response_metrics",
        pd.DataFrame({"metric": list(metrics), "value": [float(v) for v in metrics.values()]}),
        model_version=model_version,
    )
    ws.write_mart("response_targets", targets, model_version=model_version)
    ws.upsert_customer_scores(
        scores[["customer_id", "response_score", "uplift", "uplift_class"]],
        model="response",
        model_version=model_version,
    )
    bundle: dict[str, Any] = {"response": resp, "features": list(feats.columns)}
    if upl_final is not None:
        bundle["uplift"] = upl_final
    headline = ("qini_coefficient", "top_decile_lift", "uplift_at_30pct") if with_control else (
        "holdout_auc", "top_decile_lift", "best_depth")
    save_model(
        bundle,
        ws.models_dir,
        "response",
        kind=f"{upl_final.learner_}-uplift" if upl_final is not None else "boosting",
        metadata={
            "model_version": model_version,
            "features": list(feats.columns),
            # one row per customer, as the drift check's side of today (customer_features)
            "feature_profile": feature_profile(feats.reset_index()),
            # the headline figures first: `crmine models list` shows the first three
            "metrics": {k: metrics[k] for k in headline} | metrics,
            "verdict": verdict.to_dict(),
        },
    )
    record_verdict(ws, "response", verdict)
    return ResponseRun(scores, gains, qini, ucurve, profit.curve, metrics, targets, verdict,
                       tuple(written))  # fmt: skip


TARGET_COLUMNS = ("customer_id", "rank", "basis", "score", "response_score", "uplift",
                  "expected_profit")  # fmt: skip


def _targets(scores: pd.DataFrame, verdict: Verdict, incremental: ProfitCurve | None, *,
             threshold: float, cost: float, margin: float) -> pd.DataFrame:
    """The customers to contact, best first (empty when the verdict is not informative).

    With control groups: by predicted uplift, the persuadables (uplift above ``threshold``)
    within the depth that maximised incremental profit on held-out customers; the expected
    profit counts only the responses the contact causes. Without: by response score, down
    to the depth where the expected margin of a contact stops covering its cost.
    """
    if incremental is not None:
        cand = scores[scores["uplift"].notna()].sort_values("uplift", ascending=False)
        depth = max(1, round(incremental.best_depth * len(scores)))
        cand = cand.head(depth)
        cand = cand[cand["uplift"] > threshold]
        frame = pd.DataFrame({"customer_id": cand["customer_id"], "basis": "uplift",
                              "score": cand["uplift"], "response_score": cand["response_score"],
                              "uplift": cand["uplift"],
                              "expected_profit": margin * cand["uplift"] - cost})  # fmt: skip
    else:
        cand = scores[scores["response_score"].notna()]
        tl = target_list(cand["customer_id"], cand["response_score"], cost_per_contact=cost,
                         margin=margin) if len(cand) else cand  # fmt: skip
        frame = pd.DataFrame({"customer_id": tl["customer_id"], "basis": "response",
                              "score": tl["response_score"],
                              "response_score": tl["response_score"], "uplift": np.nan,
                              "expected_profit": margin * tl["response_score"] - cost})
    frame.insert(1, "rank", np.arange(1, len(frame) + 1))
    frame = frame[list(TARGET_COLUMNS)].reset_index(drop=True)
    frame["uplift"] = frame["uplift"].astype(float)
    return frame if verdict.actionable else _empty_like(frame)


def _economics(ws: Workspace, rows: pd.DataFrame) -> tuple[float, float]:
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
        from crmine.warehouse._sealed import load_object

        obj = load_object(p)  # a file sealed in an encrypted workspace too
    else:
        raise DataError(f"no saved model at {p}; train one first with `crmine response train`")
    if not isinstance(obj, dict) or "response" not in obj:
        raise DataError(f"{p} is not a crmine response model file")
    return obj


def _cut_at_best_depth(result: pd.DataFrame, cost_per_contact: float | None,
                       margin: float | None) -> pd.DataFrame:
    if (cost_per_contact is None) != (margin is None):
        from crmine.exceptions import ConfigError

        raise ConfigError("give both cost_per_contact and margin, or neither")
    if cost_per_contact is None or margin is None:
        return result
    result = result[result["response_score"].notna()]
    if result.empty:
        return result.assign(expected_profit=pd.Series(dtype=float))
    best = expected_profit(result["response_score"].to_numpy(),
                           cost_per_contact=cost_per_contact, margin=margin).best_contacted
    return result.head(best).assign(
        expected_profit=lambda d: margin * d["response_score"] - cost_per_contact)


def score_frame(models: dict[str, Any], frame: pd.DataFrame, *,
                cost_per_contact: float | None = None, margin: float | None = None
                ) -> pd.DataFrame:
    """Response probability (and uplift) per row of ``frame`` with saved ``models``
    (:func:`load_models`), best first; its id columns kept. With ``cost_per_contact`` and
    ``margin``: only the rows worth contacting (the profit-maximising depth), with their
    ``expected_profit``."""
    ids = [c for c in models.get("id_columns") or [] if c in frame.columns]
    result = frame[ids].copy()
    result["response_score"] = models["response"].predict_proba(frame)[:, 1]
    if "uplift" in models:
        result["uplift"] = models["uplift"].predict_uplift(frame)
    result = result.sort_values("response_score", ascending=False)
    return _cut_at_best_depth(result, cost_per_contact, margin)


def workspace_scores(ws: Workspace, *, cost_per_contact: float | None = None,
                     margin: float | None = None) -> pd.DataFrame:
    """The workspace's customer scores (``marts.uplift_scores``), best response first; with
    ``cost_per_contact`` and ``margin`` only those worth contacting. Scores withheld by a
    not-informative verdict are empty (and never worth contacting). Customers who opted out
    are left out, before the depth is chosen (a list to contact or export); how many is in
    ``attrs["consent_excluded"]``."""
    from crmine.warehouse._consent import drop_opted_out

    if not ws.has_table("marts.uplift_scores"):
        raise DataError(f"{ws.root}: no response scores yet; run `crmine response train` first")
    result = ws.read("marts.uplift_scores").sort_values("response_score", ascending=False,
                                                        na_position="last")  # fmt: skip
    result, left_out = drop_opted_out(ws, result)
    cut = _cut_at_best_depth(result.reset_index(drop=True), cost_per_contact, margin)
    cut.attrs["consent_excluded"] = left_out
    return cut


@dataclass(frozen=True, slots=True)
class SavedUplift:
    """The workspace's latest uplift results: held-out figures, persuadables and verdict."""

    metrics: dict[str, float]
    persuadables: pd.DataFrame
    verdict: Verdict | None
    marts: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        return dict(self.metrics)

    def to_frame(self) -> pd.DataFrame:
        return self.persuadables.copy()


def workspace_uplift(ws: Workspace, *, top: int | None = 20) -> SavedUplift:
    """What :func:`run_response` measured and the ``top`` persuadables, from the marts
    (empty when the uplift verdict was not informative or the campaigns kept no control)."""
    from crmine.contract import verdict_of

    if not ws.has_table("marts.response_metrics") or not ws.has_table("marts.uplift_scores"):
        raise DataError(f"{ws.root}: no uplift results yet; run `crmine response train` first")
    m = ws.read("marts.response_metrics").set_index("metric")["value"]
    s = ws.read("marts.uplift_scores")
    pers = s[s["uplift_class"] == "persuadable"].sort_values("uplift", ascending=False)
    return SavedUplift({str(k): float(v) for k, v in m.items()},
                       (pers.head(top) if top else pers).reset_index(drop=True),
                       verdict_of(ws, "response"))  # fmt: skip
