"""The no-signal company (``generate(..., signal=False)``): the same tables, nothing to find.

Each test measures a dependence the normal demo plants and asserts it is absent within
sampling error, and (where cheap) that the same statistic on the normal demo is far outside
it, so the test can fail. ``generate(4_000, signal=False)`` takes about 0.5 s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, mannwhitneyu

from crmine.config import load_config
from crmine.demo import DemoCompany, build_demo_workspace, generate
from crmine.demo._spec import DAYS, NO_SIGNAL, START

N = 4_000


@pytest.fixture(scope="module")
def flat() -> DemoCompany:
    return generate(n_customers=N, seed=3, signal=False)


@pytest.fixture(scope="module")
def planted() -> DemoCompany:
    return generate(n_customers=N, seed=3)


def _days(ts: pd.Series) -> np.ndarray:
    return ((ts - START).dt.total_seconds() / 86400.0).to_numpy()


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC of a score for a binary label (Mann-Whitney U / n1 n0)."""
    pos, neg = score[label], score[~label]
    return float(mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))


def _auc_se(n_pos: int, n_neg: int) -> float:
    """Standard error of an AUC of 0.5 (Hanley & McNeil 1982 at A = 0.5)."""
    return float(np.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg)))


def test_same_tables_and_columns_as_the_normal_demo(flat: DemoCompany,
                                                    planted: DemoCompany) -> None:
    assert flat.signal is False and planted.signal is True
    assert list(flat.tables) == list(planted.tables)
    for name, df in planted.tables.items():
        assert list(flat.tables[name].columns) == list(df.columns), name
        # A company without promotions has an empty promotion plan; every other table has rows.
        assert (len(flat.tables[name]) == 0) == (name == "promotion_calendar"), name
    for name, df in planted.truth.items():
        assert set(df.columns) <= set(flat.truth[name].columns), name
    # The truth says there is nothing to find.
    assert set(flat.truth["customers"]["segment"]) == {"none"}
    assert flat.truth["segments"]["segment"].tolist() == ["none"]
    assert flat.truth["product_affinities"].empty
    assert (flat.truth["uplift"]["true_ate"] == 0).all()
    assert (flat.truth["customer_uplift"]["true_uplift"] == 0).all()
    assert (flat.truth["churn_drivers"]["effect"] == 0).all()
    assert not flat.truth["funnel"]["is_leak"].any()
    assert (flat.tables["campaigns"]["target_segment"] == "all").all()
    popularity = flat.truth["product_popularity"]["probability"]
    assert popularity.sum() == pytest.approx(1.0) and (popularity > 0).all()


def _active_at(subs: pd.DataFrame, cut: float, window: float = 90.0) -> pd.DataFrame:
    start, end = _days(subs["start_date"]), _days(subs["end_date"])
    active = (start < cut) & ~(end < cut)
    out = subs[active].copy()
    out["churned"] = end[active] < cut + window
    out["tenure"] = cut - start[active]
    return out


def test_churn_is_independent_of_every_subscription_feature(flat: DemoCompany,
                                                            planted: DemoCompany) -> None:
    cut = DAYS - 180.0
    s = _active_at(flat.tables["subscriptions"], cut)
    y = s["churned"].to_numpy()
    assert 0.03 < y.mean() < 0.12  # one hazard of 2.5 % a month: about 7 % in 90 days
    se = _auc_se(int(y.sum()), int((~y).sum()))
    for col in ("monthly_charge", "tenure"):
        assert abs(_auc(s[col].to_numpy(float), y) - 0.5) < 3 * se, col
    for col in ("contract_type", "payment_method", "plan"):
        p = chi2_contingency(pd.crosstab(s[col], s["churned"]))[1]
        assert p > 0.001, (col, p)
    # The planted company fails the same checks by far.
    sp = _active_at(planted.tables["subscriptions"], cut)
    p_planted = chi2_contingency(pd.crosstab(sp["contract_type"], sp["churned"]))[1]
    assert p_planted < 1e-4
    yp = sp["churned"].to_numpy()
    assert abs(_auc(sp["tenure"].to_numpy(float), yp) - 0.5) > 3 * _auc_se(
        int(yp.sum()), int((~yp).sum()))


def _complaints_before(company: DemoCompany, cut: float) -> pd.Series:
    t = company.tables["tickets"]
    recent = t[t["is_complaint"] & (_days(t["opened_ts"]) < cut)
               & (_days(t["opened_ts"]) >= cut - 90.0)]
    return recent.groupby("customer_id").size()


