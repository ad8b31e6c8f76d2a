"""``crmine clv fit|score|evaluate``: lifetime value models on the workspace."""

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
)

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="bgnbd, mbgnbd or paretonbd (default: setting clv.model)."),
]


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
        from crmine.clv import MODELS, GammaGammaModel, rfm_from_mart

        with errors_handled(json_out), open_workspace(workspace) as ws:
            name = model or str(ws.setting("clv.model", "bgnbd"))
            if name not in MODELS:
                from crmine.exceptions import ConfigError

                raise ConfigError(f"clv model {name!r} is unknown; use one of {sorted(MODELS)}")
            summary = rfm_from_mart(ws.read("marts.customer_rfm"))
            fitted = MODELS[name]().fit(summary)
            frames = [fitted.summary_frame().assign(model=name)]
            if "monetary_value" in summary:
                repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
                if len(repeat) >= 10:
                    frames.append(
                        GammaGammaModel().fit(repeat).summary_frame().assign(model="gamma_gamma")
                    )
        import pandas as pd

        params = pd.concat(frames, ignore_index=True)
        data: dict[str, Any] = {
            "model": name,
            "customers": fitted.n_customers_,
            "log_likelihood": fitted.log_likelihood_,
            "params": params,
        }

        def render() -> None:
            console.print(
                f"{name}: {fitted.n_customers_:,} customers, "
                f"log-likelihood {fitted.log_likelihood_:,.2f}"
            )
            print_frame(params, "Estimates (95% confidence bounds)")

        emit(data, json_out, render)

    @sub.command("score")
    def score_cmd(
        model: ModelOpt = None,
        horizon: Annotated[int, typer.Option("--horizon", help="CLV horizon in months.")] = 12,
        no_eval: Annotated[
            bool, typer.Option("--no-eval", help="Skip the holdout evaluation marts.")
        ] = False,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Fit, score every customer and write marts.customer_scores and the clv_* marts."""
        from crmine.clv import score_workspace

        with errors_handled(json_out), open_workspace(workspace) as ws:
            run = score_workspace(ws, model=model, horizon_months=horizon, evaluate=not no_eval)
            top = run.scores.sort_values("predicted_clv_12m", ascending=False).head(10)

        def render() -> None:
            console.print(
                f"Scored {len(run.scores):,} customers with {run.model_version}; "
                f"12-month CLV total {run.summary['total_clv_12m']:,.0f}"
            )
            print_frame(top, "Most valuable customers")

        emit(run.summary, json_out, render)

    @sub.command("evaluate")
    def evaluate_cmd(
        model: ModelOpt = None,
        holdout_days: Annotated[
            int | None, typer.Option("--holdout-days", help="Holdout length.")
        ] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Calibration/holdout check: conditional expectations and MAE against a naive baseline."""
        from crmine.clv import score_workspace

        with errors_handled(json_out), open_workspace(workspace) as ws:
            run = score_workspace(ws, model=model, holdout_days=holdout_days)
            cond = (
                ws.read("marts.clv_conditional_expectations")
                if ws.has_table("marts.clv_conditional_expectations")
                else None
            )
        data = {"metrics": run.metrics, "conditional_expectations": cond}

        def render() -> None:
            print_frame(run.metrics, "Holdout accuracy: model vs naive baseline")
            if cond is None:
                console.print("not enough history for a holdout")
            else:
                print_frame(cond, "Mean holdout purchases by calibration frequency")

        emit(data, json_out, render)

    app.add_typer(sub, name="clv")
