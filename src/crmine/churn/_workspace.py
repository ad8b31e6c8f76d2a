"""Churn on a workspace: labels and features from the core tables, scores back into marts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmine._progress import stage
from crmine.churn._labels import (
    DAYS_PER_MONTH,
    customer_features,
    order_features,
    subscription_features,
    subscription_labels,
    ticket_features,
    transactional_labels,
)
from crmine.churn._model import ChurnModel, Method
from crmine.churn._persist import save_churn_model
from crmine.churn._retention import RetentionList, retention_list
from crmine.churn._survival import KaplanMeierResult, TenureModel, kaplan_meier
from crmine.exceptions import DataError, SchemaError
from crmine.warehouse import Workspace

__all__ = [
    "ChurnDataset", "ChurnRun", "ChurnScores", "build_churn_dataset", "churn_features",
    "data_end", "run_churn", "score_workspace",
]

SUBSCRIPTIONS = "core.fct_subscriptions"
ORDERS = "core.fct_order_lines"
TICKETS = "core.fct_tickets"
CUSTOMERS = "core.dim_customer"


@dataclass(frozen=True, slots=True)
class ChurnDataset:
    """Customers × cut-offs with features from before each cut-off and the label after it.

    Attributes
    ----------
    X : DataFrame
        Features, one row per customer and cut-off (``customer_id`` and ``cutoff`` are kept
        for reference and are not features).
    y : ndarray
        1 = churned within ``window_days`` after the row's cut-off.
    cutoffs : tuple of Timestamp
        The snapshot cut-offs, latest first.
    window_days : int
    source : str
        ``"subscriptions"`` (contract ends) or ``"orders"`` (no purchase in the window).
    notes : tuple of str
    """

    X: pd.DataFrame
    y: np.ndarray
    cutoffs: tuple[pd.Timestamp, ...]
    window_days: int
    source: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        return self.X.assign(churned=self.y)

    def describe(self) -> str:
        what = "subscription ended" if self.source == "subscriptions" else "no purchase"
        return (f"{len(self.y):,} customer snapshots at {len(self.cutoffs)} cut-off(s) "
                f"({self.cutoffs[-1].date()} … {self.cutoffs[0].date()}); churn = {what} "
                f"within {self.window_days} days; churn rate {self.y.mean():.1%}")  # fmt: skip


def _read(ws: Workspace, name: str) -> pd.DataFrame | None:
    if not ws.has_table(name):
        return None
    frame = ws.read(name)
    return frame.drop(columns=[c for c in ("load_id", "source_row", "origin") if c in frame])


def _source(ws: Workspace) -> str:
    if ws.has_table(SUBSCRIPTIONS) and ws.duck.execute(
        f"SELECT count(*) FROM {SUBSCRIPTIONS}"
    ).fetchone()[0]:  # type: ignore[index]
        return "subscriptions"
    if ws.has_table(ORDERS):
        return "orders"
    raise SchemaError(
        f"churn needs {SUBSCRIPTIONS} (contracts with end dates) or {ORDERS} (purchases) in "
        f"{ws.warehouse_path}; load one with `crmine ingest subscriptions FILE` or "
        "`crmine ingest orders FILE`"
    )


def data_end(ws: Workspace) -> pd.Timestamp:
    """The observation end: the ``observation_end`` setting, else the latest date in the data."""
    setting = ws.setting("observation_end")
    if setting:
        return pd.Timestamp(setting)
    dates: list[pd.Timestamp] = []
    if ws.has_table(SUBSCRIPTIONS):
        row = ws.duck.execute(
            f"SELECT max(greatest(start_date, coalesce(end_date, start_date))) FROM {SUBSCRIPTIONS}"
        ).fetchone()
        if row and row[0] is not None:
            dates.append(pd.Timestamp(row[0]))
    if ws.has_table(ORDERS):
        row = ws.duck.execute(f"SELECT max(order_ts) FROM {ORDERS}").fetchone()
        if row and row[0] is not None:
            dates.append(pd.Timestamp(row[0]))
    if not dates:
        raise DataError(
            "no dated subscriptions or orders in the workspace to take the data end from"
        )
    return max(dates).normalize()


@dataclass
class _Tables:
    subscriptions: pd.DataFrame | None
    orders: pd.DataFrame | None
    tickets: pd.DataFrame | None
    customers: pd.DataFrame | None


def _tables(ws: Workspace) -> _Tables:
    orders = None
    if ws.has_table(ORDERS):
        cols: list[str] = [c for c in ("order_id", "customer_id", "order_ts", "amount", "quantity",
                            "unit_cost", "is_return") if c in ws.columns(ORDERS)]  # fmt: skip
        orders = ws.read(ORDERS, cols)
        orders = orders[orders["customer_id"].notna()]
    return _Tables(_read(ws, SUBSCRIPTIONS), orders, _read(ws, TICKETS), _read(ws, CUSTOMERS))


def churn_features(
    tables: _Tables, as_of: pd.Timestamp, customer_ids: pd.Series, *, ticket_days: int = 90
) -> pd.DataFrame:
    """Features of ``customer_ids`` from everything strictly before ``as_of``."""
    X = pd.DataFrame({"customer_id": customer_ids.astype(str).to_numpy()})
    parts: list[tuple[pd.DataFrame, dict[str, float]]] = []
    if tables.subscriptions is not None and len(tables.subscriptions):
        parts.append((subscription_features(tables.subscriptions, cutoff=as_of), {}))
    if tables.tickets is not None and len(tables.tickets):
        parts.append((ticket_features(tables.tickets, cutoff=as_of, lookback_days=ticket_days),
                      {"n_tickets": 0.0, "n_complaints": 0.0}))  # fmt: skip
    if tables.orders is not None and len(tables.orders):
        parts.append((order_features(tables.orders, cutoff=as_of),
                      {"orders_last_year": 0.0, "spend_last_year": 0.0}))  # fmt: skip
    if tables.customers is not None and len(tables.customers):
        parts.append((customer_features(tables.customers, cutoff=as_of), {}))
    for frame, fill in parts:
        X = X.merge(frame, on="customer_id", how="left")
        for col, value in fill.items():
            if col in X.columns:
                X[col] = X[col].fillna(value)
    return X


def build_churn_dataset(
    ws: Workspace,
    *,
    cutoff: object = None,
    window_days: int = 90,
    snapshots: int = 6,
    ticket_days: int = 90,
) -> ChurnDataset:
    """Labelled customer snapshots from the workspace's core tables.

    The latest cut-off is ``cutoff`` (default: data end − ``window_days``, the last date whose
    window is fully observed); ``snapshots`` earlier cut-offs, one window apart, add history
    so that a few thousand customers still give enough churners to learn from. Features of
    every row come strictly from before its own cut-off (:mod:`crmine.churn._labels`).
    """
    tables = _tables(ws)
    source = _source(ws)
    end = data_end(ws)
    last = pd.Timestamp(cutoff) if cutoff is not None else end - pd.Timedelta(days=window_days)
    frames, ys, cuts, notes = [], [], [], []
    for k in range(max(1, snapshots)):
        cut = last - pd.Timedelta(days=window_days * k)
        try:
            if source == "subscriptions":
                assert tables.subscriptions is not None
                labels = subscription_labels(tables.subscriptions, cutoff=cut,
                                             window_days=window_days)  # fmt: skip
            else:
                assert tables.orders is not None
                labels = transactional_labels(tables.orders, cutoff=cut, window_days=window_days)
        except DataError as exc:
            if k == 0:
                raise
            notes.append(f"stopped at {k} cut-off(s): {exc}")
            break
        if len(labels.frame) < 20:
            notes.append(f"cut-off {cut.date()} skipped: only {len(labels.frame)} customers")
            break
        X = churn_features(tables, cut, labels.frame["customer_id"], ticket_days=ticket_days)
        X.insert(1, "cutoff", cut)
        frames.append(X)
        ys.append(labels.frame["churned"].to_numpy())
        cuts.append(cut)
        notes.extend(labels.notes)
    X = pd.concat(frames, ignore_index=True)
    y = np.concatenate(ys)
    return ChurnDataset(X, y, tuple(cuts), int(window_days), source, tuple(notes))


def _active_customers(tables: _Tables, source: str, as_of: pd.Timestamp) -> pd.Series:
    if source == "subscriptions":
        s = tables.subscriptions
        assert s is not None
        start, end = pd.to_datetime(s["start_date"]), pd.to_datetime(s["end_date"])
        active = (start <= as_of) & (end.isna() | (end > as_of))
        return pd.Series(np.sort(s.loc[active, "customer_id"].astype(str).unique()))
    o = tables.orders
    assert o is not None
    ts = pd.to_datetime(o["order_ts"])
    recent = o[(ts <= as_of) & (ts > as_of - pd.Timedelta(days=365))]
    return pd.Series(np.sort(recent["customer_id"].astype(str).unique()))


def _customer_value(ws: Workspace, tables: _Tables, ids: pd.Series,
                    as_of: pd.Timestamp) -> tuple[pd.Series, str]:  # fmt: skip
    """12-month CLV when the CLV step has run, else last year's margin (or charges)."""
    if ws.has_table("marts.customer_scores") and "predicted_clv_12m" in ws.columns(
        "marts.customer_scores"
    ):
        clv = ws.read("marts.customer_scores", ["customer_id", "predicted_clv_12m"])
        value = ids.map(clv.set_index("customer_id")["predicted_clv_12m"])
        if value.notna().any():
            return value.fillna(0.0).astype(float), "predicted_clv_12m"
    if tables.orders is not None and len(tables.orders):
        o = tables.orders
        o = o[(pd.to_datetime(o["order_ts"]) <= as_of)
              & (pd.to_datetime(o["order_ts"]) > as_of - pd.Timedelta(days=365))]  # fmt: skip
        margin = o["amount"].astype(float)
        what = "revenue over the last 12 months"
        if "unit_cost" in o and o["unit_cost"].notna().any():
            margin = margin - (o["unit_cost"].astype(float) * o["quantity"].astype(float)).fillna(0)
            what = "margin over the last 12 months"
        per = margin.groupby(o["customer_id"].astype(str)).sum()
        value = ids.map(per).fillna(0.0)
        if (value > 0).any():
            return value.astype(float), what
    if tables.subscriptions is not None and "monthly_charge" in tables.subscriptions:
        charge = tables.subscriptions.groupby(tables.subscriptions["customer_id"].astype(str))[
            "monthly_charge"].last()  # fmt: skip
        return ids.map(charge * 12).fillna(0.0).astype(float), "12 × monthly charge"
    return pd.Series(1.0, index=ids.index), "none (every customer valued 1)"


