"""Does a CLV model forecast the holdout better than a naive rate? Model choice and verdict.

The sceptical analyst's baseline is each customer's own calibration purchase rate, shrunk
toward the pooled rate (empirical-Bayes gamma-Poisson: ``(r + x) / (alpha + T) × duration``
with ``r, alpha`` fitted by maximum likelihood, no dropout), times the holdout length: no model
of who has left. The raw rate ``x / T`` is not a fair baseline: it explodes for customers first
seen days ago (1 purchase at T = 2 days forecasts 90 in 180 days), a few of them make most of its
squared error, and any model then "beats" it. On a calibration/holdout split
every candidate transaction model (BG/NBD, MBG/NBD, Pareto/NBD where affordable) is refitted on
the calibration period and judged on what customers bought in the holdout:

- **accuracy**: the mean squared error per customer of the forecast holdout purchases, as a
  skill score ``1 - MSE_model / MSE_naive`` (0 = no better than the naive rate), with a
  bootstrap interval over customers. Squared error, not absolute: the models forecast expected
  counts (means), and absolute error rewards forecasting the median, 0 for most customers, so
  it favours a forecast that simply predicts nothing for one-time buyers;
- **ranking**: the correlation of forecast and actual holdout purchases (the CLV tiers and
  P(alive) rank customers: a forecast that does not rank them is not a finding), and its gain
  over the naive forecast's correlation, with a bootstrap interval;

``informative`` needs the forecast to rank customers (correlation >= 0.3) and to beat the naive
forecast beyond chance: the skill interval excludes 0 by the min gain (5 %), or the correlation
gain's interval excludes 0 (alone, that makes a ``weak``);
- **aggregate**: total forecast vs actual holdout purchases;
- **value**: the same skill score on holdout spend (forecast purchases × expected spend).

The candidate with the lowest holdout error wins; a simpler one (BG/NBD first) is kept unless
another cuts the holdout MSE by 5 % or more (picking the best of several on one holdout is
optimistic, and small differences there do not carry over); when none
beats the naive rate, the naive rate wins and the result is ``not_informative``. Degenerate
fits (a parameter at the edge of its range, the Poisson limit of BG/NBD, a dropout the window
does not identify, no convergence) are recorded as warnings: a small dropout estimate can be a
legitimate estimate on a short window, so they inform the verdict's text and the choice
between candidates, while the status comes from the holdout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crmine._format import fmt_number
from crmine.clv._base import TransactionModel
from crmine.contract import Status, Verdict, bootstrap_interval, judge

__all__ = [
    "Candidate",
    "ClvJudgement",
    "choose_and_judge",
    "fit_diagnostics",
    "naive_rate_forecast",
    "not_enough_history",
]

FloatArray = NDArray[np.float64]

# Thresholds, for data in general (not tuned to any one dataset):
MIN_SKILL = 0.05  # forecast MSE at least 5 % below the naive rate's to be informative
MIN_CORRELATION = 0.1  # below: the forecast explains < 1 % of the variation between customers
GOOD_CORRELATION = 0.3  # below: it ranks customers only weakly
AGGREGATE_WEAK = 0.2  # total holdout purchases off by more than 20 %: levels unreliable
SIMPLER_WITHIN = 0.05  # a simpler model wins unless another cuts the holdout MSE by 5 % or more
POISSON_LIMIT_R = 50.0  # gamma shape r above this: purchase rates the same for everyone
AT_BOUND = (1e-9, 1e9)  # beyond: run to the optimiser's edge (it searches log θ in ±25)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One transaction model refitted on the calibration period and scored on the holdout."""

    name: str
    model: TransactionModel | None
    predicted: FloatArray  # holdout purchases per customer (NaN when the fit failed)
    diagnostics: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return self.model is not None and bool(np.all(np.isfinite(self.predicted)))


@dataclass(frozen=True, slots=True)
class ClvJudgement:
    """The chosen forecaster (a model name or ``"naive"``), the comparison and the verdict."""

    chosen: str
    verdict: Verdict
    comparison: pd.DataFrame  # one row per candidate and the naive rate
    diagnostics: tuple[str, ...] = field(default=())
    best: str = ""  # the best model on the holdout, even when it does not beat the naive rate

    @property
    def model_won(self) -> bool:
        return self.chosen != "naive"


