"""``crmine service contacts|topics|classify|link-to-churn``: service and contact analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from crmine.cli._common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    emit,
    errors_handled,
    open_workspace,
    print_frame,
    print_verdict,
)


def _call(workspace: Path, json_out: bool, function: Any, *args: Any) -> Any:
    """``function(ws, *args)``; a workspace with nothing to analyse is a clear error (exit 2)."""
    from crmine.contract import SkipAnalysis
    from crmine.exceptions import DataError

    with errors_handled(json_out), open_workspace(workspace) as ws:
        try:
            return function(ws, *args)
        except SkipAnalysis as exc:
            raise DataError(str(exc)) from None


def _run(workspace: Path, json_out: bool) -> Any:
    from crmine.service import run_service

    return _call(workspace, json_out, run_service)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Service and contacts: volume, resolution, topics of ticket text, routing, and "
        "what complaints cost in churn and spend.",
        no_args_is_help=True,
    )

    @sub.command("contacts")
    def contacts_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Volume, resolution time, repeat contacts, SLA breaches, complaint rates and CSAT."""
        run = _run(workspace, json_out)
        agents = run.agents
        data = {**run.summary(), "groups": run.groups, "periods": run.periods,
                "weekly": run.volume.frame,
                "agent_groups": None if agents is None else agents.groups,
                "agent_group_differences": None if agents is None else agents.differences,
                "agent_group_verdict": None if agents is None else agents.verdict.to_dict()}

        def render() -> None:
            print_verdict(run.verdict)
            shown = run.groups[["dimension", "value", "tickets", "complaint_share",
                                "median_hours", "p90_hours", "km_median_hours",
                                "sla_breach_rate", "repeat_rate", "csat_mean"]]
            print_frame(shown, "Contacts by reason, channel and priority (hours to close)")
            print_frame(run.periods.tail(12), "The last 12 months")
            v = run.volume
            if np.isfinite(v.p_value):
                found = "a significant" if v.significant else "no significant"
                console.print(f"Weekly volume: {found} yearly season (F test p = "
                              f"{v.p_value:.3f}, peak week {v.peak_week}, "
                              f"{v.peak_to_trough:.2f}x the trough)")
            if agents is not None:
                print_verdict(agents.verdict)
                print_frame(agents.groups, "By agent group (hours ratio: to the other groups, "
                            "within priority)")
                print_frame(agents.differences[agents.differences["significant"]],
                            "Differences between agent groups significant after Holm")

        emit(data, json_out, render)

    @sub.command("topics")
    def topics_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """Topics mined from ticket text (English and Chinese), with examples (PII masked)."""
        run = _run(workspace, json_out)
        examples = run.topic_evaluation.model.representatives_
        data = {"topics": run.topics, "examples": examples,
                "topic_verdict": run.topic_evaluation.verdict.to_dict()}

        def render() -> None:
            print_verdict(run.topic_evaluation.verdict)
            print_frame(run.topics, f"{len(run.topics)} topics")
            print_frame(examples[examples["rank"] == 1], "The most typical ticket of each topic")

        emit(data, json_out, render)

    @sub.command("classify")
    def classify_cmd(
        text: Annotated[
            list[str] | None,
            typer.Option("--text", help="A ticket text to route (repeatable); without it, the "
                         "held-out test of the classifier and the routed unlabelled tickets."),
        ] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Route tickets to a reason from their text (TF-IDF + logistic regression)."""
        if text:
            from crmine.service import route_texts

            routed = _call(workspace, json_out, route_texts, list(text))
            emit({"routed": routed}, json_out, lambda: print_frame(routed, "Routed texts"))
            return
        run = _run(workspace, json_out)
        ev = run.reason_classifier
        data: dict[str, Any] = {
            "reason": None if ev is None else {
                "accuracy": ev.accuracy, "baseline": ev.baseline, "interval": ev.interval,
                "confusion": ev.confusion, "verdict": ev.verdict.to_dict()},
            "complaint": None if run.complaint_classifier is None
            else run.complaint_classifier.verdict.to_dict(),
            "routing": run.routing,
        }  # fmt: skip

        def render() -> None:
            if ev is None:
                console.print("no tickets with a recorded reason: nothing to learn from")
                return
            print_verdict(ev.verdict)
            if run.complaint_classifier is not None:
                print_verdict(run.complaint_classifier.verdict)
            matrix = ev.confusion.pivot(index="actual", columns="predicted", values="tickets")
            print_frame(matrix.fillna(0).astype(int).reset_index(),
                        "Held-out confusion matrix (rows: recorded reason)")
            console.print(f"{len(run.routing):,} tickets without a reason routed "
                          "(marts.service_ticket_routing)")

        emit(data, json_out, render)

    @sub.command("link-to-churn")
    def link_cmd(workspace: WorkspaceOpt = Path("."), json_out: JsonOpt = False) -> None:
        """What complaints, repeat contacts and slow resolution cost: hazard ratios on later
        churn and ratios of later spend."""
        run = _run(workspace, json_out)
        link, spend = run.link, run.spend
        data: dict[str, Any] = {
            "effects": None if link is None else link.effects,
            "verdict": None if link is None else link.verdict.to_dict(),
            "spend_effects": None if spend is None else spend.effects,
            "spend_verdict": None if spend is None else spend.verdict.to_dict(),
        }

        def render() -> None:
            if link is None:
                console.print("no core.fct_subscriptions: load subscriptions to link "
                              "service to churn")
            else:
                print_verdict(link.verdict)
                print_frame(link.effects.drop(columns=["unit"]),
                            f"Cox model of {link.subscriptions:,} subscriptions, "
                            f"{link.churned:,} churned ({link.months:,} subscription-months)")
            if spend is None:
                console.print("no core.fct_order_lines: load orders to link service to spend")
                return
            print_verdict(spend.verdict)
            print_frame(spend.effects.drop(columns=["unit"]),
                        f"Monthly spend of {spend.customers:,} customers "
                        f"({spend.months:,} customer-months; fixed effects per customer and "
                        "month)")

        emit(data, json_out, render)

    app.add_typer(sub, name="service")
