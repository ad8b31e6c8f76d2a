"""Churn on a workspace: labels and features from the core tables, scores back into marts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmine._progress import stage
from crmine.churn._evaluate import evaluate_churn
from crmine.churn._labels import (
    DAYS_PER_MONTH,
    REPEAT_DAYS,
    SLA_HOURS,
    TICKET_COUNT_FEATURES,
    behaviour_aggregates,
    customer_features,
    order_features,
    subscription_features,
    subscription_labels,
    ticket_features,
    transactional_labels,
)
from crmine.churn._leaks import drop_leaky_attributes
from crmine.churn._model import ChurnModel, Method
from crmine.churn._persist import save_churn_model
from crmine.churn._retention import RetentionList, retention_list
from crmine.churn._survival import KaplanMeierResult, TenureModel, kaplan_meier
from crmine.contract import Verdict, record_verdict, recorded_warnings
from crmine.exceptions import DataError, SchemaError
from crmine.warehouse import Workspace

__all__ = [
    "NO_LIST", "UNJUDGED", "ChurnDataset", "ChurnRun", "ChurnScores", "build_churn_dataset",
    "churn_features",
    "churn_window", "current_features", "data_end", "purchase_cycle", "run_churn",
    "score_workspace", "unjudged_verdict",
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
    window_source : str
        Where the window comes from (``"purchase cycle p90 = 212 days"``, ``"setting
        churn_window_days"``...).
    """

    X: pd.DataFrame
    y: np.ndarray
    cutoffs: tuple[pd.Timestamp, ...]
    window_days: int
    source: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    window_source: str = "given"

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
    frame = ws.read(ws.resolved(name))  # one customer per person once identities are resolved
    bookkeeping = ("load_id", "source_row", "origin", "source_customer_id")
    return frame.drop(columns=[c for c in bookkeeping if c in frame])


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
    # the service analysis's repeat window and SLA, so churn counts what it tests
    ticket_settings: dict[str, float] = field(default_factory=dict)


def _tables(ws: Workspace) -> _Tables:
    orders = None
    if ws.has_table(ORDERS):
        cols: list[str] = [c for c in ("order_id", "customer_id", "order_ts", "amount", "quantity",
                            "unit_cost", "is_return") if c in ws.columns(ORDERS)]  # fmt: skip
        orders = ws.read(ws.resolved(ORDERS), cols)
        orders = orders[orders["customer_id"].notna()]
    service = {"repeat_days": float(ws.setting("service.repeat_days", REPEAT_DAYS)),
               "sla_hours": float(ws.setting("service.sla_hours", SLA_HOURS))}
    return _Tables(_read(ws, SUBSCRIPTIONS), orders, _read(ws, TICKETS), _read(ws, CUSTOMERS),
                   service)


@dataclass(frozen=True)
class Population:
    """What churn's features depend on beyond the rows of the customers featured: which tables
    hold rows at all, which customer columns are aggregates of behaviour, and whether anyone
    bought in the last year (then a customer without a purchase has ``return_share`` NaN).
    Given, a few customers' rows give the features the whole tables would (the API's
    one-customer scoring); absent, it is read from ``tables``."""

    holds_rows: dict[str, bool]
    aggregates: list[str]
    return_share: bool = False


def churn_features(
    tables: _Tables, as_of: pd.Timestamp, customer_ids: pd.Series, *, ticket_days: int = 90,
    population: Population | None = None,
) -> pd.DataFrame:
    """Features of ``customer_ids`` from everything strictly before ``as_of``."""
    def holds(name: str, frame: pd.DataFrame) -> bool:
        return population.holds_rows[name] if population is not None else len(frame) > 0

    X = pd.DataFrame({"customer_id": customer_ids.astype(str).to_numpy()})
    parts: list[tuple[pd.DataFrame, dict[str, float]]] = []
    if tables.subscriptions is not None and holds(SUBSCRIPTIONS, tables.subscriptions):
        parts.append((subscription_features(tables.subscriptions, cutoff=as_of), {}))
    if tables.tickets is not None and holds(TICKETS, tables.tickets):
        parts.append((ticket_features(tables.tickets, cutoff=as_of, lookback_days=ticket_days,
                                      **tables.ticket_settings),
                      dict.fromkeys(TICKET_COUNT_FEATURES, 0.0)))  # fmt: skip
    if tables.orders is not None and holds(ORDERS, tables.orders):
        frame = order_features(tables.orders, cutoff=as_of)
        if population is not None and population.return_share and \
                "return_share" not in frame.columns:
            frame = frame.assign(return_share=float("nan"))  # as for anyone without a purchase
        parts.append((frame, {"orders_last_year": 0.0, "spend_last_year": 0.0}))
    if tables.customers is not None and holds(CUSTOMERS, tables.customers):
        aggregates = (population.aggregates if population is not None
                      else behaviour_aggregates(tables.customers))
        parts.append((customer_features(tables.customers.drop(columns=aggregates),
                                        cutoff=as_of), {}))  # fmt: skip
    for frame, fill in parts:
        X = X.merge(frame, on="customer_id", how="left")
        for col, value in fill.items():
            if col in X.columns:
                X[col] = X[col].fillna(value)
    return X


