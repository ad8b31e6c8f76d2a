"""CLV on a workspace: fit from the warehouse, score customers, write the marts back.

Reads ``marts.customer_rfm`` (or, when it is missing, summarises ``core.fct_order_lines``
itself), fits a transaction model and the Gamma-Gamma spend model, and writes:

- ``marts.customer_scores``: ``p_alive``, ``expected_purchases_90d``, ``predicted_clv_12m``,
  ``clv_tier`` (model ``clv``), with model version and scored-at time;
- ``marts.clv_params``: estimates, standard errors and confidence bounds of both models;
- ``marts.clv_holdout_tracking``, ``marts.clv_conditional_expectations``,
  ``marts.clv_holdout_metrics``, ``marts.clv_frequency_histogram``: the calibration/holdout
  evaluation (a model refitted on the calibration period only);
- ``marts.clv_sensitivity`` and ``marts.clv_break_even``: the what-if views.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crmine.clv._base import TransactionModel
from crmine.clv._bgnbd import BetaGeoModel, ModifiedBetaGeoModel
from crmine.clv._evaluate import cumulative_tracking, frequency_histogram, holdout_evaluation
from crmine.clv._gammagamma import GammaGammaModel
from crmine.clv._paretonbd import ParetoNBDModel
from crmine.clv._summary import calibration_holdout_split, rfm_from_mart, rfm_summary
from crmine.clv._value import ClvResult, break_even, clv_sensitivity, customer_lifetime_value
from crmine.exceptions import ConfigError, DataError
from crmine.warehouse import Workspace
from crmine.warehouse._models import feature_profile, save_model

__all__ = ["MODELS", "ClvRun", "fit_by_group", "load_purchases", "score_workspace"]

MODELS: dict[str, type[TransactionModel]] = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
    "paretonbd": ParetoNBDModel,
}
# length of one time unit of the RFM mart in days
_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}


@dataclass(frozen=True, slots=True)
class ClvRun:
    """What :func:`score_workspace` did.

    Attributes
    ----------
    scores : DataFrame
        Per customer: ``customer_id, p_alive, expected_purchases_90d, predicted_clv_12m,
        clv_tier``.
    params : DataFrame
        ``model, parameter, estimate, standard_error, lower, upper``.
    metrics : DataFrame
        Holdout metrics of the model and the naive baseline (empty without enough history).
    model_version : str
    summary : dict
        Small JSON-able summary (for the pipeline and the CLI).
    """

    scores: pd.DataFrame
    params: pd.DataFrame
    metrics: pd.DataFrame
    model_version: str
    summary: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.scores.copy()


def load_purchases(ws: Workspace) -> pd.DataFrame:
    """Completed purchases of known customers, one row per order.

    Columns ``customer_id, order_ts, amount``; returns, cancellations and anonymous lines are
    left out (they are not purchases).
    """
    lines = ws.table("core.fct_order_lines")
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


def _margin(ws: Workspace) -> tuple[float, str]:
    """Gross margin share from product costs on the order lines, else the setting (default 1)."""
    setting = ws.setting("clv.margin")
    if setting is not None:
        return float(setting), "setting clv.margin"
    lines = ws.table("core.fct_order_lines")
    if "unit_cost" not in lines.columns or "quantity" not in lines.columns:
        return 1.0, "no product costs: CLV is revenue"
    cond = lines.unit_cost.notnull() & lines.customer_id.notnull()
    if "status" in lines.columns:
        cond &= lines.status == "completed"
    agg = (
        lines.filter(cond)
        .aggregate(revenue=lines.amount.sum(), cost=(lines.unit_cost * lines.quantity).sum())
        .to_pandas()
    )
    # An empty sum is NULL, which pandas gives as NaN (truthy, so `or 0` would keep it).
    revenue, cost = (float(v) if pd.notna(v) else 0.0 for v in agg.iloc[0][["revenue", "cost"]])
    if revenue <= 0:
        return 1.0, "no product costs: CLV is revenue"
    return max(0.0, 1 - cost / revenue), "product costs on order lines"


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


def score_workspace(
    ws: Workspace,
    *,
    model: str | None = None,
    horizon_months: int = 12,
    annual_discount_rate: float | None = None,
    holdout_days: int | None = None,
    evaluate: bool = True,
) -> ClvRun:
    """Fit CLV models on the workspace and write the scores and report marts.

    Parameters
    ----------
    ws : Workspace
    model : {"bgnbd", "mbgnbd", "paretonbd"}, optional
        Transaction model; default the setting ``clv.model`` or ``"bgnbd"``.
    horizon_months : int
        CLV horizon (monthly steps).
    annual_discount_rate : float, optional
        Default the setting ``clv.discount_rate`` or 10% a year.
    holdout_days : int, optional
        Length of the holdout used for the evaluation marts (default a quarter of the history,
        at most 180 days).
    evaluate : bool
        Also refit on a calibration period and write the holdout evaluation marts.
    """
    name = model or str(ws.setting("clv.model", "bgnbd"))
    if name not in MODELS:
        raise ConfigError(f"clv model {name!r} is unknown; use one of {sorted(MODELS)}")
    yearly = float(
        annual_discount_rate
        if annual_discount_rate is not None
        else ws.setting("clv.discount_rate", 0.10)
    )
    monthly = (1 + yearly) ** (1 / 12) - 1
    summary, unit, end = _summary_from_ws(ws)
    if len(summary) == 0:
        raise DataError("no customers with purchases: load orders before running CLV")
    unit_days = _UNIT_DAYS.get(unit, 1.0)
    version = f"{name}+gg-1"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        transactions = MODELS[name]().fit(summary)
        repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        spend: GammaGammaModel | float
        if len(repeat) >= 10:
            spend = GammaGammaModel().fit(repeat)
        else:
            spend = float(summary["monetary_value"].mean())
    margin, margin_source = _margin(ws)
    step = (365.25 / 12) / unit_days
    per_customer, value = customer_scores(
        transactions, spend, summary, time_unit=unit, margin=margin, monthly_rate=monthly,
        horizon_months=horizon_months,
    )  # fmt: skip
    scores = per_customer.reset_index(drop=True).assign(
        customer_id=summary.index.astype(str),
        clv_tier=value.customers["clv_tier"].astype(str).to_numpy(),
    )[["customer_id", "p_alive", "expected_purchases_90d", "predicted_clv_12m", "clv_tier"]]
    ws.upsert_customer_scores(scores, model="clv", model_version=version)

    params = transactions.summary_frame().assign(model=name)
    if isinstance(spend, GammaGammaModel):
        params = pd.concat([params, spend.summary_frame().assign(model="gamma_gamma")])
    params = params[["model", "parameter", "estimate", "standard_error", "lower", "upper"]]
    params = params.assign(
        log_likelihood=[transactions.log_likelihood_] * 4
        + ([spend.log_likelihood_] * 3 if isinstance(spend, GammaGammaModel) else []),
        time_unit=unit,
    ).reset_index(drop=True)
    ws.write_mart("clv_params", params, model_version=version)

    grid = clv_sensitivity(
        transactions,
        summary,
        spend=spend,
        horizon=horizon_months,
        step=step,
        margins=sorted({0.2, 0.3, 0.4, 0.5, round(margin, 3)}),
        discount_rates=[0.0, monthly, (1.2 ** (1 / 12)) - 1],
    )
    ws.write_mart("clv_sensitivity", grid, model_version=version)
    alive = float(value.customers.shape[0] and transactions.p_alive(summary).mean())
    mean_spend = spend.mean_spend_ if isinstance(spend, GammaGammaModel) else float(spend)
    acquisition = float(
        ws.setting("clv.acquisition_cost", round(0.5 * mean_spend * margin, 2) or 1.0)
    )
    rate_now = float(np.mean(np.asarray(transactions.expected_purchases(step, summary))))
    rates = list(np.unique(np.round(np.linspace(max(rate_now / 4, 0.01), rate_now * 3, 12), 4)))
    retention = float(np.clip(alive ** (1 / 12), 0.05, 1.0)) if alive > 0 else 0.5
    be = break_even(
        acquisition_cost=acquisition,
        margin=max(margin, 1e-3),
        purchase_rates=rates,
        cost_to_serve=float(ws.setting("clv.cost_to_serve", 0.0)),
        retention=retention,
        discount_rate=monthly,
        horizon=horizon_months,
    )
    ws.write_mart(
        "clv_break_even",
        be.thresholds.assign(
            acquisition_cost=acquisition,
            retention=retention,
            margin=margin,
            current_rate=rate_now,
            current_spend=mean_spend,
        ),
        model_version=version,
    )

    by_segment = _segment_fits(ws, name, summary, scores, unit_days)
    if len(by_segment):
        ws.write_mart("clv_segment_params", by_segment, model_version=version)

    metrics = pd.DataFrame()
    if evaluate and ws.has_table("core.fct_order_lines"):
        metrics = _evaluate(ws, name, unit, unit_days, end, holdout_days, version)
    holdout = (
        {f"holdout_{r['forecaster']}_mae": r["mae"] for r in metrics.to_dict("records")}
        if "forecaster" in metrics and "mae" in metrics
        else {}
    )
    save_model(
        {"transactions": transactions, "spend": spend},
        ws.models_dir,
        "clv",
        kind=name,
        metadata={
            "model": name,
            "model_version": version,
            "time_unit": unit,
            "params": transactions.params_,
            "spend_params": (
                spend.params_ if isinstance(spend, GammaGammaModel) else {"mean": spend}
            ),
            "margin": margin,
            "margin_source": margin_source,
            "monthly_discount_rate": monthly,
            "customers": len(summary),
            "feature_profile": feature_profile(summary),
            "metrics": {"log_likelihood": transactions.log_likelihood_, **holdout},
        },
    )
    tiers = scores["clv_tier"].value_counts().to_dict()
    summary_out: dict[str, Any] = {
        "model": name,
        "customers": len(scores),
        "time_unit": unit,
        "params": {k: round(v, 6) for k, v in transactions.params_.items()},
        "log_likelihood": round(transactions.log_likelihood_, 3),
        "mean_p_alive": round(float(scores["p_alive"].mean()), 4),
        "total_clv_12m": round(float(scores["predicted_clv_12m"].sum()), 2),
        "margin": round(margin, 4),
        "margin_source": margin_source,
        "tiers": tiers,
        "warnings": [str(w.message) for w in caught],
    }
    if not metrics.empty:
        m = metrics.set_index("forecaster")
        summary_out["holdout_mae"] = round(float(m.loc["model", "mae"]), 4)
        summary_out["naive_mae"] = round(float(m.loc["naive", "mae"]), 4)
    return ClvRun(scores, params, metrics, version, summary_out)


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
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


def _evaluate(
    ws: Workspace,
    name: str,
    unit: str,
    unit_days: float,
    end: pd.Timestamp | None,
    holdout_days: int | None,
    version: str,
) -> pd.DataFrame:
    purchases = load_purchases(ws)
    if purchases.empty:
        return pd.DataFrame()
    first, last = (
        purchases["order_ts"].min(),
        pd.Timestamp(end) if end is not None else purchases["order_ts"].max(),
    )
    span = (last - first).days
    days = holdout_days or int(min(180, max(7, span // 4)))
    cal_end = (last - pd.Timedelta(days=days)).normalize()
    if cal_end <= first:
        return pd.DataFrame()
    time_unit = "W" if unit == "W" else "D"
    multiplier = unit_days if unit == "M" else 1.0
    split = calibration_holdout_split(
        purchases,
        "customer_id",
        "order_ts",
        cal_end,
        last,
        time_unit=time_unit,
        freq_multiplier=multiplier,
    )
    cal = split.rename(
        columns={"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MODELS[name]().fit(cal)
    evaluation = holdout_evaluation(model, split)
    ws.write_mart(
        "clv_conditional_expectations", evaluation.conditional_expectations, model_version=version
    )
    ws.write_mart(
        "clv_holdout_metrics",
        evaluation.metrics.assign(calibration_end=cal_end, observation_end=last, holdout_days=days),
        model_version=version,
    )
    ws.write_mart("clv_frequency_histogram", frequency_histogram(model, cal), model_version=version)
    track = cumulative_tracking(
        model,
        purchases,
        "customer_id",
        "order_ts",
        cal_end,
        last,
        time_unit=time_unit,
        freq_multiplier=multiplier,
    )
    ws.write_mart("clv_holdout_tracking", track, model_version=version)
    return evaluation.metrics
