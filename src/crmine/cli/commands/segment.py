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
        from crmine.segment import rfm_segments

        segment_map = None if bins == 5 else {f"{r}{fm}": f"^{r}{fm}$" for r in range(
            1, bins + 1) for fm in range(1, bins + 1)}
        with errors_handled(json_out), open_workspace(workspace) as ws:
            rfm = ws.read("marts.customer_rfm")
            res = rfm_segments(rfm[rfm["orders"] > 0] if "orders" in rfm else rfm, bins=bins,
                               segment_map=segment_map)
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
        """Cluster customers (k chosen automatically), profile them, write the segment marts."""
        from crmine.segment import CustomerSegmenter, segment_workspace

        with errors_handled(json_out), open_workspace(workspace) as ws:
            seg = CustomerSegmenter(method=method, n_clusters=k, k_range=(2, max(2, k_max)))
            res = segment_workspace(ws, segmenter=seg, rebuild_features=True)
        data: dict[str, Any] = {**res.summary, "k_scores": res.k_scores}

        def render() -> None:
            if not res.k_scores.empty:
                print_frame(res.k_scores, "Number of clusters: criteria over the range")
            console.print(f"{res.n_clusters} clusters, bootstrap stability (ARI) "
                          f"{res.stability:.2f}")
            print_frame(res.profiles.summary[["segment", "customers", "share", "revenue_share",
                                              "description"]], "Clusters")

        emit(data, json_out, render)

    @sub.command("profile")
    def profile_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Cluster profiles: size, revenue share, description and the surrogate-tree rule."""
        with errors_handled(json_out), open_workspace(workspace) as ws:
            if not ws.has_table("marts.segment_profiles"):
                from crmine.exceptions import SchemaError

                raise SchemaError("no segment profiles yet; run `crmine segment cluster` first")
            prof = ws.read("marts.segment_profiles").drop(columns=["model_version", "scored_at"])
            rules = ws.read("marts.segment_rules").drop(columns=["model_version", "scored_at"])

        def render() -> None:
            print_frame(prof, "Segment profiles")
            print_frame(rules, "Surrogate decision-tree rules")

        emit({"profiles": prof, "rules": rules}, json_out, render)

    @sub.command("tiers")
    def tiers_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Pareto/ABC value tiers and the golden customers."""
        from crmine.segment import golden_customers, value_tiers

        with errors_handled(json_out), open_workspace(workspace) as ws:
            rfm = ws.read("marts.customer_rfm")
            buyers = rfm[rfm["orders"] > 0] if "orders" in rfm else rfm
            if ws.has_table("marts.customer_features"):
                feats = ws.read("marts.customer_features")
                if "service_contacts" in feats:
                    buyers = buyers.merge(feats[["customer_id", "service_contacts"]],
                                          on="customer_id", how="left")
            tiers = value_tiers(buyers)
            golden = golden_customers(buyers)
        data = {"tiers": tiers.summary, "top_share_for_80pct": tiers.top_share_for_80,
                "golden_customers": int(golden["is_golden"].sum()),
                "golden_rule": golden.attrs.get("rule", "")}

        def render() -> None:
            print_frame(tiers.summary, "Value tiers (A = the customers making 80% of revenue)")
            console.print(f"{tiers.top_share_for_80:.1%} of customers make 80% of revenue; "
                          f"{data['golden_customers']:,} golden customers ({data['golden_rule']})")

        emit(data, json_out, render)

    app.add_typer(sub, name="segment")
