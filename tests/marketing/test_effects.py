"""Significance of campaign differences: Hillstrom's published effects and textbook checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmine.exceptions import DataError, MissingColumnError
from crmine.marketing import (
    adjust_pvalues,
    bootstrap_difference,
    channel_effects,
    compare_arms,
    prob_to_be_best,
    treatment_effect,
    two_proportion_test,
    welch_test,
)
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def hillstrom() -> pd.DataFrame:
    return pd.read_csv(shared_file("hillstrom/hillstrom.csv"))


@pytest.mark.data
def test_hillstrom_mens_email_conversion(hillstrom):
    eff = treatment_effect(hillstrom, "segment", "conversion", "No E-Mail")
    assert set(eff.index) == {"Mens E-Mail", "Womens E-Mail"}
    mens = eff.loc["Mens E-Mail"]
    # Published: 1.2531% vs 0.5726% (Hillstrom 2008; SOURCE.md).
    assert mens["treatment_mean"] == pytest.approx(0.012531, abs=5e-7)
    assert mens["control_mean"] == pytest.approx(0.005726, abs=5e-7)
    assert mens["difference"] == pytest.approx(0.006805, abs=1e-6)
    assert mens["ci_low"] == pytest.approx(0.00500, abs=5e-5)
    assert mens["ci_high"] == pytest.approx(0.00861, abs=5e-5)
    assert mens["p_value"] < 1e-12
    assert mens["n_treatment"] == 21307 and mens["n_control"] == 21306
    assert mens["test"] == "proportion"
    assert eff.loc["Womens E-Mail", "difference"] == pytest.approx(0.003111, abs=1e-6)
    assert mens["prob_best"] > 0.99


@pytest.mark.data
def test_hillstrom_mens_email_spend_welch(hillstrom):
    eff = treatment_effect(hillstrom, "segment", "spend", "No E-Mail")
    mens = eff.loc["Mens E-Mail"]
    assert mens["test"] == "welch"
    assert mens["treatment_mean"] == pytest.approx(1.4226, abs=5e-5)
    assert mens["control_mean"] == pytest.approx(0.6528, abs=5e-5)
    assert mens["statistic"] == pytest.approx(5.30, abs=0.01)  # published t ≈ 5.3
    assert mens["ci_low"] == pytest.approx(0.4851, abs=1e-3)
    assert mens["ci_high"] == pytest.approx(1.0545, abs=1e-3)
    assert mens["p_value"] < 1e-6
    assert eff.loc["Womens E-Mail", "difference"] == pytest.approx(0.424, abs=1e-3)
    # Holm: the smaller p is multiplied by 2, the larger kept (already >= it).
    assert eff.loc["Womens E-Mail", "p_adjusted"] == pytest.approx(
        eff.loc["Womens E-Mail", "p_value"])


@pytest.mark.data
def test_hillstrom_spend_bootstrap_agrees_with_welch(hillstrom):
    sub = hillstrom[hillstrom["segment"] != "Womens E-Mail"]
    boot = treatment_effect(sub, "segment", "spend", "No E-Mail", method="bootstrap", n_boot=300)
    mens = boot.loc["Mens E-Mail"]
    assert mens["difference"] == pytest.approx(0.7698, abs=1e-3)
    assert mens["ci_low"] == pytest.approx(0.485, abs=0.06)
    assert mens["ci_high"] == pytest.approx(1.055, abs=0.06)
    assert mens["p_value"] <= 1 / 300


def test_two_proportion_matches_chi_square():
    r = two_proportion_test(120, 1000, 90, 1000)
    chi2, p, _, _ = stats.chi2_contingency([[120, 880], [90, 910]], correction=False)
    assert r["statistic"] ** 2 == pytest.approx(chi2)
    assert r["p_value"] == pytest.approx(p)
    se = np.sqrt(0.12 * 0.88 / 1000 + 0.09 * 0.91 / 1000)
    assert r["ci_low"] == pytest.approx(0.03 - 1.959964 * se, rel=1e-5)


def test_welch_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.gamma(2, 3, 300), rng.gamma(2, 2.5, 500)
    r = welch_test(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert r["statistic"] == pytest.approx(ref.statistic)
    assert r["p_value"] == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval()
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high))


def test_bootstrap_interval_covers_truth_and_is_reproducible():
    rng = np.random.default_rng(2)
    a, b = rng.exponential(2.0, 2000), rng.exponential(1.5, 2000)
    r1 = bootstrap_difference(a, b, n_boot=500, random_state=3)
    r2 = bootstrap_difference(a, b, n_boot=500, random_state=3)
    assert r1 == r2
    assert r1["ci_low"] < 0.5 < r1["ci_high"]
    assert r1["ci_high"] - r1["ci_low"] == pytest.approx(2 * 1.96 * np.sqrt(4 / 2000 + 2.25 / 2000),
                                                         rel=0.15)


def test_adjust_pvalues_by_hand():
    p = [0.01, 0.04, 0.03]
    assert adjust_pvalues(p, "bonferroni").tolist() == pytest.approx([0.03, 0.12, 0.09])
    assert adjust_pvalues(p, "holm").tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert adjust_pvalues(p, "fdr_bh").tolist() == pytest.approx([0.03, 0.04, 0.04])
    with pytest.raises(DataError, match="must lie in"):
        adjust_pvalues([0.2, 1.5])


def test_prob_to_be_best_rates_and_means():
    equal = prob_to_be_best([100, 100], [1000, 1000], draws=40_000)
    assert equal == pytest.approx([0.5, 0.5], abs=0.01)
    # Normal case against the closed form P(A > B) = Phi((mu_a - mu_b) / sqrt(sa^2 + sb^2)).
    pb = prob_to_be_best(means=[1.0, 1.1], std_errors=[0.1, 0.05], draws=100_000)
    assert pb[1] == pytest.approx(stats.norm.cdf(0.1 / np.hypot(0.1, 0.05)), abs=0.005)
    three = prob_to_be_best([50, 60, 90], [1000, 1000, 1000])
    assert three.sum() == pytest.approx(1.0) and three.argmax() == 2


def test_treatment_effect_errors_name_the_problem():
    df = pd.DataFrame({"arm": ["t", "c", "t", "c"], "y": [1, 0, 2.5, 0]})
    with pytest.raises(MissingColumnError, match="'outcome'"):
        treatment_effect(df, "arm", "outcome", "c")
    with pytest.raises(DataError, match="control value 'ctrl' not found"):
        treatment_effect(df, "arm", "y", "ctrl")
    with pytest.raises(DataError, match="0/1 outcome"):
        treatment_effect(df, "arm", "y", "c", method="proportion")
    bad = df.assign(y=["1", "x", "0", "1"])
    with pytest.raises(DataError, match="'x' at row 1"):
        treatment_effect(bad, "arm", "y", "c")


def _contacts(rates: dict[str, tuple[float, float, float]], n: int = 4000, seed: int = 0):
    """Simulated contacts: per channel (treated rate, control rate, cost per contact)."""
    rng = np.random.default_rng(seed)
    frames = []
    for ch, (pt, pc, cost) in rates.items():
        group = np.where(rng.random(n) < 0.8, "treatment", "control")
        conv = rng.random(n) < np.where(group == "treatment", pt, pc)
        frames.append(pd.DataFrame({
            "channel": ch, "group": group, "converted": conv.astype(int),
            "cost": np.where(group == "treatment", cost, 0.0), "revenue": conv * 50.0,
        }))
    return pd.concat(frames, ignore_index=True)


def test_channel_effects_find_the_best_channel_with_intervals():
    c = _contacts({"email": (0.06, 0.02, 0.5), "search": (0.10, 0.03, 4.0),
                   "display": (0.021, 0.02, 1.0)})
    eff = channel_effects(c).set_index("channel")
    # Search converts best, e-mail pays best (ROI = 50 * rate / cost - 1).
    assert eff["prob_best_conversion"].idxmax() == "search"
    assert eff["prob_best_roi"].idxmax() == "email"
    assert eff.loc["email", "roi"] == pytest.approx(50 * 0.06 / 0.5 - 1, rel=0.15)
    email = eff.loc["email"]
    assert email["roi_ci_low"] < email["roi"] < email["roi_ci_high"]
    assert eff.loc["search", "uplift_ci_low"] < 0.07 < eff.loc["search", "uplift_ci_high"]
    assert eff.loc["display", "p_adjusted"] > 0.05  # no real effect
    assert eff.loc["search", "p_adjusted"] < 1e-6
    pairs = compare_arms(c)
    row = pairs[(pairs["arm_a"] == "display") & (pairs["arm_b"] == "email")].iloc[0]
    assert row["difference"] < 0 and row["p_adjusted"] < 0.01
