"""Performance of aggregated media spend (ad-platform exports): CTR, CPC, CPM, conversion
rate, CPA and ROAS by any dimension, each with an interval, and which groups differ.

The rows are summed per group in DuckDB (10 million spend rows take well under a second);
the intervals come from the sums:

- rates of counts (CTR = clicks / impressions, conversion rate = conversions / clicks):
  Wilson score intervals;
- costs per count (CPC, CPM, CPA = spend / count): spend is known, the count is Poisson, so
  the exact (Garwood) interval of the count, inverted;
- ROAS = revenue / spend: revenue varies from row to row, so the delta-method (linearised
  ratio-estimator) variance over the group's rows, ``sum (r_i - R s_i)^2 / S^2``; a group of
  one row falls back to the Poisson interval of its conversions.

Each group's cost per result is tested against the rest of the spend (a conditional binomial
test of conversions per unit spent, the exact test of two Poisson rates) and the p-values are
Holm-corrected within each dimension.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from crmine.exceptions import ConfigError, DataError
from crmine.marketing._effects import adjust_pvalues

__all__ = [
    "SPEND_DIMENSIONS",
    "SPEND_METRICS",
    "cheapest_groups",
    "collapse_sums",
    "spend_performance",
    "summarise_spend",
    "wilson_interval",
]

SPEND_DIMENSIONS = ("channel", "campaign", "ad_set", "ad", "age", "gender", "interest",
                    "period")  # fmt: skip
SPEND_METRICS = ("ctr", "cpc", "cpm", "conversion_rate", "cpa", "approved_cpa", "roas")
_SUMS = ("spend", "impressions", "clicks", "conversions", "approved_conversions", "revenue")
_ALPHA = 0.05


def wilson_interval(successes: np.ndarray, trials: np.ndarray, level: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``successes / trials`` (NaN where ``trials`` is 0).

    Examples
    --------
    >>> lo, hi = wilson_interval(np.array([24]), np.array([1000]))
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.0162, 0.0355)
    """
    k, n = np.asarray(successes, float), np.asarray(trials, float)
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    bad = ~(n > 0)
    return np.where(bad, np.nan, centre - half), np.where(bad, np.nan, centre + half)


def _poisson_interval(count: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval of a Poisson mean from one count."""
    k = np.asarray(count, float)
    a = 1 - level
    lo = np.where(k > 0, stats.gamma.ppf(a / 2, np.maximum(k, 1e-12)), 0.0)
    hi = stats.gamma.ppf(1 - a / 2, k + 1)
    return lo, hi


def _cost_per(spend: np.ndarray, count: np.ndarray, per: float = 1.0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spend per ``per`` counts with the interval from the count's Poisson interval."""
    lo_c, hi_c = _poisson_interval(count)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(count > 0, spend * per / count, np.nan)
        low = np.where(hi_c > 0, spend * per / hi_c, np.nan)
        high = np.where(lo_c > 0, spend * per / lo_c, np.inf)
    high = np.where(spend > 0, high, np.nan)
    return value, low, high


def _group_sql(source: str, by: Sequence[str], present: dict[str, str], period: str) -> str:
    """One scan: the sums per group. Kept lean because it is the whole cost over millions of
    rows: keys already text are not cast, NULLs are skipped by ``sum`` itself (a NULL
    revenue adds nothing to the ratio sums either) and the few groups are sorted afterwards."""
    keys = []
    for b in by:
        if b == "period":
            unit = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}[period]
            keys.append(f"CAST(date_trunc('{unit}', date) AS DATE) AS period")
        elif present.get(b) == "VARCHAR":
            keys.append(f'"{b}"')
        else:
            keys.append(f'CAST("{b}" AS VARCHAR) AS "{b}"')
    sums = ", ".join(f'coalesce(sum("{c}"), 0) AS "{c}"' if c in present
                     else f'NULL::DOUBLE AS "{c}"' for c in _SUMS)  # fmt: skip
    ratio = ("coalesce(sum(revenue * revenue), 0) AS _rr, "
             "coalesce(sum(revenue * spend), 0) AS _rs, sum(spend * spend) AS _ss, "
             if "revenue" in present else "NULL AS _rr, NULL AS _rs, NULL AS _ss, ")
    group = ", ".join(str(i + 1) for i in range(len(by)))
    return (f"SELECT {', '.join(keys)}, {sums}, {ratio} count(*) AS rows FROM {source} "
            f"GROUP BY {group}")


