"""``crmine cube``: count, list, export and group customers by any dimensions.

Kept light: the command imports neither pandas nor Ibis unless the answer needs them, so a
count from the shell reads the stored cube with DuckDB alone.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crmine.cli._common import JsonOpt, WorkspaceOpt, console, emit, errors_handled

if TYPE_CHECKING:
    import pandas as pd

# Columns shown first when the listed customers do not fit the terminal, in this order.
KEY_COLUMNS = ("customer_id", "segment", "value_tier", "cluster", "revenue", "orders",
               "channel", "churn_risk", "city", "gender", "age")
_MIN_WIDTH = 6


def fmt(value: Any) -> str:
    """A cell: counts and money with grouped digits, never scientific notation."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1_000 or value.is_integer():
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:,.2f}"
        return f"{value:.3f}"
    try:  # numpy / pandas scalars
        import numbers

        if isinstance(value, numbers.Integral):
            return f"{int(value):,}"
        if isinstance(value, numbers.Real):
            return fmt(float(value))
    except (TypeError, ValueError):
        pass
    text = str(value)
    return "" if text in ("<NA>", "NaT", "nan") else text


def fit_columns(frame: pd.DataFrame, width: int) -> list[str]:
    """The columns of ``frame`` to show in ``width`` characters: the key columns first, then
    the others in order, as many as fit with a readable width each."""
    cells = {c: [fmt(v) for v in frame[c].tolist()] for c in frame.columns}
    need = {c: max([len(str(c)), *map(len, cells[c])]) for c in frame.columns}
    order = [c for c in KEY_COLUMNS if c in need] + [c for c in frame.columns
                                                     if c not in KEY_COLUMNS]
    if "segment" in need and "rfm_segment" in need:  # the cube's segment is the RFM segment
        order.remove("rfm_segment")
        order.append("rfm_segment")
    chosen: list[str] = []
    used = 1  # the table's left border
    for c in order:
        w = max(_MIN_WIDTH, min(need[c], 24)) + 3  # padding and separator
        if used + w > width and chosen:
            continue
        chosen.append(c)
        used += w
    return [c for c in frame.columns if c in chosen]


def print_table(frame: pd.DataFrame, title: str, *, width: int | None = None,
                hint: str = "choose with --column, or use --json / --export") -> None:
    """``frame`` as a table that fits the terminal: the key columns when not all fit, with a
    note naming the columns left out."""
    from rich.table import Table

    width = width or console.width
    shown = fit_columns(frame, width)
    table = Table(title=title or None)
    for c in shown:
        numeric = frame[c].dtype.kind in "iuf"
        table.add_column(str(c), justify="right" if numeric else "left", overflow="fold",
                         min_width=min(_MIN_WIDTH, len(str(c))))
    for row in frame[shown].itertuples(index=False):
        table.add_row(*(fmt(v) for v in row))
    console.print(table)
    hidden = [c for c in frame.columns if c not in shown]
    if hidden:
        console.print(f"[dim]{len(hidden):,} more columns not shown ({', '.join(hidden)}): "
                      f"{hint}[/dim]", highlight=False,
                      soft_wrap=False, width=width)


def register(app: typer.Typer) -> None:
    @app.command("cube")
    def cube_cmd(
        where: Annotated[list[str] | None, typer.Option(
            "--where", help="Filter column=value (several values: a,b; also != > >= < <=). "
                            "Repeat for AND.")] = None,
        by: Annotated[list[str] | None, typer.Option(
            "--by", help="Group by this dimension (repeat to drill down).")] = None,
        measure: Annotated[list[str] | None, typer.Option(
            "--measure", help="customers, revenue, orders, aov, a numeric column, "
                              "sum:col …")] = None,
        list_: Annotated[bool, typer.Option("--list", help="List the matching customers.")] = False,
        column: Annotated[list[str] | None, typer.Option(
            "--column", help="Column of the listed/exported customers (repeat; default "
                             "all).")] = None,
        page: Annotated[int, typer.Option("--page", help="Page of the list.")] = 1,
        page_size: Annotated[int, typer.Option("--page-size", help="Rows per page.")] = 50,
        export: Annotated[Path | None, typer.Option(
            "--export", help="Write all matching customers to FILE.csv or FILE.parquet.")] = None,
        spend: Annotated[bool, typer.Option(
            "--spend", help="Explore media spend rows (marketing_spend: channel, campaign, "
                            "ad, age, gender, interest, period) instead of customers; "
                            "measures rows, spend, clicks, conversions, cpa, roas …")] = False,
        period: Annotated[str, typer.Option(
            "--period", help="With --spend: the period dimension, D, W, M, Q or Y.")] = "W",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Filter customers on any dimensions: the count, the list, groups with measures
        (``--spend``: the same over media spend rows)."""
        from crmine.cube import query, spend_query

        left_out = 0
        with errors_handled(json_out):
            if spend:
                if list_ or export is not None or column:
                    from crmine.exceptions import ConfigError

                    raise ConfigError("--list, --export and --column list customers; with "
                                      "--spend group the rows with --by instead")
                res = spend_query(workspace, where=where or [], by=by or None,
                                  measures=measure or None, period=period)
            else:
                # a list or an export is who to contact: opted-out customers are left out
                contact = list_ or export is not None
                consent = _consent_where(workspace) if contact else []
                res = query(workspace, where=[*(where or []), *consent], by=by or None,
                            measures=measure or None, list_customers=list_,
                            columns=column or None, page=page, page_size=page_size,
                            export=export)
                left_out = query(workspace, where=where or []).count - res.count \
                    if consent else 0  # fmt: skip

        def render() -> None:
            conds = " and ".join(str(f) for f in res.filters) or ("all rows" if spend
                                                                  else "all customers")
            noun = "spend rows" if spend else "customers"
            console.print(f"[bold]{res.count:,}[/bold] {noun} ({conds})", highlight=False)
            if res.groups is not None:
                if spend:
                    print_table(res.groups, "By " + ", ".join(res.by),
                                hint="choose with --measure, or use --json")
                else:
                    print_table(res.groups, "By " + ", ".join(res.by))
            if res.customers is not None:
                print_table(res.customers, f"Page {res.page:,} of {res.pages:,}")
            if res.exported is not None:
                console.print(f"exported to {res.exported}")
            if left_out:
                console.print(f"{left_out:,} matching customers opted out of marketing: left "
                              "out of the list", highlight=False)

        out = res.to_dict()
        if not spend and (list_ or export is not None):
            out["consent_excluded"] = left_out
        emit(out, json_out, render)


def _consent_where(workspace: Path) -> list[str]:
    """The cube filters leaving out customers who opted out (crmine.warehouse._consent)."""
    from crmine.cube import cube_columns
    from crmine.warehouse import Workspace
    from crmine.warehouse._consent import anyone_opted_out, consent_where

    with Workspace.open(workspace, read_only=True) as ws:
        if not anyone_opted_out(ws):  # no consent recorded: nobody is left out
            return []
    return consent_where(cube_columns(workspace))
