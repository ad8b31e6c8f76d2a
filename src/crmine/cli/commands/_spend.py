"""``crmine campaigns spend | mmm``, ``kpis`` on aggregated spend and ``budget --from-mmm``
(registered by ``campaigns.py``; the module name starts with ``_`` so it is not a group)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from crmine._format import fmt_number
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

__all__ = ["budget_from_mmm", "register_spend", "spend_kpis", "wants_spend"]

# What fits a terminal; --json has every KPI with its interval.
_KPI_COLUMNS = ("spend", "conversions", "ctr", "cpc", "cpa", "cpa_ci_low", "cpa_ci_high",
                "roas", "roas_ci_low", "roas_ci_high", "p_adjusted")  # fmt: skip


def _dimensions(by: str) -> list[str]:
    return [b.strip() for b in by.split(",") if b.strip()]


def wants_spend(ws: Any, by: str, source: str) -> bool:
    """Whether ``crmine campaigns kpis`` reads ``core.fct_marketing_spend``: when asked, when
    ``--by`` names a dimension only spend rows have (age, gender, interest, ad, ad_set, or
    several), or when the workspace has spend but no customer-level campaign data."""
    from crmine.exceptions import ConfigError
    from crmine.marketing import KPI_KEYS, SPEND_DIMENSIONS

    if source not in ("auto", "contacts", "spend"):
        raise ConfigError(f"--source must be auto, contacts or spend; got {source!r}")
    if source != "auto":
        return source == "spend"
    if not ws.has_table("core.fct_marketing_spend"):
        return False
    dims = _dimensions(by)
    if len(dims) > 1 or (dims and dims[0] not in KPI_KEYS and dims[0] in SPEND_DIMENSIONS):
        return True
    return not (ws.has_table("core.fct_events") or ws.has_table("core.campaign_assignments"))


def spend_kpis(ws: Any, by: str, period: str, json_out: bool) -> None:
    """Cost per result by ``by`` (comma-separated dimensions) with intervals."""
    from crmine.marketing import spend_kpis_of

    dims = _dimensions(by)
    k = spend_kpis_of(ws, dims, period=period)
    cols = [*dims, *_KPI_COLUMNS]

    def render() -> None:
        print_frame(k[cols], title=f"Media performance by {', '.join(dims)} (95% intervals; "
                                   "p_adjusted: CPA vs the rest within channels, Holm)")

    emit(k, json_out, render)


def budget_from_mmm(ws: Any, budget: float | None, json_out: bool) -> None:
    """The marketing-mix model's weekly budget split with its expected gain."""
    from crmine.contract import verdict_of
    from crmine.marketing import fit_mix_of

    change = ws.setting("mmm_max_change", None)
    weekly = budget if budget is not None else ws.setting("mmm_budget", None)
    model = fit_mix_of(ws)
    alloc = model.optimize_budget(weekly, max_change=0.5 if change is None else float(change))
    verdict = verdict_of(ws, "marketing_mix")
    info = {**alloc.summary(), "allocation": alloc.table,
            "verdict": verdict.to_dict() if verdict is not None else None}

    def render() -> None:
        print_frame(alloc.table.round(2), title=f"Weekly media budget of "
                                                f"{fmt_number(alloc.budget)}")
        console.print(f"Expected gain {fmt_number(alloc.expected_gain)} per week (90% interval "
                      f"{fmt_number(alloc.gain_ci_low)} to {fmt_number(alloc.gain_ci_high)}, "
                      f"P(gain > 0) {alloc.prob_gain_positive:.0%})")
        if verdict is not None and not verdict.actionable:
            console.print("[red]The marketing-mix model was judged not informative: this "
                          "split rests on media effects it could not show.[/red]")
            print_verdict(verdict)

    emit(info, json_out, render)


_BY_HELP = ("Dimension(s), comma-separated: channel, campaign, ad_set, ad, age, gender, "
            "interest, period.")


def register_spend(camp: typer.Typer) -> None:
    @camp.command("spend")
    def spend_cmd(
        by: Annotated[str, typer.Option(help=_BY_HELP)] = "channel",
        period: Annotated[str, typer.Option(help="Period for --by period: D, W, M, Q.")] = "W",
        cheapest: Annotated[bool, typer.Option(help="Only the audiences cheapest per "
                                               "result.")] = False,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """Cost per result of aggregated spend (ad-platform exports) by any dimensions:
        CTR, CPC, CPM, conversion rate, CPA and ROAS with intervals, and which groups
        differ (Holm)."""
        from crmine.marketing import cheapest_groups, spend_kpis_of

        with errors_handled(json_out), open_workspace(workspace) as ws:
            if not cheapest:
                spend_kpis(ws, by, period, json_out)
                return
            dims = _dimensions(by) if by != "channel" else ["age", "gender"]
            top = cheapest_groups(spend_kpis_of(ws, dims), dims)
        emit(top, json_out, lambda: print_frame(top, title="Cheapest audiences per result "
                                                           "(ranked by the CPA interval's "
                                                           "upper end)"))  # fmt: skip

    @camp.command("mmm")
    def mmm_cmd(
        bootstrap: Annotated[int | None, typer.Option(help="Bootstrap replicates (default: "
                                                      "setting mmm_bootstrap).")] = None,
        adstock: Annotated[str | None, typer.Option(
            help="Carry-over: geometric, weibull (may peak weeks after the spend) or auto "
                 "(the better forecaster of held-back training weeks). Default: setting "
                 "mmm_adstock.")] = None,
        workspace: WorkspaceOpt = Path("."),
        json_out: JsonOpt = False,
    ) -> None:
        """The marketing-mix model: held-out backtest against trend and seasonality without
        media, channel contribution, ROI and marginal ROI with 90% intervals, fitted adstock
        and saturation, and the weekly budget split (when the backtest is informative)."""
        from crmine.marketing import marketing_mix_of

        with errors_handled(json_out), open_workspace(workspace) as ws:
            fit = marketing_mix_of(ws, n_bootstrap=bootstrap, adstock=adstock)
        back, channels, alloc = fit.backtest, fit.channels, fit.allocation
        info: dict[str, Any] = {"weeks": fit.weeks, "adstock": back.adstock,
                                "verdict": back.verdict.to_dict(),
                                "holdout_mape": back.mape, "baseline_mape": back.baseline_mape,
                                "channels": channels,
                                "budget": None if alloc is None else
                                {**alloc.summary(), "allocation": alloc.table}}  # fmt: skip

        def render() -> None:
            print_verdict(back.verdict)
            cols = ["channel", "spend", "contribution", "roi", "roi_ci_low", "roi_ci_high",
                    "marginal_roi", "marginal_roi_ci_low", "marginal_roi_ci_high", "rank",
                    *(("lag_scale", "lag_shape") if back.adstock == "weibull" else ("decay",)),
                    "half_saturation", "shape"]
            print_frame(channels[cols].sort_values("rank"),
                        title=f"Channels over {fit.weeks} weeks (90% intervals; "
                              f"{back.adstock} adstock)")
            if alloc is not None:
                shift = pd.DataFrame(alloc.table[["channel", "current_spend", "optimal_spend",
                                                  "change"]])
                print_frame(shift, title="Recommended weekly budget shift")
                console.print(f"Expected gain {fmt_number(alloc.expected_gain)} per week "
                              f"(90% interval {fmt_number(alloc.gain_ci_low)} to "
                              f"{fmt_number(alloc.gain_ci_high)})")
            else:
                console.print("No budget recommendation: the media do not improve the "
                              "forecast of held-out weeks.")

        emit(info, json_out, render)
