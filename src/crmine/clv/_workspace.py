"""CLV on a workspace: choose a model on a holdout, judge it, score customers, write the marts.

Reads ``marts.customer_rfm`` (or, when it is missing, summarises ``core.fct_order_lines``
itself). On a calibration/holdout split every candidate transaction model is refitted on the
calibration period and compared with the naive rate (each customer's past rate times the
holdout length, see :mod:`crmine.clv._judge`); the winner is refitted on the whole history with
the Gamma-Gamma spend model, and :func:`run_clv` writes:

- ``marts.customer_scores``: ``p_alive``, ``expected_purchases_90d``, ``predicted_clv_12m``,
  ``clv_tier`` (model ``clv``), with model version and scored-at time. When the verdict is
  ``not_informative`` these columns are written as NULL for every customer: a forecast that does
  no better than the naive rate is not presented as a finding, and readers of the scores (the
  churn step values its retention list with ``predicted_clv_12m`` when present) fall back to
  their own value (last year's margin);
- ``marts.clv_params``: estimates, standard errors and confidence bounds of both models;
- ``marts.clv_model_selection``: every candidate and the naive rate on the holdout;
- ``marts.clv_holdout_tracking``, ``marts.clv_conditional_expectations``,
  ``marts.clv_holdout_metrics``, ``marts.clv_frequency_histogram``: the calibration/holdout
  evaluation of the chosen model;
- ``marts.clv_sensitivity`` and ``marts.clv_break_even``: the what-if views;
- ``marts.clv_segment_params``: one model per segment, when the segmentation step ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmine._progress import check_cancelled
from crmine.clv._base import TransactionModel
from crmine.clv._bgnbd import BetaGeoModel, ModifiedBetaGeoModel
from crmine.clv._evaluate import cumulative_tracking, frequency_histogram, holdout_evaluation
from crmine.clv._gammagamma import GammaGammaModel
from crmine.clv._judge import (
    Candidate,
    ClvJudgement,
    choose_and_judge,
    fit_diagnostics,
    naive_rate_forecast,
    not_enough_history,
)
from crmine.clv._paretonbd import ParetoNBDModel
from crmine.clv._summary import calibration_holdout_split, rfm_from_mart, rfm_summary
from crmine.clv._value import ClvResult, break_even, clv_sensitivity, customer_lifetime_value
from crmine.contract import Verdict, record_verdict, recorded_warnings
from crmine.exceptions import ConfigError, DataError
from crmine.warehouse import Workspace
from crmine.warehouse._models import feature_profile, save_model

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = [
    "MODELS",
    "ClvFit",
    "ClvRun",
    "fit_by_group",
    "fit_clv_models",
    "load_purchases",
    "run_clv",
]

MODELS: dict[str, type[TransactionModel]] = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
    "paretonbd": ParetoNBDModel,
}
# Pareto/NBD's likelihood is the costly one: compared only up to this many calibration customers
PARETO_AFFORDABLE = 100_000
SCORE_COLUMNS = ("p_alive", "expected_purchases_90d", "predicted_clv_12m", "clv_tier")
# length of one time unit of the RFM mart in days
_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
# a holdout needs this much activity to judge anything
_MIN_HOLDOUT_CUSTOMERS = 50
_MIN_HOLDOUT_PURCHASES = 20


@dataclass(frozen=True, slots=True)
class ClvRun:
    """What :func:`run_clv` did.

    Attributes
    ----------
    scores : DataFrame
        Per customer: ``customer_id, p_alive, expected_purchases_90d, predicted_clv_12m,
        clv_tier`` (NULL when the verdict is ``not_informative``).
    params : DataFrame
        ``model, parameter, estimate, standard_error, lower, upper``.
    metrics : DataFrame
        Holdout metrics of the chosen model and the naive rate (empty without a holdout).
    model_version : str
    verdict : Verdict
        The holdout judgement against the naive rate (see :mod:`crmine.clv._judge`).
    marts : tuple of str
        The tables this run wrote.
    selection : DataFrame
        Every candidate model and the naive rate on the holdout (``marts.clv_model_selection``).
    figures : dict
        The JSON-able figures behind :meth:`summary`.
    """

    scores: pd.DataFrame
    params: pd.DataFrame
    metrics: pd.DataFrame
    model_version: str
    verdict: Verdict
    marts: tuple[str, ...] = ()
    selection: pd.DataFrame = field(default_factory=pd.DataFrame)
    figures: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Small JSON-able summary (for the pipeline and the CLI), with the verdict."""
        return {**self.figures, "verdict": self.verdict.to_dict()}

    def to_frame(self) -> pd.DataFrame:
        return self.scores.copy()