def summarise_spend(source: pd.DataFrame | str, by: Sequence[str], *,
                    con: duckdb.DuckDBPyConnection | None = None, period: str = "W"
                    ) -> pd.DataFrame:
    """Sums per group of ``by`` (dimensions of :data:`SPEND_DIMENSIONS`) over a spend
    DataFrame or a table of ``con`` (``core.fct_marketing_spend``)."""
    by = list(by)
    if not by:
        raise ConfigError("group by at least one dimension: " + ", ".join(SPEND_DIMENSIONS))
    for b in by:
        if b not in SPEND_DIMENSIONS:
            raise ConfigError(f"unknown spend dimension {b!r}; choose from "
                              f"{', '.join(SPEND_DIMENSIONS)}")  # fmt: skip
    if period not in ("D", "W", "M", "Q", "Y"):
        raise ConfigError(f"period must be D, W, M, Q or Y; got {period!r}")
    own = con is None
    db = duckdb.connect() if con is None else con
    try:
        if isinstance(source, pd.DataFrame):
            db.register("_crmine_spend", source)
            table = "_crmine_spend"
        else:
            table = source
        present = {r[0]: r[1] for r in db.execute(f"DESCRIBE {table}").fetchall()}
        missing = [b for b in by if b != "period" and b not in present] + (
            ["spend"] if "spend" not in present else [])
        if missing:
            raise DataError(f"spend data has no column {missing[0]!r}; columns: "
                            f"{', '.join(sorted(present))[:200]}")  # fmt: skip
        out = (db.execute(_group_sql(table, by, present, period)).df()
               .sort_values(by, kind="stable", ignore_index=True))
    finally:
        if own:
            db.close()
        elif isinstance(source, pd.DataFrame):
            db.unregister("_crmine_spend")
    return out


