"""The features step: ``marts.customer_rfm`` and ``marts.customer_features``, rebuilt from the
core tables before any analysis reads them (so a run after a new load never sees stale ones)."""

from __future__ import annotations

from crmine.contract import Analysis, Mart, PreparedRun, not_null, unique
from crmine.features._behaviour import build_customer_features
from crmine.features._rfm import build_customer_rfm
from crmine.warehouse import Workspace

__all__ = ["ANALYSIS", "run_features"]

_PER_CUSTOMER = (unique("customer_id"), not_null("customer_id"))


def run_features(ws: Workspace) -> PreparedRun:
    """Rebuild ``marts.customer_rfm`` (at the ``observation_end`` setting, else the data end)
    and ``marts.customer_features`` from the core tables."""
    rows = build_customer_rfm(ws, observation_end=ws.setting("observation_end"))
    features = build_customer_features(ws)
    return PreparedRun(
        {"customers_rfm": rows, "customers_features": len(features),
         "time_unit": ws.setting("time_unit", "D")},
        features, ("marts.customer_rfm", "marts.customer_features"),
    )  # fmt: skip


ANALYSIS = Analysis(
    name="features",
    title="Customer features (RFM and behaviour)",
    run=run_features,
    requires=("core.fct_order_lines.customer_id",),
    fits=False,
    section="rfm",
    marts=(
        Mart("customer_rfm", "one row per customer with a purchase",
             ("customer_id", "frequency", "recency", "T", "monetary_value"), _PER_CUSTOMER),
        Mart("customer_features", "one row per current customer", ("customer_id",),
             _PER_CUSTOMER),
    ),
)  # fmt: skip