def test_churn_is_independent_of_complaints_and_purchases(flat: DemoCompany) -> None:
    cut = DAYS - 180.0
    s = _active_at(flat.tables["subscriptions"], cut)
    y = s["churned"].to_numpy()
    se = _auc_se(int(y.sum()), int((~y).sum()))
    complaints = s["customer_id"].map(_complaints_before(flat, cut)).fillna(0).to_numpy()
    assert complaints.sum() > 20
    assert abs(_auc(complaints, y) - 0.5) < 3 * se
    o = flat.tables["orders"].dropna(subset=["customer_id"])
    bought = o[_days(o["order_ts"]) < cut].groupby("customer_id")["order_id"].nunique()
    assert abs(_auc(s["customer_id"].map(bought).fillna(0).to_numpy(), y) - 0.5) < 3 * se


def test_response_is_independent_of_treatment_and_of_customers(flat: DemoCompany,
                                                               planted: DemoCompany) -> None:
    def z_treatment(a: pd.DataFrame) -> float:
        a = a[a["campaign_id"].isin(a.loc[a["group"] == "control", "campaign_id"])]
        g = a.groupby("group")["responded"].agg(["sum", "size"])
        p1, p0 = g.loc["treatment", "sum"] / g.loc["treatment", "size"], \
            g.loc["control", "sum"] / g.loc["control", "size"]
        pooled = g["sum"].sum() / g["size"].sum()
        se = np.sqrt(pooled * (1 - pooled) * (1 / g.loc["treatment", "size"]
                                              + 1 / g.loc["control", "size"]))
        return float((p1 - p0) / se)

    a = flat.tables["campaign_assignments"]
    assert a["responded"].mean() == pytest.approx(NO_SIGNAL.response_rate, abs=0.006)
    assert abs(z_treatment(a)) < 3
    assert abs(z_treatment(planted.tables["campaign_assignments"])) > 5
    # Nor on who the customer is, or on the campaign.
    c = flat.tables["customers"].set_index("customer_id")
    y = a["responded"].to_numpy()
    se = _auc_se(int(y.sum()), int((~y).sum()))
    for col in ("age", "income"):
        assert abs(_auc(a["customer_id"].map(c[col]).to_numpy(float), y) - 0.5) < 3 * se, col
    for col in ("gender", "acquisition_channel"):
        table = pd.crosstab(a["customer_id"].map(c[col]), a["responded"])
        assert chi2_contingency(table)[1] > 0.001, col
    assert chi2_contingency(pd.crosstab(a["campaign_id"], a["responded"]))[1] > 0.001


def _purchases(company: DemoCompany) -> pd.DataFrame:
    o = company.tables["orders"]
    o = o[(o["status"] == "completed") & o["customer_id"].notna()]
    return (o.groupby(["customer_id", "order_id"], as_index=False)
            .agg(order_ts=("order_ts", "first"), value=("amount", "sum")))


def _halves(company: DemoCompany) -> pd.DataFrame:
    """Per customer who joined in the first year: orders and mean order value in years 2, 3."""
    p = _purchases(company)
    t = _days(p["order_ts"])
    joined = company.tables["customers"].set_index("customer_id")["signup_date"]
    early = joined[_days(joined) < 365].index
    p = p.assign(period=np.where(t < 365, 0, np.where(t < 730, 1, 2)))
    p = p[p["customer_id"].isin(early) & (p["period"] > 0)]
    out = p.groupby(["customer_id", "period"])["value"].agg(["size", "mean"]).unstack()
    return out.reindex(early).assign(**{"n1": lambda d: d[("size", 1)].fillna(0),
                                        "n2": lambda d: d[("size", 2)].fillna(0)})


def test_everyone_buys_at_one_poisson_rate(flat: DemoCompany, planted: DemoCompany) -> None:
    truth = flat.truth["customers"]
    exposure = DAYS - _days(truth["first_purchase_ts"])
    x = truth["repeat_purchases"].to_numpy(float)
    expected = NO_SIGNAL.lambda_per_day * exposure
    assert x.sum() / expected.sum() == pytest.approx(1.0, abs=0.02)
    # Poisson: variance equals mean given the exposure (heterogeneous rates over-disperse).
    dispersion = float(((x - expected) ** 2 / expected).mean())
    assert dispersion == pytest.approx(1.0, abs=0.1)
    assert truth["alive"].all() and (truth["p_dropout"] == 0).all()
    # The past says nothing about the future: orders in year 2 vs year 3 are uncorrelated.
    h = _halves(flat)
    r = np.corrcoef(h["n1"], h["n2"])[0, 1]
    assert abs(r) < 3 / np.sqrt(len(h))
    hp = _halves(planted)
    assert np.corrcoef(hp["n1"], hp["n2"])[0, 1] > 0.3


