"""``crmine churn`` on a flat customer table."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from crmine.cli import app
from tests.churn.test_model import simulate


def test_train_score_explain_flat_file(tmp_path) -> None:
    X, y, _ = simulate(n=1200, seed=11)
    data = tmp_path / "customers.csv"
    X.assign(Churn=pd.Series(y).map({1: "Yes", 0: "No"})).to_csv(data, index=False)
    runner = CliRunner()
    ws = tmp_path / "ws"
    res = runner.invoke(app, ["churn", "train", "--data", str(data), "--target", "Churn",
                              "--method", "logistic", "--cv", "3", "--workspace", str(ws),
                              "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["method"] == "logistic" and out["metrics"]["roc_auc"] > 0.7
    assert "customer_id" in out["excluded"]
    assert (ws / "models" / "churn" / "latest").exists()

    scored = tmp_path / "scores.csv"
    res = runner.invoke(app, ["churn", "score", "--data", str(data), "--out", str(scored),
                              "--workspace", str(ws), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(scored)
    assert len(frame) == 1200 and {"customer_id", "churn_risk", "churn_reasons"} <= set(frame)
    assert frame["churn_risk"].is_monotonic_decreasing

    res = runner.invoke(app, ["churn", "explain", "--data", str(data), "--customer", "C00003",
                              "--workspace", str(ws)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Customer C00003: churn risk" in res.stdout and "contract" in res.stdout


def test_cli_errors_are_clean(tmp_path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["churn", "train", "--data", str(tmp_path / "x.csv"), "--target",
                              "Churn", "--workspace", str(tmp_path), "--json"])  # fmt: skip
    assert res.exit_code == 2
    assert "not found" in json.loads(res.stdout)["error"]["message"]
    res = runner.invoke(app, ["churn", "score", "--data", str(tmp_path / "x.csv"),
                              "--workspace", str(tmp_path)])  # fmt: skip
    assert res.exit_code == 2 and "no saved churn model" in " ".join(res.output.split())
