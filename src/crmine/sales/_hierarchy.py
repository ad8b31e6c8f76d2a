"""Forecasts that add up: total, channel, category… reconciled with ``hierarchicalforecast``.

Each level is forecast on its own by :func:`crmine.sales.forecast` (model chosen per series),
then the forecasts are made coherent — the channels sum to the total — by MinTrace with OLS
weights (Wickramasuriya, Athanasopoulos & Hyndman 2019), intervals by the normal
approximation of the reconciled variance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crmine.exceptions import DataError, MissingColumnError
from crmine.sales._forecast import DEFAULT_MODELS, ForecastResult, forecast

__all__ = ["HierarchicalForecast", "forecast_hierarchy"]

TOTAL = "total"


@dataclass(frozen=True, slots=True)
class HierarchicalForecast:
    """Base forecasts of every node and their reconciled (coherent) version.

    ``forecast`` has ``unique_id`` (``total``, ``total/web``, ``total/web/books``…), ``level``
    (the tag: ``total``, ``channel``…), ``ds``, ``yhat`` and interval columns, reconciled,
    and ``yhat_base`` and ``model`` from the base forecast.
    """

    forecast: pd.DataFrame
    base: ForecastResult
    tags: dict[str, list[str]]

    def to_frame(self) -> pd.DataFrame:
        return self.forecast.copy()

    def summary(self) -> dict[str, Any]:
        out = self.base.summary()
        out["levels"] = {k: len(v) for k, v in self.tags.items()}
        return out


def forecast_hierarchy(
    frame: pd.DataFrame,
    dimensions: Sequence[str],
    *,
    freq: str,
    horizon: int,
    level: Sequence[int] = (80, 95),
    models: Sequence[str] = DEFAULT_MODELS,
    n_windows: int = 3,
    n_jobs: int = 1,
    exog: pd.DataFrame | None = None,
) -> HierarchicalForecast:
    """Forecast ``y`` at the total and each prefix of ``dimensions``, reconciled.

    Parameters
    ----------
    frame : DataFrame
        ``ds``, ``y`` and the ``dimensions`` columns, at the bottom level (one row per
        period and combination of dimension values; missing periods count as 0).
    dimensions : sequence of str
        The hierarchy from the top, e.g. ``["channel", "category"]`` gives the levels total,
        channel and channel/category.
    exog : DataFrame, optional
        Regressors with known future values (promotions, holidays): ``unique_id`` (the node:
        ``total``, ``total/web``…), ``ds`` and one column per regressor, for the history and
        every period of the horizon (nodes or periods it lacks count as 0). Their effect per
        node is taken out before the models and added back (:mod:`._regressors`).
    """
    from hierarchicalforecast.core import HierarchicalReconciliation
    from hierarchicalforecast.methods import MinTrace
    from hierarchicalforecast.utils import aggregate

    missing = [c for c in ("ds", "y", *dimensions) if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"forecast_hierarchy needs columns ds, y and {list(dimensions)}; missing {missing}"
        )
    if not dimensions:
        raise DataError("forecast_hierarchy needs at least one dimension (e.g. channel)")
    df = frame[["ds", "y", *dimensions]].copy()
    df["ds"] = pd.to_datetime(df["ds"])
    for d in dimensions:
        df[d] = df[d].fillna("(none)").astype(str).str.replace("/", "-", regex=False)
    df = df.groupby([*dimensions, "ds"], as_index=False)["y"].sum()
    # A complete bottom grid: a combination without sales in a period sold 0 then.
    full = pd.MultiIndex.from_product(
        [
            df[list(dimensions)].drop_duplicates().apply(tuple, axis=1).tolist(),
            np.sort(df["ds"].unique()),
        ]
    )
    keyed = df.set_index([df[list(dimensions)].apply(tuple, axis=1), "ds"])["y"]
    keyed = keyed.reindex(full, fill_value=0.0)
    grid = pd.DataFrame(keyed.index.get_level_values(0).tolist(), columns=list(dimensions))
    grid["ds"] = keyed.index.get_level_values(1)
    grid["y"] = keyed.to_numpy()
    grid[TOTAL] = TOTAL
    spec = [[TOTAL, *dimensions[:k]] for k in range(len(dimensions) + 1)]
    y_df, s_df, tags = aggregate(grid, spec)
    y_df = y_df.reset_index() if "unique_id" not in y_df.columns else y_df
    y_df = y_df[["unique_id", "ds", "y"]]
    future = None
    if exog is not None and len(exog):
        y_df, future = _with_exog(y_df, exog)
    base = forecast(
        y_df,
        freq=freq,
        horizon=horizon,
        level=level,
        models=models,
        n_windows=n_windows,
        n_jobs=n_jobs,
        future=future,
        pooled_effects=future is not None,  # the nodes share the calendar's relative effects
    )
    hat = base.forecast.rename(
        columns={
            c: c.replace("yhat_lo_", "yhat-lo-").replace("yhat_hi_", "yhat-hi-")
            for c in base.forecast.columns
        }
    ).drop(columns="model")
    s_frame = s_df.reset_index() if "unique_id" not in s_df.columns else s_df
    rec = HierarchicalReconciliation(reconcilers=[MinTrace(method="ols")]).reconcile(
        Y_hat_df=hat,
        S_df=s_frame,
        tags=tags,
        level=list(level),
        intervals_method="normality",
    )
    rec = rec.reset_index() if "unique_id" not in rec.columns else rec
    tag = "yhat/MinTrace_method-ols"
    out = pd.DataFrame({"unique_id": rec["unique_id"].astype(str), "ds": rec["ds"]})
    out["yhat"] = rec[tag].to_numpy(float)
    for lv in level:
        out[f"yhat_lo_{lv}"] = rec[f"{tag}-lo-{lv}"].to_numpy(float)
        out[f"yhat_hi_{lv}"] = rec[f"{tag}-hi-{lv}"].to_numpy(float)
    node_level = {str(u): k.split("/")[-1] for k, ids in tags.items() for u in ids}
    out.insert(1, "level", out["unique_id"].map(node_level))
    b = base.forecast.set_index(["unique_id", "ds"])
    key = pd.MultiIndex.from_frame(out[["unique_id", "ds"]])
    out["yhat_base"] = b["yhat"].reindex(key).to_numpy()
    out["model"] = b["model"].reindex(key).to_numpy()
    return HierarchicalForecast(
        out, base, {k.split("/")[-1]: [str(u) for u in v] for k, v in tags.items()}
    )


def _with_exog(y_df: pd.DataFrame, exog: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history with its regressor columns, and their values over the horizon (0 where
    ``exog`` has no row for a node or period)."""
    missing = [c for c in ("unique_id", "ds") if c not in exog.columns]
    if missing:
        raise MissingColumnError(f"forecast_hierarchy exog= needs unique_id and ds; missing "
                                 f"{missing}")  # fmt: skip
    regs = [c for c in exog.columns if c not in ("unique_id", "ds")]
    x = exog.assign(unique_id=exog["unique_id"].astype(str), ds=pd.to_datetime(exog["ds"]))
    hist = y_df.assign(unique_id=y_df["unique_id"].astype(str))
    hist = hist.merge(x, on=["unique_id", "ds"], how="left")
    hist[regs] = hist[regs].fillna(0.0)
    last = hist["ds"].max()
    ids = hist["unique_id"].unique()
    later = np.sort(x.loc[x["ds"] > last, "ds"].unique())
    grid = pd.MultiIndex.from_product([ids, later], names=["unique_id", "ds"]).to_frame(
        index=False)
    fut = grid.merge(x, on=["unique_id", "ds"], how="left")
    fut[regs] = fut[regs].fillna(0.0)
    return hist, fut
