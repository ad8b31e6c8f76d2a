"""``crmine campaigns kpis | effect | budget | funnel | attribution``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    read_flat_file,
)
from crmine.cli.commands._spend import budget_from_mmm, register_spend, spend_kpis, wants_spend

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




def register(app: typer.Typer) -> None:
    camp = typer.Typer(help="Campaign and channel effectiveness: KPIs, significance, budget, "
                       "funnel, attribution.", no_args_is_help=True)  # fmt: skip
    app.add_typer(camp, name="campaigns")
    register_spend(camp)  # spend, mmm: aggregated ad-platform data (cli/commands/_spend.py)

    @camp.command("kpis")
    def kpis_cmd(
        by: Annotated[str, typer.Option(help="campaign, channel, segment or period.")] = "campaign",
        period: Annotated[str, typer.Option(help="Period for --by period: M, Q or W.")] = "M",
        source: Annotated[str, typer.Option(help="auto, contacts (customer-level campaigns) "
                                            "or spend (core.fct_marketing_spend; auto when "
                                            "--by is age, gender, interest, ad, ad_set or "
                                            "several, e.g. age,gender).")] = "auto",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Sends, opens, clicks, conversions, cost, revenue, CTR, ROI, ROAS, CPA per group;
        on aggregated spend: CTR, CPC, CPM, conversion rate, CPA, ROAS with intervals."""
        from crmine.marketing import KPI_KEYS, kpis_of

        with errors_handled(json_out), open_workspace(workspace) as ws:
            if wants_spend(ws, by, source):
                spend_kpis(ws, by, period, json_out)
                return
            k = kpis_of(ws, by=by, period=period)
        cols = [
            KPI_KEYS[by],
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
        from crmine.marketing import judged_effects, treatment_effect

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
                    control,
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
                    judged = judged_effects(ws, correction=correction)  # type: ignore[arg-type]
                res = judged.channels
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
        if data is not None:
            emit(res, json_out, lambda: print_frame(res[cols], title=title))
            return
        info = {"channels": res, "family": judged.family,
                "verdict": judged.verdict.to_dict(), **judged.summary()}

        def render() -> None:
            print_frame(res[cols], title=title)
            sig = judged.family[judged.family["significant"]]
            if len(sig):
                print_frame(sig[["level", "key", "uplift", "uplift_ci_low", "uplift_ci_high",
                                 "relative_lift", "p_adjusted"]],
                            title="Significant effects over control (family-wise)")
            print_verdict(judged.verdict)

        emit(info, json_out, render)

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
        from_mmm: Annotated[bool, typer.Option("--from-mmm", help="Split a weekly media "
                                               "budget by the marketing-mix model's response "
                                               "curves (aggregated spend).")] = False,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Response curves per channel and the budget split that maximises expected
        conversions (or revenue)."""
        from crmine.contract import verdict_of
        from crmine.marketing import budget_of

        if from_mmm:
            with errors_handled(json_out), open_workspace(workspace) as ws:
                budget_from_mmm(ws, budget, json_out)
            return
        with errors_handled(json_out), open_workspace(workspace) as ws:
            plan = budget_of(ws, budget=budget, outcome=outcome)
            verdict = verdict_of(ws, "marketing")  # of the last `crmine run`, if any
        res = plan.allocation
        info = {**plan.summary(), "allocation": res.allocation,
                "curves": plan.curves.params_.reset_index(),
                "warnings": list(plan.warnings),
                "verdict": verdict.to_dict() if verdict is not None else None}  # fmt: skip

        def render() -> None:
            print_frame(res.allocation.round(3), title=f"Budget split of {res.budget:,.2f}")
            console.print(
                f"Expected {outcome} {res.expected_current:,.1f} → "
                f"{res.expected_optimal:,.1f} (gain {res.expected_gain:,.1f}, 90% "
                f"interval {res.gain_ci_low:,.1f} to {res.gain_ci_high:,.1f})"
            )
            for w in plan.warnings:
                console.print(f"[yellow]warning:[/yellow] {w}")
            if verdict is not None and not verdict.actionable:
                console.print("[red]The campaign effects were judged not informative: this "
                              "split acts on conversions that may happen anyway.[/red]")
                print_verdict(verdict)

        emit(info, json_out, render)

    @camp.command("funnel")
    def funnel_cmd(
        by: Annotated[str, typer.Option(help="Events column to split by.")] = "channel",
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Stage counts, conversion, drop-off and time between stages; where it leaks."""
        from crmine.marketing import funnel_of

        with errors_handled(json_out), open_workspace(workspace) as ws:
            res = funnel_of(ws, by=by or None)
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
        from crmine.marketing import attribution_of

        with errors_handled(json_out), open_workspace(workspace) as ws:
            att = attribution_of(ws, lookback_days=lookback_days)
        wide = att.pivot(index="channel", columns="model", values="conversions").reset_index()
        emit(
            att,
            json_out,
            lambda: print_frame(wide.round(2), title="Conversions credited per channel"),
        )
