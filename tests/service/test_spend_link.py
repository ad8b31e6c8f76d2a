"""The fixed-effects Poisson model behind the service -> spend link, on simulated panels
where the answer is known and a raw comparison gets it wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmine.service._spend_link import customer_months, fe_poisson, spend_link


def _panel(beta: float, seed: int, n: int = 600, months: int = 24) -> pd.DataFrame:
    """Big spenders complain more (a confounder a raw comparison would take for an effect);
    spend = customer level * season * exp(beta * complaints), Gamma noise and zero months."""
    rng = np.random.default_rng(seed)
    level = rng.lognormal(4.0, 0.8, n)
    rate = 0.05 + 0.25 * (level > np.median(level))  # big spenders contact more
    season = np.exp(0.3 * np.sin(np.arange(months) / 12 * 2 * np.pi))
    cust = np.repeat(np.arange(n), months)
    month = np.tile(np.arange(months), n)
    complaints = rng.poisson(rate[cust])
    mean = level[cust] * season[month] * np.exp(beta * complaints)
    buys = rng.random(len(cust)) < 0.6
    spend = np.where(buys, rng.gamma(2.0, mean / 2.0 / 0.6), 0.0)
    return pd.DataFrame({"customer_id": [f"c{i}" for i in cust],
                         "month": pd.Timestamp("2024-01-01") + pd.to_timedelta(month * 31, "D"),
                         "spend": spend, "complaints": complaints.astype(float),
                         "repeat_contacts": rng.poisson(0.1, len(cust)).astype(float),
                         "slow_resolutions": rng.poisson(0.1, len(cust)).astype(float)})


def test_fixed_effects_recover_the_effect_a_raw_comparison_gets_wrong() -> None:
    covered = 0
    for seed in range(6):
        p = _panel(-0.3, seed)
        coef, cov = fe_poisson(p["spend"].to_numpy(), p[["complaints"]].to_numpy(),
                               pd.factorize(p["customer_id"])[0], p["month"].rank(
                                   method="dense").astype(int).to_numpy() - 1)
        se = float(np.sqrt(cov[0, 0]))
        covered += abs(coef[0] + 0.3) < 1.96 * se
        assert 0.005 < se < 0.1
    assert covered >= 5  # a 95% interval covers the truth in most panels
    p = _panel(-0.3, 0)
    raw = p.groupby(p["complaints"] > 0)["spend"].mean()
    assert raw[True] > raw[False]  # the raw comparison says complaints go with more spend


def test_spend_link_verdicts() -> None:
    link = spend_link(_panel(-0.3, 1))
    assert link.verdict.status == "informative" and link.verdict.value == pytest.approx(
        -0.3, abs=0.1)
    flat = spend_link(_panel(0.0, 2))
    assert flat.verdict.status == "not_informative"
    lo, hi = flat.effects.set_index("covariate").loc["complaints", ["ci_low", "ci_high"]]
    assert lo < 0 < hi
    none = spend_link(_panel(-0.3, 3, n=20, months=3).assign(complaints=0.0))
    assert none.verdict.status == "not_informative" and none.effects.empty


def test_customer_months_windows_by_hand() -> None:
    ts = pd.Timestamp
    spend = pd.DataFrame({"customer_id": ["a", "a"], "month": [ts("2024-05-01"),
                                                               ts("2024-07-01")],
                          "spend": [100.0, 40.0]})
    tickets = pd.DataFrame({
        "customer_id": ["a", "a", "a"], "category": ["billing", "billing", "cancellation"],
        "opened_ts": [ts("2024-04-10"), ts("2024-04-12"), ts("2024-06-20")],
        "hours": [100.0, 2.0, 1.0], "is_complaint": [True, False, True]})  # fmt: skip
    first = pd.Series([ts("2024-01-15")], index=["a"])
    panel = customer_months(spend, first, tickets, ts("2024-08-10"), window_days=30,
                            sla_hours=48, repeat_days=7)
    # followed from the first month starting 30 days after the first order to July
    assert panel["month"].dt.strftime("%Y-%m").tolist() == ["2024-03", "2024-04", "2024-05",
                                                            "2024-06", "2024-07"]
    row = panel.set_index(panel["month"].dt.strftime("%Y-%m"))
    assert row.loc["2024-05", "spend"] == 100.0 and row.loc["2024-06", "spend"] == 0.0
    assert row.loc["2024-05", "complaints"] == 1  # the cancellation request is not counted
    assert row.loc["2024-07", "complaints"] == 0
    assert row.loc["2024-05", "repeat_contacts"] == 1  # 2 days after the previous contact
    assert row.loc["2024-05", "slow_resolutions"] == 1
