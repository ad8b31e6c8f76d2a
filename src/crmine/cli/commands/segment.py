"""``crmine segment rfm|cluster|profile|tiers``: customer segmentation on the workspace."""

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

_STATUS_STYLE = {"informative": "green", "weak": "yellow", "not_informative": "red"}


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Segmentation: RFM segments, clusters, profiles, value tiers.",
                      no_args_is_help=True)

    @sub.command("rfm")
    def rfm_cmd(
        bins: Annotated[int, typer.Option("--bins", help="Quantile bins per dimension.")] = 5,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """RFM scores and the named segments (Champions … Lost) from marts.customer_rfm."""
        from crmine.segment import rfm_workspace

        with errors_handled(json_out), open_workspace(workspace) as ws:
            res = rfm_workspace(ws, bins=bins)
        emit({"customers": len(res.scores), "segments": res.segments}, json_out,
             lambda: print_frame(res.segments, f"RFM segments ({len(res.scores):,} customers)"))

    @sub.command("cluster")
    def cluster_cmd(
        method: Annotated[str, typer.Option(
            "--method", help="auto, kmeans, gmm, ward or hdbscan.")] = "auto",
        k: Annotated[int | None, typer.Option("--k", help="Fix the number of clusters.")] = None,
        k_max: Annotated[int, typer.Option("--k-max", help="Largest k tried.")] = 10,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Cluster customers (k chosen automatically), judge the clusters, write the marts."""
        from crmine.segment import run_segment

        with errors_handled(json_out), open_workspace(workspace) as ws:
            res = run_segment(ws, method=method, n_clusters=k, k_max=k_max,
                              rebuild_features=True)
        data: dict[str, Any] = {**res.summary(), "k_scores": res.k_scores}

        def render() -> None:
            v = res.verdict
            style = _STATUS_STYLE[v.status]
            console.print(f"[bold {style}]{v.status.replace('_', ' ')}[/bold {style}]: {v.why}",
                          highlight=False)
            if v.what_to_try:
                console.print(f"[dim]what to try:[/dim] {v.what_to_try}", highlight=False)
            for w in v.warnings:
                console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
            if not res.k_scores.empty:
                print_frame(res.k_scores, "Number of clusters: criteria over the range")
            if not res.clusters_found:
                print_frame(res.rfm.segments, "RFM segments (rules, not findings)")
                return
            console.print(f"{res.n_clusters:,} clusters, bootstrap stability (ARI) "
                          f"{res.stability:.2f}")
            print_frame(res.profiles.summary[["segment", "customers", "share", "revenue_share",
                                              "description"]], "Clusters")

        emit(data, json_out, render)

    @sub.command("profile")
    def profile_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Cluster profiles: size, revenue share, description and the surrogate-tree rule."""
        from crmine.segment import read_profiles

        with errors_handled(json_out), open_workspace(workspace) as ws:
            prof, rules = read_profiles(ws)

        def render() -> None:
            print_frame(prof, "Segment profiles")
            print_frame(rules, "Surrogate decision-tree rules")

        emit({"profiles": prof, "rules": rules}, json_out, render)

    @sub.command("tiers")
    def tiers_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Pareto/ABC value tiers and the golden customers."""
        from crmine.segment import tiers_workspace

        with errors_handled(json_out), open_workspace(workspace) as ws:
            tiers, golden = tiers_workspace(ws)
        data = {"tiers": tiers.summary, "top_share_for_80pct": tiers.top_share_for_80,
                "golden_customers": int(golden["is_golden"].sum()),
                "golden_rule": golden.attrs.get("rule", "")}

        def render() -> None:
            print_frame(tiers.summary, "Value tiers (A = the customers making 80% of revenue)")
            console.print(f"{tiers.top_share_for_80:.1%} of customers make 80% of revenue; "
                          f"{data['golden_customers']:,} golden customers ({data['golden_rule']})")

        emit(data, json_out, render)

    app.add_typer(sub, name="segment")
