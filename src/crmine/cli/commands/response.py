"""``crmine response train | score | uplift``: response and uplift models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import joblib
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
from crmine.cli.commands.campaigns import ControlOpt, DataOpt, TreatmentOpt, _control_value

IdOpt = Annotated[list[str] | None, typer.Option("--id-column",
                  help="Column(s) that identify rows: kept out of the features.")]  # fmt: skip
ModelOpt = Annotated[Path | None, typer.Option(
    "--model", "-m", help="Model file (default: the latest version in WORKSPACE/models/response/).",
    dir_okay=False)]  # fmt: skip


def _model_path(model: Path | None, workspace: Path) -> Path:
    """An explicit model file, else the workspace's models folder (its saved versions)."""
    from crmine.warehouse._workspace import MODELS_DIR

    return model if model is not None else workspace / MODELS_DIR


def _features(frame: pd.DataFrame, drop: list[str]) -> pd.DataFrame:
    return frame.drop(columns=[c for c in drop if c in frame.columns])


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
        from crmine.response import ResponseModel
        from crmine.response._workspace import run_response
        from crmine.warehouse._models import save_model

        with errors_handled(json_out):
            if data is not None:
                if not target:
                    raise ConfigError("--target COLUMN is required with --data")
                frame = read_flat_file(data)
                if target not in frame.columns:
                    raise ConfigError(
                        f"{data}: no target column {target!r}; columns found: {list(frame.columns)}"
                    )
                drop = [target, *(id_column or []), *(exclude or [])]
                X = _features(frame, drop)
                m = ResponseModel().fit(X, frame[target])
                bundle = {"response": m, "features": list(X.columns),
                          "id_columns": id_column or []}  # fmt: skip
                if model is not None:
                    model.parent.mkdir(parents=True, exist_ok=True)
                    joblib.dump(bundle, model, compress=3)
                    where = str(model)
                info: dict[str, Any] = {
                    "model": "",
                    "rows": len(frame),
                    "features": list(X.columns),
                    "base_rate": m.base_rate_,
                }
                if cv >= 2:
                    auc, gains = _cross_validated(X, frame[target], cv)
                    info |= {"cv_folds": cv, "cv_roc_auc": auc,
                             "cv_top_decile_lift": float(gains.loc[0, "lift"]),
                             "cv_gains": gains}  # fmt: skip
                if model is None:  # a new version in the workspace's models folder
                    metrics = {k: v for k, v in info.items() if k.startswith("cv_")
                               and isinstance(v, float | int)}  # fmt: skip
                    where = str(save_model(bundle, _model_path(None, workspace), "response",
                                           kind="boosting", metadata={
                                               "source": str(data), "target": target,
                                               "features": list(X.columns),
                                               "metrics": metrics}).folder)  # fmt: skip
                info["model"] = where
            else:
                with open_workspace(workspace) as ws:
                    run = run_response(ws)
                    info = {"model": str(ws.models_dir / "response"), **run.summary()}
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
        from crmine.response import expected_profit
        from crmine.response._workspace import load_models

        with errors_handled(json_out):
            if data is not None:
                saved = load_models(_model_path(model, workspace))
                frame = read_flat_file(data)
                ids = saved.get("id_columns") or []
                result = frame[[c for c in ids if c in frame.columns]].copy()
                result["response_score"] = saved["response"].predict_score(frame)
                if "uplift" in saved:
                    result["uplift"] = saved["uplift"].predict_uplift(frame)
                result = result.sort_values("response_score", ascending=False)
            else:
                with open_workspace(workspace) as ws:
                    result = ws.read("marts.uplift_scores").sort_values(
                        "response_score", ascending=False
                    )
            if (cost_per_contact is None) != (margin is None):
                raise ConfigError("give both --cost-per-contact and --margin, or neither")
            if cost_per_contact is not None and margin is not None:
                pc = expected_profit(
                    result["response_score"].to_numpy(),
                    cost_per_contact=cost_per_contact,
                    margin=margin,
                )
                result = result.head(pc.best_contacted).assign(
                    expected_profit=lambda d: margin * d["response_score"] - cost_per_contact
                )
            if out is not None:
                if out.suffix.lower() == ".parquet":
                    result.to_parquet(out, index=False)
                else:
                    result.to_csv(out, index=False)
        emit(
            result.head(top) if out is None else {"written": str(out), "rows": len(result)},
            json_out,
            lambda: print_frame(result.head(top), title="Response scores"),
        )

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
        from sklearn.model_selection import train_test_split

        from crmine.exceptions import ConfigError
        from crmine.response import (
            ClassTransformationUplift,
            TwoModelUplift,
            persuadables,
            qini_curve,
            uplift_at_k,
        )

        with errors_handled(json_out):
            if data is not None:
                if not (treatment and outcome and control is not None):
                    raise ConfigError(
                        "--data needs --treatment COL, --outcome COL and --control VALUE"
                    )
                if learner not in ("two-model", "class-transformation"):
                    raise ConfigError(
                        f"--learner must be two-model or class-transformation, not {learner!r}"
                    )
                frame = read_flat_file(data)
                for col in (treatment, outcome):
                    if col not in frame.columns:
                        raise ConfigError(
                            f"{data}: no column {col!r}; columns found: {list(frame.columns)}"
                        )
                ctrl = _control_value(frame[treatment], control)
                if treated is not None:
                    frame = frame[
                        frame[treatment].isin([ctrl, _control_value(frame[treatment], treated)])
                    ]
                w = (frame[treatment] != ctrl).astype(int).to_numpy()
                y = frame[outcome].to_numpy()
                X = _features(frame, [treatment, outcome, *(id_column or []), *(exclude or [])])
                Xtr, Xte, wtr, wte, ytr, yte = train_test_split(
                    X, w, y, test_size=test_size, random_state=0, stratify=w
                )
                def make() -> TwoModelUplift | ClassTransformationUplift:
                    if learner == "two-model":
                        return TwoModelUplift(learner=response_model)
                    return ClassTransformationUplift()

                held = make().fit(Xtr, wtr, ytr)
                u_te = held.predict_uplift(Xte)
                q = qini_curve(yte, wte, u_te)
                final = make().fit(X, w, y)
                u = final.predict_uplift(X)
                ids = (frame[id_column[0]] if id_column else frame.index).to_numpy()
                pers = persuadables(ids, u, top=top)
                info = {
                    "rows": len(frame),
                    "learner": learner,
                    "response_model": getattr(final, "learner_", None),
                    "holdout_qini_area": q.area,
                    "holdout_qini_coefficient": q.coefficient,
                    "holdout_uplift_at_30pct": uplift_at_k(yte, wte, u_te, k=0.3),
                    "holdout_average_uplift": float(yte[wte == 1].mean() - yte[wte == 0].mean()),
                    "persuadables": pers,
                }
            else:
                with open_workspace(workspace) as ws:
                    m = ws.read("marts.response_metrics").set_index("metric")["value"]
                    s = ws.read("marts.uplift_scores")
                pers = (
                    s[s["uplift_class"] == "persuadable"]
                    .sort_values("uplift", ascending=False)
                    .head(top)
                )
                info = {**{k: float(v) for k, v in m.items()}, "persuadables": pers}

        def render() -> None:
            _print_metrics({k: v for k, v in info.items() if k != "persuadables"})
            pers = info["persuadables"]
            cols = [c for c in pers.columns if c in ("customer_id", "uplift", "p_treated",
                    "p_control", "response_score", "uplift_class", "rank")]  # fmt: skip
            print_frame(pers[cols].round(3), title="Persuadables (highest uplift first)")

        emit(info, json_out, render)


def _print_metrics(metrics: dict) -> None:
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
                shown = f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
        rows.append({"metric": name.replace("_", " "), "value": shown})
    print_frame(pd.DataFrame(rows), title="Results")


def _cross_validated(X: pd.DataFrame, y: pd.Series, folds: int) -> tuple[float, pd.DataFrame]:
    """Held-out ROC AUC and gains: every row scored by a model that did not see it."""
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from crmine._progress import track
    from crmine.response import ResponseModel, gains_table
    from crmine.response._model import _binary_target

    target = _binary_target(y)
    scores = np.empty(len(target))
    splits = StratifiedKFold(folds, shuffle=True, random_state=0).split(X, target)
    for train, test in track(list(splits), "cross-validating", total=folds):
        fitted = ResponseModel().fit(X.iloc[train], target[train])
        scores[test] = fitted.predict_score(X.iloc[test])
    return float(roc_auc_score(target, scores)), gains_table(target, scores)
