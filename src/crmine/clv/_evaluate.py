"""Calibration/holdout evaluation: the checks of Fader, Hardie & Lee (2005), plus a naive baseline.

- frequency histogram: customers by number of repeat purchases in calibration, actual vs model;
- conditional expectations: mean holdout purchases by calibration frequency, actual vs model;
- cumulative tracking: repeat purchases of the cohort over time, actual vs model;
- holdout MAE / RMSE / correlation of the model and of the naive rate (each customer's past
  purchase rate times the holdout length).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from crmine.clv._base import TransactionModel, check_summary
from crmine.clv._summary import _multiplier, _period_end, _prepare, _unit
from crmine.exceptions import DataError, MissingColumnError

__all__ = [
    "HoldoutEvaluation",
    "cumulative_tracking",
    "frequency_histogram",
    "holdout_evaluation",
    "naive_holdout_forecast",
]

_CAL_COLUMNS = ("frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout")


@dataclass(frozen=True, slots=True)
class HoldoutEvaluation:
    """How well a model predicted the holdout period.

    Attributes
    ----------
    conditional_expectations : DataFrame
        By calibration frequency (last bin open-ended, e.g. ``"7+"``): ``n_customers``,
        ``actual``, ``predicted`` and ``naive`` mean holdout purchases.
    metrics : DataFrame
        One row per forecaster (``model``, ``naive``): ``mae``, ``rmse``, ``correlation``,
        ``total_predicted``, ``total_actual``, ``total_error_pct``.
    customers : DataFrame
        Per customer: ``actual``, ``predicted``, ``naive``.
    """

    conditional_expectations: pd.DataFrame
    metrics: pd.DataFrame
    customers: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.conditional_expectations.copy()


def _cal_frame(cal_holdout: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _CAL_COLUMNS if c not in cal_holdout.columns]
    if missing:
        raise MissingColumnError(
            f"calibration/holdout frame has no column(s) {missing}; columns found: "
            f"{list(cal_holdout.columns)}. Build it with crmine.clv.calibration_holdout_split(...)"
        )
    summary = cal_holdout.rename(
        columns={"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"}
    )
    check_summary(summary, what="calibration summary")
    return summary


def naive_holdout_forecast(cal_holdout: pd.DataFrame, *, retention: bool = False) -> pd.Series:
    """Naive baseline: each customer's calibration purchase rate, shrunk toward the
    pooled rate (empirical-Bayes gamma-Poisson, see ``naive_rate_forecast``), × the holdout
    length.

    The forecast a sceptical analyst makes without a dropout model, and the baseline of the CLV
    verdict (the raw ``frequency / T`` explodes for customers first seen days ago). With
    ``retention=True`` it is also multiplied by
    the share of repeat buyers whose last purchase falls in the second half of their own
    observation window (``recency >= T/2``), a crude "are they still buying" rate.
    """
    summary = _cal_frame(cal_holdout)
    x, tx, T = (summary[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))
    duration = summary["duration_holdout"].to_numpy(np.float64)
    share = 1.0
    if retention:
        repeaters = x > 0
        share = float((tx[repeaters] >= T[repeaters] / 2).mean()) if repeaters.any() else 0.0
    from crmine.clv._judge import naive_rate_forecast

    forecast = naive_rate_forecast(x, T, 1.0) * duration
    return pd.Series(forecast * share, index=summary.index, name="naive")


def holdout_evaluation(
    model: TransactionModel, cal_holdout: pd.DataFrame, *, max_frequency: int = 7
) -> HoldoutEvaluation:
    """Compare predicted and actual holdout purchases (model and naive baseline).

    Parameters
    ----------
    model : fitted transaction model (fitted on the calibration columns)
    cal_holdout : DataFrame
        From :func:`calibration_holdout_split`.
    max_frequency : int
        Calibration frequencies above this are pooled into one bin (``"7+"``).
    """
    summary = _cal_frame(cal_holdout)
    durations = summary["duration_holdout"].unique()
    if len(durations) != 1:
        raise DataError("duration_holdout must be the same for every customer")
    predicted = model.expected_purchases(float(durations[0]), summary)
    assert isinstance(predicted, pd.Series)
    actual = summary["frequency_holdout"].astype(np.float64)
    naive = naive_holdout_forecast(cal_holdout)
    customers = pd.DataFrame(
        {
            "frequency_cal": summary["frequency"],
            "actual": actual,
            "predicted": predicted.to_numpy(),
            "naive": naive.to_numpy(),
        },
        index=summary.index,
    )
    capped = np.minimum(customers["frequency_cal"], max_frequency).astype(int)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    grouped = customers.groupby(capped)
    cond = pd.DataFrame(
        {
            "frequency_cal": [labels[i] for i in grouped.size().index],
            "n_customers": grouped.size().to_numpy(),
            "actual": grouped["actual"].mean().to_numpy(),
            "predicted": grouped["predicted"].mean().to_numpy(),
            "naive": grouped["naive"].mean().to_numpy(),
        }
    )
    rows = []
    for name in ("predicted", "naive"):
        err = customers[name] - customers["actual"]
        corr = (
            float(np.corrcoef(customers[name], customers["actual"])[0, 1])
            if customers[name].std() > 0 and customers["actual"].std() > 0
            else float("nan")
        )
        total_pred, total_act = float(customers[name].sum()), float(customers["actual"].sum())
        rows.append(
            {
                "forecaster": "model" if name == "predicted" else "naive",
                "mae": float(err.abs().mean()),
                "rmse": float(np.sqrt((err**2).mean())),
                "correlation": corr,
                "total_predicted": total_pred,
                "total_actual": total_act,
                "total_error_pct": 100 * (total_pred - total_act) / total_act
                if total_act
                else float("nan"),
            }
        )
    return HoldoutEvaluation(cond, pd.DataFrame(rows), customers)


def frequency_histogram(
    model: TransactionModel,
    summary: pd.DataFrame,
    *,
    max_frequency: int = 7,
    max_distinct_T: int = 400,
) -> pd.DataFrame:
    """Customers by number of repeat purchases: actual vs expected under the model.

    The expected count of ``n`` is ``sum_i P(X(T_i) = n)`` over customers (the last bin pools
    ``max_frequency`` and more). With many distinct ``T``, they are pooled into quantile bins.
    """
    cols = check_summary(summary, model._columns, integer_frequency=model._integer_frequency)
    x, T = cols["frequency"], cols["T"]
    t_values, counts = np.unique(T, return_counts=True)
    if len(t_values) > max_distinct_T:
        edges = np.unique(np.quantile(T, np.linspace(0, 1, max_distinct_T + 1)))
        bins = np.clip(np.searchsorted(edges, T, side="right") - 1, 0, len(edges) - 2)
        t_values = np.array(
            [T[bins == b].mean() for b in range(len(edges) - 1) if (bins == b).any()]
        )
        counts = np.array([(bins == b).sum() for b in range(len(edges) - 1) if (bins == b).any()])
    ns = np.arange(max_frequency)
    expected = np.zeros(max_frequency + 1)
    for t, c in zip(t_values, counts, strict=True):
        if t <= 0:
            expected[0] += c
            continue
        probs = model.probability_of_purchases(ns, float(t))
        expected[:max_frequency] += c * probs
        expected[max_frequency] += c * max(0.0, 1 - probs.sum())
    actual = np.bincount(np.minimum(x, max_frequency).astype(int), minlength=max_frequency + 1)
    labels = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    return pd.DataFrame(
        {"frequency": labels, "actual": actual.astype(np.float64), "expected": expected}
    )


def cumulative_tracking(
    model: TransactionModel,
    transactions: pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    calibration_period_end: str | dt.datetime | pd.Timestamp,
    observation_period_end: str | dt.datetime | pd.Timestamp | None = None,
    time_unit: str = "D",
    freq_multiplier: float = 1.0,
) -> pd.DataFrame:
    """Cumulative repeat purchases of the calibration cohort, actual vs model, per period.

    The cohort is every customer whose first purchase is on or before ``calibration_period_end``;
    the model's forecast is ``sum_i E[X(t - s_i)]`` over their first-purchase times ``s_i``. Repeat
    purchases are counted per period of ``time_unit`` (as in :func:`rfm_summary`), time is
    measured in ``time_unit × freq_multiplier`` (the unit the model was fitted in).

    Returns one row per period: ``period`` (timestamp), ``t`` (model time since the first
    cohort purchase), ``actual``, ``predicted`` (cumulative), ``in_holdout``.
    """
    part, seconds = _unit(time_unit)
    scale = seconds * _multiplier(freq_multiplier)
    frame = _prepare(transactions, customer_id_col, datetime_col, None)
    con = duckdb.connect()
    try:
        cal_end = _period_end(calibration_period_end, frame["ts"], part, con)
        obs_end = _period_end(observation_period_end, frame["ts"], part, con)
        con.register("_crmine_tx", frame)
        periods = con.execute(
            f"""
            WITH p AS (SELECT DISTINCT cid, date_trunc('{part}', ts) AS period FROM _crmine_tx
                       WHERE date_trunc('{part}', ts) <= $obs),
            f AS (SELECT cid, min(period) AS first FROM p GROUP BY cid HAVING min(period) <= $cal)
            SELECT p.period, (p.period = f.first) AS is_first FROM p JOIN f USING (cid)
            """,
            {"cal": cal_end.to_pydatetime(), "obs": obs_end.to_pydatetime()},
        ).df()
    finally:
        con.close()
    if periods.empty:
        raise DataError("no customer made a first purchase before calibration_period_end")
    start = periods["period"].min()
    step = pd.Timedelta(seconds=seconds) if time_unit != "W" else pd.Timedelta(days=7)
    grid = pd.date_range(start, obs_end, freq=step)
    firsts = periods.loc[periods["is_first"], "period"]
    repeats = periods.loc[~periods["is_first"], "period"]
    actual = np.cumsum(np.bincount(((repeats - start) / step).astype(int), minlength=len(grid)))[
        : len(grid)
    ]
    birth_offsets, birth_counts = np.unique(
        ((firsts - start) / step).astype(int), return_counts=True
    )
    unit_per_step = step.total_seconds() / scale
    t_grid = np.arange(len(grid)) * unit_per_step
    # every cohort's age runs on the same grid, so E[X(age)] is computed once on it and the
    # births are convolved with it (one evaluation per period instead of one per cohort/period)
    curve = np.asarray(model.expected_purchases(t_grid), dtype=np.float64)
    births = np.zeros(len(grid))
    np.add.at(births, birth_offsets, birth_counts)
    predicted = np.convolve(births, curve)[: len(grid)]
    return pd.DataFrame(
        {
            "period": grid,
            "t": t_grid,
            "actual": actual.astype(np.float64),
            "predicted": predicted,
            "in_holdout": grid > cal_end,
        }
    )
