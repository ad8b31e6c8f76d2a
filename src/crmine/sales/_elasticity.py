"""Price elasticity per category from order lines: a log-log demand model with controls.

Per category and week, units sold are regressed on a price index (what was paid against each
product's usual price, so a shift of the mix towards dearer products is not a price rise)
with a trend, yearly Fourier seasonality and the promoted share of units as controls::

    log(units) = a + e·log(price index) + b·t + Σ_k (c_k sin + d_k cos)(2πkw/52) + g·promo + ε

``e`` is the elasticity; ``exp(g) - 1`` the lift of a promotion beyond its price cut
(display, communication). Two more controls: the shop's weekly lines of the *other* groups
(``traffic``: new customers, busy days; the group's own lines are left out as its price
moves them) and the previous week's promoted share (``after``: ``1 - exp(coefficient)`` is
the *pull-forward*, the dip after a promotion while customers use up what they stocked).
Standard errors are robust to heteroskedasticity and to correlation of neighbouring weeks'
errors (Newey-West, ``HAC_LAGS`` weeks).

A weekly price index computed from a sample of lines is measured with noise (order-level
pricing, the mix of products), and noise in a regressor pulls its coefficient towards 0. So
the customers are split in two halves (by a hash of the customer id; guests by order id) and
half A's units are regressed on half A's price index, instrumented by half B's, stacked with
the reverse (split-sample instrumental variables: the halves share the true price, not the
noise). A half's index is the mean log price paid against each product's usual price, each
line clipped to within ``CLIP`` of the week's median (a line bought at a personal discount
or in an odd basket says little about the shelf price, and one such line swung a
low-volume week's index by half). Each half's units are its own: the lines that make the
instrument never appear in the units it explains, so a noisy line (a big basket bought
dear) cannot correlate the two; and a customer's lines stay in one half, so customer
habits cannot either. (With the whole category's units on the left the low-volume
categories were biased half-way to 0.) With too few lines for two halves the plain
least-squares fit is used (``estimator``).

Where the halves agree only weakly (robust first-stage F under ``MIN_FIRST_STAGE_F``, a
low-volume category) the usual interval is unreliable, so the Anderson-Rubin interval is
given instead (the elasticities ``e0`` for which the instrument does not explain
``units - e0 · price``, same robust errors; right however weak the instrument) or, when that
set is unbounded, the usual one; either way ``weak_instrument`` is set and the category
counts as "cannot tell" in the verdict.
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
                 "promo_share", "traffic", "price_index_a", "price_index_b", "units_a",
                 "units_b")  # fmt: skip
ELASTICITY_COLUMNS = (
    "group", "elasticity", "std_error", "lower", "upper", "p_value", "p_holm",
    "promotion_lift", "promotion_lift_lower", "promotion_lift_upper", "model_uplift",
    "model_uplift_lower", "model_uplift_upper", "pull_forward",
    "pull_forward_lower", "pull_forward_upper", "promotion_weeks", "price_sd",
    "price_varies", "plausible", "estimator", "first_stage_f", "weak_instrument", "weeks", "r2",
    "units", "revenue", "cost", "unit_price",
)  # fmt: skip
HAC_LAGS = 8  # weeks of error correlation allowed for in the standard errors
CLIP = 0.5  # a line's log price beyond this from its week's median counts as this far
MIN_AFTER_WEEKS = 4  # weeks after a promotion (not promoted themselves) to measure a dip
MIN_FIRST_STAGE_F = 10.0  # under this the halves' prices agree too weakly (Staiger-Stock)
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
    key = pd.Series(df.index, index=df.index).astype(str)
    for col in ("order_id", "customer_id"):  # the customer where known, else the order
        if col in df.columns:
            key = df[col].astype("string").fillna(key).astype(str)
    half_a = (pd.util.hash_pandas_object(key, index=False).to_numpy() % 2) == 0
    log_ratio = np.log(df["unit_net"] / df["product_id"].map(ref))
    mid = log_ratio.groupby([df[group], df["week"]]).transform("median")
    df["log_paid"] = df["reference_value"] * (mid + (log_ratio - mid).clip(-CLIP, CLIP))
    for h, mask in (("a", half_a), ("b", ~half_a)):
        df[f"log_paid_{h}"] = np.where(mask, df["log_paid"], 0.0)
        df[f"reference_{h}"] = np.where(mask, df["reference_value"], 0.0)
        df[f"units_{h}"] = np.where(mask, df["quantity"], 0.0)
    g = df.groupby([group, "week"], as_index=False).agg(
        units=("quantity", "sum"), revenue=("amount", "sum"),
        reference_value=("reference_value", "sum"), cost=("cost", "sum"),
        promo_units=("promo_units", "sum"), log_paid_a=("log_paid_a", "sum"),
        reference_a=("reference_a", "sum"), log_paid_b=("log_paid_b", "sum"),
        reference_b=("reference_b", "sum"), units_a=("units_a", "sum"),
        units_b=("units_b", "sum"),
    )  # fmt: skip
    g = g.rename(columns={group: "group"})
    own = df.groupby([group, "week"]).size().to_numpy()
    g["traffic"] = g["week"].map(df.groupby("week").size()).to_numpy() - own
    return _finish_panel(g)


def _finish_panel(g: pd.DataFrame) -> pd.DataFrame:
    for col in ("traffic", "units_a", "units_b"):
        if col not in g.columns:
            g[col] = np.nan
    g["price_index"] = g["revenue"] / g["reference_value"]
    for h in ("a", "b"):
        g[f"price_index_{h}"] = np.exp(g[f"log_paid_{h}"] / g[f"reference_{h}"].where(
            g[f"reference_{h}"] > 0))
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
                   {promo} AS promo, l.amount / l.quantity AS unit_net,
                   hash(coalesce(CAST(l.customer_id AS VARCHAR), l.order_id)) % 2 = 0
                       AS half_a
            FROM core.fct_order_lines l LEFT JOIN core.dim_product p USING (product_id)
            WHERE l.status = 'completed' AND l.quantity > 0 AND l.amount > 0
        ), r AS (SELECT product_id, median(unit_net) AS ref FROM s GROUP BY 1),
        q AS (SELECT s.*, ref, ln(unit_net / ref) AS log_ratio,
                     CAST(date_trunc('week', order_ts) AS TIMESTAMP) AS week
              FROM s JOIN r USING (product_id)),
        m AS (SELECT "group", week, median(log_ratio) AS mid FROM q GROUP BY 1, 2),
        g AS (SELECT "group", week,
               sum(quantity) AS units, sum(amount) AS revenue,
               sum(quantity * ref) AS reference_value, sum(quantity * unit_cost) AS cost,
               sum(quantity) FILTER (promo) AS promo_units,
               count(*) AS own_lines,
               sum(quantity * ref * (mid + least(greatest(log_ratio - mid, -{CLIP}), {CLIP})))
                   FILTER (half_a) AS log_paid_a,
               sum(quantity * ref) FILTER (half_a) AS reference_a,
               sum(quantity * ref * (mid + least(greatest(log_ratio - mid, -{CLIP}), {CLIP})))
                   FILTER (NOT half_a) AS log_paid_b,
               sum(quantity * ref) FILTER (NOT half_a) AS reference_b,
               sum(quantity) FILTER (half_a) AS units_a,
               sum(quantity) FILTER (NOT half_a) AS units_b
        FROM q JOIN m USING ("group", week) GROUP BY 1, 2
    ), t AS (SELECT week, sum(own_lines) AS lines FROM g GROUP BY 1)
    SELECT g.* EXCLUDE (own_lines), t.lines - g.own_lines AS traffic
    FROM g LEFT JOIN t USING (week)
    """
    g = ws.duck.execute(sql).df()
    g["promo_units"] = g["promo_units"].fillna(0.0)
    halves = ["log_paid_a", "reference_a", "log_paid_b", "reference_b", "units_a", "units_b"]
    g[halves] = g[halves].fillna(0.0)
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
    # The other groups' lines that week (the group's own price does not move them): traffic
    # (new customers, busy days) moves every category.
    traffic = panel["traffic"].to_numpy(float) if "traffic" in panel.columns else None
    if traffic is not None and np.all(traffic > 0) and np.log(traffic).std() > 0:
        cols.append(np.log(traffic))
        names.append("traffic")
    promo = panel["promo_share"].to_numpy(float)
    if promo.std() > 0:
        cols.append(promo)
        names.append("promo")
    after = _after(panel)
    if ((after > 0.5) & (promo < 0.5)).sum() >= MIN_AFTER_WEEKS:
        cols.append(after)
        names.append("after")
    return np.column_stack(cols), names