@dataclass(frozen=True, slots=True)
class ChurnRun:
    """What :func:`run_churn` did: the model, the scores, the retention list and survival."""

    model: ChurnModel
    dataset: ChurnDataset
    scores: pd.DataFrame
    retention: RetentionList
    kaplan_meier: KaplanMeierResult | None
    hazard_ratios: pd.DataFrame | None
    model_dir: Path
    version: str
    value_source: str
    as_of: pd.Timestamp

    def to_frame(self) -> pd.DataFrame:
        return self.scores.copy()

    def summary(self) -> dict[str, Any]:
        s = self.model.summary()
        return {
            "version": self.version, "source": self.dataset.source,
            "cutoff": str(self.dataset.cutoffs[0].date()),
            "snapshots": len(self.dataset.cutoffs), "window_days": self.dataset.window_days,
            "training_rows": len(self.dataset.y), "churn_rate": float(self.dataset.y.mean()),
            "method": s["method"], "roc_auc": s.get("metrics", {}).get("roc_auc"),
            "top_drivers": s["top_drivers"], "scored_customers": len(self.scores),
            "mean_risk": float(self.scores["churn_risk"].mean()) if len(self.scores) else None,
            "retention_targets": self.retention.best_customers,
            "retention_expected_profit": self.retention.max_profit,
            "value_source": self.value_source, "as_of": str(self.as_of.date()),
        }  # fmt: skip