# Bounds of an adaptive window: shorter than a month labels a pause as churn; longer than two
# years leaves too little history for a cut-off.
WINDOW_BOUNDS = (30, 730)
SUBSCRIPTION_WINDOW = 90


def _round_days(days: float) -> int:
    """Up to whole weeks below nine weeks, whole months (30 days) below a year, else quarters."""
    unit = 7 if days < 63 else 30 if days < 365 else 90
    return int(np.ceil(days / unit) * unit)


def purchase_cycle(orders: pd.DataFrame, *, percentile: float = 90.0) -> tuple[float, int]:
    """The ``percentile`` of the gaps between a customer's purchase days, each customer
    weighing the same (frequent buyers would otherwise set the cycle alone), and the number
    of gaps (NaN with fewer than 20 repeat purchases).

    Examples
    --------
    >>> o = pd.DataFrame({"customer_id": ["a"] * 3 + ["b"] * 2,
    ...                   "order_ts": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-31",
    ...                                               "2024-01-01", "2024-03-01"])})
    >>> purchase_cycle(o, percentile=50)
    (nan, 3)
    """
    days = pd.DataFrame({
        "c": orders["customer_id"].astype(str).to_numpy(),
        "d": pd.to_datetime(orders["order_ts"]).dt.normalize().to_numpy(),
    }).drop_duplicates().sort_values(["c", "d"])  # fmt: skip
    days["gap"] = days.groupby("c")["d"].diff().dt.days
    gaps = days.dropna(subset=["gap"])
    if len(gaps) < 20:
        return float("nan"), len(gaps)
    weight = 1.0 / gaps.groupby("c")["gap"].transform("size").to_numpy()
    order = np.argsort(gaps["gap"].to_numpy(), kind="stable")
    cum = np.cumsum(weight[order]) / weight.sum()
    at = int(np.searchsorted(cum, percentile / 100.0))
    return float(gaps["gap"].to_numpy()[order][min(at, len(order) - 1)]), len(gaps)


def churn_window(ws: Workspace, window_days: int | None = None, *,
                 orders: pd.DataFrame | None = None) -> tuple[int, str]:  # fmt: skip
    """The churn window in days and where it comes from.

    ``window_days`` when given, else the setting ``churn_window_days``, else: for purchases,
    the business's own purchase cycle (the 90th percentile of the gaps between a customer's
    purchases, rounded and bounded to 30..730 days), so that "no purchase in the window"
    means a customer has gone rather than is between two purchases; for contracts, 90 days
    (churn there is an observed contract end, whatever the purchase rhythm: the window only
    sets the prediction horizon).
    """
    if window_days is not None:
        return _valid_window(window_days, "window_days"), "given"
    setting = ws.setting("churn_window_days")
    if setting is not None:
        return _valid_window(setting, "setting churn_window_days"), "setting churn_window_days"
    if _source(ws) == "subscriptions":
        return SUBSCRIPTION_WINDOW, "default for contracts (churn = an observed contract end)"
    if orders is None:
        orders = ws.read(ws.resolved(ORDERS), ["customer_id", "order_ts"])
    p90, n_gaps = purchase_cycle(orders[["customer_id", "order_ts"]].dropna())
    if not np.isfinite(p90):
        return SUBSCRIPTION_WINDOW, (f"default 90 days (only {n_gaps} repeat purchases to "
                                     "measure a purchase cycle)")  # fmt: skip
    days = min(max(_round_days(p90), WINDOW_BOUNDS[0]), WINDOW_BOUNDS[1])
    return days, f"purchase cycle p90 = {p90:,.0f} days"


