"""Per-customer behaviour features as Ibis expressions over the core tables.

Prices, discounts, category and channel mix, tenure, returns, service contacts, complaints and
campaign exposure, each computed from what happened strictly before an ``as_of`` cut-off so
the same code builds leakage-free training features for churn/response models. The
expressions run on any Ibis backend (DuckDB by default, Spark for scale-out).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from crmine.exceptions import DataError
from crmine.warehouse import Workspace

__all__ = ["build_customer_features", "customer_behaviour", "feature_name"]

# Categories beyond this many (by revenue) are pooled into "other", so a catalogue with
# thousands of categories does not become thousands of columns.
MAX_LEVELS = 12


def feature_name(prefix: str, level: object) -> str:
    """Column name for a level: ``cat_share_home_garden`` from ("cat_share", "Home & Garden")."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", str(level)).strip("_").lower() or "blank"
    return f"{prefix}_{slug}"


def _as_of(ws: Workspace, as_of: object) -> dt.datetime:
    if as_of is not None:
        ts = pd.Timestamp(as_of)
        if pd.isna(ts):
            raise DataError(f"as_of {as_of!r} is not a date; give e.g. '2026-06-30'")
        return ts.to_pydatetime()
    configured = ws.setting("observation_end", None)
    if configured:
        return _as_of(ws, configured)
    lines = ws.table(ws.resolved("core.fct_order_lines"))
    last = lines.order_ts.max().execute()
    if last is None or pd.isna(last):
        raise DataError("core.fct_order_lines has no order_ts; load orders first")
    # Just after the last order: everything observed is "before" the cut-off.
    return (pd.Timestamp(last).floor("D") + pd.Timedelta(days=1)).to_pydatetime()


def _levels(t: ir.Table, column: str, weight: ir.Column | None = None
            ) -> tuple[list[Any], bool]:
    """The ``MAX_LEVELS`` biggest levels of ``column`` and whether there are more."""
    w = t.mutate(_one=weight if weight is not None else ibis.literal(1))
    w = w.filter(w[column].notnull())
    top = (w.group_by(column).aggregate(_w=w._one.sum())
            .order_by([ibis.desc("_w"), column]).limit(MAX_LEVELS + 1).execute())
    levels = list(top[column])
    return levels[:MAX_LEVELS], len(levels) > MAX_LEVELS


def _left(left: ir.Table, right: ir.Table) -> ir.Table:
    """Left join on customer_id keeping one customer_id column."""
    right = right.rename(_cid="customer_id")
    return left.left_join(right, left.customer_id == right._cid).drop("_cid")


