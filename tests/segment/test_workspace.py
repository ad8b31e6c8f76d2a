"""Segmentation of whole workspaces: the planted demo segments are recovered, marts written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from crmine.segment import (
    RFM_SEGMENTS,
    run_segment,
    segment_behaviour,
    smooth_shares,
    workspace_behaviour,
)
from tests.segment._synth import load_company, simple_rfm


@pytest.fixture(scope="module")
def demo_result(demo_workspace):
    return run_segment(demo_workspace, rebuild_features=True), demo_workspace


def test_demo_company_planted_segments_recovered(demo_result):
    result, ws = demo_result
    truth = ws.read("truth.customers", columns=["customer_id", "segment"])
    truth["customer_id"] = truth["customer_id"].astype(str)
    merged = result.segments.merge(truth, on="customer_id")
    buyers = merged[merged["cluster"] >= 0]
    assert len(buyers) > 1800
    # The check: ARI >= 0.8 with the automatically chosen number of clusters.
    assert result.n_clusters == truth["segment"].nunique() == 4
    assert adjusted_rand_score(buyers["segment"], buyers["cluster"]) >= 0.8
    assert result.stability > 0.8
    assert result.k_scores.loc[result.k_scores["chosen"], "k"].item() == 4
    # Service and campaign columns carry no segment signal in the demo: screened out.
    assert "service_contacts" in result.dropped_features


def test_demo_profiles_read_like_the_planted_descriptions(demo_result):
    result, ws = demo_result
    truth = ws.read("truth.customers", columns=["customer_id", "segment"])
    truth["customer_id"] = truth["customer_id"].astype(str)
    merged = result.segments.merge(truth, on="customer_id")
    majority = merged[merged.cluster >= 0].groupby("cluster")["segment"].agg(
        lambda s: s.value_counts().index[0])
    desc = result.profiles.summary.set_index("segment")["description"]
    by_truth = {majority[c]: desc[c] for c in majority.index}
    assert "discount" in by_truth["discount_seeker"]
    assert by_truth["premium"].count("rarely use discounts") + by_truth["premium"].count(
        "big baskets") + by_truth["premium"].count("premium") >= 1
    assert "books" in by_truth["occasional"] or "home" in by_truth["occasional"]
    # Premium customers hold the largest revenue share, as planted.
    rev = result.profiles.summary.set_index("segment")["revenue_share"]
    assert majority[rev.idxmax()] == "premium"


def test_demo_marts_written(demo_result):
    _, ws = demo_result
    seg = ws.read("marts.customer_segments")
    n_customers = ws.duck.execute(
        "SELECT count(DISTINCT customer_id) FROM core.dim_customer").fetchall()[0][0]
    assert len(seg) == n_customers and seg["customer_id"].is_unique
    assert {"customer_id", "rfm_score", "rfm_segment", "cluster", "value_tier",
            "is_golden"} <= set(seg.columns)
    assert set(seg["rfm_segment"]) <= {*RFM_SEGMENTS, "No purchase"}
    assert set(seg["value_tier"]) <= {"A", "B", "C"}
    assert 0 < seg["is_golden"].sum() < len(seg) * 0.1
    scores = ws.read("marts.customer_scores")
    assert {"rfm_segment", "cluster", "segment_model_version"} <= set(scores.columns)
    for table in ("segment_profiles", "segment_k_scores", "segment_rfm_summary", "segment_pareto",
                  "segment_rfm_grid", "segment_feature_stats", "segment_rules"):
        assert ws.has_table(f"marts.{table}"), table


def test_synthetic_company_and_behaviour_by_segment(workspace):
    truth = load_company(workspace, 400, seed=1)
    simple_rfm(workspace)
    result = run_segment(workspace)
    merged = result.segments.merge(truth, on="customer_id")
    assert result.n_clusters == 3
    assert adjusted_rand_score(merged["segment"], merged["cluster"]) > 0.9

    lines = workspace.read("core.fct_order_lines").merge(
        workspace.read("core.dim_product"), on="product_id")
    segs = merged[["customer_id", "segment"]]
    b = segment_behaviour(lines, segs)
    cats = b.categories.set_index(["segment", "category"])
    # Planted: readers spend most on books, bargain hunters on grocery.
    assert cats.loc[("reader", "books"), "index"] > 200
    assert cats.loc[("bargain", "grocery"), "revenue_share"] > 0.5
    disc = b.discounts.set_index("segment")["discounted_line_share"]
    assert disc["bargain"] == pytest.approx(0.75, abs=0.05)
    assert disc["premium"] == pytest.approx(0.05, abs=0.03)
    ch = b.channels.set_index(["segment", "channel"])["order_share"]
    assert ch[("bargain", "app")] == pytest.approx(0.75, abs=0.06)
    assert b.seasonality.groupby("segment")["revenue_share"].sum().round(6).eq(1).all()

    # The warehouse-side aggregation agrees with the pandas one (sales only, as it counts).
    sales = lines[~lines["is_return"]]
    pb = segment_behaviour(sales, segs)
    wb = workspace_behaviour(workspace, segs, segment="segment")
    for got, want, key in ((wb.categories, pb.categories, "category"),
                           (wb.channels, pb.channels, "channel"),
                           (wb.seasonality, pb.seasonality, "month")):
        g = got.set_index(["segment", key]).sort_index()
        w = want.set_index(["segment", key]).sort_index()
        assert np.allclose(g["index"].astype(float), w["index"].astype(float))
    assert np.allclose(wb.discounts.set_index("segment")["discounted_line_share"].sort_index(),
                       pb.discounts.set_index("segment")["discounted_line_share"].sort_index())
    assert workspace.has_table("marts.segment_categories")


def test_smooth_shares_pulls_thin_evidence_to_the_mean():
    f = pd.DataFrame({"orders": [1, 100], "channel_share_app": [1.0, 0.0], "lines": [1, 100]})
    s = smooth_shares(f, pseudo_count=3)
    # population mean 0.5: (1*1 + 3*.5)/4 = .625 ; (100*0 + 3*.5)/103
    assert s["channel_share_app"].tolist() == pytest.approx([0.625, 1.5 / 103])


def test_every_declared_mart_rewritten_when_not_produced(workspace, monkeypatch):
    # Behaviour that comes back empty: the marts from
    # an earlier run must still be replaced (empty, with their columns), never left stale.
    from types import SimpleNamespace

    import crmine.segment._behaviour as behaviour
    from crmine.segment import ANALYSIS

    load_company(workspace, 300, seed=2)
    simple_rfm(workspace)
    stale = pd.DataFrame({"k": [7], "segment": ["9"], "month": [1], "revenue": [1.0]})
    for m in ANALYSIS.marts:
        if m.name == "segment_k_scores" or m.name in behaviour_marts():
            workspace.write_mart(m.name, stale, model_version="old")
    empty = pd.DataFrame()
    monkeypatch.setattr(behaviour, "workspace_behaviour", lambda *a, **k: SimpleNamespace(
        categories=empty, discounts=empty, channels=empty, seasonality=empty))
    run = run_segment(workspace, n_clusters=3)
    assert run.verdict.status == "informative"
    assert set(run.marts) == {m.table for m in ANALYSIS.marts}
    assert workspace.read("marts.segment_k_scores")["k"].tolist() == [3]  # not the stale 7
    for m in ANALYSIS.marts:
        if m.name in behaviour_marts():
            assert len(workspace.read(m.table)) == 0, m.table
            assert set(m.columns) <= set(workspace.columns(m.table)), m.table


def behaviour_marts() -> tuple[str, ...]:
    from crmine.segment._workspace import BEHAVIOUR_MARTS

    return tuple(BEHAVIOUR_MARTS)


def test_model_saved_without_verdict_assigns_no_cluster():
    from crmine.segment._analysis import score_segment

    class Model:
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(frame), dtype=int)

    frame = pd.DataFrame({"orders": [1, 2, 3]})
    for meta in ({}, {"verdict": None}, {"verdict": {"status": "not_informative"}}):
        assert score_segment(Model(), meta, frame)["cluster"].isna().all(), meta
    for status in ("informative", "weak"):
        got = score_segment(Model(), {"verdict": {"status": status}}, frame)["cluster"]
        assert got.tolist() == [0, 0, 0]
