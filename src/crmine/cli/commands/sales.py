"""``crmine sales summary|forecast|elasticity|whatif|promotions``, ``crmine forecast`` and
``crmine whatif price``: sales analysis, forecasting and what-if on the workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crmine.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    emit,
    errors_handled,
    open_workspace,
    print_frame,
    print_verdict,
)

ByOpt = Annotated[
    str, typer.Option("--by", help="Dimensions, comma-separated (category, channel, region…).")
]
CategoryOpt = Annotated[
    str | None, typer.Option("--category", "-c", help="Only this category (default: all).")
]
ChangeOpt = Annotated[
    str, typer.Option("--change", help="Price change: -5% (or -0.05) is 5 % cheaper.")
]


def parse_change(text: str) -> float:
    """``-5%`` or ``-0.05`` → -0.05; anything else is a clear error."""
    from crmine.exceptions import DataError

    raw = text.strip().replace(" ", "")
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise DataError(
            f"--change {text[:40]!r} is not a number: write -5% or -0.05 (5 % cheaper)"
        ) from None
    if not -1 < value < 10:
        raise DataError(f"--change {text[:40]!r}: a price cannot fall by 100 % or more")
    return value


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _forecast(
    workspace: Path,
    freq: str | None,
    horizon: int | None,
    by: str | None,
    models: str | None,
    windows: int | None,
    input_file: Path | None,
    json_out: bool,
    future_file: Path | None = None,
) -> None:
    from crmine.sales import forecast, forecast_hierarchy, forecast_settings, sales_series
    from crmine.sales._workspace import calendar_regressors

    calendar = None

    with errors_handled(json_out):
        if input_file is not None:  # a long-format file: unique_id, ds, y
            from crmine.cli._common import read_flat_file

            frame = read_flat_file(input_file)
            future = read_flat_file(future_file) if future_file is not None else None
            f = (freq or "D").upper()
            res: Any = forecast(
                frame,
                freq=f,
                horizon=horizon or 28,
                models=_split(models) if models else ("ets", "theta", "combo"),
                n_windows=windows or 3,
                future=future,
            )
            base = res
        else:
            with open_workspace(workspace) as ws:
                fs = forecast_settings(ws)
                f = (freq or fs["freq"]).upper()
                dims = _split(by) if by else list(fs["by"])
                series = sales_series(ws, f, dims)
                # the promotion plan and holidays, when loaded: regressors with future values
                calendar = (calendar_regressors(ws, series, dims, f, horizon or fs["horizon"])
                            if fs["calendar"] else None)  # fmt: skip
            res = forecast_hierarchy(
                series,
                dims,
                freq=f,
                horizon=horizon or fs["horizon"],
                models=_split(models) if models else fs["models"],
                n_windows=windows or fs["n_windows"],
                exog=calendar.frame if calendar is not None else None,
            )
            base = res.base
    data = {**res.summary(), "forecast": res.forecast, "backtest": base.backtest}
    if input_file is None:
        data["calendar"] = calendar.summary() if calendar is not None else None

    def render() -> None:
        print_verdict(base.verdict)
        print_frame(base.backtest, "Backtest (held-out final window) against seasonal naive")
        print_frame(
            res.forecast.drop(columns=["yhat_base"], errors="ignore"), "Forecast", max_rows=40
        )

    emit(data, json_out, render)


def _whatif(workspace: Path, category: str | None, change: str, json_out: bool) -> None:
    from crmine.sales import price_elasticity, whatif_price, workspace_panel

    with errors_handled(json_out):
        value = parse_change(change)
        with open_workspace(workspace) as ws:
            fit = price_elasticity(workspace_panel(ws, "category"))
        out = whatif_price(fit, value, groups=[category] if category else None)
    data = {"change": value, "whatif": out}

    def render() -> None:
        console.print(f"Price change {value:+.1%} over the last 52 weeks' sales")
        print_frame(
            out[
                [
                    "group",
                    "elasticity",
                    "units_change",
                    "revenue_change",
                    "revenue_change_lower",
                    "revenue_change_upper",
                    "margin_change",
                    "margin_change_lower",
                    "margin_change_upper",
                ]
            ].rename(columns=lambda c: c.replace("_change", "")),
            "Relative change of units, revenue and margin (95% intervals)",
        )
        if (~out["price_varies"]).any():
            console.print(
                "[yellow]prices barely varied where price_varies is False: the "
                "elasticity there cannot be told from the data[/yellow]"
            )

    emit(data, json_out, render)


FreqOpt = Annotated[str | None, typer.Option("--freq", help="D, W or M (default: setting).")]
HorizonOpt = Annotated[int | None, typer.Option("--horizon", "-h", help="Periods ahead.")]
ModelsOpt = Annotated[
    str | None, typer.Option("--models", help="Candidates, e.g. ets,theta,arima,combo,mstl.")
]
WindowsOpt = Annotated[int | None, typer.Option("--windows", help="Rolling-origin windows.")]
InputOpt = Annotated[
    Path | None,
    typer.Option("--input", help="Forecast a long-format file (unique_id, ds, y) instead."),
]
FutureOpt = Annotated[
    Path | None,
    typer.Option("--future", help="With --input: unique_id, ds and the regressor columns "
                 "(promotion, holiday…) for every forecast period."),
]  # fmt: skip
ForecastByOpt = Annotated[
    str | None,
    typer.Option(
        "--by", help="Dimensions below the total, e.g. channel,category (default: channel)."
    ),
]


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Sales: by dimension, forecast with backtest, price elasticity, what-if, promotions.",
        no_args_is_help=True,
    )

    @sub.command("summary")
    def summary_cmd(
        by: ByOpt = "category",
        period: Annotated[
            str | None, typer.Option("--period", help="day, week, month, quarter or year.")
        ] = None,
        counts: Annotated[
            str,
            typer.Option(
                "--counts",
                help="Distinct orders and customers: exact, or none (several times faster "
                "on millions of lines; every other measure is the same).",
            ),
        ] = "exact",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Revenue, units, orders, price, discount, margin and returns by --by (and period)."""
        from crmine.sales import sales_by, whale_curve, whale_summary

        with errors_handled(json_out), open_workspace(workspace) as ws:
            table = sales_by(ws, _split(by), period=period, counts=counts)
            whale = whale_summary(whale_curve(ws))
        data = {"sales": table, "counts": table.attrs["counts"], "whale": whale}

        def render() -> None:
            shown = [
                c
                for c in table.columns
                if c not in ("discount", "customers", "returned_amount", "returned_units", "profit")
            ]
            print_frame(table[shown], f"Sales by {by}" + (f" and {period}" if period else ""))
            if whale:
                console.print(
                    f"{whale['unprofitable_customers']:,} of {whale['customers']:,} customers "
                    f"lose money; they destroy {whale['profit_destroyed']:,.0f} of profit"
                )

        emit(data, json_out, render)

    @sub.command("forecast")
    def forecast_cmd(
        freq: FreqOpt = None,
        horizon: HorizonOpt = None,
        by: ForecastByOpt = None,
        models: ModelsOpt = None,
        windows: WindowsOpt = None,
        input_file: InputOpt = None,
        future_file: FutureOpt = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Revenue forecast, total and by --by, reconciled, with its backtest."""
        _forecast(workspace, freq, horizon, by, models, windows, input_file, json_out,
                  future_file)  # fmt: skip

    @sub.command("elasticity")
    def elasticity_cmd(
        by: Annotated[str, typer.Option("--by", help="Product or line column.")] = "category",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Price elasticity per category (log-log, trend/season/promotion controls)."""
        from crmine.sales import price_elasticity, workspace_panel

        with errors_handled(json_out), open_workspace(workspace) as ws:
            fit = price_elasticity(workspace_panel(ws, by))
        emit({"elasticity": fit}, json_out, lambda: print_frame(
            fit[["group", "elasticity", "lower", "upper", "p_holm", "price_sd", "price_varies",
                 "first_stage_f", "weak_instrument", "weeks"]],
            "Price elasticity (95% intervals; weak_instrument: too few lines to tell, "
            "Anderson-Rubin interval)"))  # fmt: skip

    @sub.command("whatif")
    def whatif_cmd(
        category: CategoryOpt = None,
        change: ChangeOpt = "-5%",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Revenue and margin if prices change by --change."""
        _whatif(workspace, category, change, json_out)

    @sub.command("promotions")
    def promotions_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Promotion effects per category (95% intervals): lift beyond the price cut, total
        uplift against the demand model and against matched clean weeks, pull-forward (the
        dip the week after) and cannibalisation of the category's other products."""
        from crmine.sales import promotion_effects

        with errors_handled(json_out), open_workspace(workspace) as ws:
            effects = promotion_effects(ws)

        def render() -> None:
            ranges = effects[["category", "promotion_weeks"]].rename(
                columns={"promotion_weeks": "weeks"})
            for col, label in (("promotion_lift", "lift"), ("model_uplift", "uplift model"),
                               ("matched_uplift", "uplift matched"),
                               ("pull_forward", "pull-fwd"),
                               ("cannibalisation", "cannibal.")):  # fmt: skip
                ranges[label] = [
                    "n/m" if m != m else f"{m:+.0%} [{lo:+.0%}, {hi:+.0%}]"
                    for m, lo, hi in zip(effects[col], effects[f"{col}_lower"],
                                         effects[f"{col}_upper"], strict=True)
                ]
            print_frame(ranges, "Promotion effects on units, 95% intervals (lift: beyond the "
                        "price cut; uplift against the demand model and matched clean weeks; "
                        "n/m: not measurable)")
            for cat, note in zip(effects["category"], effects["cannibalisation_note"],
                                 strict=True):
                if isinstance(note, str):
                    console.print(f"cannibalisation, {cat}: {note}")

        emit({"promotions": effects}, json_out, render)

    app.add_typer(sub, name="sales")

    # the same command at the top level
    app.command("forecast", help="Revenue forecast with backtest (same as `crmine sales "
                "forecast`).")(forecast_cmd)  # fmt: skip

    whatif = typer.Typer(help="What-if: price changes.", no_args_is_help=True)

    @whatif.command("price")
    def whatif_price_cmd(
        category: CategoryOpt = None,
        change: ChangeOpt = "-5%",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Revenue and margin if prices change by --change (e.g. --change -5%)."""
        _whatif(workspace, category, change, json_out)

    app.add_typer(whatif, name="whatif")
