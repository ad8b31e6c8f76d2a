"""``crmine demo``, ``crmine run`` and ``crmine report``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from crmine._format import fmt_number
from crmine.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    emit,
    errors_handled,
    open_workspace,
    print_verdict,
)

if TYPE_CHECKING:
    from crmine.contract import Analysis
    from crmine.warehouse import Workspace


def _run_all(
    ws: Workspace, json_out: bool, only: list[str] | None = None
) -> list[dict[str, Any]]:
    """Every pipeline step with a progress line each; failures are reported, not fatal."""
    from crmine._progress import progress_enabled
    from crmine.pipeline import run_pipeline

    def announce(step: Analysis) -> None:
        if not json_out and progress_enabled():
            console.print(f"[dim]running {step.title}…[/dim]")

    return [r.to_dict() for r in run_pipeline(ws, only=only, on_step=announce)]


def _render_steps(steps: list[dict[str, Any]]) -> None:
    for s in steps:
        if s["skipped"]:
            console.print(f"[yellow]–[/yellow] {s['title']}: skipped, {escape(s['skipped'])}")
            continue
        mark = "[green]✓[/green]" if s["ok"] else "[red]✗[/red]"
        extra = "" if s["ok"] else f" — {escape(s['error'].splitlines()[0])}"
        console.print(f"{mark} {s['title']} ({s['seconds']:.1f}s){extra}")
        print_verdict(s.get("verdict"), indent="    ")
        left_out = (s.get("summary") or {}).get("consent_excluded") or {}
        if any(left_out.values()):
            lists = ", ".join(f"{fmt_number(n)} from {m}" for m, n in left_out.items() if n)
            console.print(f"    [dim]opted out of marketing, left out: {lists}[/dim]")


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        directory: Annotated[Path, typer.Argument(help="Workspace folder to create.")] = Path(
            "demo-workspace"
        ),
        customers: Annotated[
            int, typer.Option("--customers", min=100, help="Number of customers.")
        ] = 10_000,
        seed: Annotated[int, typer.Option(help="Random seed (same seed, same company).")] = 0,
        signal: Annotated[
            bool,
            typer.Option(
                "--signal/--no-signal",
                help="--no-signal: a company with nothing to find (one purchase rate, churn "
                "and response independent of everything, random baskets): every analysis "
                "should say it is not informative.",
            ),
        ] = True,
        identity_sources: Annotated[
            bool,
            typer.Option(
                "--identity-sources",
                help="Also load a shop and a help desk that name the same customers "
                "differently (typos, nicknames, pinyin, changed addresses; truth in "
                "truth.identity), for `crmine identity resolve`.",
            ),
        ] = False,
        encrypt: Annotated[
            bool,
            typer.Option(
                "--encrypt",
                help="Encrypt the workspace at rest before loading (warehouse, landing files, "
                "models, reports); the key from CRMINE_ENCRYPTION_KEY, a key file or a prompt.",
            ),
        ] = False,
        workspace: Annotated[
            Path | None,
            typer.Option(
                "--workspace",
                "-w",
                help="Workspace folder to create, as with every other command "
                "(same as DIRECTORY).",
                file_okay=False,
            ),
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Create a synthetic company, run every analysis and write reports/index.html."""
        directory = workspace or directory
        from crmine._progress import track
        from crmine.demo._workspace import build_demo_workspace
        from crmine.report import build_report

        start = time.perf_counter()
        with errors_handled(json_out):
            bar = iter(track(range(9), "loading the demo company", total=9))

            def loaded(entity: str) -> None:
                next(bar, None)

            ws, loads = build_demo_workspace(
                directory, n_customers=customers, seed=seed, on_load=loaded, signal=signal,
                identity_sources=identity_sources, encrypt=encrypt,
            )
            with ws:
                for _ in bar:  # finish the bar for entities the generator did not produce
                    pass
                steps = _run_all(ws, json_out)
                report = build_report(ws)
        info = {
            "workspace": str(Path(directory).resolve()),
            "report": str(report),
            "signal": signal,
            "loads": [
                {
                    "entity": r.entity,
                    "rows_read": r.rows_read,
                    "rows_staged": r.rows_staged,
                    "rows_quarantined": r.rows_quarantined,
                }
                for r in loads
            ],
            "steps": steps,
            "seconds": round(time.perf_counter() - start, 1),
        }

        def render() -> None:
            rows = sum(r.rows_read for r in loads)
            kind = "" if signal else " (a company with no signal)"
            console.print(f"loaded {rows:,} rows into {info['workspace']}{kind}")
            _render_steps(steps)
            console.print(f"report: [bold]{report}[/bold]  ({info['seconds']}s)")

        emit(info, json_out, render)

    @app.command("run")
    def run_cmd(
        only: Annotated[
            list[str],
            typer.Option("--only", help="Run only these analyses and what they need (repeatable)."),
        ] = [],  # noqa: B006
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Run every analysis on the workspace in dependency order and refresh the report.

        With --only, the analyses named and what they need run (e.g. --only churn also
        rebuilds the features and CLV first). Each analysis prints its verdict: whether it
        beats a naive baseline on held-out data.
        """
        from crmine.report import build_report

        with errors_handled(json_out), open_workspace(workspace) as ws:
            steps = _run_all(ws, json_out, list(only) or None)
            report = build_report(ws)

        def render() -> None:
            _render_steps(steps)
            console.print(f"report: {report}")

        emit({"steps": steps, "report": str(report)}, json_out, render)
        if any(not s["ok"] for s in steps):
            raise typer.Exit(1)

    @app.command("report")
    def report_cmd(
        output: Annotated[
            Path | None,
            typer.Option("--output", "-o", help="HTML file (default: reports/index.html)."),
        ] = None,
        open_it: Annotated[
            bool,
            typer.Option(
                "--open",
                help="Open it in the browser. An encrypted workspace's report is decrypted in "
                "memory and served once from 127.0.0.1 (no decrypted copy on disk).",
            ),
        ] = False,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Write the self-contained HTML report (works offline) from what the analyses stored."""
        from crmine.report import all_sections, build_report
        from crmine.warehouse._sealed import is_sealed, seal_key

        with errors_handled(json_out), open_workspace(workspace, read_only=True) as ws:
            path = build_report(ws, output)
            key = seal_key(ws)
        info = {"report": str(path), "sections": [s.key for s in all_sections()],
                "encrypted": is_sealed(path)}  # fmt: skip
        if open_it:
            from crmine.report._view import open_report

            with errors_handled(json_out):
                if not json_out and is_sealed(path):
                    console.print("[dim]serving the decrypted report once from 127.0.0.1…[/dim]")
                info["opened"] = open_report(path, key)
        emit(info, json_out, lambda: console.print(f"report written: [bold]{path}[/bold]"))
