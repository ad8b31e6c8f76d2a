"""``crmine lifecycle stages|transitions|cohorts|health|loyalty|nps|sbg``: the customer
lifecycle on the workspace or on a flat order file (``--data``); also ``crmine loyalty`` and
``crmine nps``."""

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
    print_verdict,
)

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Date of the stages (default: the day after the data end)."),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Start date of the transition matrix (default: --as-of minus the setting "
        "lifecycle.transition_days, 90).",
    ),
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        "-d",
        help="Flat order file (CSV, Parquet or Excel; a customer id, a date and an amount per "
        "row). Without it the workspace's warehouse is used; with it nothing is written.",
        dir_okay=False,
    ),
]
HorizonOpt = Annotated[
    int | None,
    typer.Option("--horizon-days", help="Churn horizon of the health score's held-out test."),
]


def _parse_counts(text: str) -> list[float]:
    from crmine.exceptions import DataError

    parts = [p.strip().replace("_", "") for p in text.split(",") if p.strip()]
    try:
        return [float(p) for p in parts]
    except ValueError:
        bad = next(p for p in parts if not p.replace(".", "", 1).isdigit())
        raise DataError(
            f"--counts must be numbers separated by commas (cohort size first), e.g. "
            f"1000,631,468; found {bad[:40]!r}"
        ) from None


def _run(
    workspace: Path,
    data: Path | None,
    *,
    as_of: str | None = None,
    since: str | None = None,
    horizon_days: int | None = None,
) -> tuple[Any, dict[str, int] | None]:
    """The lifecycle run on the workspace, or on ``data`` (with the workspace's settings when
    there is one), and the opted-out customers left out of its lists per mart (None with
    ``data``: an order file records no consent, nothing is left out)."""
    from dataclasses import replace

    from crmine.lifecycle import lifecycle_of_file, run_lifecycle

    if data is not None:
        settings: dict[str, Any] = {}
        if (workspace / "crmine.toml").exists():
            with open_workspace(workspace, read_only=True) as ws:
                settings = {
                    k: v for k, v in ws.config.settings.items() if k.startswith("lifecycle.")
                }
        return lifecycle_of_file(
            data, settings=settings, as_of=as_of, since=since, horizon_days=horizon_days
        ), None
    from crmine.warehouse._consent import drop_opted_out, honour_consent

    with open_workspace(workspace) as ws:
        run = run_lifecycle(ws, as_of=as_of, since=since, horizon_days=horizon_days)
        excluded = honour_consent(ws, "lifecycle")  # its lists to act on, as the pipeline's
        at_risk, _ = drop_opted_out(ws, run.at_risk)  # the list shown is the mart's
        return replace(run, at_risk=at_risk), excluded


