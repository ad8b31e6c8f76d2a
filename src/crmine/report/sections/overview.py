"""Data overview: who and what is in the warehouse, and net revenue over time."""

from __future__ import annotations

import plotly.express as px

from crmine.report import Section, kpis, plot, section, table
from crmine.warehouse import Workspace


@section("overview", order=0, title="Data overview")
def overview(ws: Workspace) -> Section | None:
    if not ws.has_table("core.fct_order_lines"):
        return None
    con = ws.duck
    lines_table = ws.resolved("core.fct_order_lines")  # customers counted once per person
    row = con.execute(
        f"""
        SELECT count(*) AS lines, count(DISTINCT order_id) AS orders,
               count(DISTINCT customer_id) AS customers,
               sum(amount) FILTER (WHERE status = 'completed' AND amount > 0) AS sales,
               sum(abs(amount)) FILTER (WHERE is_return) AS returned,
               count(*) FILTER (WHERE is_anonymous) AS anonymous_lines,
               count(*) FILTER (WHERE is_return) AS return_lines,
               min(order_ts)::DATE AS first_day, max(order_ts)::DATE AS last_day
        FROM {lines_table}
        """
    ).fetchone()
    assert row is not None
    lines, orders, customers, sales, returned, anon, returns, first, last = row
    sales, returned = float(sales or 0.0), float(returned or 0.0)
    monthly = con.execute(
        f"""
        SELECT date_trunc('month', order_ts)::DATE AS month,
               coalesce(sum(amount) FILTER (WHERE status = 'completed' AND amount > 0), 0)
                 - coalesce(sum(abs(amount)) FILTER (WHERE is_return), 0) AS net_revenue,
               sum(amount) FILTER (WHERE status = 'completed' AND amount > 0) AS sales,
               sum(abs(amount)) FILTER (WHERE is_return) AS returned,
               count(DISTINCT order_id) AS orders,
               count(DISTINCT customer_id) AS active_customers
        FROM {lines_table} GROUP BY 1 ORDER BY 1
        """
    ).df()
    fig = px.bar(
        monthly,
        x="month",
        y="net_revenue",
        title="Net revenue by month (sales − returns)",
        labels={"net_revenue": "net revenue"},
        hover_data=["sales", "returned", "orders", "active_customers"],
    )
    tables = []
    for name in ws.tables("core"):
        n = con.execute(f"SELECT count(*) FROM {name}").fetchone()
        tables.append({"table": name, "rows": int(n[0]) if n else 0})
    import pandas as pd

    body = (
        kpis(
            {
                "customers": int(customers or 0),
                "orders": int(orders or 0),
                "order lines": int(lines),
                "sales": sales,
                "returned": returned,
                "net revenue": sales - returned,
                "anonymous lines": int(anon or 0),
                "return lines": int(returns or 0),
                "period": f"{first} … {last}",
            }
        )
        + plot(fig, height=340)
        + table(pd.DataFrame(tables), caption="Core tables")
    )
    parts = [body]
    if ws.has_table("core.dim_customer"):
        by_country = con.execute(
            "SELECT coalesce(country, 'unknown') AS country, count(*) AS customers "
            f"FROM {ws.resolved('core.dim_customer')} WHERE is_current "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 15"
        ).df()
        if len(by_country) > 1:
            parts.append(
                plot(
                    px.bar(
                        by_country,
                        x="country",
                        y="customers",
                        title="Customers by country (top 15)",
                    ),
                    height=300,
                )
            )
    return Section(
        "".join(parts),
        summary=f"{int(customers or 0):,} customers, "
        f"{int(orders or 0):,} orders from {first} to {last}",
    )
