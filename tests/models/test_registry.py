"""The model registry: versions, latest pointer, metadata, listing, roll back; and the models
every analysis saves in a workspace."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from crmine.churn import ChurnModel
from crmine.exceptions import NotFittedError, WorkspaceError
from crmine.models import list_models, load_model, save_model, use_version


def test_versions_latest_metadata_and_roll_back(tmp_path):
    first = save_model({"w": [1, 2]}, tmp_path, "demo", kind="linear",
                       metadata={"metrics": {"auc": 0.71}, "rows": 10})  # fmt: skip
    time.sleep(0.01)
    second = save_model({"w": [3, 4]}, tmp_path, "demo", kind="trees",
                        metadata={"metrics": {"auc": 0.75}})  # fmt: skip
    assert first.version.startswith("linear-") and second.version.startswith("trees-")
    obj, meta = load_model(tmp_path, "demo")
    assert obj == {"w": [3, 4]} and meta["version"] == second.version
    assert meta["software"]["python"] and "scikit-learn" in meta["software"]
    obj, meta = load_model(tmp_path, "demo", version=first.version)
    assert obj == {"w": [1, 2]} and meta["rows"] == 10 and meta["class"] == "builtins.dict"
    listed = list_models(tmp_path)
    assert listed["version"].tolist() == [second.version, first.version]  # newest first
    assert listed["latest"].tolist() == [True, False]
    assert listed["metrics"].tolist() == [{"auc": 0.75}, {"auc": 0.71}]
    use_version(tmp_path, "demo", first.version)
    assert load_model(tmp_path, "demo")[0] == {"w": [1, 2]}


def test_clear_errors_and_nothing_half_written(tmp_path):
    with pytest.raises(WorkspaceError, match="no saved churn model"):
        load_model(tmp_path, "churn")
    save_model([1], tmp_path, "demo", kind="x")
    with pytest.raises(WorkspaceError, match="versions: x-"):
        load_model(tmp_path, "demo", version="nope")
    with pytest.raises(WorkspaceError, match="does not hold a ChurnModel"):
        load_model(tmp_path, "demo", expect=ChurnModel)
    with pytest.raises(WorkspaceError, match="not found"):
        use_version(tmp_path, "demo", "nope")
    with pytest.raises(NotFittedError):
        save_model(None, tmp_path, "demo", kind="x")

    class Unpicklable:
        def __reduce__(self):
            raise TypeError("cannot pickle this")

    latest = (tmp_path / "demo" / "latest").read_text()
    with pytest.raises(TypeError):
        save_model(Unpicklable(), tmp_path, "demo", kind="bad")
    assert (tmp_path / "demo" / "latest").read_text() == latest
    assert len(list_models(tmp_path)) == 1  # the failed version left no folder behind
    assert list_models(tmp_path / "none").empty


def test_every_analysis_saves_its_model(demo_workspace):
    """The pipeline fits churn, CLV, segmentation and response models: each is a version in
    the registry, loadable, with metrics; the CLI lists and shows them."""
    from crmine.cli import app
    from crmine.pipeline import run_pipeline

    ws = demo_workspace
    ran = run_pipeline(ws, only=["segment", "clv", "churn", "response"], strict=True)
    assert all(r.ok and not r.skipped for r in ran)
    listed = list_models(ws.models_dir)
    assert {"churn", "clv", "segment", "response"} <= set(listed["name"])
    segmenter, meta = load_model(ws.models_dir, "segment")
    assert meta["clusters"] == segmenter.n_clusters_ and 0.9 < meta["metrics"]["stability"] <= 1
    assert segmenter.features_used_ == meta["features_used"]
    response, meta = load_model(ws.models_dir, "response")
    assert set(response) >= {"response", "uplift", "features"}
    assert list(meta["metrics"])[:3] == ["qini_coefficient", "top_decile_lift", "uplift_at_30pct"]

    runner = CliRunner()
    out = runner.invoke(app, ["models", "list", "-w", str(ws.root), "--json"])
    assert out.exit_code == 0, out.output
    assert {r["name"] for r in json.loads(out.stdout)} >= {"churn", "clv", "segment", "response"}
    out = runner.invoke(app, ["models", "show", "clv", "-w", str(ws.root), "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout)["kind"] == "bgnbd"
    out = runner.invoke(app, ["models", "show", "nothing", "-w", str(ws.root), "--json"])
    error = json.loads(out.stdout)["error"]["message"]
    assert out.exit_code == 2 and "no saved nothing model" in error
    human = runner.invoke(app, ["models", "list", "-w", str(ws.root)])
    assert "used by default" in human.stdout and "clv" in human.stdout

    # right after fitting, nothing has drifted (churn learns at earlier cut-offs, so its
    # tenure-like features differ from today's by construction)
    from crmine.models import model_drift

    for name in ("clv", "segment", "response"):
        assert (model_drift(ws, name)["psi"] < 1e-9).all(), name
    assert len(model_drift(ws, "churn")) > 5

    # batch scoring reproduces what the analyses wrote to marts.customer_scores
    from crmine.churn._workspace import current_features
    from crmine.models import score_table

    stored = ws.read("marts.customer_scores").set_index("customer_id")
    rfm = ws.read("marts.customer_rfm")
    clv = score_table(ws.models_dir, "clv", rfm).set_index("customer_id")
    for col in ("p_alive", "expected_purchases_90d", "predicted_clv_12m"):
        np.testing.assert_allclose(clv[col], stored.loc[clv.index, col], rtol=1e-9)
    churn = score_table(ws.models_dir, "churn", current_features(ws)).set_index("customer_id")
    np.testing.assert_allclose(churn["churn_risk"], stored.loc[churn.index, "churn_risk"],
                               rtol=1e-9)  # fmt: skip
    from crmine.segment._workspace import current_cluster_input

    segments = ws.read("marts.customer_segments").set_index("customer_id")
    clusters = score_table(ws.models_dir, "segment", current_cluster_input(ws))
    clusters = clusters.set_index("customer_id")
    assert (clusters["cluster"] == segments.loc[clusters.index, "cluster"]).all()
    path = ws.root / "rfm.csv"
    rfm.to_csv(path, index=False)
    out = runner.invoke(app, ["models", "score", "clv", "--data", str(path), "-w",
                              str(ws.root), "--out", str(ws.root / "s.csv"), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["rows"] == len(rfm)
