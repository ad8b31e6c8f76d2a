"""Cohort matrices: retention and revenue by acquisition month, channel and first category.

A customer's cohort is the month of its first completed purchase (``acquisition_month``), the
``acquisition_channel`` of ``core.dim_customer`` and the category it spent most on in its first
purchase day (``first_category``, from ``core.dim_product``), when those columns hold values.
``period`` counts calendar months since the acquisition month (0 = the acquisition month).

``eligible`` = the cohort's customers acquired early enough to be observed ``period`` months
later (all of them for a month cohort), so that ``retention = customers / eligible`` is not
biased down for channel or category cohorts by customers acquired recently.
"""

from __future__ import annotations

import pandas as pd

from crmine.lifecycle._stages import ORDERS
from crmine.warehouse import Workspace

__all__ = ["COHORT_COLUMNS", "cohort_matrix", "cohort_sql", "retention_triangle"]

COHORT_COLUMNS = (
    "dimension",
    "cohort",
    "period",
    "cohort_size",
    "eligible",
    "customers",
    "retention",
    "revenue",
    "revenue_per_customer",
    "cumulative_revenue_per_customer",
)


def _has_values(ws: Workspace, table: str, column: str) -> bool:
    if not ws.has_table(table) or column not in ws.columns(table):
        return False
    row = ws.duck.execute(f"SELECT count({column}) FROM {table}").fetchone()
    return bool(row and row[0])


def _dimensions(ws: Workspace) -> dict[str, str]:
    """Cohort dimension -> SQL expression over the customers' table ``f`` (with a product)."""
    dims = {"acquisition_month": "strftime(f.cohort_m, '%Y-%m')"}
    if _has_values(ws, "core.dim_customer", "acquisition_channel"):
        dims["acquisition_channel"] = (
            "coalesce(CAST(dc.acquisition_channel AS VARCHAR), '(unknown)')"
        )
    if _has_values(ws, "core.dim_product", "category") and _has_values(ws, ORDERS, "product_id"):
        dims["first_category"] = "coalesce(CAST(fc.category AS VARCHAR), '(unknown)')"
    return dims


def cohort_sql(ws: Workspace, dimensions: dict[str, str] | None = None) -> str:
    """The SQL of the long cohort table (:data:`COHORT_COLUMNS`)."""
    dims = dimensions or _dimensions(ws)
    joins = ""
    if "acquisition_channel" in dims:
        joins += (
            " LEFT JOIN (SELECT DISTINCT ON (customer_id) CAST(customer_id AS VARCHAR) "
            f"AS customer_id, acquisition_channel FROM {ws.resolved('core.dim_customer')} "
            "ORDER BY customer_id, is_current DESC) dc USING (customer_id)"
        )
    first_cat = ""
    if "first_category" in dims:
        first_cat = f""",
    fc AS (
        SELECT l.customer_id, arg_max(p.category, l.amount) AS category
        FROM {ws.resolved(ORDERS)} l JOIN core.dim_product p USING (product_id)
        JOIN first f ON f.customer_id = l.customer_id
            AND CAST(l.order_ts AS DATE) = f.first_d
        WHERE l.status = 'completed' AND p.category IS NOT NULL
        GROUP BY 1
    )"""
        joins += " LEFT JOIN fc USING (customer_id)"
    keyed = ",\n".join(f"{expr} AS k_{name}" for name, expr in dims.items())
    unions = "\nUNION ALL\n".join(
        f"""
        SELECT '{name}' AS dimension, k_{name} AS cohort, a.period,
               count(DISTINCT a.customer_id) AS customers, sum(a.revenue) AS revenue
        FROM act a JOIN keyed USING (customer_id) GROUP BY ALL"""
        for name in dims
    )
    sizes = "\nUNION ALL\n".join(
        f"""
        SELECT '{name}' AS dimension, k_{name} AS cohort, months_seen
        FROM keyed"""
        for name in dims
    )
    return f"""
    WITH p AS (
        SELECT customer_id, date_trunc('month', order_ts) AS m, CAST(order_ts AS DATE) AS d,
               coalesce(amount, 0) AS amount
        FROM {ws.resolved(ORDERS)}
        WHERE status = 'completed' AND customer_id IS NOT NULL AND order_ts IS NOT NULL
    ),
    last_month AS (SELECT max(m) AS lm FROM p),
    first AS (
        SELECT customer_id, min(m) AS cohort_m, min(d) AS first_d FROM p GROUP BY 1
    ){first_cat},
    keyed AS (
        SELECT f.customer_id, datediff('month', f.cohort_m, lm) AS months_seen,
               {keyed}
        FROM first f CROSS JOIN last_month{joins}
    ),
    act AS (
        SELECT p.customer_id, datediff('month', f.cohort_m, p.m) AS period,
               sum(p.amount) AS revenue
        FROM p JOIN first f USING (customer_id) GROUP BY 1, 2
    ),
    cells AS ({unions}),
    sizes AS ({sizes}),
    hist AS (SELECT dimension, cohort, months_seen, count(*) AS n FROM sizes GROUP BY ALL),
    totals AS (SELECT dimension, cohort, sum(n) AS cohort_size FROM hist GROUP BY ALL),
    elig AS (
        SELECT c.dimension, c.cohort, c.period, sum(h.n) AS eligible
        FROM cells c JOIN hist h ON h.dimension = c.dimension AND h.cohort = c.cohort
            AND h.months_seen >= c.period
        GROUP BY ALL
    )
    SELECT c.dimension, c.cohort, c.period, t.cohort_size, e.eligible, c.customers, c.revenue
    FROM cells c JOIN totals t USING (dimension, cohort)
    JOIN elig e USING (dimension, cohort, period)
    ORDER BY 1, 2, 3
    """


def cohort_matrix(ws: Workspace) -> pd.DataFrame:
    """The cohort table in long form: one row per dimension, cohort and period.

    Columns :data:`COHORT_COLUMNS`; ``retention`` and ``revenue_per_customer`` divide by
    ``eligible``; ``cumulative_revenue_per_customer`` sums revenue per eligible customer over
    the periods so far (a cohort's value curve).

    Pivot ``dimension == "acquisition_month"`` on ``cohort`` x ``period`` for the classic
    triangle.
    """
    df = ws.duck.execute(cohort_sql(ws)).df()
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COHORT_COLUMNS})
    for c in ("period", "cohort_size", "eligible", "customers"):
        df[c] = df[c].astype("int64")
    df["revenue"] = df["revenue"].astype(float)
    df["retention"] = df["customers"] / df["eligible"].clip(lower=1)
    df["revenue_per_customer"] = df["revenue"] / df["eligible"].clip(lower=1)
    df = df.sort_values(["dimension", "cohort", "period"], kind="stable")
    df["cumulative_revenue_per_customer"] = df.groupby(["dimension", "cohort"])[
        "revenue_per_customer"
    ].cumsum()
    return df[list(COHORT_COLUMNS)].reset_index(drop=True)


def retention_triangle(cohorts: pd.DataFrame, value: str = "retention") -> pd.DataFrame:
    """The acquisition-month cohorts as a cohort x period table of ``value``."""
    month = cohorts[cohorts["dimension"] == "acquisition_month"]
    return month.pivot(index="cohort", columns="period", values=value).sort_index()
