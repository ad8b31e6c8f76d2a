"""``crmine campaigns kpis | effect | budget | funnel | attribution``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from crmine.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    emit,
    errors_handled,
    open_workspace,
    print_frame,
    read_flat_file,
)

TreatmentOpt = Annotated[
    str | None, typer.Option("--treatment", "-t", help="Arm column of --data.")
]
ControlOpt = Annotated[
    str | None,
    typer.Option("--control", "-c", help="Value of the arm column that marks the control group."),
]
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="Flat table (CSV, TSV, Parquet or Excel). Without it the "
                 "workspace's warehouse is used.", dir_okay=False),
]  # fmt: skip


def _control_value(values: pd.Series, control: str) -> Any:
    """Match --control against the column's values, numbers included (``0`` for 0/1 arms)."""
    for v in values.dropna().unique():
        if str(v) == control:
            return v
    return control


def register(app: typer.Typer) -> None:
    camp = typer.Typer(help="Campaign and channel effectiveness: KPIs, significance, budget, "
                       "funnel, attribution.", no_args_is_help=True)  # fmt: skip
    app.add_typer(camp, name="campaigns")

    @camp.command("kpis")
    def kpis_cmd(
        by: Annotated[str, typer.Option(help="campaign, channel, segment or period.")] = "campaign",
        period: Annotated[str, typer.Option(help="Period for --by period: M, Q or W.")] = "M",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Sends, opens, clicks, conversions, cost, revenue, CTR, ROI, ROAS, CPA per group."""
        from crmine.exceptions import ConfigError
        from crmine.marketing import campaign_kpis
        from crmine.marketing._workspace import load_contacts

        keys = {
            "campaign": "campaign_id",
            "channel": "channel",
            "segment": "segment",
            "period": "period",
        }
        with errors_handled(json_out):
            if by not in keys:
                raise ConfigError(f"--by must be one of {', '.join(keys)}; got {by!r}")
            with open_workspace(workspace) as ws:
                k = campaign_kpis(load_contacts(ws), by=keys[by], period=period)
        cols = [
            keys[by],
            "contacts",
            "sends",
            "opens",
            "clicks",
            "conversions",
            "ctr",
            "conversion_rate",
            "cost",
            "revenue",
            "roi",
            "roas",
            "cpa",
        ]
        emit(k, json_out, lambda: print_frame(k[cols], title=f"Campaign KPIs by {by}"))

    @camp.command("effect")
    def effect_cmd(
        data: DataOpt = None,
        treatment: TreatmentOpt = None,
        outcome: Annotated[
            str | None,
            typer.Option("--outcome", "-y", help="Outcome column of --data (0/1 or amount)."),
        ] = None,
        control: ControlOpt = None,
        method: Annotated[str, typer.Option(help="auto, proportion, welch or bootstrap.")] = "auto",
        correction: Annotated[str, typer.Option(help="holm, bonferroni, fdr_bh or none.")] = "holm",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Is the difference real? Treatment vs control with interval, p-value, corrected
        p-value and probability to be best: for --data, else per channel in the workspace."""
        from crmine.exceptions import ConfigError
        from crmine.marketing import channel_effects, treatment_effect
        from crmine.marketing._workspace import load_contacts

        with errors_handled(json_out):
            if data is not None:
                if not (treatment and outcome and control is not None):
                    raise ConfigError(
                        "--data needs --treatment COL, --outcome COL and --control VALUE"
                    )
                frame = read_flat_file(data)
                if treatment not in frame.columns:
                    from crmine.exceptions import MissingColumnError

                    raise MissingColumnError(
                        f"{data}: no column {treatment!r}; columns found: {list(frame.columns)}"
                    )
                res = treatment_effect(
                    frame,
                    treatment,
                    outcome,
                    _control_value(frame[treatment], control),
                    method=method,  # type: ignore[arg-type]
                    correction=correction,  # type: ignore[arg-type]
                )
                res = res.reset_index()
                title = f"Effect on {outcome} vs {treatment} = {control}"
                cols = [
                    treatment,
                    "n_treatment",
                    "treatment_mean",
                    "control_mean",
                    "difference",
                    "ci_low",
                    "ci_high",
                    "statistic",
                    "p_value",
                    "p_adjusted",
                    "prob_best",
                ]
            else:
                with open_workspace(workspace) as ws:
                    res = channel_effects(load_contacts(ws), correction=correction)  # type: ignore[arg-type]
                title = "Channel effects (conversion uplift over control, ROI)"
                cols = [
                    "channel",
                    "contacts",
                    "conversion_rate",
                    "uplift",
                    "uplift_ci_low",
                    "uplift_ci_high",
                    "p_adjusted",
                    "roi",
                    "roi_ci_low",
                    "roi_ci_high",
                    "prob_best_roi",
                ]
        emit(res, json_out, lambda: print_frame(res[cols], title=title))

    @camp.command("budget")
    def budget_cmd(
        budget: Annotated[
            float | None,
            typer.Option(
                help="Total budget to split (default: "
                "the current average spend per campaign round)."
            ),
        ] = None,
        outcome: Annotated[
            str, typer.Option(help="Maximise conversions or revenue.")
        ] = "conversions",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Response curves per channel and the budget split that maximises expected
        conversions (or revenue)."""
        from crmine.marketing import ResponseCurves
        from crmine.marketing._workspace import _budget_history, load_contacts

        with errors_handled(json_out):
            if outcome not in ("conversions", "revenue"):
                from crmine.exceptions import ConfigError

                raise ConfigError(f"--outcome must be conversions or revenue, not {outcome!r}")
            with open_workspace(workspace) as ws:
                hist = _budget_history(load_contacts(ws))
            curves = ResponseCurves().fit(hist, outcome_col=outcome)
            res = curves.allocate(budget)
        info = {
            "budget": res.budget,
            "expected_current": res.expected_current,
            "expected_optimal": res.expected_optimal,
            "expected_gain": res.expected_gain,
            "gain_interval": [res.gain_ci_low, res.gain_ci_high],
            "prob_gain_positive": res.prob_gain_positive,
            "allocation": res.allocation,
            "curves": curves.params_.reset_index(),
        }

        def render() -> None:
            print_frame(res.allocation.round(3), title=f"Budget split of {res.budget:,.2f}")
            console.print(
                f"Expected {outcome} {res.expected_current:,.1f} → "
                f"{res.expected_optimal:,.1f} (gain {res.expected_gain:,.1f}, 90% "
                f"interval {res.gain_ci_low:,.1f} to {res.gain_ci_high:,.1f})"
            )

        emit(info, json_out, render)

    @camp.command("funnel")
    def funnel_cmd(
        by: Annotated[str, typer.Option(help="Events column to split by.")] = "channel",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Stage counts, conversion, drop-off and time between stages; where it leaks."""
        from crmine.marketing import funnel

        with errors_handled(json_out), open_workspace(workspace) as ws:
            res = funnel(ws.read("core.fct_events"), by=by or None)
        info = {"stages": res.stages, "leaks": res.leaks.head(10)}

        def render() -> None:
            print_frame(res.stages[res.stages["group"] == "all"].round(3), title="Funnel")
            if not res.leaks.empty:
                print_frame(res.leaks.head(5).round(3), title="Where it leaks")

        emit(info, json_out, render)

    @camp.command("attribution")
    def attribution_cmd(
        lookback_days: Annotated[
            float, typer.Option(help="Touches up to this many days before a conversion count.")
        ] = 30,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Conversions credited to channels by seven attribution models."""
        from crmine.exceptions import DataError
        from crmine.marketing._workspace import _attribution

        with errors_handled(json_out):
            with open_workspace(workspace) as ws:
                att = _attribution(ws.read("core.fct_events"), lookback_days)
            if att.empty:
                raise DataError(
                    "no conversions with touches before them in core.fct_events "
                    "(stage 'convert' and channel needed)"
                )
        wide = att.pivot(index="channel", columns="model", values="conversions").reset_index()
        emit(
            att,
            json_out,
            lambda: print_frame(wide.round(2), title="Conversions credited per channel"),
        )