def raw_rate_forecast(frequency: FloatArray, T: FloatArray, duration: float) -> FloatArray:
    """Each customer's own calibration purchase rate times the holdout length (0 when ``T`` is
    0). Not the baseline: it explodes for young customers (1 purchase in 2 days is 90 in 180)."""
    rate = np.divide(frequency, T, out=np.zeros_like(frequency, dtype=np.float64), where=T > 0)
    return np.asarray(rate * duration, dtype=np.float64)


def _nbd_fit(x: FloatArray, T: FloatArray) -> tuple[float, float]:
    """Maximum-likelihood gamma(r, alpha) of purchase rates from Poisson counts ``x`` over
    exposures ``T`` (the NBD), with no dropout: the sceptic's pooled prior."""
    from scipy.optimize import minimize
    from scipy.special import gammaln

    def nll(theta: FloatArray) -> float:
        r, alpha = np.exp(theta)
        ll = (gammaln(r + x) - gammaln(r) + r * np.log(alpha / (alpha + T))
              + x * np.log(np.where(T > 0, T, 1.0) / (alpha + T)))  # fmt: skip
        return -float(np.sum(ll))

    rate = max(float(x.sum()) / max(float(T.sum()), 1e-12), 1e-12)
    start = np.log([1.0, 1.0 / rate])
    res = minimize(nll, start, method="Nelder-Mead",
                   options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 2000})  # fmt: skip
    r, alpha = np.exp(np.clip(res.x, -25, 25))
    return float(r), float(alpha)


def naive_rate_forecast(frequency: FloatArray, T: FloatArray, duration: float) -> FloatArray:
    """The fair naive forecast: each customer's past rate shrunk toward the pooled rate.

    Empirical-Bayes gamma-Poisson: purchase rates are gamma(r, alpha) across customers (fitted
    by maximum likelihood on the calibration counts, no dropout), and a customer with ``x``
    purchases in ``T`` is forecast ``(r + x) / (alpha + T) × duration``. A young customer's
    forecast is close to the pooled rate, an old one's close to their own rate: no model of
    dropout, only the noise of a short history taken out. Falls back to the pooled rate when
    the fit fails.
    """
    x = np.asarray(frequency, dtype=np.float64)
    t = np.asarray(T, dtype=np.float64)
    if len(x) == 0:
        return np.zeros(0, dtype=np.float64)
    pooled = float(x.sum()) / float(t.sum()) if t.sum() > 0 else 0.0
    try:
        r, alpha = _nbd_fit(x, t)
    except (ValueError, FloatingPointError):
        return np.full(len(x), pooled * duration)
    if not (np.isfinite(r) and np.isfinite(alpha)):
        return np.full(len(x), pooled * duration)
    return np.asarray((r + x) / (alpha + t) * duration, dtype=np.float64)


def fit_diagnostics(
    name: str, model: TransactionModel, summary: pd.DataFrame | None = None
) -> tuple[str, ...]:
    """Why a fit may not be trusted, in plain words (empty when nothing looks degenerate).

    Parameters at the edge of their range, BG/NBD's (or Pareto/NBD's) Poisson limit (gamma shape
    ``r`` so large that every customer gets the same purchase rate), a dropout the window does
    not identify (P(alive) above 0.99 for 99 % of customers) and non-convergence.
    """
    notes: list[str] = []
    params = model.params_
    if not getattr(model, "converged_", True):
        notes.append(f"{name} did not converge: its estimates may be unreliable")
    edge = [k for k, v in params.items() if not AT_BOUND[0] < v < AT_BOUND[1]]
    if edge:
        shown = ", ".join(f"{k} = {fmt_number(params[k])}" for k in edge)
        notes.append(f"{name}: {shown} at the edge of the parameter range (the data do not "
                     "determine it)")  # fmt: skip
    r, alpha = params.get("r"), params.get("alpha")
    if r is not None and alpha is not None and r > POISSON_LIMIT_R:
        notes.append(f"{name} is at its Poisson limit (r = {r:,.0f}, alpha = {alpha:,.0f}): it "
                     "gives every customer the same purchase rate, so it finds no differences "
                     "between customers")  # fmt: skip
    if summary is not None and len(summary):
        alive = model.p_alive(summary).to_numpy(np.float64)
        share = float(np.mean(alive > 0.99))
        if share >= 0.99:
            notes.append(f"{name}: dropout not identified - P(alive) is above 0.99 for "
                         f"{share:.0%} of customers; the window shows almost no one leaving, "
                         "which is not evidence that no one has")  # fmt: skip
    return tuple(notes)