_Survival = tuple[KaplanMeierResult | None, pd.DataFrame | None, pd.Series | None]


def _survival(tables: _Tables, as_of: pd.Timestamp, X_now: pd.DataFrame) -> _Survival:
    s = tables.subscriptions
    if s is None or len(s) < 30:
        return None, None, None
    start = pd.to_datetime(s["start_date"])
    end = pd.to_datetime(s["end_date"])
    ended = end.notna() & (end <= as_of)
    stop = end.where(ended, as_of)
    keep = start < as_of
    months = ((stop - start).dt.days / DAYS_PER_MONTH).clip(lower=0)[keep]
    events = ended[keep].astype(int)
    groups = s.loc[keep, "contract_type"] if "contract_type" in s else None
    km = kaplan_meier(months.to_numpy(), events.to_numpy(), groups)
    cols = [c for c in ("contract_type", "plan", "monthly_charge", "payment_method") if c in s]
    if not cols or events.sum() < 10:
        return km, None, None
    tm = TenureModel().fit(s.loc[keep, cols].reset_index(drop=True), months.to_numpy(),
                           events.to_numpy())  # fmt: skip
    current = X_now.set_index("customer_id")
    have = [c for c in cols if c in current.columns]
    if len(have) != len(cols):
        return km, tm.hazard_ratios_, None
    tenure = current["tenure_months"].fillna(0).to_numpy()
    remaining = tm.expected_remaining_tenure(current[cols], tenure)
    return km, tm.hazard_ratios_, pd.Series(remaining, index=current.index)


