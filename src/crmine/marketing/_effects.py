"""Is the difference real? Treatment vs control and arm vs arm tests.

Rates are compared with the two-proportion z-test, means with Welch's unequal-variance
t-test or a percentile bootstrap; p-values of several comparisons are corrected for
multiple testing (Holm, Bonferroni or Benjamini-Hochberg); and a Bayesian
probability-to-be-best says how likely each arm is the best one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from crmine.exceptions import DataError, MissingColumnError

__all__ = [
    "adjust_pvalues",
    "bootstrap_difference",
    "channel_effects",
    "compare_arms",
    "match_value",
    "prob_to_be_best",
    "treatment_effect",
    "two_proportion_test",
    "welch_test",
]

Method = Literal["auto", "proportion", "welch", "bootstrap"]
Correction = Literal["holm", "bonferroni", "fdr_bh", "none"]


def match_value(values: pd.Series, text: object) -> object:
    """The value of ``values`` whose text is ``text`` (``"0"`` matches the number 0), else
    ``text`` itself: an arm value typed on the command line matches numeric arm columns.

    Examples
    --------
    >>> match_value(pd.Series([0, 1, 1]), "0")
    0
    """
    for v in values.dropna().unique():
        if str(v) == str(text):
            return v.item() if isinstance(v, np.generic) else v
    return text


def two_proportion_test(
    successes_a: float, n_a: float, successes_b: float, n_b: float, *, alpha: float = 0.05
) -> dict[str, float]:
    """Difference of two proportions ``p_a - p_b`` with a Wald interval and a z-test.

    The interval uses the unpooled standard error; the test uses the pooled one (the null
    hypothesis says both arms share one rate).

    Parameters
    ----------
    successes_a, n_a : float
        Responders and size of arm A (the treatment).
    successes_b, n_b : float
        Responders and size of arm B (the control).
    alpha : float
        1 - confidence level of the interval.

    Returns
    -------
    dict
        ``mean_a``, ``mean_b``, ``difference``, ``std_error``, ``ci_low``, ``ci_high``,
        ``statistic`` (z) and ``p_value`` (two-sided).

    References
    ----------
    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., section 3.1.

    Examples
    --------
    >>> r = two_proportion_test(267, 21307, 122, 21306)
    >>> round(r["difference"], 4)
    0.0068
    """
    if min(n_a, n_b) <= 0:
        raise DataError(f"two_proportion_test needs both arms non-empty; got n={n_a} and n={n_b}")
    if not (0 <= successes_a <= n_a and 0 <= successes_b <= n_b):
        raise DataError(
            f"successes must lie between 0 and the arm size; got {successes_a}/{n_a} and "
            f"{successes_b}/{n_b}"
        )
    pa, pb = successes_a / n_a, successes_b / n_b
    diff = pa - pb
    se = float(np.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b))
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se0 = float(np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b)))
    z = diff / se0 if se0 > 0 else 0.0
    q = stats.norm.ppf(1 - alpha / 2)
    return {
        "mean_a": pa, "mean_b": pb, "difference": diff, "std_error": se,
        "ci_low": diff - q * se, "ci_high": diff + q * se,
        "statistic": z, "p_value": float(2 * stats.norm.sf(abs(z))),
    }  # fmt: skip


def welch_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
               alpha: float = 0.05) -> dict[str, float]:
    """Difference of means ``mean(a) - mean(b)`` with Welch's t interval and test.

    Spend per customer is heavily skewed with many zeros; with thousands of customers per
    arm the central limit theorem still makes the t interval accurate, and Welch's version
    does not assume equal variances.

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. *Biometrika* 34, 28-35.
    """
    xa, xb = _clean(a, "a"), _clean(b, "b")
    if len(xa) < 2 or len(xb) < 2:
        raise DataError(f"welch_test needs at least 2 values per arm; got {len(xa)} and {len(xb)}")
    va, vb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
    diff = float(xa.mean() - xb.mean())
    se = float(np.sqrt(va + vb))
    if se == 0:
        t, df, p = 0.0, float(len(xa) + len(xb) - 2), 1.0 if diff == 0 else 0.0
    else:
        df = float((va + vb) ** 2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1)))
        t = diff / se
        p = float(2 * stats.t.sf(abs(t), df))
    q = stats.t.ppf(1 - alpha / 2, df)
    return {
        "mean_a": float(xa.mean()), "mean_b": float(xb.mean()), "difference": diff,
        "std_error": se, "ci_low": diff - q * se, "ci_high": diff + q * se,
        "statistic": t, "df": df, "p_value": p,
    }  # fmt: skip


def bootstrap_difference(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
    n_boot: int = 2000, alpha: float = 0.05, random_state: int | None = 0,
) -> dict[str, float]:
    """Difference of means with a percentile bootstrap interval and p-value.

    Each arm is resampled with replacement on its own (the arms are independent). The
    p-value is twice the share of bootstrap differences on the far side of zero, which
    makes no normality assumption about skewed spend.

    References
    ----------
    Efron, B. & Tibshirani, R. (1993). *An Introduction to the Bootstrap*, ch. 13 and 16.
    """
    xa, xb = _clean(a, "a"), _clean(b, "b")
    if len(xa) < 2 or len(xb) < 2:
        raise DataError(f"bootstrap needs at least 2 values per arm; got {len(xa)} and {len(xb)}")
    rng = np.random.default_rng(random_state)
    # One resample at a time keeps memory at O(n) for arms of millions of customers.
    ma = np.array([xa[rng.integers(0, len(xa), len(xa))].mean() for _ in range(n_boot)])
    mb = np.array([xb[rng.integers(0, len(xb), len(xb))].mean() for _ in range(n_boot)])
    d = ma - mb
    diff = float(xa.mean() - xb.mean())
    lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2])
    p = float(min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean())))
    # A p of exactly 0 overstates certainty: the resolution is 1 / n_boot.
    p = max(p, 1.0 / n_boot)
    se = float(d.std(ddof=1))
    return {
        "mean_a": float(xa.mean()), "mean_b": float(xb.mean()), "difference": diff,
        "std_error": se, "ci_low": float(lo), "ci_high": float(hi),
        "statistic": diff / se if se > 0 else 0.0, "p_value": p,
    }  # fmt: skip


def adjust_pvalues(
    p_values: Sequence[float] | np.ndarray, method: Correction = "holm"
) -> np.ndarray:
    """P-values corrected for multiple comparisons.

    Parameters
    ----------
    p_values : array-like
        Raw p-values.
    method : {"holm", "bonferroni", "fdr_bh", "none"}
        Holm's step-down (family-wise error, never worse than Bonferroni), Bonferroni, or
        Benjamini-Hochberg (false discovery rate).

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scand. J.
    Statist.* 6, 65-70. Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery
    rate. *JRSS B* 57, 289-300.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03], "holm").round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0 or method == "none":
        return p.copy()
    if np.any((p < 0) | (p > 1) | np.isnan(p)):
        bad = p[(p < 0) | (p > 1) | np.isnan(p)][:5]
        raise DataError(f"p-values must lie in [0, 1]; got {bad}")
    m = p.size
    order = np.argsort(p)
    ranked = p[order]
    if method == "bonferroni":
        adj = np.minimum(1.0, ranked * m)
    elif method == "holm":
        adj = np.minimum(1.0, np.maximum.accumulate(ranked * (m - np.arange(m))))
    elif method == "fdr_bh":
        raw = ranked * m / np.arange(1, m + 1)
        adj = np.minimum(1.0, np.minimum.accumulate(raw[::-1])[::-1])
    else:
        raise DataError(f"unknown correction {method!r}; use holm, bonferroni, fdr_bh or none")
    out = np.empty(m)
    out[order] = adj
    return out


