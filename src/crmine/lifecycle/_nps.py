"""NPS and CSAT: scores with intervals per group, Holm-corrected differences, drivers, churn link.

NPS of a group = 100 x (promoters - detractors) / responses, promoters answering 9-10 and
detractors 0-6 (Reichheld 2003). Its variance is that of the mean of a score that is +1, 0 or
-1: ``var = (p + d - (p - d)**2) / n`` with ``p``, ``d`` the promoter and detractor shares;
the 95% interval is ``NPS +- 1.96 x 100 x sqrt(var)``. Each group is compared with the other
respondents of its grouping (a z test on the difference of two independent NPS), and the
p-values of one grouping are Holm-corrected. CSAT (tickets' ``csat``) is compared the same
way on its mean, by ticket category and channel.

Drivers: an ordinary least-squares regression of the NPS answer on what was known when the
customer answered (complaints and other tickets before the answer, tenure, purchases, the
survey channel, the acquisition channel), with heteroscedasticity-robust (HC1) intervals,
ranked by ``|t|``, p-values Holm-corrected over the features.

The satisfaction -> churn link: of the customers who answered at least ``horizon`` days before
the data end, the share who then bought nothing for ``horizon`` days, detractors against
promoters (their first answer), with a Wald interval of the difference.

References
----------
Reichheld, F. F. (2003). The one number you need to grow. Harvard Business Review 81(12).
Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian Journal
of Statistics 6(2), 65-70.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from crmine.contract import Verdict, judge
from crmine.lifecycle._stages import ORDERS, _date, purchases_sql
from crmine.warehouse import Workspace

__all__ = [
    "CSAT_COLUMNS",
    "DRIVER_COLUMNS",
    "NPS_COLUMNS",
    "NpsResult",
    "csat_table",
    "holm",
    "nps_drivers",
    "nps_interval",
    "nps_table",
    "run_nps",
    "satisfaction_churn",
]

SURVEYS = "core.fct_surveys"
TICKETS = "core.fct_tickets"
Z95 = float(norm.ppf(0.975))
NPS_COLUMNS = (
    "dimension",
    "group",
    "responses",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "ci_low",
    "ci_high",
    "diff_vs_rest",
    "p_value",
    "p_holm",
    "significant",
)
CSAT_COLUMNS = (
    "dimension",
    "group",
    "responses",
    "mean_csat",
    "ci_low",
    "ci_high",
    "satisfied_share",
    "diff_vs_rest",
    "p_value",
    "p_holm",
    "significant",
)
DRIVER_COLUMNS = ("feature", "effect", "ci_low", "ci_high", "t", "p_value", "p_holm", "rank")
MIN_GROUP = 5  # responses a group needs to be compared


def nps_interval(promoters: int, detractors: int, n: int) -> tuple[float, float, float]:
    """NPS and its 95% interval from counts (module docstring).

    Examples
    --------
    >>> [round(v, 1) for v in nps_interval(50, 20, 100)]
    [30.0, 14.7, 45.3]
    """
    if n <= 0:
        return (float("nan"),) * 3
    p, d = promoters / n, detractors / n
    half = Z95 * 100 * np.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    score = 100 * (p - d)
    return float(score), float(score - half), float(score + half)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (monotone, at most 1).

    Examples
    --------
    >>> holm(np.array([0.01, 0.04, 0.03])).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not ok.size:
        return out
    order = ok[np.argsort(p[ok])]
    m = len(order)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out


def _vs_rest(score: np.ndarray, labels: pd.Series) -> pd.DataFrame:
    """Per label: n, mean, se of ``score``, and the z test of mean vs everyone else's."""
    frame = pd.DataFrame({"g": labels.to_numpy(), "s": score})
    total_n, total_sum, total_sq = len(frame), frame["s"].sum(), (frame["s"] ** 2).sum()
    rows = []
    for g, part in frame.groupby("g", sort=True):
        n = len(part)
        mean = part["s"].mean()
        var = part["s"].var(ddof=0)
        rest_n = total_n - n
        p_value, diff = float("nan"), float("nan")
        if n >= MIN_GROUP and rest_n >= MIN_GROUP:
            rest_mean = (total_sum - part["s"].sum()) / rest_n
            rest_var = (total_sq - (part["s"] ** 2).sum()) / rest_n - rest_mean**2
            se = np.sqrt(max(var, 0) / n + max(rest_var, 0) / rest_n)
            diff = mean - rest_mean
            p_value = float(2 * norm.sf(abs(diff) / se)) if se > 0 else float("nan")
        rows.append(
            {"group": str(g), "n": n, "mean": mean, "var": var, "diff": diff, "p_value": p_value}
        )
    return pd.DataFrame(rows)


