"""``crmine response train | score | uplift``: response and uplift models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from crmine._format import fmt_number
from crmine.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    consented_rows,
    console,
    emit,
    errors_handled,
    open_workspace,
    print_frame,
    print_verdict,
    read_flat_file,
)
from crmine.cli.commands.campaigns import ControlOpt, DataOpt, TreatmentOpt

IdOpt = Annotated[list[str] | None, typer.Option("--id-column",
                  help="Column(s) that identify rows: kept out of the features.")]  # fmt: skip
ModelOpt = Annotated[Path | None, typer.Option(
    "--model", "-m", help="Model file (default: the latest version in WORKSPACE/models/response/).",
    dir_okay=False)]  # fmt: skip


def _model_path(model: Path | None, workspace: Path) -> Path:
    """An explicit model file, else the workspace's models folder (its saved versions)."""
    from crmine.warehouse._workspace import MODELS_DIR

    return model if model is not None else workspace / MODELS_DIR


def register(app: typer.Typer) -> None:
    resp = typer.Typer(help="Who responds to a campaign, and who responds because of it.",
                       no_args_is_help=True)  # fmt: skip
    app.add_typer(resp, name="response")

    @resp.command("train")
    def train(
        data: DataOpt = None,
        target: Annotated[
            str | None,
            typer.Option("--target", "-t", help="Response column of --data (yes/no, 1/0)."),
        ] = None,
        id_column: IdOpt = None,
        exclude: Annotated[
            list[str] | None,
            typer.Option(
                "--exclude", help="Columns to leave out (e.g. duration, known only after the call)."
            ),
        ] = None,
        model: ModelOpt = None,
        cv: Annotated[int, typer.Option(
            "--cv", min=0, help="With --data: folds for the held-out AUC and gains (0: skip).")
        ] = 5,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Fit the response model on --data (saved to --model), else the response and uplift
        models on the workspace's past campaigns (scores written to marts)."""
        from crmine.exceptions import ConfigError
        from crmine.response import run_response, train_response
        from crmine.warehouse._consent import honour_consent

        with errors_handled(json_out):
            if data is not None:
                if not target:
                    raise ConfigError("--target COLUMN is required with --data")
                frame = read_flat_file(data)
                if target not in frame.columns:
                    raise ConfigError(
                        f"{data}: no target column {target!r}; columns found: {list(frame.columns)}"
                    )
                trained = train_response(
                    frame, target=target, id_columns=id_column or [], exclude=exclude or [],
                    cv=cv, model_path=model,
                    models_dir=_model_path(None, workspace) if model is None else None,
                    source=str(data))  # fmt: skip
                verdict = trained.verdict
                info: dict[str, Any] = trained.summary()
                if trained.cv_folds:
                    info["cv_gains"] = trained.cv_gains
            else:
                with open_workspace(workspace) as ws:
                    run = run_response(ws)
                    verdict = run.verdict
                    info = {"model": str(ws.models_dir / "response"), **run.summary(),
                            "consent_excluded": honour_consent(ws, "response")}
            info["verdict"] = verdict.to_dict() if verdict is not None else None

        def render() -> None:
            console.print(f"Response model saved to [bold]{info['model']}[/bold]")
            if "features" in info:  # flat file
                line = (f"{info['rows']:,} rows, {len(info['features'])} features, "
                        f"base rate {info['base_rate']:.1%}")
                if "cv_roc_auc" in info:
                    line += (f"; {info['cv_folds']}-fold cross-validated ROC AUC "
                             f"{info['cv_roc_auc']:.3f}, top-decile lift "
                             f"{info['cv_top_decile_lift']:.2f}")
                console.print(line)
                if "cv_gains" in info:
                    cols = ["depth", "responders", "response_rate", "lift", "cum_lift", "gain"]
                    print_frame(info["cv_gains"][cols].round(3),
                                title="Gains by decile (held out)")  # fmt: skip
            else:
                _print_metrics(info)
            print_verdict(verdict)

        emit(info, json_out, render)

    @resp.command("score")
    def score(
        data: DataOpt = None,
        model: ModelOpt = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", "-o", help="Write scores to this .csv/.parquet file.", dir_okay=False
            ),
        ] = None,
        top: Annotated[int, typer.Option(help="Rows to show.")] = 20,
        cost_per_contact: Annotated[
            float | None,
            typer.Option(help="With --margin: keep only the prospects worth contacting."),
        ] = None,
        margin: Annotated[
            float | None, typer.Option(help="Profit of one response before the contact cost.")
        ] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Response probability per row of --data with a saved model, else the workspace's
        customer scores (marts.uplift_scores). With --cost-per-contact and --margin: the
        target list, cut at the depth that maximises expected profit."""
        from crmine.exceptions import ConfigError
        from crmine.response import load_models, score_frame, workspace_scores

        with errors_handled(json_out):
            if (cost_per_contact is None) != (margin is None):
                raise ConfigError("give both --cost-per-contact and --margin, or neither")
            if data is not None:
                saved = load_models(_model_path(model, workspace))
                frame, consent = consented_rows(read_flat_file(data), data)
                result = score_frame(saved, frame, cost_per_contact=cost_per_contact,
                                     margin=margin)  # fmt: skip
            else:
                with open_workspace(workspace) as ws:
                    result = workspace_scores(ws, cost_per_contact=cost_per_contact,
                                              margin=margin)  # fmt: skip
                consent = {"consent_excluded": result.attrs["consent_excluded"]}
            if out is not None:
                from crmine.warehouse._sealed import refuse_plaintext_in_encrypted

                refuse_plaintext_in_encrypted(out)
                if out.suffix.lower() == ".parquet":
                    result.to_parquet(out, index=False)
                else:
                    result.to_csv(out, index=False)

        def render() -> None:
            print_frame(result.head(top), title="Response scores")
            if "consent" in consent:
                console.print(f"[dim]{consent['consent']}[/dim]")

        emit(result.head(top) if out is None else
             {"written": str(out), "rows": len(result), **consent}, json_out, render)  # fmt: skip

    @resp.command("uplift")
    def uplift(
        data: DataOpt = None,
        treatment: TreatmentOpt = None,
        outcome: Annotated[
            str | None, typer.Option("--outcome", "-y", help="0/1 outcome column of --data.")
        ] = None,
        control: ControlOpt = None,
        treated: Annotated[
            str | None,
            typer.Option(
                help="Arm value to model against control (default: every non-control row)."
            ),
        ] = None,
        learner: Annotated[
            str, typer.Option(help="two-model or class-transformation.")
        ] = "two-model",
        response_model: Annotated[
            str, typer.Option("--response-model", help="Two-model learner's response models: "
                              "boosting, logistic, or auto (the better by cross-validated "
                              "Qini).")
        ] = "boosting",
        id_column: IdOpt = None,
        exclude: Annotated[
            list[str] | None,
            typer.Option("--exclude", help="Columns to leave out (other outcomes)."),
        ] = None,
        test_size: Annotated[float, typer.Option(help="Held-out share for the Qini.")] = 0.3,
        top: Annotated[int, typer.Option(help="Persuadables to show.")] = 20,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Uplift model with its held-out Qini and the persuadables list: on --data (a
        randomised test), else the workspace's scores."""
        from crmine.exceptions import ConfigError
        from crmine.response import evaluate_uplift, workspace_uplift

        with errors_handled(json_out):
            if data is not None:
                if not (treatment and outcome and control is not None):
                    raise ConfigError(
                        "--data needs --treatment COL, --outcome COL and --control VALUE"
                    )
                frame = read_flat_file(data)
                for col in (treatment, outcome):
                    if col not in frame.columns:
                        raise ConfigError(
                            f"{data}: no column {col!r}; columns found: {list(frame.columns)}"
                        )
                result: Any = evaluate_uplift(
                    frame, treatment=treatment, outcome=outcome, control=control,
                    treated=treated, learner=learner, response_model=response_model,
                    id_column=id_column[0] if id_column else None, exclude=exclude or [],
                    test_size=test_size, top=top)  # fmt: skip
            else:
                with open_workspace(workspace) as ws:
                    result = workspace_uplift(ws, top=top)
            verdict = result.verdict
            info = {**result.summary(), "persuadables": result.persuadables,
                    "verdict": verdict.to_dict() if verdict is not None else None}

        def render() -> None:
            _print_metrics({k: v for k, v in info.items() if k != "persuadables"})
            pers = info["persuadables"]
            if len(pers):
                cols = [c for c in pers.columns if c in ("customer_id", "uplift", "p_treated",
                        "p_control", "response_score", "uplift_class", "rank")]  # fmt: skip
                print_frame(pers[cols].round(3), title="Persuadables (highest uplift first)")
            else:
                console.print("No persuadables listed.")
            print_verdict(verdict)

        emit(info, json_out, render)


def _print_metrics(metrics: dict[str, Any]) -> None:
    """Scalar results as a two-column table (shares as percentages)."""
    rows = []
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            continue
        shown = value
        if isinstance(value, int):
            shown = f"{value:,}"
        elif isinstance(value, float):
            if "profit" not in name and "uplift" in name and "qini" not in name:
                shown = f"{value:+.2%}"  # a difference of response rates
            elif name.endswith(("depth", "rate", "share")) and "profit" not in name:
                shown = f"{value:.1%}"
            elif value.is_integer():
                shown = f"{value:,.0f}"
            else:
                shown = f"{value:,.2f}" if abs(value) >= 100 else fmt_number(value, digits=4)
        rows.append({"metric": name.replace("_", " "), "value": shown})
    print_frame(pd.DataFrame(rows), title="Results")