def load_purchases(ws: Workspace) -> pd.DataFrame:
    """Completed purchases of known customers, one row per order.

    Columns ``customer_id, order_ts, amount``; returns, cancellations and anonymous lines are
    left out (they are not purchases).
    """
    lines = ws.table(ws.resolved("core.fct_order_lines"))
    cond = lines.customer_id.notnull()
    if "status" in lines.columns:
        cond &= lines.status == "completed"
    if "is_return" in lines.columns:
        cond &= ~lines.is_return.fill_null(False)
    orders = (
        lines.filter(cond)
        .group_by(["order_id", "customer_id"])
        .aggregate(order_ts=lines.order_ts.min(), amount=lines.amount.sum())
    )
    frame = orders.select("customer_id", "order_ts", "amount").to_pandas()
    frame["customer_id"] = frame["customer_id"].astype(str)
    return frame


# Extra source columns holding the profit (or the cost) of each order line, most specific first;
# ingest keeps them on core.fct_order_lines as attributes (lower-cased names).
PROFIT_COLUMNS = ("gross_profit", "profit", "gross_margin", "margin")
COST_COLUMNS = ("cogs", "cost_of_goods", "total_cost", "line_cost", "cost")


def _completed(lines: ir.Table) -> ir.BooleanValue:
    cond = lines.customer_id.notnull()
    if "status" in lines.columns:
        cond &= lines.status == "completed"
    if "is_return" in lines.columns:
        cond &= ~lines.is_return.fill_null(False)
    return cond


def _sums(lines: ir.Table, cond: ir.BooleanValue, **exprs: ir.Scalar) -> dict[str, float]:
    agg = lines.filter(cond).aggregate(**exprs).to_pandas()
    # An empty sum is NULL, which pandas gives as NaN (truthy, so `or 0` would keep it).
    return {k: float(v) if pd.notna(v) else 0.0 for k, v in agg.iloc[0].items()}


def _margin(ws: Workspace) -> tuple[float, str]:
    """Gross margin share of revenue, and where it came from.

    In order: the setting ``clv.margin``; a profit column of the order lines (``profit``,
    ``gross_profit``, ``margin``...: money per line, or a share of the line's amount when every
    value lies within -1..1 and amounts are larger); a cost column (``cogs``, ``cost``...);
    product costs (``unit_cost × quantity``); else 1 (CLV is revenue, and says so).
    """
    setting = ws.setting("clv.margin")
    if setting is not None:
        return float(setting), "setting clv.margin"
    lines = ws.table(ws.resolved("core.fct_order_lines"))
    columns = set(lines.columns)
    base = _completed(lines)
    numeric = {c for c in columns if lines[c].type().is_numeric()}
    for col in (c for c in PROFIT_COLUMNS if c in numeric):
        cond = base & lines[col].notnull() & lines.amount.notnull()
        s = _sums(lines, cond, revenue=lines.amount.sum(), profit=lines[col].sum(),
                  share=(lines[col] * lines.amount).sum(), lo=lines[col].min(),
                  hi=lines[col].max(), big=lines.amount.abs().max())  # fmt: skip
        if s["revenue"] <= 0:
            continue
        if s["lo"] >= -1 and s["hi"] <= 1 and s["big"] > 1:
            return float(np.clip(s["share"] / s["revenue"], 0, 1)), f"column {col} (share)"
        return float(np.clip(s["profit"] / s["revenue"], 0, 1)), f"column {col} on order lines"
    for col in (c for c in COST_COLUMNS if c in numeric):
        cond = base & lines[col].notnull() & lines.amount.notnull()
        s = _sums(lines, cond, revenue=lines.amount.sum(), cost=lines[col].sum())
        if s["revenue"] > 0:
            share = float(np.clip(1 - s["cost"] / s["revenue"], 0, 1))
            return share, f"column {col} on order lines"
    if "unit_cost" not in columns or "quantity" not in columns:
        return 1.0, "no product costs: CLV is revenue"
    cond = base & lines.unit_cost.notnull()
    s = _sums(lines, cond, revenue=lines.amount.sum(),
              cost=(lines.unit_cost * lines.quantity).sum())  # fmt: skip
    if s["revenue"] <= 0:
        return 1.0, "no product costs: CLV is revenue"
    return max(0.0, 1 - s["cost"] / s["revenue"]), "product costs on order lines"