def nps_table(surveys: pd.DataFrame, groupings: dict[str, pd.Series]) -> pd.DataFrame:
    """NPS per group of each grouping (a Series of labels aligned with ``surveys``; the
    dimension ``"all"`` is added), with intervals and Holm-corrected differences."""
    nps = surveys["nps"].to_numpy(float)
    score = np.where(nps >= 9, 1.0, np.where(nps <= 6, -1.0, 0.0))
    parts = []
    for dimension, labels in {"all": pd.Series("all", index=surveys.index), **groupings}.items():
        test = _vs_rest(score, labels.fillna("(unknown)").astype(str))
        frame = pd.DataFrame({"g": labels.fillna("(unknown)").astype(str).to_numpy(), "s": score})
        counts = frame.groupby("g")["s"].agg(
            promoters=lambda s: int((s > 0).sum()),
            detractors=lambda s: int((s < 0).sum()),
            responses="size",
        )
        test = test.merge(counts, left_on="group", right_index=True)
        ci = [nps_interval(r.promoters, r.detractors, r.responses) for r in test.itertuples()]
        test["nps"], test["ci_low"], test["ci_high"] = zip(*ci, strict=True) if ci else ((), (), ())
        test["passives"] = test["responses"] - test["promoters"] - test["detractors"]
        test["diff_vs_rest"] = 100 * test["diff"]
        test["p_holm"] = holm(test["p_value"].to_numpy())
        test["dimension"] = dimension
        parts.append(test)
    out = pd.concat(parts, ignore_index=True)
    out["significant"] = out["p_holm"] < 0.05
    for c in ("responses", "promoters", "passives", "detractors"):
        out[c] = out[c].astype("int64")
    return out[list(NPS_COLUMNS)]