def run_churn(
    ws: Workspace,
    *,
    method: Method = "auto",
    cutoff: object = None,
    window_days: int = 90,
    snapshots: int = 6,
    cv: int = 5,
    offer_cost: float | None = None,
    save_rate: float | None = None,
    random_state: int = 0,
) -> ChurnRun:
    """Fit churn on the workspace, score today's customers and write the results back.

    Writes ``churn_risk``, ``churn_reasons`` and ``expected_tenure_months`` to
    ``marts.customer_scores``; the ranked list to ``marts.retention_list``; drivers, rules,
    tree, comparison, evaluation curves, Kaplan–Meier curves and hazard ratios to
    ``marts.churn_*``; and the model with its metrics under ``models/churn/``.

    Parameters
    ----------
    offer_cost, save_rate : float, optional
        Retention offer assumptions (default: workspace settings ``churn_offer_cost``,
        ``churn_save_rate``, else 20 and 0.3).
    """
    with stage("churn: labelling customers at the cut-offs"):
        data = build_churn_dataset(ws, cutoff=cutoff, window_days=window_days,
                                   snapshots=snapshots)  # fmt: skip
    with stage("churn: fitting and comparing models"):
        model = ChurnModel(method=method, cv=cv, random_state=random_state,
                           exclude=["customer_id", "cutoff"])  # fmt: skip
        model.fit(data.X, data.y, cutoff=data.cutoffs[0], window_days=data.window_days,
                  groups=data.X["customer_id"])
        model.notes_.extend(data.notes)
    folder = save_churn_model(model, ws.models_dir, features=data.X)
    version = folder.name
    scored = score_workspace(ws, model=model, version=version, offer_cost=offer_cost,
                             save_rate=save_rate)  # fmt: skip
    rl = scored.retention
    stamp = {"cutoff": data.cutoffs[0], "window_days": data.window_days}
    ws.write_mart("churn_drivers", model.drivers_.assign(**stamp), model_version=version)
    ws.write_mart("churn_rules", model.rules_.assign(**stamp), model_version=version)
    ws.write_mart("churn_tree", model.tree_nodes_, model_version=version)
    ws.write_mart("churn_profile", model.profile_, model_version=version)
    ws.write_mart("churn_model_comparison", model.comparison_.assign(**stamp),
                  model_version=version)  # fmt: skip
    if model.evaluation_ is not None:
        ev = model.evaluation_
        ws.write_mart("churn_metrics", ev.metrics.assign(**stamp), model_version=version)
        ws.write_mart("churn_roc", ev.roc, model_version=version)
        ws.write_mart("churn_lift", ev.lift, model_version=version)
        ws.write_mart("churn_calibration", ev.calibration, model_version=version)
    return ChurnRun(model, data, scored.scores, rl, scored.kaplan_meier, scored.hazard_ratios,
                    folder, version, scored.value_source, scored.as_of)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChurnScores:
    """Current customers scored by a churn model (:func:`score_workspace`)."""

    scores: pd.DataFrame
    retention: RetentionList
    kaplan_meier: KaplanMeierResult | None
    hazard_ratios: pd.DataFrame | None
    value_source: str
    as_of: pd.Timestamp
    version: str

    def to_frame(self) -> pd.DataFrame:
        return self.scores.copy()