def _valid_window(value: object, what: str) -> int:
    from crmine.exceptions import ConfigError

    try:
        days = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a whole number of days, got {value!r}") from None
    if not 1 <= days <= 3_650:
        raise ConfigError(f"{what} must be between 1 and 3,650 days, got {days:,}")
    return days


def _snapshots_fit(tables: _Tables, source: str, last: pd.Timestamp, window: int,
                   wanted: int) -> tuple[int, str | None]:  # fmt: skip
    """How many cut-offs, one window apart, leave some history before the earliest one."""
    if source == "subscriptions":
        assert tables.subscriptions is not None
        first = pd.to_datetime(tables.subscriptions["start_date"]).min()
    else:
        assert tables.orders is not None
        first = pd.to_datetime(tables.orders["order_ts"]).min()
    history = min(365, window)
    room = int(((last - first).days - history) // window) + 1
    n = max(1, min(wanted, room))
    if n < wanted:
        return n, (f"{n} cut-off(s) of the {wanted} asked: the data span "
                   f"{first.date()} … {(last + pd.Timedelta(days=window)).date()} holds "
                   f"{n} window(s) of {window} days after {history} days of history")
    return n, None


def build_churn_dataset(
    ws: Workspace,
    *,
    cutoff: object = None,
    window_days: int | None = None,
    snapshots: int = 6,
    ticket_days: int = 90,
    tables: _Tables | None = None,
) -> ChurnDataset:
    """Labelled customer snapshots from the workspace's core tables.

    The window is ``window_days``, else chosen by :func:`churn_window` (the setting, the
    purchase cycle, or 90 days for contracts). The latest cut-off is ``cutoff`` (default:
    data end − window, the last date whose window is fully observed); up to ``snapshots``
    cut-offs one window apart (as many as the data span holds) add history so that a few
    thousand customers still give enough churners to learn from, and give an out-of-time
    test. Features of every row come strictly from before its own cut-off
    (:mod:`crmine.churn._labels`).
    """
    tables = tables if tables is not None else _tables(ws)
    window, window_source = churn_window(ws, window_days, orders=tables.orders)
    source = _source(ws)
    end = data_end(ws)
    last = pd.Timestamp(cutoff) if cutoff is not None else end - pd.Timedelta(days=window)
    n_snap, why = _snapshots_fit(tables, source, last, window, max(1, snapshots))
    frames, ys, cuts = [], [], []
    notes = [why] if why else []
    if tables.customers is not None and (aggregates := behaviour_aggregates(tables.customers)):
        notes.append(
            f"dropped customer attribute(s) {', '.join(aggregates)}: they look like totals of "
            "the behaviour churn is predicted from and, without SCD2 history (valid_from/"
            "valid_to) in core.dim_customer, are as of today, so they include the churn window "
            "after every cut-off"
        )
    for k in range(n_snap):
        cut = last - pd.Timedelta(days=window * k)
        try:
            if source == "subscriptions":
                assert tables.subscriptions is not None
                labels = subscription_labels(tables.subscriptions, cutoff=cut,
                                             window_days=window)  # fmt: skip
            else:
                assert tables.orders is not None
                labels = transactional_labels(tables.orders, cutoff=cut, window_days=window,
                                              active_days=max(365, window))  # fmt: skip
        except DataError as exc:
            if k == 0:
                raise
            notes.append(f"stopped at {k} cut-off(s): {exc}")
            break
        if len(labels.frame) < 20:
            if k == 0:
                raise DataError(
                    f"only {len(labels.frame)} customers are at risk on the cut-off "
                    f"{cut.date()} (window {window} days); a churn model needs more: load more "
                    "history or shorten the window (setting churn_window_days)"
                )
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
    if tables.customers is not None and not _has_history(tables.customers):
        # names catch totals and last-order dates; the data catch the rest (see _leaks)
        attributes = [c for c in tables.customers.columns if c != "customer_id"]
        orders = tables.orders if source != "subscriptions" else None
        X, leak_notes = drop_leaky_attributes(X, y, attributes, orders, cuts[0], window)
        notes.extend(leak_notes)
    return ChurnDataset(X, y, tuple(cuts), int(window), source, tuple(notes), window_source)


def _has_history(customers: pd.DataFrame) -> bool:
    """Whether core.dim_customer keeps SCD2 versions (then attributes are as of each cut-off)."""
    return "valid_from" in customers.columns and bool(customers["customer_id"].duplicated().any())


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


NO_LIST = "no retention list: the model does no better than chance"
UNJUDGED = ("this churn model was saved without a held-out verdict (an older model), so "
            "whether its ranking beats chance is unknown and no retention list is written")
_EVALUATION_MARTS = ("churn_metrics", "churn_roc", "churn_lift", "churn_calibration")


def unjudged_verdict() -> Verdict:
    """The verdict of a model saved without one: unjudged, so withheld."""
    return Verdict("not_informative", "held-out ROC AUC", None, 0.5, None, UNJUDGED,
                   "refit with `crmine churn train` (it judges the model on held-out "
                   "customers)")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChurnRun:
    """What :func:`run_churn` did: the model, the scores, the retention list, survival, and
    the verdict on held-out customers (``verdict``) with the marts written (``marts``)."""

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
    verdict: Verdict
    marts: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return self.scores.copy()

    def summary(self) -> dict[str, Any]:
        s = self.model.summary()
        ev = self.model.evaluation_
        out: dict[str, Any] = {
            "version": self.version, "source": self.dataset.source,
            "cutoff": str(self.dataset.cutoffs[0].date()),
            "snapshots": len(self.dataset.cutoffs), "window_days": self.dataset.window_days,
            "window_source": self.dataset.window_source,
            "training_rows": len(self.dataset.y), "churn_rate": float(self.dataset.y.mean()),
            "method": s["method"], "roc_auc": s.get("metrics", {}).get("roc_auc"),
            "top_decile_lift": None if ev is None else ev.metric("lift_top_decile"),
            "evaluated_on": self.model.evaluated_on_,
            "status": self.verdict.status,
            "top_drivers": s["top_drivers"], "scored_customers": len(self.scores),
            "value_source": self.value_source, "as_of": str(self.as_of.date()),
            "verdict": self.verdict.to_dict(),
        }  # fmt: skip
        if self.verdict.actionable:
            out["mean_risk"] = (float(self.scores["churn_risk"].mean()) if len(self.scores)
                                else None)  # fmt: skip
            out["retention_targets"] = self.retention.best_customers
            out["retention_expected_profit"] = self.retention.max_profit
            if self.verdict.status == "weak":
                out["warning"] = f"weak churn model: {self.verdict.why}"
        else:
            out["mean_risk"] = None
            out["retention_targets"] = 0
            out["retention_expected_profit"] = None
            out["retention"] = NO_LIST
        return out


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


MIN_TEST_CHURNERS = 100  # below this a held-out AUC is too uncertain to judge on
# Each cut-off's customers are tested in this many parts, each part's model fitted on the
# earlier rows of the other customers (two thirds of them with three parts).
HOLDOUT_PARTS = 3


def _holdout(data: ChurnDataset, random_state: int
             ) -> tuple[list[tuple[np.ndarray, np.ndarray]] | None, str]:  # fmt: skip
    """Out-of-time splits: the customers of the latest cut-off, in ``HOLDOUT_PARTS`` random
    parts, each tested by a model fitted on the earlier cut-offs' rows of the other
    customers; earlier
    cut-offs are added the same way (forward chaining) until the tests hold
    ``MIN_TEST_CHURNERS`` churners, keeping at least one cut-off to fit on. None with one
    cut-off (the verdict then rests on grouped cross-validation)."""
    if len(data.cutoffs) < 2:
        return None, ""
    customer = data.X["customer_id"].astype(str).to_numpy()
    cutoff = data.X["cutoff"].to_numpy()
    rng = np.random.default_rng(random_state)
    splits: list[tuple[np.ndarray, np.ndarray]] = []
    used, churners = [], 0
    for cut in data.cutoffs[: max(1, len(data.cutoffs) // 2)]:
        at = cutoff == np.datetime64(cut)
        ids = rng.permutation(np.unique(customer[at]))
        part = pd.Series(np.arange(len(ids)) % HOLDOUT_PARTS, index=ids)
        which_part = pd.Series(customer).map(part).to_numpy()
        earlier = cutoff < np.datetime64(cut)
        splits += [(earlier, at & (which_part == k)) for k in range(HOLDOUT_PARTS)]
        used.append(cut)
        churners += int(data.y[at].sum())
        if churners >= MIN_TEST_CHURNERS:
            break
    tested = sum(int(t.sum()) for _, t in splits)
    which = (f"the latest cut-off {used[0].date()}" if len(used) == 1 else
             f"the {len(used)} latest cut-offs ({used[-1].date()} … {used[0].date()})")
    name = (f"out-of-time holdout: {tested:,} customer snapshots at {which}, each scored by "
            "a model fitted on earlier cut-offs without that customer")  # fmt: skip
    return splits, name


def run_churn(
    ws: Workspace,
    *,
    method: Method = "auto",
    cutoff: object = None,
    window_days: int | None = None,
    snapshots: int = 6,
    cv: int = 5,
    offer_cost: float | None = None,
    save_rate: float | None = None,
    random_state: int = 0,
) -> ChurnRun:
    """Fit churn on the workspace, judge it on held-out customers, score today's customers
    and write the results back.

    Writes ``churn_risk``, ``churn_reasons`` and ``expected_tenure_months`` to
    ``marts.customer_scores``; the ranked list to ``marts.retention_list``; drivers, rules,
    tree, comparison, evaluation curves, Kaplan–Meier curves and hazard ratios to
    ``marts.churn_*``; the model with its metrics under ``models/churn/``; and the verdict
    to ``marts.analysis_verdicts``. With two cut-offs or more the verdict is out of time
    (fitted on the earlier cut-offs, tested on customers of the latest one whose rows were
    never fitted on); with one, on grouped cross-validation. A ``not_informative`` model
    writes the retention list, its profit curve and the risk × value matrix empty, and no
    churn risk per customer.

    Parameters
    ----------
    window_days : int, optional
        Churn window; default :func:`churn_window` (setting ``churn_window_days``, else the
        purchase cycle for orders, 90 days for contracts).
    offer_cost, save_rate : float, optional
        Retention offer assumptions (default: workspace settings ``churn_offer_cost``,
        ``churn_save_rate``, else 20 and 0.3).
    """
    tables = _tables(ws)
    with stage("churn: labelling customers at the cut-offs"), \
            recorded_warnings() as caught_labelling:  # leaky attributes dropped, for the verdict
        data = build_churn_dataset(ws, cutoff=cutoff, window_days=window_days,
                                   snapshots=snapshots, tables=tables)  # fmt: skip
    holdout, holdout_name = _holdout(data, random_state)
    with stage("churn: fitting, comparing and judging models"), recorded_warnings() as caught:
        model = ChurnModel(method=method, cv=cv, random_state=random_state,
                           exclude=["customer_id", "cutoff"])  # fmt: skip
        model.fit(data.X, data.y, cutoff=data.cutoffs[0], window_days=data.window_days,
                  groups=data.X["customer_id"], holdout=holdout,
                  holdout_name=holdout_name)  # fmt: skip
    model.notes_.extend(data.notes)
    verdict = model.verdict_
    if verdict is None:  # cv=0 with a single cut-off: nothing held out to judge on
        verdict = Verdict("not_informative", "held-out ROC AUC", None, 0.5, None,
                          "no held-out evaluation (cross-validation off and a single "
                          "cut-off)", "use cv ≥ 2 or a longer history for several cut-offs")
    model.verdict_ = verdict.with_warnings([*caught_labelling, *caught])
    folder = save_churn_model(model, ws.models_dir, features=data.X)
    version = folder.name
    scored = score_workspace(ws, model=model, version=version, offer_cost=offer_cost,
                             save_rate=save_rate, tables=tables)  # fmt: skip
    verdict = model.verdict_
    written = list(scored.marts)
    stamp = {"cutoff": data.cutoffs[0], "window_days": data.window_days}
    marts: list[tuple[str, pd.DataFrame]] = [
        ("churn_drivers", model.drivers_.assign(**stamp)),
        ("churn_rules", model.rules_.assign(**stamp)),
        ("churn_tree", model.tree_nodes_),
        ("churn_profile", model.profile_),
        ("churn_model_comparison", model.comparison_.assign(
            **stamp, window_source=data.window_source, evaluated_on=model.evaluated_on_)),
    ]  # fmt: skip
    # Written on every run, empty without a held-out evaluation: an earlier run's curves
    # must not stand in for this model's.
    ev = model.evaluation_
    empty = ev is None
    if ev is None:
        ev = evaluate_churn([0, 1], [0.0, 1.0])
    marts += [("churn_metrics", ev.metrics.assign(**stamp)), ("churn_roc", ev.roc),
              ("churn_lift", ev.lift), ("churn_calibration", ev.calibration)]  # fmt: skip
    if empty:
        marts = [(n, f.iloc[0:0]) if n in _EVALUATION_MARTS else (n, f) for n, f in marts]
    for name, frame in marts:
        ws.write_mart(name, frame, model_version=version)
        written.append(f"marts.{name}")
    record_verdict(ws, "churn", verdict)
    return ChurnRun(model, data, scored.scores, scored.retention, scored.kaplan_meier,
                    scored.hazard_ratios, folder, version, scored.value_source, scored.as_of,
                    verdict, tuple(dict.fromkeys(written)))  # fmt: skip


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
    verdict: Verdict | None = None
    marts: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return self.scores.copy()


def current_features(ws: Workspace, *, tables: _Tables | None = None) -> pd.DataFrame:
    """The churn features of the customers active at the data end (what scoring sees)."""
    as_of = data_end(ws)
    tables = tables if tables is not None else _tables(ws)
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
    tables: _Tables | None = None,
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
    tables = tables if tables is not None else _tables(ws)
    X_now = current_features(ws, tables=tables)
    as_of = X_now.attrs["as_of"]
    with stage("churn: scoring and explaining current customers"):
        explained = model.explain(X_now) if len(X_now) else pd.DataFrame(
            columns=["churn_risk", "churn_reasons"])  # fmt: skip
    verdict: Verdict | None = getattr(model, "verdict_", None)
    if verdict is None:  # saved before verdicts: unjudged, so nothing to act on
        verdict = unjudged_verdict()
    act = verdict.actionable
    scores = pd.DataFrame({"customer_id": X_now["customer_id"].to_numpy(),
                           "churn_risk": explained["churn_risk"].to_numpy(dtype=float),
                           "churn_reasons": explained["churn_reasons"].to_numpy()})  # fmt: skip
    km, hazard, remaining = _survival(tables, as_of, X_now)
    if remaining is not None:
        scores["expected_tenure_months"] = scores["customer_id"].map(remaining).to_numpy()
    written = ["marts.customer_scores"]
    # Not informative: no risk to rank customers by (NULL clears an earlier run's).
    upsert = scores if act else scores.assign(churn_risk=np.nan, churn_reasons=None)
    ws.upsert_customer_scores(upsert, model="churn", model_version=version)

    value, value_source = _customer_value(ws, tables, scores["customer_id"], as_of)
    cost = float(offer_cost if offer_cost is not None else ws.setting("churn_offer_cost", 20.0))
    rate = float(save_rate if save_rate is not None else ws.setting("churn_save_rate", 0.3))
    rl = retention_list(scores.assign(value=value.to_numpy()), offer_cost=cost, save_rate=rate)
    stamp = {"as_of": as_of, "value_source": value_source}
    lists = {
        "retention_list": rl.customers.assign(**stamp),
        "churn_profit_curve": rl.profit_curve.assign(
            offer_cost=cost, save_rate=rate, best_threshold=rl.best_threshold,
            best_customers=rl.best_customers, max_profit=rl.max_profit),
        "churn_risk_value": rl.matrix,
    }  # fmt: skip
    for name, frame in lists.items():
        # Empty, with the columns, when the model does no better than chance: a stale list
        # from an earlier run must disappear too.
        ws.write_mart(name, frame if act else frame.iloc[0:0], model_version=version)
        written.append(f"marts.{name}")
    if not act:
        rl = retention_list(scores.iloc[0:0].assign(value=0.0), offer_cost=cost, save_rate=rate)
    if km is not None:
        ws.write_mart("churn_km", km.curves, model_version=version)
        written.append("marts.churn_km")
    if hazard is not None:
        ws.write_mart("churn_hazard_ratios", hazard, model_version=version)
        written.append("marts.churn_hazard_ratios")
    return ChurnScores(upsert, rl, km, hazard, value_source, as_of, version, verdict,
                       tuple(written))