def customer_behaviour(ws: Workspace, as_of: object = None) -> ir.Table:
    """Behaviour features, one row per current customer, from events before ``as_of``.

    Columns: ``customer_id``, ``lines``, ``avg_unit_price`` (mean price per unit bought),
    ``discount_share`` (share of lines bought with a discount or promotion), ``discount_rate``
    (discount / gross value), ``cat_share_<category>`` (revenue share; top 12 categories, the
    rest, if any, in ``cat_share_other``), ``channel_share_<channel>`` (share of orders),
    ``customer_tenure_days`` (since signup, or the first order when signup is unknown),
    ``return_rate`` (share of lines returned), and when the tables exist ``service_contacts``,
    ``complaints`` (``core.fct_tickets``) and ``campaign_exposure`` (campaigns the customer was
    assigned to in the treatment group, ``core.campaign_assignments``).

    Customers without any order before ``as_of`` get zero shares/counts and a missing price.

    Parameters
    ----------
    ws : Workspace
    as_of : date-like, optional
        Cut-off (exclusive). Default: the workspace setting ``observation_end`` when set, else
        the day after the last order.

    Returns
    -------
    ibis.Table
        Unexecuted; ``.to_pandas()`` or write it with :func:`build_customer_features`.
    """
    cutoff = _as_of(ws, as_of)
    cut = ibis.literal(cutoff, type="timestamp")
    if ws.has_table("core.dim_customer"):
        cust = ws.table(ws.resolved("core.dim_customer"))
    else:
        # Orders loaded without a customer file: the customers are those who ordered.
        ol = ws.table(ws.resolved("core.fct_order_lines"))
        cust = ol.filter(ol.customer_id.notnull()).select("customer_id").distinct()
    if "is_current" in cust.columns:
        cust = cust.filter(cust.is_current)
    cust_cols = cust.columns
    base = cust.select("customer_id", *(["signup_date"] if "signup_date" in cust_cols else []))
    base = base.distinct(on="customer_id") if "signup_date" in cust_cols else base.distinct()

    lines = ws.table(ws.resolved("core.fct_order_lines"))
    lines = lines.filter(lines.customer_id.notnull(), lines.order_ts < cut)
    cols = lines.columns
    if "status" in cols:
        lines = lines.filter((lines.status != "cancelled") | lines.status.isnull())
    if ws.has_table("core.dim_product") and "category" in ws.table("core.dim_product").columns \
            and "product_id" in cols:
        prod = ws.table("core.dim_product")
        if "is_current" in prod.columns:
            prod = prod.filter(prod.is_current)
        prod = prod.select(_pid=prod.product_id, category=prod.category).distinct(on="_pid")
        lines = lines.left_join(prod, lines.product_id == prod._pid).drop("_pid")
    is_return = (lines.is_return if "is_return" in cols
                 else (lines.amount < 0) if "amount" in cols else ibis.literal(False))
    sale = lines.filter(~is_return.fill_null(False))
    amount = sale.amount if "amount" in cols else sale.quantity * sale.unit_price

    aggs: dict[str, ir.Value] = {"lines": sale.count()}
    if "unit_price" in cols and "quantity" in cols:
        aggs["avg_unit_price"] = (sale.unit_price * sale.quantity).sum() / \
            sale.quantity.sum().nullif(0)
    elif "unit_price" in cols:
        aggs["avg_unit_price"] = sale.unit_price.mean()
    disc_flag = ibis.literal(False)
    if "discount" in cols:
        disc_flag = disc_flag | (sale.discount.fill_null(0) > 0)
        aggs["discount_rate"] = sale.discount.fill_null(0).sum() / \
            (amount + sale.discount.fill_null(0)).sum().nullif(0)
    if "promotion_id" in cols:
        disc_flag = disc_flag | sale.promotion_id.notnull()
    if "discount" in cols or "promotion_id" in cols:
        aggs["discount_share"] = disc_flag.cast("float64").mean()
    if "category" in sale.columns:
        cats, more = _levels(sale, "category", amount)
        total = amount.sum().nullif(0)
        for c in cats:
            in_cat = (sale.category == c).ifelse(amount, 0)
            aggs[feature_name("cat_share", c)] = in_cat.sum() / total
        if cats and more:
            other = ~sale.category.isin(cats) | sale.category.isnull()
            aggs["cat_share_other"] = other.ifelse(amount, 0).sum() / total
    per_customer = sale.group_by("customer_id").aggregate(**aggs)

    feats = _left(base, per_customer)

    if "channel" in cols:
        orders = sale.select("customer_id", "order_id", "channel").distinct(on="order_id")
        chans, _ = _levels(orders, "channel")
        n_orders = orders.count().nullif(0)
        ch = orders.group_by("customer_id").aggregate(**{
            feature_name("channel_share", c): (orders.channel == c).cast("float64").sum() / n_orders
            for c in chans})
        feats = _left(feats, ch)

    first = lines.group_by("customer_id").aggregate(
        _first_ts=lines.order_ts.min(), _lines_all=lines.count(),
        _returned=is_return.fill_null(False).cast("int64").sum())
    feats = _left(feats, first)
    start = feats._first_ts.cast("date")
    if "signup_date" in feats.columns:
        start = ibis.coalesce(feats.signup_date.cast("date"), start)
    tenure = cut.cast("date").delta(start, unit="day")
    feats = feats.mutate(
        customer_tenure_days=tenure.fill_null(0).cast("float64"),
        return_rate=(feats._returned / feats._lines_all.nullif(0)).fill_null(0.0),
    )

    if ws.has_table("core.fct_tickets"):
        tk = ws.table(ws.resolved("core.fct_tickets"))
        tk = tk.filter(tk.customer_id.notnull(), tk.opened_ts < cut)
        agg = {"service_contacts": tk.count()}
        if "is_complaint" in tk.columns:
            agg["complaints"] = tk.is_complaint.fill_null(False).cast("int64").sum()
        feats = _left(feats, tk.group_by("customer_id").aggregate(**agg))
    if ws.has_table("core.campaign_assignments"):
        ca = ws.table(ws.resolved("core.campaign_assignments"))
        if "group" in ca.columns:
            ca = ca.filter((ca["group"] != "control") | ca["group"].isnull())
        if ws.has_table("core.dim_campaign") and \
                "start_date" in ws.table("core.dim_campaign").columns:
            camp = ws.table("core.dim_campaign").select("campaign_id", "start_date")
            ca = ca.join(camp, "campaign_id")
            ca = ca.filter(ca.start_date.cast("timestamp") < cut)
        feats = _left(feats, ca.group_by("customer_id").aggregate(campaign_exposure=ca.count()))

    fills: dict[str, Any] = {}
    for name, dtype in feats.schema().items():
        if name in ("customer_id", "avg_unit_price", "signup_date") or name.startswith("_"):
            continue
        if dtype.is_numeric():
            fills[name] = 0
    feats = feats.mutate(**{k: feats[k].fill_null(v) for k, v in fills.items()})
    drop = [c for c in feats.columns if c.startswith("_") or c == "signup_date"]
    return feats.drop(*drop).order_by("customer_id")


def build_customer_features(
    ws: Workspace, as_of: object = None, *, write: bool = True
) -> pd.DataFrame:
    """Write ``marts.customer_features``: behaviour features joined with ``marts.customer_rfm``.

    One row per current customer. RFM columns (frequency, recency, T, monetary_value, orders,
    total_spend, avg_basket, tenure_days) come from ``marts.customer_rfm`` when it exists, plus
    ``recency_days`` (= T - recency, time since the last purchase). Returns the frame
    (written only when ``write``: a drift check reads the warehouse without changing it).
    """
    feats = customer_behaviour(ws, as_of).to_pandas()
    feats["customer_id"] = feats["customer_id"].astype(str)
    if ws.has_table("marts.customer_rfm"):
        rfm = ws.read("marts.customer_rfm")
        keep = [c for c in ("customer_id", "frequency", "recency", "T", "monetary_value",
                            "orders", "total_spend", "avg_basket", "tenure_days") if c in rfm]
        rfm = rfm[keep].assign(customer_id=rfm["customer_id"].astype(str))
        if {"T", "recency"} <= set(rfm.columns):
            rfm["recency_days"] = rfm["T"] - rfm["recency"]
        feats = rfm.merge(feats, on="customer_id", how="right")
        for c in ("frequency", "orders", "total_spend", "monetary_value"):
            if c in feats:
                feats[c] = feats[c].fillna(0.0)
    if write:
        ws.write_mart("customer_features", feats, model_version="behaviour-1")
    return feats
