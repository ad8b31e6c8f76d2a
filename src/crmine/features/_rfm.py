"""The per-customer RFM mart, as engine-agnostic Ibis expressions.

Conventions are those of lifetimes and PyMC-Marketing, so users recognise the numbers:

- purchases are grouped into periods of ``time_unit`` (D, W, M); several purchases in one
  period count once;
- ``frequency``: number of repeat purchase periods (periods with a purchase − 1);
- ``recency``: periods between the first and the last purchase;
- ``T``: periods between the first purchase and the observation end;
- ``monetary_value``: mean spend of the repeat purchase periods (0 without repeats).

Purchases are completed order lines of known customers up to the observation end; returns and
anonymous lines do not count as purchases, but returns do reduce ``total_spend``.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from crmine.exceptions import ConfigError

__all__ = ["TIME_UNITS", "build_customer_rfm", "customer_rfm"]

TIME_UNITS = {"D": "days", "W": "weeks (Monday to Sunday)", "M": "calendar months"}
_EPOCH = dt.date(1970, 1, 1)


def _period(ts: ir.TimestampValue, time_unit: str) -> ir.IntegerValue:
    """An integer period index; differences between indices are periods elapsed."""
    day = ts.date()
    if time_unit == "M":
        return day.year() * 12 + day.month()
    days = day.delta(ibis.date(_EPOCH), unit="day")
    if time_unit == "D":
        return days
    # 1970-01-01 was a Thursday: shifting by 3 makes weeks run Monday..Sunday, like pandas' W.
    return ((days + 3) / 7).floor().cast("int64")


def customer_rfm(
    order_lines: ir.Table,
    *,
    observation_end: dt.date | dt.datetime | str | None = None,
    time_unit: str = "D",
) -> ir.Table:
    """Per-customer RFM and spend summary of ``order_lines`` (an Ibis table).

    Parameters
    ----------
    order_lines
        Table with ``customer_id``, ``order_id``, ``order_ts``, ``amount`` and ``status``
        (as ``core.fct_order_lines``).
    observation_end
        Last day observed (inclusive). Default: the day of the last order line.
    time_unit
        ``"D"``, ``"W"`` or ``"M"``.

    Returns
    -------
    ibis.Table
        One row per customer: ``customer_id, frequency, recency, T, monetary_value, orders,
        total_spend, first_order_ts, last_order_ts, avg_basket, tenure_days``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy
    way: an alternative to the Pareto/NBD model. Marketing Science 24(2), 275–284.
    """
    if time_unit not in TIME_UNITS:
        raise ConfigError(
            f"time_unit {time_unit!r} is not supported; use one of {', '.join(TIME_UNITS)} "
            f"({', '.join(TIME_UNITS.values())})"
        )
    lines = order_lines.filter(order_lines.customer_id.notnull())
    if observation_end is None:
        end_ts = lines.order_ts.max().as_scalar()
        end_day = end_ts.date()
    else:
        end_day = ibis.date(pd.Timestamp(observation_end).date())
    # Everything up to the end of the observation day counts.
    lines = lines.filter(lines.order_ts.date() <= end_day)
    purchases = lines.filter(lines.status == "completed")
    per_period = purchases.group_by(
        customer_id=purchases.customer_id, period=_period(purchases.order_ts, time_unit)
    ).aggregate(spend=purchases.amount.sum())
    first = per_period.group_by("customer_id").aggregate(
        first_period=per_period.period.min(),
        last_period=per_period.period.max(),
        n_periods=per_period.period.count(),
        spend_all=per_period.spend.sum(),
    )
    # Spend of the first period is excluded from monetary_value (repeat purchases only).
    first_spend = per_period.join(
        first,
        (per_period.customer_id == first.customer_id) & (per_period.period == first.first_period),
    ).select(customer_id=per_period.customer_id, first_spend=per_period.spend)
    if time_unit == "M":
        end_period = end_day.year() * 12 + end_day.month()
    else:
        end_period = _period(end_day.cast("timestamp"), time_unit)
    rfm = first.join(first_spend, "customer_id").select(
        customer_id=first.customer_id,
        frequency=(first.n_periods - 1).cast("float64"),
        recency=(first.last_period - first.first_period).cast("float64"),
        T=(end_period - first.first_period).cast("float64"),
        monetary_value=ibis.ifelse(
            first.n_periods > 1,
            (first.spend_all - first_spend.first_spend) / (first.n_periods - 1),
            0.0,
        ).cast("float64"),
    )
    spend = lines.group_by("customer_id").aggregate(
        orders=lines.order_id.nunique(where=lines.status == "completed"),
        total_spend=lines.amount.sum(),
        first_order_ts=lines.order_ts.min(where=lines.status == "completed"),
        last_order_ts=lines.order_ts.max(where=lines.status == "completed"),
    )
    out = rfm.join(spend, "customer_id")
    return out.select(
        out.customer_id,
        out.frequency,
        out.recency,
        out.T,
        out.monetary_value,
        out.orders,
        out.total_spend,
        out.first_order_ts,
        out.last_order_ts,
        avg_basket=(out.total_spend / out.orders).cast("float64"),
        tenure_days=end_day.delta(out.first_order_ts.date(), unit="day").cast("int64"),
    ).order_by("customer_id")


def build_customer_rfm(
    ws: object,
    *,
    observation_end: dt.date | dt.datetime | str | None = None,
    time_unit: str | None = None,
) -> int:
    """Compute ``marts.customer_rfm`` from ``core.fct_order_lines``; returns the row count.

    ``time_unit`` defaults to the workspace setting ``time_unit`` (``"D"``).
    """
    from crmine.warehouse import Workspace

    assert isinstance(ws, Workspace)
    unit = time_unit or ws.setting("time_unit", "D")
    lines = ws.table(ws.resolved("core.fct_order_lines"))
    if observation_end is None:
        observation_end = lines.order_ts.max().to_pandas()
        if observation_end is None or pd.isna(observation_end):
            raise ConfigError("core.fct_order_lines is empty: load orders before building RFM")
    end = pd.Timestamp(observation_end).normalize()
    expr = customer_rfm(lines, observation_end=end, time_unit=unit).mutate(
        observation_end=ibis.date(end.date()), time_unit=ibis.literal(unit)
    )
    ws.con.create_table("customer_rfm", expr, database="marts", overwrite=True)
    row = ws.duck.execute("SELECT count(*) FROM marts.customer_rfm").fetchone()
    return int(row[0]) if row else 0