def _mse(pred: FloatArray, actual: FloatArray) -> float:
    return float(np.mean((pred - actual) ** 2)) if len(actual) else float("nan")


def _corr(pred: FloatArray, actual: FloatArray) -> float:
    if len(actual) < 3 or np.std(pred) == 0 or np.std(actual) == 0:
        return float("nan")
    return float(np.corrcoef(pred, actual)[0, 1])


def _skill(pred: FloatArray, naive: FloatArray, actual: FloatArray) -> float:
    base = _mse(naive, actual)
    return 1.0 - _mse(pred, actual) / base if base > 0 else float("nan")


def _row(name: str, pred: FloatArray, naive: FloatArray, actual: FloatArray) -> dict[str, object]:
    total, act = float(pred.sum()), float(actual.sum())
    return {
        "forecaster": name,
        "rmse": float(np.sqrt(_mse(pred, actual))),
        "mae": float(np.mean(np.abs(pred - actual))),
        "correlation": _corr(pred, actual),
        "skill_vs_naive": _skill(pred, naive, actual),
        "total_predicted": total,
        "total_actual": act,
        "total_error_pct": 100 * (total - act) / act if act else float("nan"),
    }


def not_enough_history(why: str) -> Verdict:
    """The verdict when no holdout can be formed: nothing to judge the model on."""
    return Verdict(
        "not_informative", "holdout MSE skill vs naive purchase rate", None, 0.0, None,
        why=f"No held-out check was possible: {why}. Without it the model's P(alive) and CLV "
        "cannot be told apart from a guess.",
        what_to_try="Load a longer purchase history (at least a few purchase cycles) so that a "
        "holdout period can be kept back.",
    )  # fmt: skip


def _order(candidates: Sequence[Candidate], actual: FloatArray) -> list[Candidate]:
    """Usable candidates from best to worst holdout MSE; a simpler (earlier) one is preferred
    when within ``SIMPLER_WITHIN`` of the best, and a non-degenerate one over a degenerate one
    with an error within the same margin."""
    usable = [c for c in candidates if c.usable]
    if not usable:
        return []
    errors = {c.name: _mse(c.predicted, actual) for c in usable}
    best = min(errors.values())
    near = [c for c in usable if errors[c.name] * (1 - SIMPLER_WITHIN) <= best]
    clean = [c for c in near if not c.diagnostics]
    first = (clean or near)[0]
    rest = sorted((c for c in usable if c is not first), key=lambda c: errors[c.name])
    return [first, *rest]