def prob_to_be_best(
    successes: Sequence[float] | np.ndarray | None = None,
    trials: Sequence[float] | np.ndarray | None = None,
    *,
    means: Sequence[float] | np.ndarray | None = None,
    std_errors: Sequence[float] | np.ndarray | None = None,
    draws: int = 20_000,
    prior: tuple[float, float] = (1.0, 1.0),
    random_state: int | None = 0,
) -> np.ndarray:
    """Posterior probability that each arm has the highest mean.

    For rates (``successes``/``trials``) each arm gets a Beta(prior + successes, prior +
    failures) posterior; for means (``means``/``std_errors``) a normal approximation. The
    probability is the share of joint posterior draws in which the arm is the largest.

    References
    ----------
    Scott, S. L. (2010). A modern Bayesian look at the multi-armed bandit. *Applied
    Stochastic Models in Business and Industry* 26, 639-658.

    Examples
    --------
    >>> prob_to_be_best([50, 80], [1000, 1000]).round(2).tolist()
    [0.0, 1.0]
    """
    rng = np.random.default_rng(random_state)
    if successes is not None and trials is not None:
        s, n = np.asarray(successes, float), np.asarray(trials, float)
        if s.shape != n.shape or np.any(s < 0) or np.any(s > n):
            raise DataError("prob_to_be_best needs 0 <= successes <= trials, arm by arm")
        samples = rng.beta(prior[0] + s, prior[1] + n - s, size=(draws, s.size))
    elif means is not None and std_errors is not None:
        mu, se = np.asarray(means, float), np.asarray(std_errors, float)
        samples = rng.normal(mu, np.maximum(se, 1e-12), size=(draws, mu.size))
    else:
        raise DataError("give either successes and trials (rates) or means and std_errors")
    best = samples.argmax(axis=1)
    return np.bincount(best, minlength=samples.shape[1]) / draws