def csat_table(
    tickets: pd.DataFrame, dimensions: tuple[str, ...] = ("category", "channel")
) -> pd.DataFrame:
    """Mean CSAT per ticket category and channel with t intervals and Holm-corrected
    differences against the other answered tickets."""
    answered = tickets[tickets["csat"].notna()].reset_index(drop=True)
    parts = []
    if answered.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CSAT_COLUMNS})
    score = answered["csat"].to_numpy(float)
    top = float(np.nanmax(score))
    for dimension in ("all", *[d for d in dimensions if d in answered.columns]):
        labels = (
            pd.Series("all", index=answered.index)
            if dimension == "all"
            else answered[dimension].fillna("(unknown)").astype(str)
        )
        test = _vs_rest(score, labels)
        half = Z95 * np.sqrt(test["var"] / test["n"].clip(lower=1))
        sat = pd.Series(score >= top - 1).groupby(labels.to_numpy()).mean()
        parts.append(
            pd.DataFrame(
                {
                    "dimension": dimension,
                    "group": test["group"],
                    "responses": test["n"],
                    "mean_csat": test["mean"],
                    "ci_low": test["mean"] - half,
                    "ci_high": test["mean"] + half,
                    "satisfied_share": test["group"].map(sat).to_numpy(float),
                    "diff_vs_rest": test["diff"],
                    "p_value": test["p_value"],
                    "p_holm": holm(test["p_value"].to_numpy()),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["significant"] = out["p_holm"] < 0.05
    out["responses"] = out["responses"].astype("int64")
    return out[list(CSAT_COLUMNS)]


def _answer_features(ws: Workspace, surveys: pd.DataFrame) -> pd.DataFrame:
    """What was known about each respondent when it answered (one row per answer)."""
    keys = surveys[["customer_id", "response_ts"]].reset_index(names="row")
    ws.duck.register("_lc_answers", keys)
    try:
        feats = ws.duck.execute(f"""
            SELECT a.row,
                   count(*) FILTER (WHERE o.d < CAST(a.response_ts AS DATE)) AS purchase_days,
                   coalesce(datediff('day', min(o.d), CAST(a.response_ts AS DATE)), 0)
                       AS tenure_days
            FROM _lc_answers a LEFT JOIN ({purchases_sql(orders=ws.resolved(ORDERS))}) o
              ON CAST(o.customer_id AS VARCHAR) = a.customer_id
             AND o.d < CAST(a.response_ts AS DATE)
            GROUP BY a.row, a.response_ts""").df()
        if ws.has_table(TICKETS):
            cols = set(ws.columns(TICKETS))
            complaint = "coalesce(t.is_complaint, false)" if "is_complaint" in cols else "false"
            tick = ws.duck.execute(f"""
                SELECT a.row,
                       count(t.customer_id) FILTER (WHERE {complaint}) AS complaints,
                       count(t.customer_id) FILTER (WHERE NOT {complaint}) AS other_tickets
                FROM _lc_answers a LEFT JOIN {ws.resolved(TICKETS)} t
                  ON CAST(t.customer_id AS VARCHAR) = a.customer_id
                 AND t.opened_ts < a.response_ts
                GROUP BY 1""").df()
            feats = feats.merge(tick, on="row", how="left")
    finally:
        ws.duck.unregister("_lc_answers")
    return feats.set_index("row").sort_index()


def nps_drivers(
    ws: Workspace, surveys: pd.DataFrame, groupings: dict[str, pd.Series]
) -> pd.DataFrame:
    """OLS of the NPS answer on what was known at the answer (module docstring).

    ``effect`` is in NPS points per unit (per complaint, per 100 days of tenure, per 10
    purchase days, or against the grouping's most common level for a category).
    """
    import statsmodels.api as sm

    feats = _answer_features(ws, surveys).reindex(surveys.index).fillna(0.0)
    X = pd.DataFrame(index=surveys.index)
    for c, scale in (
        ("complaints", 1.0),
        ("other_tickets", 1.0),
        ("tenure_days", 100.0),
        ("purchase_days", 10.0),
    ):
        if c in feats and feats[c].std() > 0:
            X[c if scale == 1 else f"{c}_per_{scale:g}"] = feats[c].astype(float) / scale
    for name, labels in groupings.items():
        lab = labels.fillna("(unknown)").astype(str)
        if lab.nunique() < 2:
            continue
        ref = lab.value_counts().index[0]
        dummies = pd.get_dummies(lab, prefix=name, prefix_sep="=").drop(columns=f"{name}={ref}")
        X = X.join(dummies.loc[:, dummies.sum() >= MIN_GROUP].astype(float))
    if X.empty or len(X) <= X.shape[1] + 5:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DRIVER_COLUMNS})
    fit = sm.OLS(surveys["nps"].to_numpy(float), sm.add_constant(X, has_constant="add")).fit(
        cov_type="HC1"
    )
    ci = fit.conf_int()
    out = pd.DataFrame(
        {
            "feature": X.columns,
            "effect": fit.params[X.columns].to_numpy(),
            "ci_low": ci.loc[X.columns, 0].to_numpy(),
            "ci_high": ci.loc[X.columns, 1].to_numpy(),
            "t": fit.tvalues[X.columns].to_numpy(),
            "p_value": fit.pvalues[X.columns].to_numpy(),
        }
    )
    out = out.sort_values("t", key=np.abs, ascending=False, ignore_index=True)
    out["p_holm"] = holm(out["p_value"].to_numpy())
    out["rank"] = np.arange(1, len(out) + 1)
    return out[list(DRIVER_COLUMNS)]


def satisfaction_churn(
    ws: Workspace, surveys: pd.DataFrame, end: pd.Timestamp, horizon_days: int
) -> tuple[pd.DataFrame, Verdict]:
    """Churn and spend in the ``horizon`` after the first answer, by band; the verdict on
    detractors' churn rate minus promoters' (module docstring)."""
    first = surveys.sort_values("response_ts").drop_duplicates("customer_id")
    first = first[first["response_ts"] < pd.Timestamp(end) - pd.Timedelta(days=horizon_days)]
    keys = first[["customer_id", "response_ts"]].copy()
    ws.duck.register("_lc_first", keys)
    try:
        after = ws.duck.execute(f"""
            SELECT a.customer_id, count(o.d) AS days_after, coalesce(sum(o.amount), 0) AS spend
            FROM _lc_first a LEFT JOIN ({purchases_sql(_date(end), ws.resolved(ORDERS))}) o
              ON CAST(o.customer_id AS VARCHAR) = a.customer_id
             AND o.d > CAST(a.response_ts AS DATE)
             AND o.d <= CAST(a.response_ts AS DATE) + INTERVAL {int(horizon_days)} DAY
            GROUP BY 1""").df()
    finally:
        ws.duck.unregister("_lc_first")
    first = first.merge(after, on="customer_id", how="left")
    nps = first["nps"].to_numpy(float)
    first["band"] = np.where(nps >= 9, "promoter", np.where(nps <= 6, "detractor", "passive"))
    first["churned"] = first["days_after"].fillna(0) == 0
    bands = (
        first.groupby("band")
        .agg(
            customers=("customer_id", "size"),
            churn_rate=("churned", "mean"),
            mean_spend_after=("spend", "mean"),
        )
        .reindex(["promoter", "passive", "detractor"])
        .reset_index()
    )
    bands["customers"] = bands["customers"].fillna(0).astype("int64")
    bands["horizon_days"] = int(horizon_days)
    metric = f"churn rate of detractors minus promoters ({horizon_days:,} days after answering)"
    det, pro = first[first["band"] == "detractor"], first[first["band"] == "promoter"]
    if min(len(det), len(pro)) < MIN_GROUP * 2:
        return bands, Verdict(
            "not_informative",
            metric,
            None,
            0.0,
            why=f"Only {len(det):,} detractors and {len(pro):,} promoters answered at least "
            f"{horizon_days:,} days before the data end: too few to link satisfaction to churn.",
            what_to_try="Load more survey answers or a longer order history.",
        )
    p1, p0 = float(det["churned"].mean()), float(pro["churned"].mean())
    se = np.sqrt(p1 * (1 - p1) / len(det) + p0 * (1 - p0) / len(pro))
    diff = p1 - p0
    se = max(se, 1e-12)
    return bands, judge(
        metric,
        diff,
        0.0,
        (diff - Z95 * se, diff + Z95 * se),
        min_gain=0.05,
        why=f"Of the customers who answered, {p1:.0%} of {len(det):,} detractors and {p0:.0%} of "
        f"{len(pro):,} promoters bought nothing in the {horizon_days:,} days after answering "
        f"(difference {diff:+.1%}, 95% interval {diff - Z95 * se:+.1%} to {diff + Z95 * se:+.1%}).",
        what_to_try="Satisfaction does not tell who leaves here: act on behaviour (recency, "
        "health score), not on the survey answer.",
    )


@dataclass(frozen=True, slots=True)
class NpsResult:
    """NPS and CSAT tables, drivers, the churn link by band and its verdict."""

    nps: pd.DataFrame
    csat: pd.DataFrame
    drivers: pd.DataFrame
    churn_by_band: pd.DataFrame
    verdict: Verdict


def _survey_groupings(
    ws: Workspace, surveys: pd.DataFrame, segments: pd.Series | None
) -> dict[str, pd.Series]:
    groups: dict[str, pd.Series] = {}
    if segments is not None:
        groups["segment"] = surveys["customer_id"].map(segments)
    if "channel" in surveys and surveys["channel"].notna().any():
        groups["channel"] = surveys["channel"]
    if ws.has_table("core.dim_customer") and "acquisition_channel" in ws.columns(
        "core.dim_customer"
    ):
        dim = ws.duck.execute(f"""
            SELECT DISTINCT ON (customer_id) CAST(customer_id AS VARCHAR) AS customer_id,
                   acquisition_channel FROM {ws.resolved("core.dim_customer")}""").df()
        acq = surveys["customer_id"].map(dim.set_index("customer_id")["acquisition_channel"])
        if acq.notna().any():
            groups["acquisition_channel"] = acq
    groups["period"] = pd.to_datetime(surveys["response_ts"]).dt.to_period("Q").astype(str)
    return groups


def run_nps(
    ws: Workspace, end: pd.Timestamp, horizon_days: int, segments: pd.Series | None = None
) -> NpsResult | None:
    """Everything of the module on the workspace's surveys and tickets (None with neither
    NPS answers nor ticket CSAT). ``segments`` maps customer_id to a segment label."""
    tickets = pd.DataFrame({"csat": pd.Series(dtype=float)})
    if ws.has_table(TICKETS) and "csat" in ws.columns(TICKETS):
        cols = [c for c in ("category", "channel", "csat") if c in ws.columns(TICKETS)]
        tickets = ws.duck.execute(
            f"SELECT {', '.join(cols)} FROM {TICKETS} WHERE opened_ts < TIMESTAMP '{_date(end)}'"
        ).df()
    csat = csat_table(tickets)
    surveys = pd.DataFrame()
    if ws.has_table(SURVEYS) and "nps" in ws.columns(SURVEYS) and ws.has_table(ORDERS):
        wanted = ("customer_id", "response_ts", "nps", "channel")
        present = [c for c in wanted if c in ws.columns(SURVEYS)]
        surveys = ws.duck.execute(f"""
            SELECT {", ".join(present)} FROM {ws.resolved(SURVEYS)}
            WHERE nps IS NOT NULL AND response_ts < TIMESTAMP '{_date(end)}'
            ORDER BY response_ts""").df()
    if surveys.empty:
        if csat.empty:
            return None
        empty = {c: pd.Series(dtype=object) for c in NPS_COLUMNS}
        return NpsResult(
            pd.DataFrame(empty),
            csat,
            pd.DataFrame({c: pd.Series(dtype=object) for c in DRIVER_COLUMNS}),
            pd.DataFrame(),
            Verdict(
                "not_informative",
                "churn rate of detractors minus promoters",
                None,
                0.0,
                why=f"No NPS answers in {SURVEYS}: nothing links satisfaction to churn.",
                what_to_try="Load survey answers with an nps column (crmine ingest surveys).",
            ),
        )
    surveys["customer_id"] = surveys["customer_id"].astype(str)
    groupings = _survey_groupings(ws, surveys, segments)
    table = nps_table(surveys, groupings)
    # drivers use what was known at the answer: not the period, nor today's segment
    known = {k: v for k, v in groupings.items() if k not in ("period", "segment")}
    drivers = nps_drivers(ws, surveys, known)
    bands, verdict = satisfaction_churn(ws, surveys, end, horizon_days)
    return NpsResult(table, csat, drivers, bands, verdict)
