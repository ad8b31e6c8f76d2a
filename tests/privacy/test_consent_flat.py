"""Scores of a flat file (``--data``) honour the file's own consent column: customers who
opted out are not scored into the list or the export, and the output says how many were
left out - or that the file has no consent column and nobody was."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from crmine.cli import app
from tests.churn.test_model import simulate

OPTED_OUT = {"C00002", "C00005", "C00011"}


def _invoke(*args: str) -> dict:
    got = CliRunner().invoke(app, [*args, "--json"])
    assert got.exit_code == 0, got.output
    return json.loads(got.stdout)


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """A churn model and a response model fitted on a flat file, and files to score: with a
    ``marketing_opt_out`` column, with a ``consent`` column, and with neither."""
    folder = tmp_path_factory.mktemp("consent_flat")
    X, y, _ = simulate(n=400, seed=3)
    frame = X.assign(Churn=pd.Series(y).map({1: "Yes", 0: "No"}))
    frame.to_csv(folder / "train.csv", index=False)
    from crmine.warehouse import Workspace

    ws = folder / "ws"
    Workspace.init(ws).close()  # batch scoring reads the workspace's models
    _invoke("churn", "train", "--data", str(folder / "train.csv"), "--target", "Churn",
            "--method", "logistic", "--cv", "2", "--workspace", str(ws))  # fmt: skip
    _invoke("response", "train", "--data", str(folder / "train.csv"), "--target", "Churn",
            "--id-column", "customer_id", "--exclude", "monthly_charge", "--cv", "0",
            "--model", str(folder / "resp.pkl"))  # fmt: skip
    opted = frame["customer_id"].isin(OPTED_OUT)
    assert opted.sum() == len(OPTED_OUT)
    X.assign(marketing_opt_out=opted.map({True: "yes", False: "no"})).to_csv(
        folder / "opt_out.csv", index=False)  # fmt: skip
    X.assign(consent=~opted).to_csv(folder / "consent.csv", index=False)
    X.to_csv(folder / "plain.csv", index=False)
    return folder, ws, len(X)


def test_churn_scores_leave_out_who_opted_out(flat):
    folder, ws, n = flat
    got = _invoke("churn", "score", "--data", str(folder / "opt_out.csv"), "--out",
                  str(folder / "s.csv"), "--workspace", str(ws))  # fmt: skip
    assert got["consent_excluded"] == len(OPTED_OUT) and got["customers"] == n - len(OPTED_OUT)
    assert "3 customer(s) who opted out" in got["consent"]
    written = pd.read_csv(folder / "s.csv").set_index("customer_id")["churn_risk"]
    assert len(written) == n - len(OPTED_OUT) and not set(written.index) & OPTED_OUT
    _invoke("churn", "score", "--data", str(folder / "plain.csv"), "--out",
            str(folder / "all.csv"), "--workspace", str(ws))  # fmt: skip
    everyone = pd.read_csv(folder / "all.csv").set_index("customer_id")["churn_risk"]
    pd.testing.assert_series_equal(written, everyone.drop(sorted(OPTED_OUT)).loc[written.index])
    assert not {r["customer_id"] for r in got["top"]} & OPTED_OUT
    human = CliRunner().invoke(app, ["churn", "score", "--data", str(folder / "opt_out.csv"),
                                     "--workspace", str(ws)])  # fmt: skip
    assert "3 customer(s) who opted out of marketing left out" in " ".join(human.stdout.split())


def test_a_file_without_a_consent_column_says_nobody_was_left_out(flat):
    folder, ws, n = flat
    got = _invoke("churn", "score", "--data", str(folder / "plain.csv"), "--workspace", str(ws))
    assert got["consent_excluded"] is None and got["customers"] == n
    assert "no consent or opt-out column" in got["consent"] and "nobody" in got["consent"]
    got = _invoke("models", "score", "churn", "--data", str(folder / "plain.csv"),
                  "-w", str(ws))  # fmt: skip
    assert got["consent_excluded"] is None and got["rows"] == n


def test_batch_scores_leave_out_who_opted_out(flat):
    folder, ws, n = flat
    got = _invoke("models", "score", "churn", "--data", str(folder / "opt_out.csv"),
                  "-w", str(ws), "--out", str(folder / "b.csv"))  # fmt: skip
    assert got["consent_excluded"] == len(OPTED_OUT) and got["rows"] == n - len(OPTED_OUT)
    assert not set(pd.read_csv(folder / "b.csv")["customer_id"]) & OPTED_OUT


def test_response_scores_honour_a_consent_column(flat):
    folder, _, n = flat
    got = _invoke("response", "score", "--data", str(folder / "consent.csv"), "--model",
                  str(folder / "resp.pkl"), "--out", str(folder / "r.csv"))  # fmt: skip
    assert got["consent_excluded"] == len(OPTED_OUT) and got["rows"] == n - len(OPTED_OUT)
    assert not set(pd.read_csv(folder / "r.csv")["customer_id"]) & OPTED_OUT
    # a target list is cut among the customers who may be contacted
    got = _invoke("response", "score", "--data", str(folder / "consent.csv"), "--model",
                  str(folder / "resp.pkl"), "--cost-per-contact", "1", "--margin", "4",
                  "--out", str(folder / "t.csv"))  # fmt: skip
    assert got["consent_excluded"] == len(OPTED_OUT)
    assert 0 < got["rows"] < n and not set(pd.read_csv(folder / "t.csv")["customer_id"]) & OPTED_OUT
