"""``crmine identity resolve | explain | split``: one customer across sources."""

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
    open_workspace,
    print_frame,
)

IdArg = Annotated[str, typer.Argument(help="A customer id, or a record's id (SOURCE:ID or ID).")]


def _details_text(details: dict[str, Any]) -> str:
    """Per-attribute evidence of a link: ``name +8.8, birth +11.8, city -3.2``."""
    parts = []
    for key, value in details.items():
        if isinstance(value, dict) and "match_weight" in value:
            if value.get("level") == -1:
                parts.append(f"{key} missing")
            else:
                parts.append(f"{key} {value['match_weight']:+.1f}")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


def register(app: typer.Typer) -> None:
    identity = typer.Typer(help="One customer across sources: resolve, explain, split.",
                           no_args_is_help=True)  # fmt: skip
    app.add_typer(identity, name="identity")

    @identity.command("resolve")
    def resolve_cmd(
        crosswalk: Annotated[Path | None, typer.Option(
            "--crosswalk", help="CSV of source_id,customer_id lines to trust "
            "(default: [identity] crosswalk of crmine.toml).", dir_okay=False)] = None,
        threshold: Annotated[float | None, typer.Option(
            help="Merge pairs at least this probable (default: [identity] match_threshold, "
            "0.8).", min=0.0, max=1.0)] = None,
        exact_only: Annotated[bool, typer.Option(
            "--exact-only", help="Only the exact rules and the crosswalk.")] = False,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Resolve every customer record (CRM, shop, help desk...) to one customer_id:
        exact e-mail/phone rules, the crosswalk, then probabilistic matching (Splink)."""
        from dataclasses import replace

        from crmine.identity import resolve_identities, workspace_identity_settings

        with errors_handled(json_out), open_workspace(workspace) as ws:
            settings = workspace_identity_settings(ws)
            if threshold is not None:
                if not 0 < threshold < 1:
                    from crmine.exceptions import ConfigError

                    raise ConfigError(f"--threshold {threshold}: give a probability between 0 "
                                      "and 1 (exclusive), e.g. --threshold 0.8")  # fmt: skip
                settings = replace(settings, match_threshold=threshold)
            run = resolve_identities(ws, settings, crosswalk=crosswalk,
                                     probabilistic=not exact_only)  # fmt: skip
            summary = run.summary()

        def render() -> None:
            console.print(f"{fmt_number(summary['records'])} customer records -> "
                          f"{fmt_number(summary['customers'])} customers "
                          f"({fmt_number(summary['records_merged'])} records merged, "
                          f"{fmt_number(summary['records_changed'])} changed since the last "
                          f"resolve); run {summary['run_id']}")  # fmt: skip
            console.print("records by source: " + ", ".join(
                f"{k} {fmt_number(v)}" for k, v in summary["records_by_source"].items()))
            console.print("links by rule: " + (", ".join(
                f"{k} {fmt_number(v)}" for k, v in summary["links_by_rule"].items()) or "none"))
            console.print(f"match threshold {summary['match_threshold']}; seconds: " + ", ".join(
                f"{k} {v}" for k, v in summary["seconds"].items()))
            for note in summary["notes"]:
                console.print(f"[yellow]note:[/yellow] {note}")
            console.print("Crosswalk in core.customer_identity; `crmine identity explain ID` "
                          "shows why records were merged.")  # fmt: skip

        emit(summary, json_out, render)

    @identity.command("explain")
    def explain_cmd(ident: IdArg, workspace: WorkspaceOpt = Path("."),
                    json_out: JsonOpt = False) -> None:  # fmt: skip
        """Which records make this customer, which rule merged them, and the evidence
        (match weights per attribute, probability)."""
        from crmine.identity import explain_customer

        with errors_handled(json_out), open_workspace(workspace, read_only=True) as ws:
            out = explain_customer(ws, ident)

        def render() -> None:
            recs = out["records"]
            console.print(f"customer {out['customer_id']}: {len(recs)} record(s) "
                          "(* = the record whose id names the customer)")
            shown_recs = recs.assign(
                source_id=[f"{'*' if c else ''}{s}" for s, c in
                           zip(recs["source_id"], recs["is_canonical"], strict=True)],
                birth_date=recs["birth_date"].astype("string").str[:10],
            ).drop(columns=["is_canonical", "address"])
            print_frame(shown_recs, title="Records")
            links = out["links"]
            if len(links):
                shown = links.assign(evidence=links["details"].map(_details_text)).drop(
                    columns="details").round(4)
                print_frame(shown, title="Links (match weight = log2 Bayes factor; "
                            "positive for agreement)")  # fmt: skip
            history = out["history"]
            if len(history):
                print_frame(history[["changed_at", "action", "source_id", "previous_customer_id",
                                     "customer_id", "rule", "note"]], title="History")
            if len(recs) > 1:
                console.print(f"Wrongly merged? `crmine identity split {out['customer_id']}` "
                              "or `--record SOURCE:ID`.")  # fmt: skip

        emit(out, json_out, render)

    @identity.command("split")
    def split_cmd(
        ident: IdArg,
        record: Annotated[str | None, typer.Option(
            "--record", help="Separate only this record (SOURCE:ID or ID).")] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Undo a merge: separate one record, or all records, of a customer. Later resolves
        keep them apart; the split is kept in core.identity_history."""
        from crmine.identity import split_customer

        with errors_handled(json_out), open_workspace(workspace) as ws:
            out = split_customer(ws, ident, record=record)

        def render() -> None:
            console.print(f"customer {out['customer_id']} split into "
                          f"{len(out['customers'])}: {', '.join(out['customers'][:20])}")
            if len(out["moved"]):
                print_frame(out["moved"], title="Records moved")

        emit(out, json_out, render)