def collapse_sums(sums: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """:func:`summarise_spend`'s sums of finer groups added up to ``by`` (every column is a
    sum), so one scan of the rows serves the groups and their within-channel strata."""
    value_cols = [c for c in sums.columns if c not in SPEND_DIMENSIONS]
    out = sums.groupby(list(by), dropna=False, sort=True)[value_cols].sum(min_count=1)
    return out.reset_index()


def spend_performance(sums: pd.DataFrame, by: Sequence[str], *, level: float = 0.95,
                      strata: pd.DataFrame | None = None) -> pd.DataFrame:
    """KPIs with intervals per group from :func:`summarise_spend`'s sums, and each group's
    cost per result against the rest (``p_value``, Holm ``p_adjusted``, ``significant``).

    ``strata`` (sums by ``by`` and ``channel``) makes the comparison within channels: an
    audience that happened to get more of a cheap channel's spend is not cheaper itself
    (channels' CPAs differ thirty-fold in the demo). ``cpa_vs_rest`` is then the expected
    over the observed conversions given its spend in each channel, and the test the
    stratified score test of equal Poisson rates (Mantel-Haenszel style).

    Columns: the ``by`` keys, the sums, ``ctr``, ``cpc``, ``cpm``, ``conversion_rate``,
    ``cpa``, ``approved_cpa``, ``roas``, each with ``_ci_low``/``_ci_high``, and
    ``cpa_vs_rest`` (the group's CPA over the rest's).
    """
    out = sums.copy()
    s = out["spend"].to_numpy(float)
    imp = out["impressions"].to_numpy(float)
    clk = out["clicks"].to_numpy(float)
    conv = out["conversions"].to_numpy(float)
    appr = out["approved_conversions"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ctr"] = np.where(imp > 0, clk / imp, np.nan)
        out["ctr_ci_low"], out["ctr_ci_high"] = wilson_interval(clk, imp, level)
        out["conversion_rate"] = np.where(clk > 0, conv / clk, np.nan)
        out["conversion_rate_ci_low"], out["conversion_rate_ci_high"] = wilson_interval(
            np.minimum(conv, clk), clk, level)
    for name, count, per in (("cpc", clk, 1.0), ("cpm", imp, 1000.0), ("cpa", conv, 1.0),
                             ("approved_cpa", appr, 1.0)):
        v, lo, hi = _cost_per(s, np.nan_to_num(count), per)
        nan = ~np.isfinite(count)
        out[name] = np.where(nan, np.nan, v)
        out[f"{name}_ci_low"] = np.where(nan, np.nan, lo)
        out[f"{name}_ci_high"] = np.where(nan, np.nan, hi)
    out["roas"], out["roas_ci_low"], out["roas_ci_high"] = _roas(out, level)
    if strata is not None and len(strata):
        out["cpa_vs_rest"], out["p_value"] = _against_rest_within(out, strata, list(by))
    else:
        out["cpa_vs_rest"], out["p_value"] = _against_rest(s, np.nan_to_num(conv))
    out["p_adjusted"] = np.nan
    ok = out["p_value"].notna().to_numpy()
    if ok.any():
        out.loc[ok, "p_adjusted"] = adjust_pvalues(out.loc[ok, "p_value"].to_numpy(), "holm")
    out["significant"] = (out["p_adjusted"] < _ALPHA).fillna(False).astype(bool)
    return out.drop(columns=["_rr", "_rs", "_ss"], errors="ignore")


def _roas(out: pd.DataFrame, level: float) -> tuple[np.ndarray, ...]:
    s = out["spend"].to_numpy(float)
    r = out["revenue"].to_numpy(float)
    n = out["rows"].to_numpy(float)
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        roas = np.where(s > 0, r / s, np.nan)
        # sum (r_i - R s_i)^2 = rr - 2 R rs + R^2 ss; n / (n - 1) for the estimated R.
        rr, rs, ss = (out[c].to_numpy(float) for c in ("_rr", "_rs", "_ss"))
        sq = np.maximum(rr - 2 * roas * rs + roas**2 * ss, 0.0) * n / np.maximum(n - 1, 1)
        se = np.sqrt(sq) / s
        conv = out["conversions"].to_numpy(float)
        lo_c, hi_c = _poisson_interval(np.nan_to_num(conv), level)
        single = (n < 2) & (conv > 0)
        lo = np.where(single, roas * lo_c / np.where(conv > 0, conv, 1), roas - z * se)
        hi = np.where(single, roas * hi_c / np.where(conv > 0, conv, 1), roas + z * se)
    return roas, np.maximum(lo, 0.0), hi


def _against_rest(spend: np.ndarray, conv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CPA of each group over the rest's, and the exact test of equal conversions per unit
    spent: given the total, a group's conversions are binomial with its share of spend."""
    total_s, total_c = spend.sum(), conv.sum()
    rest_s, rest_c = total_s - spend, total_c - conv
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (spend / conv) / (rest_s / rest_c)
    p = np.full(len(spend), np.nan)
    for i in range(len(spend)):
        if spend[i] > 0 and rest_s[i] > 0 and total_c > 0 and len(spend) > 1:
            k, m = round(float(conv[i])), round(float(total_c))
            p[i] = stats.binomtest(k, m, spend[i] / total_s).pvalue
    return np.where(np.isfinite(ratio), ratio, np.nan), p


def _against_rest_within(out: pd.DataFrame, strata: pd.DataFrame, by: list[str]
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per group: expected / observed conversions given its spend in each stratum (the
    rest's conversions per unit spent there), and the two-sided stratified score test."""
    st = strata.copy()
    st["conversions"] = st["conversions"].fillna(0.0)
    tot = st.groupby("channel")[["spend", "conversions"]].transform("sum")
    share = np.where(tot["spend"] > 0, st["spend"] / tot["spend"], 0.0)
    st["_expected"] = tot["conversions"] * share
    st["_var"] = tot["conversions"] * share * (1 - share)
    g = st.groupby(by, dropna=False)[["conversions", "_expected", "_var"]].sum()
    keyed = out[by].merge(g.reset_index(), on=by, how="left")
    obs, exp_, var = (keyed[c].to_numpy(float) for c in ("conversions", "_expected", "_var"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(obs > 0, exp_ / obs, np.nan)
        z = (obs - exp_) / np.sqrt(var)
        p = np.where(var > 0, 2 * stats.norm.sf(np.abs(z)), np.nan)
    return ratio, p


def cheapest_groups(perf: pd.DataFrame, by: Sequence[str], *, top: int = 5) -> pd.DataFrame:
    """The groups with the lowest cost per result, ranked by the upper end of their CPA
    interval (a group with three lucky conversions does not come first), with whether each
    is significantly cheaper than the rest."""
    ok = perf[perf["conversions"] > 0].copy()
    ok["cheaper_than_rest"] = ok["significant"] & (ok["cpa_vs_rest"] < 1)
    ranked = ok.sort_values(["cpa_ci_high", "cpa"]).head(top)
    cols = [*by, "spend", "conversions", "cpa", "cpa_ci_low", "cpa_ci_high", "cpa_vs_rest",
            "p_adjusted", "cheaper_than_rest"]
    return ranked[cols].reset_index(drop=True)