def current_features(ws: Workspace) -> pd.DataFrame:
    """The churn features of the customers active at the data end (what scoring sees)."""
    as_of = data_end(ws)
    tables = _tables(ws)
    active = _active_customers(tables, _source(ws), as_of)
    X_now = churn_features(tables, as_of, active)
    X_now.insert(1, "cutoff", as_of)
    X_now.attrs["as_of"] = as_of
    return X_now


def score_workspace(
    ws: Workspace,
    *,
    model: ChurnModel | None = None,
    version: str | None = None,
    offer_cost: float | None = None,
    save_rate: float | None = None,
) -> ChurnScores:
    """Score the customers active at the data end with a churn model and write the results.

    ``model`` defaults to the latest one saved under ``models/churn/``. Writes
    ``churn_risk``, ``churn_reasons`` and ``expected_tenure_months`` to
    ``marts.customer_scores``, the ranked list to ``marts.retention_list`` (value: 12-month
    CLV when present, else last year's margin), its profit curve and the risk × value
    matrix, and the Kaplan–Meier curves and Cox hazard ratios.
    """
    from crmine.churn._persist import load_churn_model

    if model is None:
        model, meta = load_churn_model(ws.models_dir, version=version)
        version = str(meta["version"])
    version = version or "unsaved"
    X_now = current_features(ws)
    as_of = X_now.attrs["as_of"]
    tables = _tables(ws)
    with stage("churn: scoring and explaining current customers"):
        explained = model.explain(X_now) if len(X_now) else pd.DataFrame(
            columns=["churn_risk", "churn_reasons"])  # fmt: skip
    scores = pd.DataFrame({"customer_id": X_now["customer_id"].to_numpy(),
                           "churn_risk": explained["churn_risk"].to_numpy(dtype=float),
                           "churn_reasons": explained["churn_reasons"].to_numpy()})  # fmt: skip
    km, hazard, remaining = _survival(tables, as_of, X_now)
    if remaining is not None:
        scores["expected_tenure_months"] = scores["customer_id"].map(remaining).to_numpy()
    ws.upsert_customer_scores(scores, model="churn", model_version=version)

    value, value_source = _customer_value(ws, tables, scores["customer_id"], as_of)
    cost = float(offer_cost if offer_cost is not None else ws.setting("churn_offer_cost", 20.0))
    rate = float(save_rate if save_rate is not None else ws.setting("churn_save_rate", 0.3))
    rl = retention_list(scores.assign(value=value.to_numpy()), offer_cost=cost, save_rate=rate)
    stamp = {"as_of": as_of, "value_source": value_source}
    ws.write_mart("retention_list", rl.customers.assign(**stamp), model_version=version)
    ws.write_mart("churn_profit_curve", rl.profit_curve.assign(
        offer_cost=cost, save_rate=rate, best_threshold=rl.best_threshold,
        best_customers=rl.best_customers, max_profit=rl.max_profit), model_version=version)
    ws.write_mart("churn_risk_value", rl.matrix, model_version=version)
    if km is not None:
        ws.write_mart("churn_km", km.curves, model_version=version)
    if hazard is not None:
        ws.write_mart("churn_hazard_ratios", hazard, model_version=version)
    return ChurnScores(scores, rl, km, hazard, value_source, as_of, version)
