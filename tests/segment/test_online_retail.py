"""RFM segments and clusters on UCI Online Retail (Chen, Sain & Guo 2012)."""

from __future__ import annotations

import pandas as pd
import pytest

from crmine.segment import CustomerSegmenter, profile_segments, rfm_segments, value_tiers
from tests.conftest import shared_file

END = pd.Timestamp("2011-12-10")


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    path = shared_file("online_retail/online_retail.csv.gz")
    raw = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str},
                      usecols=["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"])
    sales = raw[raw.CustomerID.notna() & (raw.Quantity > 0) & (raw.UnitPrice > 0)].copy()
    sales["amount"] = sales.Quantity * sales.UnitPrice
    sales["ts"] = pd.to_datetime(sales.InvoiceDate)
    g = sales.groupby("CustomerID")
    out = pd.DataFrame({
        "orders": g.InvoiceNo.nunique(),
        "total_spend": g.amount.sum(),
        "recency_days": (END - g.ts.max()).dt.days,
        "tenure_days": (END - g.ts.min()).dt.days,
        "avg_unit_price": g.amount.sum() / g.Quantity.sum(),
        "items_per_order": g.Quantity.sum() / g.InvoiceNo.nunique(),
    }).reset_index()
    out["customer_id"] = out.pop("CustomerID").astype(int).astype(str)
    return out


def test_rfm_segments_on_online_retail(customers):
    # SOURCE.md: 4,338 customers and revenue 8,911,407.90 after removing cancellations.
    assert len(customers) == 4338
    assert customers.total_spend.sum() == pytest.approx(8_911_407.90, abs=0.01)
    res = rfm_segments(customers)
    seg = res.segments.set_index("rfm_segment")
    assert seg["customers"].sum() == 4338
    # Champions spend most per head and bought most recently; Lost the reverse.
    assert seg["mean_monetary"].idxmax() in ("Champions", "Can't Lose")
    assert seg.loc["Champions", "mean_recency_days"] < seg.loc["Lost", "mean_recency_days"]
    assert seg.loc["Champions", "revenue_share"] > 0.3
    tiers = value_tiers(customers)
    # The retailer's wholesale skew: about a quarter of customers make 80% of revenue.
    assert 0.15 < tiers.top_share_for_80 < 0.35


def test_clusters_on_online_retail(customers):
    seg = CustomerSegmenter(k_range=(2, 8), n_bootstrap=3).fit(customers)
    assert 2 <= seg.n_clusters_ <= 8
    prof = profile_segments(customers, seg.labels_, feature_columns=seg.features_used_)
    top = prof.summary.sort_values("revenue_share", ascending=False).iloc[0]
    stats = prof.stats.set_index(["segment", "feature"])
    # The cluster making most revenue buys more often than the rest.
    assert stats.loc[(top["segment"], "orders"), "std_diff"] > 0.5
    assert top["revenue_share"] > top["share"]
