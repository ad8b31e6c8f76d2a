"""``crmine models list | show | use | drift | score``: the fitted models a workspace keeps."""

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
    fmt_number,
    print_fields,
    print_frame,
)

NameArg = Annotated[str, typer.Argument(help="Model name: churn, response, segment, clv.")]
VersionOpt = Annotated[str | None, typer.Option(help="Version (default: the latest).")]


def _models_dir(workspace: Path) -> Path:
    """The workspace's models folder, found without opening the warehouse (another process,
    or a run in progress, may hold it)."""
    from crmine.config import CONFIG_FILE
    from crmine.exceptions import WorkspaceError
    from crmine.warehouse._workspace import MODELS_DIR

    root = workspace.expanduser().resolve()
    if not (root / CONFIG_FILE).exists():
        raise WorkspaceError(f"{root} is not a crmine workspace (no {CONFIG_FILE}); "
                             "pass --workspace DIR")  # fmt: skip
    return root / MODELS_DIR


def _headline(metrics: dict[str, Any], n: int = 3) -> str:
    """The first ``n`` metrics a model records (as ``crmine.models.headline`` picks them),
    with grouped digits: ``n_train 10,000``, not ``1e+04``."""
    return ", ".join(f"{k} {fmt_number(v, digits=4) if isinstance(v, (int, float)) else v}"
                     for k, v in list(metrics.items())[:n])


def register(app: typer.Typer) -> None:
    models = typer.Typer(help="Saved models: versions, metrics, which one is used.",
                         no_args_is_help=True)  # fmt: skip
    app.add_typer(models, name="models")

    @models.command("list")
    def list_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Every saved model version, newest first, with its headline metrics."""
        from crmine.models import list_models

        with errors_handled(json_out):
            frame = list_models(_models_dir(workspace))

        def render() -> None:
            if frame.empty:
                console.print("no saved models yet: `crmine run` (or `crmine churn train`, "
                              "`crmine response train`...) fits and saves them")
                return
            shown = frame.assign(
                latest=frame["latest"].map({True: "✓", False: ""}),
                saved_at=frame["saved_at"].str[:19].str.replace("T", " "),
                metrics=frame["metrics"].map(_headline),
            ).drop(columns="version")
            print_frame(shown, title="Saved models (✓ = used by default; "
                        "`crmine models show NAME` for the rest)")  # fmt: skip

        emit(frame, json_out, render)

    @models.command("show")
    def show_cmd(
        name: NameArg,
        version: VersionOpt = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """A saved model's metadata: what it is, when and on what it was fitted, its metrics."""
        from crmine.models import load_metadata

        with errors_handled(json_out):
            meta = load_metadata(_models_dir(workspace), name, version=version)
        emit(meta, json_out, lambda: print_fields(meta))

    @models.command("use")
    def use_cmd(
        name: NameArg,
        version: Annotated[str, typer.Argument(help="The version to use from now on.")],
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Make an earlier (or later) version the one scoring uses, e.g. to roll back."""
        from crmine.models import use_version

        with errors_handled(json_out):
            use_version(_models_dir(workspace), name, version)
        emit({"name": name, "latest": version}, json_out,
             lambda: console.print(f"{name}: now using version {version}"))  # fmt: skip

    @models.command("drift")
    def drift_cmd(
        name: NameArg,
        version: VersionOpt = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Has the data moved since the model was fitted? Population stability per feature
        (PSI < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift: refit)."""
        from crmine.cli._common import open_workspace
        from crmine.models import model_drift

        with errors_handled(json_out), open_workspace(workspace, read_only=True) as ws:
            frame = model_drift(ws, name, version=version)
        worst = frame["drift"].iloc[0] if len(frame) else "stable"

        def render() -> None:
            shifted = int((frame["drift"] != "stable").sum())
            console.print(f"{name} model {frame.attrs.get('version', '')}: {shifted} of "
                          f"{len(frame)} features shifted (worst: {worst})")
            print_frame(frame.round(4), title="Population stability (largest shift first)")

        emit({"version": frame.attrs.get("version"), "features": frame}, json_out, render)

    @models.command("score")
    def score_cmd(
        name: NameArg,
        data: Annotated[Path, typer.Option("--data", "-d", help="Customers to score (CSV, "
                        "Parquet or Excel), with the columns the model was fitted on.")],
        version: VersionOpt = None,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the scores to "
                       "this .csv or .parquet file.", dir_okay=False)] = None,
        top: Annotated[int, typer.Option(help="Rows to show.")] = 20,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Score a file of customers with a saved model version (batch scoring)."""
        from crmine.cli._common import consented_rows, read_flat_file
        from crmine.models import score_table

        with errors_handled(json_out):
            frame, consent = consented_rows(read_flat_file(data), data)
            scores = score_table(_models_dir(workspace), name, frame, version=version)
            if out is not None:
                from crmine.warehouse._sealed import refuse_plaintext_in_encrypted

                refuse_plaintext_in_encrypted(out)
                if out.suffix.lower() == ".parquet":
                    scores.to_parquet(out, index=False)
                else:
                    scores.to_csv(out, index=False)
        info = {"version": scores.attrs.get("version"), "rows": len(scores),
                "out": str(out) if out else None, "top": scores.head(top), **consent}  # fmt: skip

        def render() -> None:
            console.print(f"{len(scores):,} rows scored with {name} model {info['version']}"
                          + (f"; written to {out}" if out else ""))
            console.print(f"[dim]{consent['consent']}[/dim]")
            print_frame(scores.head(top).round(4), title="Scores")

        emit(info, json_out, render)
