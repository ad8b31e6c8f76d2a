"""Price elasticity per category from order lines: a log-log demand model with controls.

Per category and week, units sold are regressed on a price index (what was paid against each
product's usual price, so a shift of the mix towards dearer products is not a price rise)
with a trend, yearly Fourier seasonality and the promoted share of units as controls::

    log(units) = a + e·log(price index) + b·t + Σ_k (c_k sin + d_k cos)(2πkw/52) + g·promo + ε

``e`` is the elasticity; ``exp(g) - 1`` the lift of a promotion beyond its price cut
(display, communication). Standard errors are heteroskedasticity-robust (HC1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmine.exceptions import DataError, MissingColumnError

if TYPE_CHECKING:
    from crmine.warehouse import Workspace

__all__ = [
    "ELASTICITY_COLUMNS",
    "MIN_PRICE_SD",
    "PANEL_COLUMNS",
    "elasticity_panel",
    "price_elasticity",
    "workspace_panel",
]

PANEL_COLUMNS = ("group", "week", "units", "revenue", "reference_value", "cost", "price_index",
                 "promo_share")  # fmt: skip
ELASTICITY_COLUMNS = (
    "group", "elasticity", "std_error", "lower", "upper", "p_value", "p_holm",
    "promotion_lift", "promotion_lift_lower", "promotion_lift_upper", "price_sd",
    "price_varies", "plausible", "weeks", "r2", "units", "revenue", "cost", "unit_price",
)  # fmt: skip
MIN_PRICE_SD = 0.02  # sd of the weekly log price index under which the price barely moved
MIN_WEEKS = 20


def elasticity_panel(lines: pd.DataFrame, group: str = "category") -> pd.DataFrame:
    """The weekly panel of :func:`price_elasticity` from order lines.

    ``lines`` needs ``order_ts, product_id, quantity, amount`` and ``group``; optional
    ``promotion_id`` (a line bought on promotion when set) and ``unit_cost``. Only sale lines
    (positive quantity and amount) are used. A product's reference price is its median net
    unit price over the whole history.
    """
    need = ["order_ts", "product_id", "quantity", "amount", group]
    missing = [c for c in need if c not in lines.columns]
    if missing:
        raise MissingColumnError(f"elasticity needs order-line columns {need}; missing {missing}")
    df = lines[(lines["quantity"] > 0) & (lines["amount"] > 0)].copy()
    df["unit_net"] = df["amount"] / df["quantity"]
    ref = df.groupby("product_id")["unit_net"].median()
    df["reference_value"] = df["quantity"] * df["product_id"].map(ref)
    df["week"] = pd.to_datetime(df["order_ts"]).dt.to_period("W-SUN").dt.start_time
    promo = df["promotion_id"].notna() if "promotion_id" in df.columns else False
    df["promo_units"] = np.where(promo, df["quantity"], 0.0)
    df["cost"] = df["quantity"] * df["unit_cost"] if "unit_cost" in df.columns else np.nan
    g = df.groupby([group, "week"], as_index=False).agg(
        units=("quantity", "sum"), revenue=("amount", "sum"),
        reference_value=("reference_value", "sum"), cost=("cost", "sum"),
        promo_units=("promo_units", "sum"),
    )  # fmt: skip
    g = g.rename(columns={group: "group"})
    return _finish_panel(g)


def _finish_panel(g: pd.DataFrame) -> pd.DataFrame:
    g["price_index"] = g["revenue"] / g["reference_value"]
    g["promo_share"] = g["promo_units"] / g["units"]
    g["group"] = g["group"].astype(str)
    return g[list(PANEL_COLUMNS)].sort_values(["group", "week"], ignore_index=True)


def workspace_panel(ws: Workspace, group: str = "category") -> pd.DataFrame:
    """:func:`elasticity_panel` computed inside DuckDB from ``core.fct_order_lines`` (with
    ``group`` a product or order-line column)."""
    line_cols = set(ws.columns("core.fct_order_lines"))
    src = "l" if group in line_cols else "p"
    if src == "p" and group not in set(ws.columns("core.dim_product")):
        raise MissingColumnError(
            f"elasticity group {group!r} is neither an order-line nor a product column"
        )
    promo = "l.promotion_id IS NOT NULL" if "promotion_id" in line_cols else "false"
    sql = f"""
        WITH s AS (
            SELECT coalesce(CAST({src}."{group}" AS VARCHAR), '(none)') AS "group",
                   l.product_id, l.order_ts, l.quantity, l.amount, l.unit_cost,
                   {promo} AS promo, l.amount / l.quantity AS unit_net
            FROM core.fct_order_lines l LEFT JOIN core.dim_product p USING (product_id)
            WHERE l.status = 'completed' AND l.quantity > 0 AND l.amount > 0
        ), r AS (SELECT product_id, median(unit_net) AS ref FROM s GROUP BY 1)
        SELECT "group", CAST(date_trunc('week', order_ts) AS TIMESTAMP) AS week,
               sum(quantity) AS units, sum(amount) AS revenue,
               sum(quantity * ref) AS reference_value, sum(quantity * unit_cost) AS cost,
               sum(quantity) FILTER (promo) AS promo_units
        FROM s JOIN r USING (product_id) GROUP BY 1, 2
    """
    g = ws.duck.execute(sql).df()
    g["promo_units"] = g["promo_units"].fillna(0.0)
    return _finish_panel(g)


def _design(panel: pd.DataFrame, weeks_total: float) -> tuple[np.ndarray, list[str]]:
    w = (pd.to_datetime(panel["week"]) - pd.Timestamp("2000-01-03")).dt.days.to_numpy() / 7.0
    cols = [np.ones(len(panel)), np.log(panel["price_index"].to_numpy(float))]
    names = ["const", "log_price"]
    cols.append((w - w.mean()) / 52.0)
    names.append("trend")
    harmonics = 2 if weeks_total >= 78 else (1 if weeks_total >= 52 else 0)
    for k in range(1, harmonics + 1):
        cols += [np.sin(2 * np.pi * k * w / 52.18), np.cos(2 * np.pi * k * w / 52.18)]
        names += [f"sin{k}", f"cos{k}"]
    promo = panel["promo_share"].to_numpy(float)
    if promo.std() > 0:
        cols.append(promo)
        names.append("promo")
    return np.column_stack(cols), names


def _ols_hc1(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    n, k = x.shape
    xtx_inv = np.linalg.pinv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    resid = y - x @ beta
    meat = x.T @ (x * (resid**2)[:, None])
    cov = xtx_inv @ meat @ xtx_inv * n / max(n - k, 1)
    r2 = 1 - float(resid @ resid) / float(((y - y.mean()) ** 2).sum() or 1.0)
    return beta, np.sqrt(np.maximum(np.diag(cov), 0.0)), r2


def _holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    m = len(p)
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


def price_elasticity(
    panel: pd.DataFrame, *, level: float = 0.95, groups: Sequence[str] | None = None
) -> pd.DataFrame:
    """Fit the log-log demand model per group of a :func:`elasticity_panel`.

    Returns one row per group with :data:`ELASTICITY_COLUMNS`: the elasticity with its
    robust standard error, ``level`` interval and p-value (Holm-adjusted over groups in
    ``p_holm``), the promotion lift beyond its price cut with its interval, ``price_sd`` (sd
    of the log price index) and ``price_varies`` (False when under :data:`MIN_PRICE_SD`: the
    elasticity cannot be told from the data), ``plausible`` (False when the whole interval is
    positive: price moved with something else that drives demand), the weeks used, R², and
    the group's units, revenue and cost over the last 52 weeks (the what-if's base).

    Examples
    --------
    >>> from crmine.demo._sales import simulate_sales
    >>> lines, truth = simulate_sales(seed=1, categories=2)
    >>> fit = price_elasticity(elasticity_panel(lines))
    >>> bool(((fit["lower"] < truth["elasticity"]) & (truth["elasticity"] < fit["upper"])).all())
    True
    """
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    for name, g in panel.groupby("group", sort=True):
        if groups is not None and name not in groups:
            continue
        g = g[(g["units"] > 0) & (g["price_index"] > 0)]
        weeks = pd.to_datetime(g["week"])
        last = g[weeks > weeks.max() - pd.Timedelta(weeks=52)]
        base = {
            "group": name, "weeks": len(g), "units": float(last["units"].sum()),
            "revenue": float(last["revenue"].sum()),
            "cost": float(last["cost"].sum()) if last["cost"].notna().any() else math.nan,
            "unit_price": float(last["revenue"].sum() / max(last["units"].sum(), 1e-12)),
        }  # fmt: skip
        price_sd = float(np.log(g["price_index"]).std()) if len(g) > 1 else 0.0
        base["price_sd"], base["price_varies"] = price_sd, price_sd >= MIN_PRICE_SD
        if len(g) < MIN_WEEKS:
            rows.append(base)
            continue
        span = (pd.to_datetime(g["week"]).max() - pd.to_datetime(g["week"]).min()).days / 7 + 1
        x, names = _design(g, span)
        beta, se, r2 = _ols_hc1(x, np.log(g["units"].to_numpy(float)))
        dof = max(len(g) - x.shape[1], 1)
        e, e_se = float(beta[1]), float(se[1])
        base.update({
            "elasticity": e, "std_error": e_se, "lower": e - z * e_se, "upper": e + z * e_se,
            "p_value": float(2 * stats.t.sf(abs(e) / e_se, dof)) if e_se > 0 else math.nan,
            "r2": r2,
        })  # fmt: skip
        if "promo" in names:
            j = names.index("promo")
            b, s = float(beta[j]), float(se[j])
            base.update({
                "promotion_lift": math.exp(b) - 1, "promotion_lift_lower": math.exp(b - z * s) - 1,
                "promotion_lift_upper": math.exp(b + z * s) - 1,
            })  # fmt: skip
        rows.append(base)
    out = pd.DataFrame(rows).reindex(columns=list(ELASTICITY_COLUMNS))
    if out.empty:
        raise DataError("no group has order lines to fit a price elasticity")
    p = out["p_value"].to_numpy(float)
    ok = np.isfinite(p)
    out.loc[ok, "p_holm"] = _holm(p[ok])
    out["price_varies"] = out["price_varies"].astype(bool)
    # Demand that rises with price beyond doubt means price moved with something else
    # (mix, seasonal pricing): the estimate is confounded, not a law of demand.
    out["plausible"] = ~(out["lower"] > 0)
    return out