def choose_and_judge(
    candidates: Sequence[Candidate],
    actual: FloatArray,
    naive: FloatArray,
    *,
    duration_text: str,
    value_actual: FloatArray | None = None,
    value_naive: FloatArray | None = None,
    value_predicted: dict[str, FloatArray] | None = None,
    repeats: int = 200,
) -> ClvJudgement:
    """Choose the forecaster with the best holdout accuracy and grade it against the naive rate.

    Parameters
    ----------
    candidates : Candidate
        In order of preference (simplest first).
    actual, naive : array
        Holdout purchases per customer, and the naive rate's forecast of them.
    duration_text : str
        The holdout's length in words, for the verdict's sentences.
    value_actual, value_naive, value_predicted : arrays, optional
        Holdout spend per customer, the naive forecast of it, and each candidate's forecast.
    """
    actual = np.asarray(actual, dtype=np.float64)
    naive = np.asarray(naive, dtype=np.float64)
    rows = [_row(c.name, c.predicted, naive, actual) for c in candidates if c.usable]
    rows.append(_row("naive", naive, naive, actual))
    failed = [c.name for c in candidates if not c.usable]
    comparison = pd.DataFrame(rows)
    ordered = _order(candidates, actual)
    warnings = [f"{n} could not be fitted on the calibration period (its forecasts are not "
                "finite); left out of the comparison" for n in failed]  # fmt: skip
    if not ordered:
        verdict = Verdict(
            "not_informative", "holdout MSE skill vs naive purchase rate", None, 0.0, None,
            why="No transaction model could be fitted on the calibration period.",
            what_to_try="Check the order history (enough repeat buyers?) and load more of it.",
            warnings=tuple(warnings),
        )  # fmt: skip
        return ClvJudgement("naive", verdict, comparison.assign(chosen=False))
    best = ordered[0]
    pred = best.predicted
    n = len(actual)
    skill = _skill(pred, naive, actual)
    skill_ci = bootstrap_interval(lambda i: _skill(pred[i], naive[i], actual[i]), n,
                                  repeats=repeats)  # fmt: skip
    corr = _corr(pred, actual)
    corr_ci = bootstrap_interval(lambda i: _corr(pred[i], actual[i]), n, repeats=repeats)
    total, act = float(pred.sum()), float(actual.sum())
    total_naive = float(naive.sum())
    err = (total - act) / act if act else float("nan")
    mse_m, mse_n = _mse(pred, actual), _mse(naive, actual)
    why_acc = (
        f"On a {duration_text} holdout, {best.name} refitted on the earlier data forecast each "
        f"customer's purchases with mean squared error {mse_m:,.3f} against {mse_n:,.3f} for "
        f"the naive rate (each customer's past rate shrunk toward the pooled rate, times the "
        f"holdout length): a skill of "
        f"{skill:+.1%} (95% interval {skill_ci[0]:+.1%} to {skill_ci[1]:+.1%} over customers). "
        f"Holdout correlation {corr:.2f} (naive {_corr(naive, actual):.2f}); it forecast "
        f"{total:,.0f} purchases against {act:,.0f} actual (naive {total_naive:,.0f})."
    )
    accuracy = judge(
        "holdout MSE skill vs naive purchase rate", skill, 0.0, skill_ci, min_gain=MIN_SKILL,
        why=why_acc,
        what_to_try="A longer history (several purchase cycles per customer), or a holdout "
        "that is not a season of its own; the naive rate may simply be the better forecast "
        "for this business.",
    )  # fmt: skip
    corr_naive = _corr(naive, actual)
    gain_ci = bootstrap_interval(lambda i: _corr(pred[i], actual[i]) - _corr(naive[i], actual[i]),
                                 n, repeats=repeats)  # fmt: skip
    ranks_better = bool(np.isfinite(gain_ci[0]) and gain_ci[0] > 0)
    ranking = judge(
        "holdout correlation, forecast vs actual purchases", corr, 0.0, corr_ci,
        min_gain=GOOD_CORRELATION,
        why=f"Correlation of forecast and actual holdout purchases per customer: {corr:.2f} "
        f"(95% interval {corr_ci[0]:.2f} to {corr_ci[1]:.2f}); the naive rate's {corr_naive:.2f} "
        f"(gain {corr - corr_naive:+.2f}, interval {gain_ci[0]:+.2f} to {gain_ci[1]:+.2f}).",
        what_to_try="The model does not tell customers apart: more history per customer, or "
        "a segment-level analysis instead of per-customer scores.",
    )  # fmt: skip
    if np.isfinite(corr) and corr < MIN_CORRELATION and ranking.status != "not_informative":
        ranking = Verdict("not_informative", ranking.metric, ranking.value, 0.0, ranking.interval,
                          ranking.why + f" Under {MIN_CORRELATION}: it explains under 1% of the "
                          "variation between customers.", ranking.what_to_try)  # fmt: skip
    checks = [ranking]
    agg_status: Status = "informative" if abs(err) <= AGGREGATE_WEAK else "weak"
    checks.append(Verdict(
        agg_status, "holdout total purchases, forecast vs actual", total, act, None,
        why=f"Forecast {total:,.0f} purchases in the holdout against {act:,.0f} actual "
        f"({err:+.0%}).",
        what_to_try="" if agg_status == "informative" else "The level of purchases changed "
        "between calibration and holdout (growth, seasonality): read CLV totals with care.",
    ))  # fmt: skip
    if value_actual is not None and value_naive is not None and value_predicted is not None \
            and best.name in value_predicted:  # fmt: skip
        vp, va, vn = value_predicted[best.name], value_actual, value_naive
        if np.all(np.isfinite(vp)) and _mse(vn, va) > 0:
            vskill = _skill(vp, vn, va)
            vci = bootstrap_interval(lambda i: _skill(vp[i], vn[i], va[i]), n, repeats=repeats)
            checks.append(judge(
                "holdout spend MSE skill vs naive", vskill, 0.0, vci, min_gain=MIN_SKILL,
                why=f"Holdout spend per customer: skill {vskill:+.1%} over the naive forecast "
                f"(past rate × past average spend), 95% interval {vci[0]:+.1%} to {vci[1]:+.1%}.",
                what_to_try="Spend per purchase is poorly forecast: check returns and the "
                "amount column, or value customers on purchases alone.",
            ))  # fmt: skip
    # The forecast must rank customers at all (ranking), and beat the naive rate beyond chance
    # on squared error (accuracy) or on ranking (correlation gain): the absolute error of a
    # heavy-tailed count is dominated by a few large buyers, so a model that ranks customers
    # better than their past rate is worth showing (as weak) even when the error interval is wide.
    # Informative also needs an edge over the naive forecast beyond chance: the correlation
    # gain over it excludes 0, or the skill against it excludes 0 by the min gain (accuracy
    # informative). Ranking customers at all (correlation against 0) is only the floor.
    status: Status
    beats_naive = ranks_better or accuracy.status == "informative"
    if ranking.status == "not_informative":
        status = "not_informative"
    elif accuracy.status == "not_informative":
        status = "weak" if ranks_better else "not_informative"
    else:
        status = _worst([accuracy.status, ranking.status])
        if status == "informative" and not beats_naive:
            status = "weak"
    # the aggregate and spend checks warn (weak) but do not on their own withhold the ranking
    if status == "informative" and any(c.status != "informative" for c in checks[1:]):
        status = "weak"
    diagnostics = best.diagnostics
    if diagnostics:
        why_acc += " Its calibration fit is degenerate: " + "; ".join(diagnostics) + "."
    chosen = best.name if status != "not_informative" else "naive"
    if status == "not_informative":
        reason = (
            f"Its forecast does not rank customers (correlation {corr:.2f})"
            if ranking.status == "not_informative"
            else "It does not beat the naive rate beyond chance"
        )
        why = (why_acc + f" {reason}, so P(alive), expected purchases and CLV tiers are not "
               "presented as findings.")  # fmt: skip
    else:
        names = ", ".join(c.name for c in candidates if c.usable)
        lowest = min((c for c in candidates if c.usable), key=lambda c: _mse(c.predicted, actual))
        if lowest is best:
            why = why_acc + f" {best.name} had the lowest holdout error of {names}."
        else:
            cut = 1 - _mse(lowest.predicted, actual) / mse_m
            why = why_acc + (f" Of {names}, {best.name} is kept: {lowest.name}'s holdout error "
                             f"is only {cut:.1%} lower (under {SIMPLER_WITHIN:.0%}).")  # fmt: skip
    what = next((c.what_to_try for c in (accuracy, ranking, *checks[1:])
                 if c.status != "informative" and c.what_to_try), "")  # fmt: skip
    verdict = Verdict(
        status, accuracy.metric, accuracy.value, 0.0, accuracy.interval, why,
        what if status != "informative" else "",
        warnings=(*warnings, *diagnostics), checks=tuple(checks),
    )  # fmt: skip
    comparison = comparison.assign(chosen=comparison["forecaster"] == chosen)
    return ClvJudgement(chosen, verdict, comparison, diagnostics, best.name)


_RANK: dict[Status, int] = {"informative": 0, "weak": 1, "not_informative": 2}


def _worst(statuses: Sequence[Status]) -> Status:
    return max(statuses, key=lambda s: _RANK[s])