def test_spend_is_independent_of_who_buys(flat: DemoCompany, planted: DemoCompany) -> None:
    h = _halves(flat).dropna(subset=[("mean", 1), ("mean", 2)])
    r = np.corrcoef(np.log(h[("mean", 1)]), np.log(h[("mean", 2)]))[0, 1]
    assert abs(r) < 3 / np.sqrt(len(h))
    hp = _halves(planted).dropna(subset=[("mean", 1), ("mean", 2)])
    assert np.corrcoef(np.log(hp[("mean", 1)]), np.log(hp[("mean", 2)]))[0, 1] > 0.3
    value = _purchases(flat)["value"]
    assert value.mean() == pytest.approx(
        flat.truth["gamma_gamma_params"]["mean_order_value"].iloc[0], rel=0.05)


def test_baskets_are_independent_draws_from_popularity(flat: DemoCompany) -> None:
    o = flat.tables["orders"]
    o = o[o["status"] == "completed"]
    pop = flat.truth["product_popularity"].set_index("product_id")["probability"]
    # Line shares follow the one popularity.
    share = o["product_id"].value_counts(normalize=True).reindex(pop.index, fill_value=0)
    assert np.abs(share - pop).sum() < 0.05
    # Given a best-seller in the basket, the other lines still follow popularity: no pairs.
    top = pop.nlargest(10).index
    items = o[["order_id", "product_id"]].drop_duplicates()
    for product in top:
        with_it = items.loc[items["order_id"].isin(
            items.loc[items["product_id"] == product, "order_id"]), "product_id"]
        others = with_it[with_it != product].value_counts()
        expected = pop.drop(product) / pop.drop(product).sum() * others.sum()
        big = expected[expected >= 5].index
        stat = (((others.reindex(big, fill_value=0) - expected[big]) ** 2) / expected[big]).sum()
        # chi-square with len(big) - 1 degrees of freedom: far below its 0.1 % quantile
        assert stat < len(big) + 4.5 * np.sqrt(2 * len(big)), product


def test_nps_does_not_depend_on_complaints(flat: DemoCompany) -> None:
    s = flat.tables["surveys"]
    t = flat.tables["tickets"]
    comp = t[t["is_complaint"]][["customer_id", "opened_ts"]]
    m = s.reset_index().merge(comp, on="customer_id", how="left")
    before = m[m["opened_ts"] < m["response_ts"]].groupby("index").size()
    n_before = s.index.to_series().map(before).fillna(0)
    y = (n_before > 0).to_numpy()
    assert y.sum() > 30
    assert abs(_auc(s["nps"].to_numpy(float), y) - 0.5) < 3 * _auc_se(int(y.sum()),
                                                                       int((~y).sum()))


def test_the_workspace_records_the_kind_of_company(tmp_path) -> None:
    ws, reports = build_demo_workspace(tmp_path / "flat", n_customers=300, seed=1,
                                       signal=False)
    with ws:
        assert set(ws.read("truth.customers")["segment"]) == {"none"}
        assert ws.read("truth.product_affinities").empty
        assert len(ws.read("truth.product_popularity")) > 0
    config = load_config(tmp_path / "flat")
    assert config.extra["demo"] == {"seed": 1, "customers": 300, "signal": False}
    assert "demo_seed" not in config.settings
    assert {r.entity for r in reports} >= {"customers", "orders", "subscriptions"}


def test_crmine_demo_no_signal_builds_the_flat_company(tmp_path, monkeypatch) -> None:
    """The CLI flag reaches the generator (the analyses' verdicts on it are tested end to end
    elsewhere; here the pipeline and report are stubbed to keep the test fast)."""
    import json

    from typer.testing import CliRunner

    import crmine.report
    from crmine.cli import app
    from crmine.cli.commands import run as run_module
    from crmine.warehouse import Workspace

    monkeypatch.setattr(run_module, "_run_all", lambda ws, json_out, only=None: [])
    monkeypatch.setattr(crmine.report, "build_report", lambda ws, *a: tmp_path / "r.html")
    folder = tmp_path / "flat"
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-signal", "--customers", "200",
                                      "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["signal"] is False
    with Workspace.open(folder, read_only=True) as ws:
        assert set(ws.read("truth.customers")["segment"]) == {"none"}
        assert ws.read("truth.uplift")["true_ate"].eq(0).all()
    # The [demo] marker lets a demo be rebuilt in place (with signal this time).
    result = CliRunner().invoke(app, ["demo", str(folder), "--customers", "200", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["signal"] is True
    assert load_config(folder).extra["demo"]["signal"] is True
    with Workspace.open(folder, read_only=True) as ws:
        assert "none" not in set(ws.read("truth.customers")["segment"])