def _after(panel: pd.DataFrame) -> np.ndarray:
    """The promoted share of the week before (0 when that week sold nothing)."""
    weeks = pd.to_datetime(panel["week"])
    prev = pd.Series(panel["promo_share"].to_numpy(float), index=weeks + pd.Timedelta(weeks=1))
    return prev.reindex(weeks).fillna(0.0).to_numpy(float)


def _ols_hc1(x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Least squares, or with instruments ``z`` (same shape as ``x``) the just-identified
    IV estimate ``(Z'X)^-1 Z'y``; HC1 standard errors either way."""
    n, k = x.shape
    z = x if z is None else z
    zx_inv = np.linalg.pinv(z.T @ x)
    beta = zx_inv @ z.T @ y
    resid = y - x @ beta
    cov = zx_inv @ _hac_meat(z * resid[:, None]) @ zx_inv.T * n / max(n - k, 1)
    r2 = 1 - float(resid @ resid) / float(((y - y.mean()) ** 2).sum() or 1.0)
    return beta, np.sqrt(np.maximum(np.diag(cov), 0.0)), r2, cov


def _hac_meat(score: np.ndarray, lags: int = HAC_LAGS) -> np.ndarray:
    """Newey-West (Bartlett) sum of the weekly scores' outer products: prices hold for
    weeks and demand drifts, so errors of neighbouring weeks are correlated."""
    meat = score.T @ score
    for lag in range(1, min(lags, len(score) - 1) + 1):
        gamma = score[lag:].T @ score[:-lag]
        meat += (1 - lag / (lags + 1)) * (gamma + gamma.T)
    return meat


def _split_iv(x: np.ndarray, halves: tuple[np.ndarray, ...], z: float
              ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, dict[str, float]]:
    """Split-sample IV both ways at once: half A's units on half A's price index, instrumented
    by half B's, stacked on the reverse, errors clustered by week (each week twice) and HAC.

    ``halves`` is ``(log price A, log price B, log units A, log units B)``. Returns the
    coefficients, their standard errors, R², covariance, and the Anderson-Rubin interval at
    normal quantile ``z`` with the first-stage F (``ar_lower``, ``ar_upper``, NaN when the set
    is unbounded; ``first_stage_f``)."""
    log_a, log_b, y_a, y_b = halves
    n, k = x.shape
    xa, xb = x.copy(), x.copy()
    xa[:, 1], xb[:, 1] = log_a, log_b
    xs, zs, ys = np.vstack([xa, xb]), np.vstack([xb, xa]), np.r_[y_a, y_b]
    zx_inv = np.linalg.pinv(zs.T @ xs)
    beta = zx_inv @ zs.T @ ys
    resid = ys - xs @ beta
    score = zs * resid[:, None]
    cov = zx_inv @ _hac_meat(score[:n] + score[n:]) @ zx_inv.T * n / max(n - k, 1)
    y = 0.5 * (y_a + y_b)
    fitted = y - 0.5 * (resid[:n] + resid[n:])
    r2 = 1 - float(((y - fitted) ** 2).sum()) / float(((y - y.mean()) ** 2).sum() or 1.0)
    return beta, np.sqrt(np.maximum(np.diag(cov), 0.0)), r2, cov, _anderson_rubin(
        zs, xs[:, 1], ys, n, z)


def _anderson_rubin(zs: np.ndarray, xs: np.ndarray, ys: np.ndarray, n: int, z: float
                    ) -> dict[str, float]:
    """The elasticities ``e0`` not rejected by the reduced form: ``ys - e0 xs`` regressed on
    the instrument and controls (``zs``, instrument in column 1) leaves the instrument's
    coefficient within ``z`` robust standard errors of 0. The coefficient is
    ``pi_y - e0 pi_x`` and its variance quadratic in ``e0``, so the set solves a quadratic."""
    k = zs.shape[1]
    inv = np.linalg.pinv(zs.T @ zs)
    row = inv[1] @ zs.T  # the instrument's coefficient as a weighted sum of the rows
    pi = np.array([row @ ys, row @ xs])
    coef = inv @ zs.T @ np.column_stack([ys, xs])
    res = np.column_stack([ys, xs]) - zs @ coef
    influence = row[:, None] * res
    v = _hac_meat(influence[:n] + influence[n:]) * n / max(n - k, 1)
    f = float(pi[1] ** 2 / v[1, 1]) if v[1, 1] > 0 else math.inf
    out = {"first_stage_f": f, "ar_lower": math.nan, "ar_upper": math.nan}
    c2 = z * z
    a = pi[1] ** 2 - c2 * v[1, 1]
    b = pi[0] * pi[1] - c2 * v[0, 1]
    c = pi[0] ** 2 - c2 * v[0, 0]
    disc = b * b - a * c
    if a > 0 and disc >= 0:  # a bounded interval; otherwise the whole line or two rays
        root = math.sqrt(disc)
        out["ar_lower"], out["ar_upper"] = (b - root) / a, (b + root) / a
    return out


def _model_uplift(g: pd.DataFrame, beta: np.ndarray, cov: np.ndarray, j: int, z: float
                  ) -> dict[str, float]:
    """The model's total uplift of the promotion weeks over their matched weeks (price cut
    and lift together), comparable with the matched-period estimate, delta-method interval."""
    from crmine.sales._promotions import matched_baseline

    logp = np.log(g["price_index"].to_numpy(float))
    share = g["promo_share"].to_numpy(float)
    promo, base_p = matched_baseline(g, logp)
    _, base_s = matched_baseline(g, share)
    ok = np.isfinite(base_p)
    if not ok.any():
        return {}
    v = np.zeros(len(beta))
    v[1] = float(np.mean(logp[promo[ok]] - base_p[ok]))
    v[j] = float(np.mean(share[promo[ok]] - base_s[ok]))
    mid, sd = float(v @ beta), float(np.sqrt(max(v @ cov @ v, 0.0)))
    return {"model_uplift": math.exp(mid) - 1, "model_uplift_lower": math.exp(mid - z * sd) - 1,
            "model_uplift_upper": math.exp(mid + z * sd) - 1}


def _halves(g: pd.DataFrame) -> np.ndarray | None:
    """The weeks where both halves sold (to instrument one by the other), or None when
    they are too few (under 80 % of the weeks) or a half's price never moved."""
    if "price_index_a" not in g.columns or g["units_a"].isna().all():
        return None
    a, b = g["price_index_a"].to_numpy(float), g["price_index_b"].to_numpy(float)
    ua, ub = g["units_a"].to_numpy(float), g["units_b"].to_numpy(float)
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0) & (ua > 0) & (ub > 0)
    if ok.sum() < max(MIN_WEEKS, 0.8 * len(g)):
        return None
    if np.log(a[ok]).std() == 0 or np.log(b[ok]).std() == 0:
        return None
    return ok


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
    positive: price moved with something else that drives demand), ``first_stage_f`` and
    ``weak_instrument`` (True when the two halves' prices agree too weakly to tell the
    elasticity: "cannot tell", see the module docstring), the weeks used, R², and
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
        y = np.log(g["units"].to_numpy(float))
        base["promotion_weeks"] = int((g["promo_share"] >= 0.5).sum())
        both = _halves(g)
        ar: dict[str, float] = {}
        if both is not None:
            halves = tuple(np.log(g[c].to_numpy(float)[both]) for c in (
                "price_index_a", "price_index_b", "units_a", "units_b"))
            beta, se, r2, cov, ar = _split_iv(x[both], halves, z)
            x, y = x[both], y[both]
        else:
            beta, se, r2, cov = _ols_hc1(x, y)
        base["estimator"] = "split-sample iv" if both is not None else "ols"
        dof = max(len(y) - x.shape[1], 1)
        e, e_se = float(beta[1]), float(se[1])
        lower, upper = e - z * e_se, e + z * e_se
        weak = bool(ar) and not ar["first_stage_f"] >= MIN_FIRST_STAGE_F
        if weak and math.isfinite(ar["ar_lower"]):
            lower, upper = ar["ar_lower"], ar["ar_upper"]
        base.update({
            "elasticity": e, "std_error": e_se, "lower": lower, "upper": upper,
            "p_value": float(2 * stats.t.sf(abs(e) / e_se, dof)) if e_se > 0 else math.nan,
            "r2": r2, "first_stage_f": ar.get("first_stage_f", math.nan),
            "weak_instrument": weak,
        })  # fmt: skip
        if "promo" in names:
            j = names.index("promo")
            b, s = float(beta[j]), float(se[j])
            base.update({
                "promotion_lift": math.exp(b) - 1, "promotion_lift_lower": math.exp(b - z * s) - 1,
                "promotion_lift_upper": math.exp(b + z * s) - 1,
            })  # fmt: skip
        if "promo" in names:
            base |= _model_uplift(g, beta, cov, names.index("promo"), z)
        if "after" in names:  # a dip after promotions: units pulled forward into them
            j = names.index("after")
            b, s = float(beta[j]), float(se[j])
            base.update({
                "pull_forward": 1 - math.exp(b), "pull_forward_lower": 1 - math.exp(b + z * s),
                "pull_forward_upper": 1 - math.exp(b - z * s),
            })  # fmt: skip
        rows.append(base)
    out = pd.DataFrame(rows).reindex(columns=list(ELASTICITY_COLUMNS))
    if out.empty:
        raise DataError("no group has order lines to fit a price elasticity")
    p = out["p_value"].to_numpy(float)
    ok = np.isfinite(p)
    out.loc[ok, "p_holm"] = _holm(p[ok])
    out["price_varies"] = out["price_varies"].astype(bool)
    out["weak_instrument"] = out["weak_instrument"].fillna(False).astype(bool)
    # Demand that rises with price beyond doubt means price moved with something else
    # (mix, seasonal pricing): the estimate is confounded, not a law of demand.
    out["plausible"] = ~(out["lower"] > 0)
    return out
