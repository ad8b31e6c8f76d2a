"""``crmine erase`` and ``crmine privacy access|scan|accounting``: erasure that reaches every
copy, subject access, classification of personal data."""

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

EmailOpt = Annotated[list[str] | None, typer.Option("--email", help="Erase by e-mail (repeat).")]
PhoneOpt = Annotated[list[str] | None, typer.Option("--phone", help="Erase by phone (repeat).")]


def register(app: typer.Typer) -> None:
    @app.command("erase")
    def erase_cmd(
        customer_ids: Annotated[list[str] | None, typer.Argument(help="Customer ids.")] = None,
        email: EmailOpt = None,
        phone: PhoneOpt = None,
        refit: Annotated[
            bool,
            typer.Option(
                "--refit/--mark",
                help="Refit the models trained with them now (default: "
                "[privacy] erase_models, else mark them for the next run).",
            ),
        ] = False,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Forget customers everywhere: tables and history, identity links, quarantine,
        landing files, marts, models, reports and the warehouse file's free pages."""
        from crmine.privacy import erase

        with errors_handled(json_out), open_workspace(workspace) as ws:
            receipt = erase(ws, customer_ids or [], emails=email or [], phones=phone or [],
                            models="refit" if refit else None)  # fmt: skip

        def render() -> None:
            console.print(receipt.summary(), highlight=False)
            print_frame(_counts(receipt.tables, "table", "rows"), "Rows erased")
            if receipt.landing_files:
                print_frame(_counts(receipt.landing_files, "file", "rows"), "Landing files")

        emit(receipt.to_dict(), json_out, render)
        if not receipt.verified:
            raise typer.Exit(1)

    sub = typer.Typer(help="Privacy: subject access, personal-data scan, erasure accounting.",
                      no_args_is_help=True)  # fmt: skip

    @sub.command("access")
    def access_cmd(
        customer_ids: Annotated[list[str] | None, typer.Argument(help="Customer ids.")] = None,
        email: EmailOpt = None,
        phone: PhoneOpt = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", "-o", help="Write the JSON here (default: print it)."),
        ] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Everything the workspace holds about a person, as one JSON document."""
        from crmine.privacy import subject_access, write_subject_access

        with errors_handled(json_out), open_workspace(workspace, read_only=True) as ws:
            doc = subject_access(ws, customer_ids or [], emails=email or [], phones=phone or [])
        if out is None:
            emit(doc, True)
            return
        path = write_subject_access(doc, out)
        emit({"written": path, "counts": doc["counts"]}, json_out, lambda: console.print(
            f"wrote {path}: {sum(doc['counts'].values()):,} rows from "
            f"{len(doc['counts'])} tables and files"))  # fmt: skip

    @sub.command("scan")
    def scan_cmd(
        all_columns: Annotated[
            bool, typer.Option("--all", help="Also list columns tagged none.")
        ] = False,
        sample: Annotated[int, typer.Option(help="Values sampled per column.")] = 2_000,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Tag every column: direct identifier, quasi-identifier, sensitive or none."""
        from crmine.privacy import classify_columns

        with errors_handled(json_out), open_workspace(workspace, read_only=True) as ws:
            frame = classify_columns(ws, sample=sample)
        shown = frame if all_columns else frame[frame["tag"] != "none"]
        emit(shown, json_out, lambda: print_frame(shown, "Personal data by column",
                                                  max_rows=200))  # fmt: skip

    @sub.command("accounting")
    def accounting_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Per load: rows read = staged + quarantined + unchanged, and rows erased since."""
        from crmine.privacy import load_accounting

        with errors_handled(json_out), open_workspace(workspace, read_only=True) as ws:
            rows = load_accounting(ws)
        emit(rows, json_out)

    @sub.command("reidentify")
    def reidentify_cmd(
        table: Annotated[str, typer.Argument(help="A pseudonymised mart (marts.customer_rfm).")],
        out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
        column: Annotated[str, typer.Option(help="The pseudonym column.")] = "customer_id",
        token: Annotated[
            str | None,
            typer.Option("--token", envvar="CRMINE_API_TOKEN", show_envvar=False,
                         help="Your API token (default $CRMINE_API_TOKEN): once the workspace "
                         "has users, only admin and analyst may re-identify."),
        ] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Turn the pseudonyms of a mart back into customer ids (needs CRMINE_PSEUDONYM_KEY and,
        when the workspace has users, an admin's or analyst's token; recorded in the audit
        log): for lists that must reach the people on them."""
        from crmine.privacy import reidentify
        from crmine.privacy._reidentify import user_of_token
        from crmine.warehouse._sealed import refuse_plaintext_in_encrypted

        with errors_handled(json_out), open_workspace(workspace) as ws:
            refuse_plaintext_in_encrypted(out)
            frame = reidentify(ws, ws.read(table), column=column,
                               user=user_of_token(ws, token), table=table)  # fmt: skip
            tmp = out.with_name(out.name + ".tmp")
            frame.to_csv(tmp, index=False)
            tmp.replace(out)  # nothing half-written
        emit({"table": table, "rows": len(frame), "out": str(out),
              "unmatched": int(frame[column].isna().sum())}, json_out)  # fmt: skip

    @sub.command("retain")
    def retain_cmd(
        days: Annotated[
            int | None,
            typer.Option(help="Keep facts this many days (default: [privacy] retention_days)."),
        ] = None,
        anonymise: Annotated[
            bool,
            typer.Option(
                "--anonymise/--delete",
                help="Detach old facts from their customer instead of "
                "deleting them (default: [privacy] retention_mode, else delete).",
            ),
        ] = False,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Delete or anonymise facts older than the retention period, everywhere."""
        from crmine.privacy import apply_retention

        with errors_handled(json_out), open_workspace(workspace) as ws:
            result = apply_retention(ws, days=days, mode="anonymise" if anonymise else None)
        emit(result.to_dict(), json_out)

    @sub.command("encrypt")
    def encrypt_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Encrypt an existing workspace in place (key: CRMINE_ENCRYPTION_KEY, its key file
        or a prompt): the warehouse file and every landing file in raw/."""
        from crmine.privacy import encrypt_workspace

        with errors_handled(json_out), open_workspace(workspace) as ws:
            sealed = encrypt_workspace(ws)
        emit(
            {"encrypted": True, "landing_files": sealed},
            json_out,
            lambda: console.print(f"encrypted: warehouse and {len(sealed)} landing file(s)"),
        )

    @sub.command("rotate-key")
    def rotate_cmd(
        new_key_file: Annotated[
            Path,
            typer.Option(
                "--new-key-file", help="File holding the new key (keep it outside the workspace)."
            ),
        ],
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Re-encrypt the warehouse and landing files with a new key (the old one opens it)."""
        from crmine.exceptions import WorkspaceError
        from crmine.privacy import rotate_key

        with errors_handled(json_out):
            if not new_key_file.is_file():
                raise WorkspaceError(f"new key file {new_key_file} not found")
            with open_workspace(workspace) as ws:
                files = rotate_key(ws, new_key_file.read_text(encoding="utf-8"))
        emit(
            {"rotated": True, "landing_files": files},
            json_out,
            lambda: console.print("key rotated: open the workspace with the new key from now on"),
        )

    @sub.command("audit")
    def audit_cmd(
        verify_chain: Annotated[
            bool,
            typer.Option(
                "--verify", help="Check the hash chains (the privacy trail and the API log); "
                "exit 1 when a line was tampered with."
            ),
        ] = False,
        customer: Annotated[
            str | None,
            typer.Option("--customer", help="Only the lines naming this customer (API reads of "
                         "their record, by the pseudonym the trail names them with)."),
        ] = None,
        api: Annotated[
            bool,
            typer.Option("--api", help="The REST API's own log (audit/api.jsonl) as written: "
                         "in an encrypted workspace routes and pseudonyms only."),
        ] = False,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """The audit trail of loads, runs, exports, erasures, subject-access requests and the
        REST API's reads and exports of personal data (chained here when not yet)."""
        from crmine.privacy import audit_entries, verify
        from crmine.privacy._audit import api_entries, catch_up, entries_about, verify_api

        with errors_handled(json_out), open_workspace(workspace) as ws:
            if verify_chain:
                checks = {"privacy": verify(ws), "api": verify_api(ws)}
                broken = next((c for c in checks.values() if not c.ok), None)
                first = broken or checks["privacy"]
                report = {**first.summary(), "logs": {n: c.summary() for n, c in checks.items()}}
                emit(report, json_out, lambda: console.print(
                    "\n".join(("chain intact: " if c.ok else "TAMPERED: ") + c.why
                              for c in checks.values())))  # fmt: skip
                if broken is not None:
                    raise typer.Exit(1)
                return
            if api:
                rows = api_entries(ws, customer)
                emit(rows, json_out)
                return
            if verify(ws).ok:  # a broken chain is not extended: --verify shows where
                catch_up(ws)
            entries = audit_entries(ws) if customer is None else entries_about(ws, customer)
        emit([{k: e[k] for k in ("seq", "at", "action", "detail")} for e in entries], json_out)

    app.add_typer(sub, name="privacy")

    @app.command("export")
    def export_cmd(
        table: Annotated[str, typer.Argument(help="Table to export, e.g. core.dim_customer.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="File to write (.csv/.parquet).")],
        pseudonymise: Annotated[
            bool,
            typer.Option(
                "--pseudonymise",
                help="Keyed pseudonyms for ids, identifiers dropped, "
                "quasi-identifiers generalised to reach --k.",
            ),
        ] = False,
        quasi: Annotated[
            str, typer.Option(help="Quasi-identifiers, comma separated (e.g. age,gender,city).")
        ] = "",
        k: Annotated[int, typer.Option("--k", help="Smallest group allowed (k-anonymity).")] = 5,
        sensitive: Annotated[
            str | None,
            typer.Option(help="Sensitive column that must vary within a group (l-diversity)."),
        ] = None,
        l_div: Annotated[int, typer.Option("--l", help="Distinct sensitive values per group.")] = 2,
        key_file: Annotated[
            Path | None,
            typer.Option("--key-file", help="Pseudonym key file (default: $CRMINE_PSEUDONYM_KEY)."),
        ] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Write a table to a shareable file; --pseudonymise is required (personal data)."""
        from crmine.exceptions import DataError
        from crmine.privacy import load_key, pseudonymised_export

        with errors_handled(json_out):
            if not pseudonymise:
                raise DataError(
                    "crmine export writes shareable files: pass --pseudonymise "
                    "(ids become keyed pseudonyms, identifiers are dropped)"
                )
            key = load_key(key_file)
            with open_workspace(workspace, read_only=True) as ws:
                result = pseudonymised_export(
                    ws, table, out, key=key, quasi=[q.strip() for q in quasi.split(",")
                                                    if q.strip()],
                    k=k, sensitive=sensitive, l_div=l_div)  # fmt: skip
        emit({"written": out, **result.summary()}, json_out)


def _counts(data: dict[str, int], key: str, value: str) -> Any:
    import pandas as pd

    return pd.DataFrame([{key: k, value: v} for k, v in data.items()])