def fit_by_group(
    summary: pd.DataFrame, groups: pd.Series, model: type[TransactionModel] = BetaGeoModel
) -> pd.DataFrame:
    """Fit one model per group (e.g. per segment); one row per group with its parameters."""
    aligned = groups.reindex(summary.index)
    if aligned.isna().any():
        raise DataError(f"{int(aligned.isna().sum())} customers of the summary have no group")
    rows = []
    for name, idx in aligned.groupby(aligned).groups.items():
        fitted = model().fit(summary.loc[idx])
        rows.append(
            {
                "group": name,
                "n_customers": len(idx),
                **fitted.params_,
                "log_likelihood": fitted.log_likelihood_,
            }
        )
    return pd.DataFrame(rows)


def _summary_from_ws(ws: Workspace) -> tuple[pd.DataFrame, str, pd.Timestamp | None]:
    if ws.has_table("marts.customer_rfm"):
        mart = ws.read("marts.customer_rfm")
        unit = str(mart["time_unit"].iloc[0]) if "time_unit" in mart and len(mart) else "D"
        end = (
            pd.Timestamp(mart["observation_end"].iloc[0])
            if "observation_end" in mart and len(mart)
            else None
        )
        summary = rfm_from_mart(mart)
        if "monetary_value" not in summary:
            summary["monetary_value"] = 0.0
        return summary, unit, end
    purchases = load_purchases(ws)
    end = ws.setting("observation_end")
    summary = rfm_summary(
        purchases, "customer_id", "order_ts", "amount", observation_period_end=end
    )
    summary.index.name = "customer_id"
    return summary, "D", pd.Timestamp(end) if end else purchases["order_ts"].max()


def customer_scores(
    transactions: TransactionModel,
    spend: GammaGammaModel | float,
    summary: pd.DataFrame,
    *,
    time_unit: str,
    margin: float,
    monthly_rate: float,
    horizon_months: int = 12,
) -> tuple[pd.DataFrame, ClvResult]:
    """``p_alive``, ``expected_purchases_90d`` and ``predicted_clv_12m`` per row of an RFM
    summary in ``time_unit`` (what ``marts.customer_scores`` holds), and the CLV result."""
    unit_days = _UNIT_DAYS.get(time_unit, 1.0)
    value = customer_lifetime_value(
        transactions, summary, spend=spend, horizon=horizon_months,
        step=(365.25 / 12) / unit_days, discount_rate=monthly_rate, margin=margin,
    )  # fmt: skip
    scores = pd.DataFrame(
        {
            "p_alive": transactions.p_alive(summary).to_numpy(),
            "expected_purchases_90d": np.asarray(
                transactions.expected_purchases(90 / unit_days, summary)
            ),
            "predicted_clv_12m": value.customers["clv"].to_numpy(),
        },
        index=summary.index,
    )
    return scores, value


@dataclass(frozen=True, slots=True)
class _Holdout:
    """The calibration/holdout comparison and what the marts need of it."""

    judgement: ClvJudgement
    candidates: dict[str, Candidate]
    split: pd.DataFrame
    cal: pd.DataFrame
    purchases: pd.DataFrame
    cal_end: pd.Timestamp
    last: pd.Timestamp
    days: int
    time_unit: str
    multiplier: float


