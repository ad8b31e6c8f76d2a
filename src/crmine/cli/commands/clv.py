"""``crmine clv fit|score|evaluate``: lifetime value models on the workspace."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    pass

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="auto (best on the holdout), bgnbd, mbgnbd or paretonbd (default: setting "
        "clv.model, else auto).",
    ),
]
_STYLE = {"informative": "green", "weak": "yellow", "not_informative": "red"}




def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Customer lifetime value: BG/NBD, Pareto/NBD, MBG/NBD, Gamma-Gamma.",
        no_args_is_help=True,
    )

    @sub.command("fit")
    def fit_cmd(
        model: ModelOpt = None, workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False
    ) -> None:
        """Fit the transaction and spend models on marts.customer_rfm; show the estimates."""
        from crmine.clv import fit_clv_models

        with errors_handled(json_out), open_workspace(workspace) as ws:
            fitted = fit_clv_models(ws, model=model)
        data: dict[str, Any] = fitted.summary()

        def render() -> None:
            console.print(
                f"{fitted.model}: {fitted.transactions.n_customers_:,} customers, "
                f"log-likelihood {fitted.transactions.log_likelihood_:,.2f}"
            )
            print_frame(fitted.params, "Estimates (95% confidence bounds)")

        emit(data, json_out, render)

    @sub.command("score")
    def score_cmd(
        model: ModelOpt = None,
        horizon: Annotated[int, typer.Option("--horizon", help="CLV horizon in months.")] = 12,
        no_eval: Annotated[
            bool,
            typer.Option(
                "--no-eval",
                help="Skip the tracking and histogram marts (the verdict "
                "and the model comparison are always computed).",
            ),
        ] = False,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Choose and judge a model on a holdout, score every customer, write the marts."""
        from crmine.clv import run_clv

        with errors_handled(json_out), open_workspace(workspace) as ws:
            run = run_clv(ws, model=model, horizon_months=horizon, evaluate=not no_eval)
        summary = run.summary()

        def render() -> None:
            print_verdict(run.verdict)
            if not run.verdict.actionable:
                console.print(f"Model {run.model_version}: {summary['withheld']}.")
                return
            console.print(
                f"Scored {len(run.scores):,} customers with {run.model_version}; "
                f"12-month CLV total {summary['total_clv_12m']:,.0f} "
                f"(margin {summary['margin']:.0%}, {summary['margin_source']})"
            )
            top = run.scores.sort_values("predicted_clv_12m", ascending=False).head(10)
            print_frame(top, "Most valuable customers")

        emit(summary, json_out, render)

    @sub.command("evaluate")
    def evaluate_cmd(
        model: ModelOpt = None,
        holdout_days: Annotated[
            int | None, typer.Option("--holdout-days", help="Holdout length.")
        ] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Calibration/holdout check: every candidate model against the naive purchase rate."""
        from crmine.clv import run_clv

        with errors_handled(json_out), open_workspace(workspace) as ws:
            run = run_clv(ws, model=model, holdout_days=holdout_days)
            cond = (
                ws.read("marts.clv_conditional_expectations")
                if ws.has_table("marts.clv_conditional_expectations") and len(run.metrics)
                else None
            )
        data = {
            "metrics": run.metrics,
            "selection": run.selection,
            "conditional_expectations": cond,
            "verdict": run.verdict.to_dict(),
        }

        def render() -> None:
            print_verdict(run.verdict)
            if run.selection.empty:
                console.print("not enough history for a holdout")
                return
            print_frame(run.selection, "Holdout accuracy: candidate models vs the naive rate")
            if cond is not None:
                print_frame(cond, "Mean holdout purchases by calibration frequency")

        emit(data, json_out, render)

    app.add_typer(sub, name="clv")