def treatment_effect(
    df: pd.DataFrame,
    treatment_col: str,
    outcome_col: str,
    control_value: object,
    *,
    method: Method = "auto",
    alpha: float = 0.05,
    correction: Correction = "holm",
    n_boot: int = 2000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Effect of every treatment arm against the control arm, on any flat table.

    Parameters
    ----------
    df : DataFrame
        One row per unit (customer) with its arm and outcome.
    treatment_col : str
        Column naming the arm of each row.
    outcome_col : str
        The outcome: 0/1 (a rate) or a number (spend).
    control_value : object
        The value of ``treatment_col`` that marks the control group.
    method : {"auto", "proportion", "welch", "bootstrap"}
        ``auto`` uses the two-proportion test for a 0/1 outcome and Welch's t-test otherwise.
    alpha : float
        1 - confidence level of the intervals.
    correction : {"holm", "bonferroni", "fdr_bh", "none"}
        Multiple-testing correction applied across the treatment arms (``p_adjusted``).

    Returns
    -------
    DataFrame
        Indexed by the treatment value, one row per treatment arm, with ``n_treatment``,
        ``n_control``, ``treatment_mean``, ``control_mean``, ``difference``, ``ci_low``,
        ``ci_high``, ``relative_lift``, ``statistic``, ``p_value``, ``p_adjusted``,
        ``prob_best`` (posterior probability that the arm is the best of all arms, control
        included) and ``test``.

    References
    ----------
    Hillstrom, K. (2008). The MineThatData E-Mail Analytics and Data Mining Challenge.

    Examples
    --------
    >>> df = pd.DataFrame({"arm": ["a"] * 4 + ["c"] * 4, "y": [1, 1, 0, 1, 0, 1, 0, 0]})
    >>> float(treatment_effect(df, "arm", "y", "c").loc["a", "difference"])
    0.5
    """
    for col in (treatment_col, outcome_col):
        if col not in df.columns:
            raise MissingColumnError(
                f"treatment_effect: column {col!r} not found; columns found: {list(df.columns)}"
            )
    y = pd.to_numeric(df[outcome_col], errors="coerce")
    bad = y.isna() & df[outcome_col].notna()
    if bad.any():
        row = bad.idxmax()
        raise DataError(
            f"treatment_effect: outcome column {outcome_col!r} has non-numeric value "
            f"{df.loc[row, outcome_col]!r} at row {row}; convert it to a number first"
        )
    arms = df[treatment_col]
    control_value = match_value(arms, control_value)
    if not (arms == control_value).any():
        raise DataError(
            f"treatment_effect: control value {control_value!r} not found in column "
            f"{treatment_col!r}; values found: {sorted(map(str, arms.dropna().unique()))[:10]}"
        )
    keep = y.notna() & arms.notna()
    y, arms = y[keep], arms[keep]
    binary = bool(y.isin([0, 1]).all())
    if method == "auto":
        method = "proportion" if binary else "welch"
    if method == "proportion" and not binary:
        raise DataError(
            f"treatment_effect: method 'proportion' needs a 0/1 outcome but {outcome_col!r} "
            f"has values like {y[~y.isin([0, 1])].iloc[0]!r}; use method='welch' or 'bootstrap'"
        )
    # Arms as integer codes: comparing strings row by row per arm dominates otherwise.
    codes, uniques = pd.factorize(arms)
    yv = y.to_numpy(float)
    by_arm = {arm: yv[codes == i] for i, arm in enumerate(uniques)}
    control = by_arm[control_value]
    rows = []
    for arm in [a for a in uniques if a != control_value]:
        treated = by_arm[arm]
        if method == "proportion":
            r = two_proportion_test(treated.sum(), len(treated), control.sum(), len(control),
                                    alpha=alpha)
        elif method == "welch":
            r = welch_test(treated, control, alpha=alpha)
        else:
            r = bootstrap_difference(treated, control, n_boot=n_boot, alpha=alpha,
                                     random_state=random_state)
        rows.append({
            "treatment": arm, "n_treatment": len(treated), "n_control": len(control),
            "treatment_mean": r["mean_a"], "control_mean": r["mean_b"],
            "difference": r["difference"], "std_error": r["std_error"],
            "ci_low": r["ci_low"], "ci_high": r["ci_high"],
            "relative_lift": r["difference"] / r["mean_b"] if r["mean_b"] else np.nan,
            "statistic": r["statistic"], "p_value": r["p_value"], "test": method,
        })  # fmt: skip
    out = pd.DataFrame(rows).set_index("treatment")
    out.index.name = treatment_col
    out.insert(list(out.columns).index("test"), "p_adjusted",
               adjust_pvalues(out["p_value"].to_numpy(), correction))
    # Probability to be best among all arms, control included (the control may be best).
    if method == "proportion":
        s = [control.sum(), *(out["treatment_mean"] * out["n_treatment"])]
        n = [len(control), *out["n_treatment"]]
        pbest = prob_to_be_best(s, n, random_state=random_state)
    else:
        se_c = control.std(ddof=1) / np.sqrt(len(control))
        se_t = [by_arm[a].std(ddof=1) / np.sqrt(len(by_arm[a])) for a in out.index]
        pbest = prob_to_be_best(means=[control.mean(), *out["treatment_mean"]],
                                std_errors=[se_c, *se_t], random_state=random_state)
    out.insert(list(out.columns).index("test"), "prob_best", pbest[1:])
    return out


def _clean(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if np.isnan(x).any():
        n_missing = int(np.isnan(x).sum())
        raise DataError(f"arm {name} has {n_missing} missing values; drop or fill them")
    return x


def _bayes_bootstrap_ratio(num: np.ndarray, den: np.ndarray, draws: int,
                           rng: np.random.Generator) -> np.ndarray:
    """Posterior draws of ``sum(num) / sum(den)`` under the Bayesian bootstrap."""
    out = np.empty(draws)
    chunk = max(1, min(draws, 2_000_000 // max(len(num), 1)))
    for start in range(0, draws, chunk):
        k = min(chunk, draws - start)
        w = rng.gamma(1.0, size=(k, len(num)))  # normalised Dirichlet(1,...,1) weights
        out[start:start + k] = (w @ num) / np.maximum(w @ den, 1e-12)
    return out


def channel_effects(
    contacts: pd.DataFrame,
    *,
    by: str = "channel",
    alpha: float = 0.05,
    correction: Correction = "holm",
    draws: int = 1000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Per channel (or campaign): conversion uplift over control and ROI, with intervals.

    Parameters
    ----------
    contacts : DataFrame
        One row per customer per campaign (:func:`crmine.marketing.campaign_contacts`):
        ``group``, ``converted``, ``cost``, ``revenue`` and the ``by`` column.
    by : str
        The arm column (``channel`` or ``campaign_id``).
    draws : int
        Bayesian-bootstrap draws for the ROI interval and probability to be best.

    Returns
    -------
    DataFrame
        One row per arm: ``contacts``, ``conversion_rate``, ``control_rate``, ``uplift``
        (treated minus control conversion rate) with ``uplift_ci_low``/``uplift_ci_high``,
        ``p_value`` and ``p_adjusted`` (two-proportion test, corrected across arms),
        ``prob_best_conversion`` (Beta posterior), ``roi`` with ``roi_ci_low``/``roi_ci_high``
        and ``prob_best_roi`` (Bayesian bootstrap), ``cost``, ``revenue``.

    References
    ----------
    Rubin, D. B. (1981). The Bayesian bootstrap. *Annals of Statistics* 9, 130-134.
    """
    for col in (by, "group", "converted", "cost", "revenue"):
        if col not in contacts.columns:
            raise MissingColumnError(
                f"channel_effects needs column {col!r}; columns found: {list(contacts.columns)}")
    rng = np.random.default_rng(random_state)
    q = stats.norm.ppf(1 - alpha / 2)
    rows, roi_draws = [], []
    for arm, part in contacts.groupby(by, sort=True):
        t = part[part["group"] != "control"]
        c = part[part["group"] == "control"]
        if len(t) == 0:
            continue
        row: dict[str, object] = {by: arm, "contacts": len(t), "control": len(c),
                                  "conversions": int(t["converted"].sum()),
                                  "conversion_rate": float(t["converted"].mean())}
        if len(c) > 0:
            r = two_proportion_test(t["converted"].sum(), len(t), c["converted"].sum(), len(c),
                                    alpha=alpha)
            row |= {"control_rate": r["mean_b"], "uplift": r["difference"],
                    "uplift_ci_low": r["ci_low"], "uplift_ci_high": r["ci_high"],
                    "p_value": r["p_value"]}
        else:
            row |= {"control_rate": np.nan, "uplift": np.nan, "uplift_ci_low": np.nan,
                    "uplift_ci_high": np.nan, "p_value": np.nan}
        cost = t["cost"].to_numpy(float)
        rev = t["revenue"].to_numpy(float)
        row |= {"cost": cost.sum(), "revenue": rev.sum()}
        if cost.sum() > 0:
            d = _bayes_bootstrap_ratio(rev, cost, draws, rng) - 1
            row |= {"roi": rev.sum() / cost.sum() - 1, "roi_ci_low": np.quantile(d, alpha / 2),
                    "roi_ci_high": np.quantile(d, 1 - alpha / 2)}
        else:
            d = np.full(draws, np.nan)
            row |= {"roi": np.nan, "roi_ci_low": np.nan, "roi_ci_high": np.nan}
        # The normal interval of the rate, kept for charts that want error bars.
        rate = float(t["converted"].mean())
        se = float(np.sqrt(rate * (1 - rate) / len(t)))
        row |= {"conversion_ci_low": rate - q * se, "conversion_ci_high": rate + q * se}
        rows.append(row)
        roi_draws.append(d)
    if not rows:
        raise DataError(f"channel_effects: no treated contacts found for any {by}")
    out = pd.DataFrame(rows)
    ok = out["p_value"].notna().to_numpy()
    out["p_adjusted"] = np.nan
    if ok.any():
        out.loc[ok, "p_adjusted"] = adjust_pvalues(out.loc[ok, "p_value"].to_numpy(), correction)
    out["prob_best_conversion"] = prob_to_be_best(out["conversions"], out["contacts"],
                                                  random_state=random_state)
    mat = np.column_stack(roi_draws)
    if np.isfinite(mat).all():
        out["prob_best_roi"] = np.bincount(mat.argmax(axis=1), minlength=mat.shape[1]) / draws
    else:
        out["prob_best_roi"] = np.nan
    return out


def compare_arms(
    contacts: pd.DataFrame, *, by: str = "channel", outcome: str = "converted",
    alpha: float = 0.05, correction: Correction = "holm",
) -> pd.DataFrame:
    """Every pair of arms (channel vs channel) on the treated contacts' conversion rate.

    Returns one row per pair (``arm_a``, ``arm_b``) with the difference ``a - b``, its
    interval, p-value and corrected p-value.
    """
    t = contacts[contacts["group"] != "control"]
    g = t.groupby(by)[outcome].agg(["sum", "size"])
    rows = []
    arms = list(g.index)
    for i, a in enumerate(arms):
        for b in arms[i + 1:]:
            r = two_proportion_test(g.loc[a, "sum"], g.loc[a, "size"], g.loc[b, "sum"],
                                    g.loc[b, "size"], alpha=alpha)
            rows.append({"arm_a": a, "arm_b": b, "rate_a": r["mean_a"], "rate_b": r["mean_b"],
                         "difference": r["difference"], "ci_low": r["ci_low"],
                         "ci_high": r["ci_high"], "p_value": r["p_value"]})
    out = pd.DataFrame(rows, columns=["arm_a", "arm_b", "rate_a", "rate_b", "difference",
                                      "ci_low", "ci_high", "p_value"])
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(), correction)
    return out
