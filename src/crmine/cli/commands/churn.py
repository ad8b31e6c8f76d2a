"""``crmine churn train | score | explain``: churn risk for a flat customer table or a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

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

if TYPE_CHECKING:
    from crmine.churn import ChurnModel

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="Flat customer table (CSV, Parquet or Excel), one row "
                 "per customer. Without it the workspace's warehouse is used.", dir_okay=False),
]  # fmt: skip


def _models_dir(workspace: Path) -> Path:
    from crmine.warehouse._workspace import MODELS_DIR

    return workspace / MODELS_DIR




def _id_column(model: ChurnModel, frame: pd.DataFrame) -> str | None:
    ids = [c for c, why in model.plan_.excluded.items()
           if why.startswith("identifier") and c in frame.columns]  # fmt: skip
    return ids[0] if ids else None


def register(app: typer.Typer) -> None:
    churn = typer.Typer(help="Churn risk, its drivers and the retention list.",
                        no_args_is_help=True)  # fmt: skip
    app.add_typer(churn, name="churn")

    @churn.command("train")
    def train(
        data: DataOpt = None,
        target: Annotated[str | None, typer.Option("--target", "-t",
                          help="Churn flag column of --data (Yes/No, 1/0, True/False).")] = None,
        method: Annotated[str, typer.Option(help="auto, tree, logistic or boosting.")] = "auto",
        id_column: Annotated[list[str] | None, typer.Option("--id-column",
                             help="Column(s) that identify customers (never features).")] = None,
        cutoff: Annotated[str | None, typer.Option(help="Workspace mode: last cut-off date "
                          "(default: data end − window).")] = None,
        window: Annotated[int | None, typer.Option(
            "--window-days", "--window", min=1, help="Workspace mode: churn window in days "
            "(default: setting churn_window_days, else the purchase cycle's 90th percentile "
            "for orders, 90 days for contracts).")] = None,
        snapshots: Annotated[int, typer.Option(help="Workspace mode: cut-offs stacked "
                             "(at most; as many as the data span holds).")] = 6,
        cv: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
        sheet: Annotated[str | None, typer.Option(
            "--sheet", help="Excel --data: the sheet to read (default: the first sheet "
            "holding --target).")] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Fit a churn model on --data/--target or the workspace; save it under models/churn/."""
        from crmine.churn import ChurnModel, run_churn, save_churn_model
        from crmine.exceptions import ConfigError
        from crmine.warehouse._consent import honour_consent

        with errors_handled(json_out):
            if data is not None:
                if not target:
                    raise ConfigError("--target COLUMN is required with --data (the churn flag)")
                frame = read_flat_file(data, sheet=sheet, column=target)
                model = ChurnModel(method=method, cv=cv, id_columns=id_column)  # type: ignore[arg-type]
                model.fit(frame, target)
                folder = save_churn_model(model, _models_dir(workspace))
                info = {"model": str(folder), **model.summary(), "notes": model.notes_}
            else:
                with open_workspace(workspace) as ws:
                    run = run_churn(ws, method=method, cutoff=cutoff, window_days=window,  # type: ignore[arg-type]
                                    snapshots=snapshots, cv=cv)  # fmt: skip
                    model = run.model
                    info = {"model": str(run.model_dir), **run.summary(), "notes": model.notes_,
                            "consent_excluded": honour_consent(ws, "churn")}
        verdict = getattr(model, "verdict_", None)

        def render() -> None:
            console.print(f"[bold]Churn model[/bold] saved to {info['model']}")
            if "window_source" in info:
                console.print(f"Window {info['window_days']:,} days ({info['window_source']}), "
                              f"{info['snapshots']:,} cut-off(s), latest {info['cutoff']}")
            print_verdict(verdict)
            if info.get("retention"):
                console.print(f"[bold red]{info['retention']}[/bold red]")
            print_frame(model.comparison_.round(4), title="Methods compared (cross-validated)")
            if model.evaluation_ is not None:
                print_frame(model.evaluation_.metrics,
                            title=f"Held-out evaluation ({model.evaluated_on_})")
            if verdict is None or verdict.actionable:
                print_frame(model.rules_[["rule"]].head(5), title="Riskiest rules")
                print_frame(model.drivers_[["feature", "importance", "direction",
                                            "detail"]].head(8), title="Drivers")  # fmt: skip
            for note in info["notes"]:
                console.print(f"[dim]note: {note}[/dim]")

        emit(info, json_out, render)

    @churn.command("score")
    def score(
        data: DataOpt = None,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Write scores to this "
                       ".csv/.parquet file (flat mode).", dir_okay=False)] = None,
        version: Annotated[str | None, typer.Option(help="Model version (default latest).")] = None,
        top: Annotated[int, typer.Option(help="Rows to show.")] = 20,
        offer_cost: Annotated[float | None, typer.Option(
            "--offer-cost", min=0, help="Workspace mode: cost of one retention offer "
            "(default: setting churn_offer_cost, else 20).")] = None,
        save_rate: Annotated[float | None, typer.Option(
            "--save-rate", min=0, max=1, help="Workspace mode: share of offered churners "
            "kept (default: setting churn_save_rate, else 0.3).")] = None,
        sheet: Annotated[str | None, typer.Option(
            "--sheet", help="Excel --data: the sheet to read (default: the first).")] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Score --data, or the workspace's current customers (into marts), with reasons.

        In workspace mode the retention list ranks customers by expected profit of an offer,
        churn risk × save rate × value − offer cost, and targets those above zero.
        """
        from crmine.churn import NO_LIST, UNJUDGED, load_churn_model, score_workspace
        from crmine.exceptions import ConfigError
        from crmine.warehouse._consent import honour_consent

        with errors_handled(json_out):
            if data is not None:
                if offer_cost is not None or save_rate is not None:
                    raise ConfigError(
                        "--offer-cost and --save-rate apply to the workspace's retention list "
                        "(customer values come from the warehouse); drop them with --data"
                    )
                model, meta = load_churn_model(_models_dir(workspace), version=version)
                frame, consent = consented_rows(read_flat_file(data, sheet=sheet), data)
                scores = model.explain(frame)
                id_col = _id_column(model, frame)
                if id_col:
                    scores.insert(0, id_col, frame[id_col].to_numpy())
                scores = scores.sort_values("churn_risk", ascending=False)
                if out is not None:
                    from crmine.warehouse._sealed import refuse_plaintext_in_encrypted

                    refuse_plaintext_in_encrypted(out)
                    if out.suffix.lower() == ".parquet":
                        scores.to_parquet(out, index=False)
                    else:
                        scores.to_csv(out, index=False)
                verdict = getattr(model, "verdict_", None)
                info: dict[str, Any] = {"version": meta["version"], "customers": len(scores),
                                        "mean_risk": float(scores["churn_risk"].mean()),
                                        "out": str(out) if out else None,
                                        "top": scores.head(top), **consent}  # fmt: skip
            else:
                with open_workspace(workspace) as ws:
                    result = score_workspace(ws, version=version, offer_cost=offer_cost,
                                             save_rate=save_rate)  # fmt: skip
                    excluded = honour_consent(ws, "churn")  # the retention list it rewrote
                verdict = result.verdict
                acts = verdict is None or verdict.actionable
                scores = result.scores.sort_values("churn_risk", ascending=False)
                info = {"version": result.version, "customers": len(scores),
                        "mean_risk": float(scores["churn_risk"].mean()) if acts else None,
                        "retention_targets": result.retention.best_customers,
                        "retention_expected_profit": result.retention.max_profit if acts
                        else None, "top": scores.head(top) if acts else scores.iloc[0:0],
                        "consent_excluded": excluded}
                if not acts:
                    info["retention"] = (
                        "no retention list: the model was saved without a verdict; refit "
                        "with `crmine churn train`" if verdict is not None
                        and verdict.why == UNJUDGED else NO_LIST)  # fmt: skip
            info["verdict"] = None if verdict is None else verdict.to_dict()

        def render() -> None:
            print_verdict(verdict)
            if info.get("retention"):
                console.print(f"[bold red]{info['retention']}[/bold red]; "
                              f"{info['customers']:,} customers scored, none ranked")
                return
            console.print(f"Scored {info['customers']:,} customers with model {info['version']}"
                          f" (mean churn risk {info['mean_risk']:.1%})")  # fmt: skip
            print_frame(info["top"], title="Riskiest customers")
            if "consent" in info:
                console.print(f"[dim]{info['consent']}[/dim]")
            if info.get("out"):
                console.print(f"scores written to {info['out']}")

        emit(info, json_out, render)

    @churn.command("explain")
    def explain(
        data: DataOpt = None,
        customer: Annotated[str | None, typer.Option(help="Explain one customer (id).")] = None,
        version: Annotated[str | None, typer.Option(help="Model version (default latest).")] = None,
        top: Annotated[int, typer.Option(help="Drivers/rules to show.")] = 10,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Why customers leave: drivers, rules and (--customer) one customer's reasons."""
        from crmine.churn import load_churn_model
        from crmine.exceptions import DataError

        with errors_handled(json_out):
            model, meta = load_churn_model(_models_dir(workspace), version=version)
            info: dict[str, Any] = {
                "version": meta["version"], "method": model.method_,
                "cutoff": meta.get("cutoff"), "window_days": meta.get("window_days"),
                "drivers": model.drivers_.head(top), "rules": model.rules_.head(top),
            }  # fmt: skip
            if customer is not None:
                if data is not None:
                    frame = read_flat_file(data)
                    id_col = _id_column(model, frame)
                    if id_col is None:
                        raise DataError(f"{data} has no identifier column to find {customer!r}")
                    row = frame[frame[id_col].astype(str) == customer]
                    if row.empty:
                        raise DataError(f"customer {customer!r} not found in {id_col} of {data}")
                    why = model.explain(row).iloc[0]
                    info["customer"] = {"customer_id": customer,
                                        "churn_risk": float(why["churn_risk"]),
                                        "churn_reasons": why["churn_reasons"]}  # fmt: skip
                else:
                    with open_workspace(workspace) as ws:
                        scores = ws.read("marts.customer_scores")
                    row = scores[scores["customer_id"] == customer]
                    if row.empty or "churn_risk" not in row or row["churn_risk"].isna().all():
                        raise DataError(f"customer {customer!r} has no churn score; run "
                                        "`crmine churn score` first")  # fmt: skip
                    info["customer"] = {"customer_id": customer,
                                        "churn_risk": float(row["churn_risk"].iloc[0]),
                                        "churn_reasons": row["churn_reasons"].iloc[0]}  # fmt: skip

        def render() -> None:
            console.print(f"[bold]Churn model {info['version']}[/bold] ({info['method']})")
            print_frame(info["drivers"][["feature", "importance", "direction", "detail"]],
                        title="Why customers leave (permutation importance)")  # fmt: skip
            print_frame(info["rules"][["rule"]], title="Rules, riskiest first")
            if "customer" in info:
                c = info["customer"]
                console.print(f"Customer {c['customer_id']}: churn risk {c['churn_risk']:.1%} — "
                              f"{c['churn_reasons']}")  # fmt: skip

        emit(info, json_out, render)