def _candidates(requested: str, n_customers: int) -> list[str]:
    if requested != "auto":
        return [requested]
    names = ["bgnbd", "mbgnbd"]
    if n_customers <= PARETO_AFFORDABLE:
        names.append("paretonbd")
    return names


def _holdout(
    ws: Workspace,
    requested: str,
    unit: str,
    unit_days: float,
    end: pd.Timestamp | None,
    holdout_days: int | None,
) -> _Holdout | str:
    """Refit every candidate on the calibration period and judge it on the holdout; or the
    reason why no holdout could be formed."""
    purchases = load_purchases(ws)
    if purchases.empty:
        return "there are no completed purchases"
    first = purchases["order_ts"].min()
    last = pd.Timestamp(end) if end is not None else purchases["order_ts"].max()
    span = (last - first).days
    days = int(holdout_days or min(180, max(7, span // 4)))
    cal_end = (last - pd.Timedelta(days=days)).normalize()
    if cal_end <= first:
        return f"the history spans {span:,} days, too short to keep {days:,} days back"
    time_unit = "W" if unit == "W" else "D"
    multiplier = unit_days if unit == "M" else 1.0
    split = calibration_holdout_split(
        purchases, "customer_id", "order_ts", cal_end, last, monetary_value_col="amount",
        time_unit=time_unit, freq_multiplier=multiplier,
    )  # fmt: skip
    actual = split["frequency_holdout"].to_numpy(np.float64)
    if len(split) < _MIN_HOLDOUT_CUSTOMERS or actual.sum() < _MIN_HOLDOUT_PURCHASES:
        return (f"only {len(split):,} customers bought before the last {days:,} days and they "
                f"made {actual.sum():,.0f} purchases after")  # fmt: skip
    cal = split.rename(
        columns={"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T",
                 "monetary_value_cal": "monetary_value"}
    )  # fmt: skip
    duration = float(split["duration_holdout"].iloc[0])
    x, T = cal["frequency"].to_numpy(np.float64), cal["T"].to_numpy(np.float64)
    naive = naive_rate_forecast(x, T, duration)
    candidates: dict[str, Candidate] = {}
    for name in _candidates(requested, len(cal)):
        check_cancelled(f"CLV: fitting {name}")
        try:
            fitted = MODELS[name]().fit(cal)
            pred = fitted.expected_purchases(duration, cal)
            assert isinstance(pred, pd.Series)
            candidates[name] = Candidate(name, fitted, pred.to_numpy(np.float64),
                                         fit_diagnostics(name, fitted, cal))  # fmt: skip
        except (DataError, FloatingPointError, ValueError, np.linalg.LinAlgError):
            candidates[name] = Candidate(name, None, np.full(len(cal), np.nan))
    # holdout spend: purchases × expected spend per purchase (Gamma-Gamma on the calibration's
    # repeat buyers); the naive spend is the past rate × the customer's past average spend
    value_actual = (split["frequency_holdout"] * split["monetary_value_holdout"]).to_numpy(
        np.float64
    )
    m_cal = cal["monetary_value"].to_numpy(np.float64)
    repeat = cal[(cal["frequency"] > 0) & (cal["monetary_value"] > 0)]
    value_predicted: dict[str, np.ndarray] = {}
    if len(repeat) >= 10:
        try:
            per = GammaGammaModel().fit(repeat).expected_spend(cal).to_numpy(np.float64)
        except (DataError, FloatingPointError, ValueError):
            per = np.full(len(cal), float(repeat["monetary_value"].mean()))
        value_predicted = {n: c.predicted * per for n, c in candidates.items() if c.usable}
    text = f"{days:,}-day"
    judgement = choose_and_judge(
        list(candidates.values()), actual, naive, duration_text=text,
        value_actual=value_actual, value_naive=naive * m_cal, value_predicted=value_predicted,
    )  # fmt: skip
    return _Holdout(judgement, candidates, split, cal, purchases, cal_end, last, days,
                    time_unit, multiplier)  # fmt: skip


def _write_evaluation(ws: Workspace, h: _Holdout, name: str, version: str,
                      full: bool) -> list[str]:  # fmt: skip
    """The evaluation marts of the chosen model ``name`` (all of them when ``full``)."""
    written = ["clv_model_selection"]
    notes = {c.name: "; ".join(c.diagnostics) for c in h.candidates.values()}
    selection = h.judgement.comparison.assign(
        diagnostics=lambda f: f["forecaster"].map(notes).fillna(""),
        calibration_end=h.cal_end, observation_end=h.last, holdout_days=h.days,
    )  # fmt: skip
    ws.write_mart("clv_model_selection", selection, model_version=version)
    model = h.candidates[name].model
    if model is None:
        return written
    evaluation = holdout_evaluation(model, h.split)
    ws.write_mart("clv_conditional_expectations", evaluation.conditional_expectations,
                  model_version=version)  # fmt: skip
    ws.write_mart("clv_holdout_metrics", evaluation.metrics.assign(
        calibration_end=h.cal_end, observation_end=h.last, holdout_days=h.days),
        model_version=version)  # fmt: skip
    written += ["clv_conditional_expectations", "clv_holdout_metrics"]
    if full:
        ws.write_mart("clv_frequency_histogram", frequency_histogram(model, h.cal),
                      model_version=version)  # fmt: skip
        track = cumulative_tracking(
            model, h.purchases, "customer_id", "order_ts", h.cal_end, h.last,
            time_unit=h.time_unit, freq_multiplier=h.multiplier,
        )  # fmt: skip
        ws.write_mart("clv_holdout_tracking", track, model_version=version)
        written += ["clv_frequency_histogram", "clv_holdout_tracking"]
    return written


def _write_empty_marts(ws: Workspace, written: list[str], version: str) -> list[str]:
    """Write an empty table (the declared columns) for each declared CLV mart not in
    ``written``; return their names."""
    from crmine.clv._analysis import ANALYSIS  # the declaration imports this module

    stamped = {"model_version", "scored_at"}
    empty: list[str] = []
    for mart in ANALYSIS.marts:
        if mart.name in written or mart.name == "customer_scores":
            continue
        columns = [c for c in mart.columns if c not in stamped]
        frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
        ws.write_mart(mart.name, frame, model_version=version)
        empty.append(mart.name)
    return empty


def _model_name(ws: Workspace, model: str | None) -> str:
    name = model or str(ws.setting("clv.model", "auto"))
    if name != "auto" and name not in MODELS:
        raise ConfigError(f"clv model {name!r} is unknown; use one of "
                          f"{', '.join(['auto', *sorted(MODELS)])}")  # fmt: skip
    return name


def run_clv(
    ws: Workspace,
    *,
    model: str | None = None,
    horizon_months: int = 12,
    annual_discount_rate: float | None = None,
    holdout_days: int | None = None,
    evaluate: bool = True,
) -> ClvRun:
    """Choose and judge a CLV model on a holdout, fit it, and write the scores and marts.

    Parameters
    ----------
    ws : Workspace
    model : {"auto", "bgnbd", "mbgnbd", "paretonbd"}, optional
        Transaction model; default the setting ``clv.model`` or ``"auto"``: every candidate is
        refitted on a calibration period and the one with the best holdout accuracy wins.
    horizon_months : int
        CLV horizon (monthly steps).
    annual_discount_rate : float, optional
        Default the setting ``clv.discount_rate`` or 10% a year.
    holdout_days : int, optional
        Length of the holdout (default the setting ``clv.holdout_days``, else a quarter of the
        history, at most 180 days).
    evaluate : bool
        Also write the tracking and frequency-histogram marts of the holdout (the verdict and
        the model comparison are always computed).

    Returns
    -------
    ClvRun
        With the verdict: ``not_informative`` when no model beats the naive rate on the
        holdout, and then the CLV columns of ``marts.customer_scores`` are NULL.
    """
    requested = _model_name(ws, model)
    yearly = float(annual_discount_rate if annual_discount_rate is not None
                   else ws.setting("clv.discount_rate", 0.10))  # fmt: skip
    monthly = (1 + yearly) ** (1 / 12) - 1
    summary, unit, end = _summary_from_ws(ws)
    if len(summary) == 0:
        raise DataError("no customers with purchases: load orders before running CLV")
    unit_days = _UNIT_DAYS.get(unit, 1.0)
    days = holdout_days if holdout_days is not None else ws.setting("clv.holdout_days")
    written: list[str] = []

    with recorded_warnings() as caught:
        held: _Holdout | str = "there are no order lines"
        if ws.has_table("core.fct_order_lines"):
            held = _holdout(ws, requested, unit, unit_days, end, days)
        if isinstance(held, str):
            verdict = not_enough_history(held)
            name = requested if requested != "auto" else "bgnbd"
        else:
            verdict = held.judgement.verdict
            best = held.judgement.best or None
            chosen = held.judgement.chosen
            fallback = requested if requested != "auto" else "bgnbd"
            name = chosen if chosen in MODELS else (best if best in MODELS else fallback)
        version = f"{name}+gg-1"
        transactions = MODELS[name]().fit(summary)
        full_notes = fit_diagnostics(name, transactions, summary)
        repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        spend: GammaGammaModel | float
        if len(repeat) >= 10:
            spend = GammaGammaModel().fit(repeat)
        else:
            spend = float(summary["monetary_value"].mean())
        if not isinstance(held, str):
            evaluated = name if held.candidates.get(name) is not None else None
            if evaluated is not None:
                written += _write_evaluation(ws, held, evaluated, version, evaluate)
        margin, margin_source = _margin(ws)
        step = (365.25 / 12) / unit_days
        per_customer, value = customer_scores(
            transactions, spend, summary, time_unit=unit, margin=margin, monthly_rate=monthly,
            horizon_months=horizon_months,
        )  # fmt: skip
        scores = per_customer.reset_index(drop=True).assign(
            customer_id=summary.index.astype(str),
            clv_tier=value.customers["clv_tier"].astype(str).to_numpy(),
        )[["customer_id", *SCORE_COLUMNS]]
        by_segment = _segment_fits(ws, name, summary, scores, unit_days)
    verdict = verdict.with_warnings([*full_notes, *caught])
    informative = verdict.actionable
    if not informative:
        # no better than the naive rate: the columns are emptied, not left stale
        scores = scores.assign(**{c: np.nan for c in SCORE_COLUMNS[:3]})
        scores["clv_tier"] = pd.Series([None] * len(scores), dtype=object)
    ws.upsert_customer_scores(scores, model="clv", model_version=version)
    written.append("customer_scores")

    params = _params_frame(name, transactions, spend, unit)
    ws.write_mart("clv_params", params, model_version=version)
    grid = clv_sensitivity(
        transactions, summary, spend=spend, horizon=horizon_months, step=step,
        margins=sorted({0.2, 0.3, 0.4, 0.5, round(margin, 3)}),
        discount_rates=[0.0, monthly, (1.2 ** (1 / 12)) - 1],
    )  # fmt: skip
    ws.write_mart("clv_sensitivity", grid, model_version=version)
    be, acquisition, retention, rate_now, mean_spend = _break_even(
        ws, transactions, spend, summary, margin, monthly, step, horizon_months)  # fmt: skip
    ws.write_mart("clv_break_even", be.thresholds.assign(
        acquisition_cost=acquisition, retention=retention, margin=margin,
        current_rate=rate_now, current_spend=mean_spend), model_version=version)  # fmt: skip
    written += ["clv_params", "clv_sensitivity", "clv_break_even"]
    if len(by_segment) and informative:
        # per-segment CLV is a finding too: withheld (empty, below) with the customer columns
        ws.write_mart("clv_segment_params", by_segment, model_version=version)
        written.append("clv_segment_params")
    # every declared mart is written on every run: one this run did not produce (no holdout,
    # no segments, evaluate=False) is replaced by an empty table, so no earlier run's survives
    written += _write_empty_marts(ws, written, version)

    metrics = pd.DataFrame()
    if not isinstance(held, str) and ws.has_table("marts.clv_holdout_metrics") \
            and "clv_holdout_metrics" in written:  # fmt: skip
        metrics = ws.read("marts.clv_holdout_metrics").drop(
            columns=["model_version", "scored_at"], errors="ignore")  # fmt: skip
    holdout = (
        {f"holdout_{r['forecaster']}_mae": r["mae"] for r in metrics.to_dict("records")}
        if "forecaster" in metrics and "mae" in metrics
        else {}
    )
    save_model(
        {"transactions": transactions, "spend": spend}, ws.models_dir, "clv", kind=name,
        metadata={
            "model": name, "model_version": version, "time_unit": unit,
            "params": transactions.params_,
            "spend_params": spend.params_ if isinstance(spend, GammaGammaModel)
            else {"mean": spend},
            "margin": margin, "margin_source": margin_source, "monthly_discount_rate": monthly,
            "customers": len(summary), "feature_profile": feature_profile(summary),
            "metrics": {"log_likelihood": transactions.log_likelihood_, **holdout},
            "verdict": verdict.status,
        },
    )  # fmt: skip
    selection = pd.DataFrame() if isinstance(held, str) else held.judgement.comparison
    figures: dict[str, Any] = {
        "model": name,
        "requested": requested,
        "customers": len(scores),
        "time_unit": unit,
        "params": {k: round(v, 6) for k, v in transactions.params_.items()},
        "log_likelihood": round(transactions.log_likelihood_, 3),
        "margin": round(margin, 4),
        "margin_source": margin_source,
        "warnings": list(verdict.warnings),
    }
    if informative:
        figures.update(
            mean_p_alive=round(float(scores["p_alive"].mean()), 4),
            total_clv_12m=round(float(scores["predicted_clv_12m"].sum()), 2),
            tiers={str(k): int(v) for k, v in scores["clv_tier"].value_counts().items()},
        )
    else:
        figures["withheld"] = ("not informative: P(alive), expected purchases and CLV are not "
                               "written (NULL in marts.customer_scores)")  # fmt: skip
    if len(selection):
        figures["selection"] = {
            str(r["forecaster"]): {k: (round(float(r[k]), 4) if pd.notna(r[k]) else None)
                                   for k in ("rmse", "correlation", "skill_vs_naive")}
            for r in selection.to_dict("records")
        }  # fmt: skip
    if not metrics.empty:
        m = metrics.set_index("forecaster")
        figures["holdout_mae"] = round(float(m.loc["model", "mae"]), 4)
        figures["naive_mae"] = round(float(m.loc["naive", "mae"]), 4)
    record_verdict(ws, "clv", verdict)
    marts = tuple(dict.fromkeys(f"marts.{w}" for w in written))
    return ClvRun(scores, params, metrics, version, verdict, marts, selection, figures)



def _params_frame(name: str, transactions: TransactionModel, spend: GammaGammaModel | float,
                  unit: str) -> pd.DataFrame:  # fmt: skip
    params = transactions.summary_frame().assign(
        model=name, log_likelihood=transactions.log_likelihood_
    )
    if isinstance(spend, GammaGammaModel):
        params = pd.concat([params, spend.summary_frame().assign(
            model="gamma_gamma", log_likelihood=spend.log_likelihood_)])  # fmt: skip
    cols = ["model", "parameter", "estimate", "standard_error", "lower", "upper",
            "log_likelihood"]  # fmt: skip
    return params[cols].assign(time_unit=unit).reset_index(drop=True)


def _break_even(
    ws: Workspace, transactions: TransactionModel, spend: GammaGammaModel | float,
    summary: pd.DataFrame, margin: float, monthly: float, step: float, horizon: int,
) -> tuple[Any, float, float, float, float]:  # fmt: skip
    alive = float(len(summary) and transactions.p_alive(summary).mean())
    mean_spend = spend.mean_spend_ if isinstance(spend, GammaGammaModel) else float(spend)
    acquisition = float(
        ws.setting("clv.acquisition_cost", None) or (round(0.5 * mean_spend * margin, 2) or 1.0)
    )
    rate_now = float(np.mean(np.asarray(transactions.expected_purchases(step, summary))))
    rates = list(np.unique(np.round(np.linspace(max(rate_now / 4, 0.01), rate_now * 3, 12), 4)))
    retention = float(np.clip(alive ** (1 / 12), 0.05, 1.0)) if alive > 0 else 0.5
    be = break_even(
        acquisition_cost=acquisition, margin=max(margin, 1e-3), purchase_rates=rates,
        cost_to_serve=float(ws.setting("clv.cost_to_serve", 0.0)), retention=retention,
        discount_rate=monthly, horizon=horizon,
    )  # fmt: skip
    return be, acquisition, retention, rate_now, mean_spend


def _segment_fits(
    ws: Workspace, name: str, summary: pd.DataFrame, scores: pd.DataFrame, unit_days: float
) -> pd.DataFrame:
    """One model per customer segment (the ``cluster`` the segment step wrote), when present.

    Segments differ in purchase rate and dropout; a fit per segment shows how (and on a
    synthetic company, recovers the planted parameters). Segments under 200 customers are
    skipped: too few for stable estimates.
    """
    if not ws.has_table("marts.customer_scores"):
        return pd.DataFrame()
    existing = ws.read("marts.customer_scores")
    if "cluster" not in existing.columns:
        return pd.DataFrame()
    groups = existing.set_index("customer_id")["cluster"].reindex(summary.index)
    groups = groups[groups.notna() & (groups.astype(str) != "-1")]
    sizes = groups.value_counts()
    groups = groups[groups.isin(sizes[sizes >= 200].index)]
    if groups.nunique() < 2:
        return pd.DataFrame()
    # fit warnings reach the caller's recorded_warnings(): they go into the verdict
    fits = fit_by_group(summary.loc[groups.index], groups.astype(str), MODELS[name])
    per = scores.set_index("customer_id").loc[groups.index]
    per = per.assign(segment=groups.astype(str).to_numpy())
    agg = per.groupby("segment").agg(
        mean_p_alive=("p_alive", "mean"),
        mean_expected_purchases_90d=("expected_purchases_90d", "mean"),
        mean_clv_12m=("predicted_clv_12m", "mean"),
    )
    out = fits.rename(columns={"group": "segment"}).merge(agg, left_on="segment", right_index=True)
    if name in ("bgnbd", "mbgnbd"):
        out["purchases_per_30_days"] = out["r"] / out["alpha"] * 30 / unit_days
        out["dropout_probability"] = out["a"] / (out["a"] + out["b"])
    return out.assign(model=name)


@dataclass(frozen=True, slots=True)
class ClvFit:
    """The transaction and spend models fitted on today's RFM summary (nothing written)."""

    model: str
    transactions: TransactionModel
    params: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "customers": self.transactions.n_customers_,
            "log_likelihood": self.transactions.log_likelihood_,
            "params": self.params,
        }

    def to_frame(self) -> pd.DataFrame:
        return self.params.copy()


def fit_clv_models(ws: Workspace, *, model: str | None = None) -> ClvFit:
    """Fit one transaction model (``"auto"`` means BG/NBD here: no holdout is formed) and the
    Gamma-Gamma spend model on ``marts.customer_rfm``; return the estimates, write nothing."""
    requested = _model_name(ws, model)
    name = "bgnbd" if requested == "auto" else requested
    summary = _summary_from_ws(ws)[0]
    with recorded_warnings():
        fitted = MODELS[name]().fit(summary)
        frames = [fitted.summary_frame().assign(model=name)]
        repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        if len(repeat) >= 10:
            spend = GammaGammaModel().fit(repeat)
            frames.append(spend.summary_frame().assign(model="gamma_gamma"))
    return ClvFit(name, fitted, pd.concat(frames, ignore_index=True))
