"""Population stability: exact on constructed shares, zero on unchanged data, and a real
shift in a workspace is flagged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crmine.exceptions import WorkspaceError
from crmine.models import feature_profile, model_drift, population_stability


def test_psi_values():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(0, 1, 50_000),
                          "plan": rng.choice(["a", "b"], 50_000)})  # fmt: skip
    profile = feature_profile(train)
    same = pd.DataFrame({"x": rng.normal(0, 1, 50_000), "plan": rng.choice(["a", "b"], 50_000)})
    out = population_stability(profile, same).set_index("feature")
    assert (out["psi"] < 0.01).all() and (out["drift"] == "stable").all()

    moved = pd.DataFrame({"x": rng.normal(0.5, 1, 50_000),
                          "plan": rng.choice(["a", "b"], 50_000, p=[0.8, 0.2])})  # fmt: skip
    out = population_stability(profile, moved).set_index("feature")
    # a half-standard-deviation shift of a normal: PSI about 0.25 on deciles
    assert 0.2 < out.loc["x", "psi"] < 0.3
    # 50/50 -> 80/20 (about 0.3 ln 1.6 + 0.3 ln 2.5 = 0.416), exactly from the sample shares
    p = train["plan"].value_counts(normalize=True)
    q = moved["plan"].value_counts(normalize=True)
    assert out.loc["plan", "psi"] == pytest.approx(float(((q - p) * np.log(q / p)).sum()),
                                                   rel=1e-9)  # fmt: skip
    assert out.loc["plan", "drift"] == "major shift"

    holes = same.assign(x=np.where(rng.random(50_000) < 0.3, np.nan, same["x"]))
    out = population_stability(profile, holes.drop(columns="plan")).set_index("feature")
    assert out.loc["x", "missing_now"] == pytest.approx(0.3, abs=0.01)
    assert out.loc["x", "drift"] != "stable"  # missing values are a shift too
    assert out.loc["plan", "drift"] == "not in the data"
    with pytest.raises(WorkspaceError, match="without a feature profile"):
        population_stability({}, same)


def test_workspace_drift_after_new_orders(tmp_path):
    """Segment a small company, then load a batch of unusually large orders: the
    segmenter's spend features drift."""
    from crmine.cli import app
    from crmine.demo._workspace import build_demo_workspace
    from crmine.pipeline import run_pipeline
    from crmine.warehouse import ingest

    ws, _ = build_demo_workspace(tmp_path / "co", n_customers=600, seed=3)
    with ws:
        run_pipeline(ws, only=["segment"], strict=True)
        unchanged = model_drift(ws, "segment")
        assert (unchanged["psi"] < 1e-9).all()
        orders = ws.read("core.fct_order_lines")
        buyers = orders["customer_id"].dropna().unique()[:300]
        big = pd.DataFrame({
            "order_id": [f"X{i}" for i in range(len(buyers))],
            "customer_id": buyers,
            "order_ts": orders["order_ts"].max(),
            "product_id": orders["product_id"].iloc[0],
            "quantity": 1.0,
            "unit_price": 5_000.0,
        })  # fmt: skip
        ingest(ws, "orders", big)
        from crmine.features import build_customer_rfm

        build_customer_rfm(ws)
        drift = model_drift(ws, "segment").set_index("feature")
        assert drift.loc["total_spend", "drift"] == "major shift"
        # the new orders are all one grocery product, bought today: those shares moved too
        assert drift.loc["recency_days", "drift"] == "major shift"
        with pytest.raises(WorkspaceError, match="no drift check for model"):
            model_drift(ws, "basket")
        # the pipeline's first step measures it before the analyses refit, for the report
        *_features, done = run_pipeline(ws, only=["drift"], strict=True)
        assert done.summary["worst_drift"] == {"segment": "major shift"}
        stored = ws.read("marts.model_drift").set_index("feature")
        assert stored.loc["total_spend", "drift"] == "major shift"
        from crmine.report import all_sections

        section = next(s for s in all_sections() if s.key == "models").fn(ws)
        assert section is not None and "Largest shifts" in section.html
        assert "feature(s) had shifted" in section.summary
    out = CliRunner().invoke(app, ["models", "drift", "segment", "-w", str(tmp_path / "co"),
                                   "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    features = {r["feature"]: r for r in json.loads(out.stdout)["features"]}
    assert features["total_spend"]["drift"] == "major shift"