def _loyalty_command(
    data: DataOpt = None,
    as_of: AsOfOpt = None,
    workspace: WorkspaceOpt = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Loyalty per customer and segment: persistence, firmness, stability, loyalty index."""
    with errors_handled(json_out):
        run, excluded = _run(workspace, data, as_of=as_of)
    check = run.loyalty_evaluation.verdict
    top = run.loyalty.sort_values("loyalty_index", ascending=False)
    data_out = {
        "as_of": f"{run.as_of:%Y-%m-%d}",
        "customers": len(run.loyalty),
        "loyalty_index_mean": run.summary()["loyalty_index_mean"],
        "verdict": check.to_dict(),
        "segments": run.loyalty_segments,
        "customers_by_loyalty": top,
        "consent_excluded": excluded,
    }

    def render() -> None:
        print_verdict(check)
        print_frame(
            run.loyalty_segments[run.loyalty_segments["dimension"] == "stage"].drop(
                columns=["dimension"]
            ),
            "Loyalty by lifecycle stage",
        )
        print_frame(top.head(15), "Most loyal customers")

    emit(data_out, json_out, render)


def _nps_command(
    horizon_days: Annotated[
        int | None,
        typer.Option(
            "--horizon-days",
            help="Days without a purchase after answering that count as churn (default: "
            "setting lifecycle.nps_horizon_days, 180).",
        ),
    ] = None,
    workspace: WorkspaceOpt = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """NPS with intervals per segment, channel and quarter; CSAT; drivers; churn link."""
    from crmine.exceptions import DataError
    from crmine.lifecycle import data_end, run_nps

    with errors_handled(json_out), open_workspace(workspace) as ws:
        end = data_end(ws)
        days = horizon_days or int(ws.setting("lifecycle.nps_horizon_days", 180))
        result = run_nps(ws, end, days)
        if result is None:
            raise DataError(
                f"no NPS answers in core.fct_surveys nor CSAT in core.fct_tickets of "
                f"{workspace}: load them with `crmine ingest surveys FILE`"
            )
    data_out = {
        "verdict": result.verdict.to_dict(),
        "nps": result.nps,
        "csat": result.csat,
        "drivers": result.drivers,
        "churn_by_band": result.churn_by_band,
    }

    def render() -> None:
        print_verdict(result.verdict)
        if len(result.nps):
            shown = result.nps[
                [
                    "dimension",
                    "group",
                    "responses",
                    "nps",
                    "ci_low",
                    "ci_high",
                    "p_holm",
                    "significant",
                ]
            ]
            print_frame(shown, "NPS (95% interval; p vs the rest, Holm-corrected)", max_rows=40)
            print_frame(result.drivers.head(10), "What goes with the NPS answer")
            print_frame(result.churn_by_band, "Churn after answering, by band")
        if len(result.csat):
            print_frame(result.csat, "Ticket CSAT", max_rows=20)

    emit(data_out, json_out, render)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Customer lifecycle: cohorts, stages and transitions, health score, sBG retention.",
        no_args_is_help=True,
    )

    @sub.command("stages")
    def stages_cmd(
        data: DataOpt = None,
        as_of: AsOfOpt = None,
        since: SinceOpt = None,
        horizon_days: HorizonOpt = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Every customer's lifecycle stage, the transitions since --since and actions."""
        with errors_handled(json_out):
            run, excluded = _run(workspace, data, as_of=as_of, since=since,
                                 horizon_days=horizon_days)  # fmt: skip
        summary = run.summary()
        summary_frame = run.stages.groupby("stage").size().rename("customers").reset_index()
        matrix = (
            run.transitions.pivot(index="from_stage", columns="to_stage", values="customers")
            .fillna(0)
            .astype(int)
        )
        out: dict[str, Any] = {
            **summary,
            "transitions": run.transitions,
            "transition_history": run.transition_history,
            "consent_excluded": excluded,
        }
        if data is not None:  # nothing is kept: the customers' stages are the result
            out["customers_by_stage"] = run.to_frame()

        def render() -> None:
            print_verdict(run.verdict)
            console.print(f"Stages at {summary['as_of']} of {summary['customers']:,} customers")
            print_frame(summary_frame, "Customers by stage")
            print_frame(matrix.reset_index(), f"Transitions since {summary['transition_from']}")
            from crmine.lifecycle import ACTIONS

            for stage, action in ACTIONS.items():
                console.print(f"[bold]{stage}[/bold]: {action}")

        emit(out, json_out, render)

    @sub.command("transitions")
    def transitions_cmd(
        data: DataOpt = None,
        as_of: AsOfOpt = None,
        since: SinceOpt = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """The stage transition matrix between --since and --as-of (customers and revenue)."""
        from crmine.lifecycle import transitions_between

        with errors_handled(json_out):
            if data is not None:
                transitions = _run(workspace, data, as_of=as_of, since=since)[0].transitions
            else:
                with open_workspace(workspace) as ws:
                    transitions = transitions_between(ws, as_of=as_of, since=since)
        matrix = transitions.pivot(index="from_stage", columns="to_stage", values="customers")
        result = {"transitions": transitions}

        def render() -> None:
            if transitions.empty:
                console.print("no customers")
                return
            start, end = transitions["from_date"].iloc[0], transitions["to_date"].iloc[0]
            title = f"Customers from their stage at {start:%Y-%m-%d} to {end:%Y-%m-%d}"
            print_frame(matrix.fillna(0).astype(int).reset_index(), title)

        emit(result, json_out, render)

    @sub.command("cohorts")
    def cohorts_cmd(
        value: Annotated[
            str,
            typer.Option("--value", help="retention, customers, revenue or revenue_per_customer."),
        ] = "retention",
        data: DataOpt = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Retention and revenue by acquisition month (also channel and first category)."""
        from crmine.exceptions import ConfigError
        from crmine.lifecycle import cohort_matrix, retention_triangle

        allowed = ("retention", "customers", "revenue", "revenue_per_customer")
        with errors_handled(json_out):
            if value not in allowed:
                raise ConfigError(f"--value {value!r} is not one of {', '.join(allowed)}")
            if data is not None:
                cohorts = _run(workspace, data)[0].cohorts
            else:
                with open_workspace(workspace) as ws:
                    cohorts = cohort_matrix(ws)
        triangle = retention_triangle(cohorts, value) if len(cohorts) else None
        result = {"cohorts": cohorts}

        def render() -> None:
            if triangle is None:
                console.print("no completed purchases of known customers")
                return
            shown = triangle.iloc[:, :13]
            if value == "retention":
                shown = shown.map(lambda v: "" if v != v else f"{v:.0%}")
            shown.columns = [str(c) for c in shown.columns]
            print_frame(
                shown.reset_index(), f"{value} by acquisition month and month since", max_rows=40
            )

        emit(result, json_out, render)

    @sub.command("health")
    def health_cmd(
        data: DataOpt = None,
        horizon_days: HorizonOpt = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """The health score, its held-out churn AUC (the verdict) and the at-risk list."""
        with errors_handled(json_out):
            run, excluded = _run(workspace, data, horizon_days=horizon_days)
        summary = run.summary()
        out = {**summary, "deciles": run.evaluation.deciles, "at_risk_list": run.at_risk,
               "consent_excluded": excluded}  # fmt: skip

        def render() -> None:
            print_verdict(run.verdict)
            if len(run.evaluation.deciles):
                print_frame(
                    run.evaluation.deciles,
                    f"Churn after {summary['health_cutoff']} by health decile",
                )
            if not run.verdict.actionable:
                console.print(summary["withheld"])
                return
            console.print(f"{len(run.at_risk):,} saveable customers below the health threshold")
            if excluded and any(excluded.values()):
                lists = ", ".join(f"{n:,} from {m}" for m, n in excluded.items() if n)
                console.print(f"[dim]opted out of marketing, left out: {lists}[/dim]")
            print_frame(run.at_risk.drop(columns=["action"]).head(20), "Most at risk")

        emit(out, json_out, render)

    @sub.command("sbg")
    def sbg_cmd(
        counts: Annotated[
            str,
            typer.Option(
                "--counts", help="Survivors by period, cohort size first: 1000,631,468,382"
            ),
        ],
        periods: Annotated[
            int, typer.Option("--periods", help="Periods to project (from 0).")
        ] = 12,
        discount_rate: Annotated[
            float, typer.Option("--discount-rate", help="Per-period discount rate of DERL.")
        ] = 0.10,
        json_out: JsonOpt = False,
    ) -> None:
        """Fit the shifted-beta-geometric retention model to one cohort's survivor counts."""
        import pandas as pd

        from crmine.lifecycle import ShiftedBetaGeometric

        with errors_handled(json_out):
            observed = _parse_counts(counts)
            model = ShiftedBetaGeometric(discount_rate=discount_rate).fit_survivors(observed)
            n = max(periods, len(observed) - 1)
            survivors = model.predict_survivors(n)
            retention = [None, *model.predict_retention(n).tolist()]
            table = pd.DataFrame(
                {
                    "period": range(n + 1),
                    "actual": [*observed, *([None] * (n + 1 - len(observed)))],
                    "projected": survivors,
                    "retention": retention,
                }
            )
            derl = float(model.discounted_residual_lifetime(0))
        data = {**model.summary(), "derl_new_customer": derl, "projection": table}

        def render() -> None:
            a, b = model.params_["alpha"], model.params_["beta"]
            console.print(
                f"sBG: alpha {a:,.3f}, beta {b:,.3f}, log-likelihood {model.log_likelihood_:,.2f}"
            )
            console.print(
                f"Discounted expected residual lifetime of a new customer: "
                f"{derl:,.2f} periods at {discount_rate:.0%}"
            )
            print_frame(table, "Survivors: actual and projected")

        emit(data, json_out, render)

    sub.command("loyalty")(_loyalty_command)
    sub.command("nps")(_nps_command)
    app.add_typer(sub, name="lifecycle")
    # the issue's own names for the two
    app.command("loyalty")(_loyalty_command)
    app.command("nps")(_nps_command)
