"""Behaviour by segment: category preferences, discount sensitivity, channel mix, seasonality.

The basis for personalised offers: what each segment buys more of than the average customer,
how much of its spending is discounted, where it shops and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmine.exceptions import MissingColumnError

if TYPE_CHECKING:
    from crmine.warehouse import Workspace

__all__ = ["SegmentBehaviour", "segment_behaviour", "workspace_behaviour"]


@dataclass(frozen=True, slots=True)
class SegmentBehaviour:
    """Tidy tables, one row per (segment, level).

    Attributes
    ----------
    categories : DataFrame
        segment, category, revenue, revenue_share (within the segment), index (share in the
        segment / share overall x 100; above 100 = the segment prefers it).
    discounts : DataFrame
        segment, revenue, discount, discount_rate (discount / gross), discounted_line_share.
    channels : DataFrame
        segment, channel, orders, order_share, index.
    seasonality : DataFrame
        segment, month (1-12), revenue, revenue_share, index (vs the month's overall share).
    """

    categories: pd.DataFrame
    discounts: pd.DataFrame
    channels: pd.DataFrame
    seasonality: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.categories.copy()


def _shares(lines: pd.DataFrame, level: str, measure: str) -> pd.DataFrame:
    by = lines.groupby(["segment", level], observed=True)[measure].sum().rename("value")
    out = by.reset_index()
    seg_total = out.groupby("segment")["value"].transform("sum")
    out["share"] = out["value"] / seg_total.replace(0, np.nan)
    overall = out.groupby(level)["value"].sum()
    overall_share = (overall / overall.sum()).rename("overall_share")
    out = out.merge(overall_share.reset_index(), on=level)
    out["index"] = 100 * out["share"] / out["overall_share"].replace(0, np.nan)
    return out.drop(columns="overall_share").sort_values(["segment", level]).reset_index(drop=True)


def segment_behaviour(lines: pd.DataFrame, segments: pd.DataFrame, *,
                      segment: str = "segment") -> SegmentBehaviour:
    """Behaviour of each segment from its order lines.

    Parameters
    ----------
    lines : DataFrame
        Order lines with customer_id, order_id, order_ts, amount and, when available,
        category, channel, discount, quantity, unit_price (``core.fct_order_lines`` joined with
        ``core.dim_product``). Tables without an optional column give an empty frame for it.
    segments : DataFrame
        customer_id and the ``segment`` column (cluster, RFM segment, …).
    """
    for col in ("customer_id", "order_ts", "amount"):
        if col not in lines.columns:
            raise MissingColumnError(f"order lines need column {col!r}; columns found: "
                                     f"{list(lines.columns)}")
    if segment not in segments.columns or "customer_id" not in segments.columns:
        raise MissingColumnError(f"segments need customer_id and {segment!r}; columns found: "
                                 f"{list(segments.columns)}")
    seg = segments[["customer_id", segment]].rename(columns={segment: "segment"})
    seg = seg.assign(customer_id=seg["customer_id"].astype(str))
    data = lines.assign(customer_id=lines["customer_id"].astype(str)).merge(seg, on="customer_id")
    data = data[data["amount"].notna()]

    if "category" in data:
        cats = _shares(data.assign(category=data["category"].fillna("(none)")), "category",
                       "amount").rename(columns={"value": "revenue", "share": "revenue_share"})
    else:
        cats = pd.DataFrame(columns=["segment", "category", "revenue", "revenue_share", "index"])

    disc_cols = ["segment", "revenue", "discount", "discount_rate", "discounted_line_share"]
    if "discount" in data:
        d = data.assign(discount=data["discount"].fillna(0.0),
                        has_discount=data["discount"].fillna(0.0) > 0)
        g = d.groupby("segment").agg(revenue=("amount", "sum"), discount=("discount", "sum"),
                                     discounted_line_share=("has_discount", "mean"))
        g["discount_rate"] = g["discount"] / (g["revenue"] + g["discount"]).replace(0, np.nan)
        discounts = g.reset_index()[disc_cols]
    else:
        discounts = pd.DataFrame(columns=disc_cols)

    if "channel" in data and "order_id" in data:
        orders = data.drop_duplicates(["order_id"]).assign(
            channel=lambda f: f["channel"].fillna("(none)"), n=1)
        channels = _shares(orders, "channel", "n").rename(
            columns={"value": "orders", "share": "order_share"})
    else:
        channels = pd.DataFrame(columns=["segment", "channel", "orders", "order_share", "index"])

    months = data.assign(month=pd.to_datetime(data["order_ts"]).dt.month)
    seasonality = _shares(months, "month", "amount").rename(
        columns={"value": "revenue", "share": "revenue_share"})
    return SegmentBehaviour(categories=cats, discounts=discounts, channels=channels,
                            seasonality=seasonality)


def workspace_behaviour(ws: Workspace, segments: pd.DataFrame, *, segment: str = "cluster"
                        ) -> SegmentBehaviour:
    """:func:`segment_behaviour` from a workspace's order lines, aggregated in the warehouse.

    ``segments`` holds customer_id and ``segment``; only per-(segment, level) sums come back to
    Python, so this scales with the warehouse, not with memory.
    """
    import ibis

    lines = ws.table(ws.resolved("core.fct_order_lines"))
    lines = lines.filter(lines.customer_id.notnull())
    if "is_return" in lines.columns:
        lines = lines.filter(~lines.is_return.fill_null(False))
    seg = ibis.memtable(segments[["customer_id", segment]].rename(
        columns={"customer_id": "_cid", segment: "segment"}).astype({"_cid": str}))
    data = lines.join(seg, lines.customer_id.cast("string") == seg._cid)
    if ws.has_table("core.dim_product") and "category" in ws.table("core.dim_product").columns \
            and "product_id" in lines.columns:
        prod = ws.table("core.dim_product")
        prod = prod.select(_pid=prod.product_id, category=prod.category).distinct(on="_pid")
        data = data.left_join(prod, data.product_id == prod._pid).drop("_pid")
    cols = data.columns
    frames: dict[str, pd.DataFrame] = {}
    if "category" in cols:
        frames["category"] = data.group_by(["segment", "category"]).aggregate(
            amount=data.amount.sum()).to_pandas()
    if "discount" in cols:
        d = data.mutate(_disc=data.discount.fill_null(0))
        frames["discount"] = d.group_by("segment").aggregate(
            revenue=d.amount.sum(), discount=d._disc.sum(),
            discounted_line_share=(d._disc > 0).cast("float64").mean()).to_pandas()
    if "channel" in cols:
        frames["channel"] = data.group_by(["segment", "channel"]).aggregate(
            n=data.order_id.nunique()).to_pandas()
    frames["month"] = data.group_by(["segment", data.order_ts.month().name("month")]).aggregate(
        amount=data.amount.sum()).to_pandas()

    cats = (_shares(frames["category"].assign(category=lambda f: f["category"].fillna("(none)")),
                    "category", "amount").rename(columns={"value": "revenue",
                                                          "share": "revenue_share"})
            if "category" in frames else
            pd.DataFrame(columns=["segment", "category", "revenue", "revenue_share", "index"]))
    if "discount" in frames:
        disc = frames["discount"]
        disc["discount_rate"] = disc["discount"] / (disc["revenue"] + disc["discount"]).replace(
            0, np.nan)
        disc = disc[["segment", "revenue", "discount", "discount_rate", "discounted_line_share"]]
    else:
        disc = pd.DataFrame(columns=["segment", "revenue", "discount", "discount_rate",
                                     "discounted_line_share"])
    chans = (_shares(frames["channel"].assign(channel=lambda f: f["channel"].fillna("(none)")),
                     "channel", "n").rename(
        columns={"value": "orders", "share": "order_share"}) if "channel" in frames else
        pd.DataFrame(columns=["segment", "channel", "orders", "order_share", "index"]))
    season = _shares(frames["month"], "month", "amount").rename(
        columns={"value": "revenue", "share": "revenue_share"})
    return SegmentBehaviour(categories=cats, discounts=disc.sort_values("segment"),
                            channels=chans, seasonality=season)
