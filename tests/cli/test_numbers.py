"""Numbers on the terminal: grouped digits, never scientific notation (issue 11, item 7)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crmine.cli import _common, app
from crmine.cli._common import emit, fmt_number, print_frame

SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


@pytest.mark.parametrize(("value", "kwargs", "shown"), [
    (1_979_000.0, {}, "1,979,000"),
    (1e4, {}, "10,000"),
    (np.int64(12_345), {}, "12,345"),
    (1e16, {}, "10,000,000,000,000,000"),
    (0.8451, {}, "0.845"),
    (0.8451, {"digits": 4}, "0.8451"),
    (12.3456, {}, "12.3"),
    (-0.0000123, {}, "-0.0000123"),
    (0.5, {}, "0.5"),
    (0.0, {}, "0"),
    (1979.5, {"money": True}, "1,980"),
    (12.5, {"money": True}, "12.50"),
    (np.float32(2.5e6), {"money": True}, "2,500,000"),
    (float("nan"), {}, "–"),
    (None, {}, "–"),
    (float("inf"), {}, "∞"),
])  # fmt: skip
def test_fmt_number(value: object, kwargs: dict[str, bool], shown: str) -> None:
    assert fmt_number(value, **kwargs) == shown


def _printed(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
             action: object) -> str:
    from rich.console import Console

    monkeypatch.setattr(_common, "console", Console(width=200, soft_wrap=True))
    action()  # type: ignore[operator]
    return capsys.readouterr().out


def test_tables_group_digits_and_keep_labels(capsys, monkeypatch) -> None:
    frame = pd.DataFrame({"customer_id": [100_234, 7], "year": [2024, 2025],
                          "revenue": [1_979_000.0, 12.5], "n": [10_000, 3],
                          "share": [0.000012, 0.25]})
    out = _printed(capsys, monkeypatch, lambda: print_frame(frame))
    assert "1,979,000" in out and "10,000" in out and "0.000012" in out
    assert "100234" in out and "2024" in out and "2,024" not in out
    assert not SCIENTIFIC.search(out), out


def test_emit_renders_frames_and_mappings_with_grouped_digits(capsys, monkeypatch) -> None:
    data = {"revenue": 1_979_000.0, "customers": 10_000, "fit": {"auc": 0.84512, "n": 1e4},
            "top": pd.DataFrame({"spend": [2.5e6]})}
    out = _printed(capsys, monkeypatch, lambda: emit(data, False))
    assert "revenue: 1,979,000" in out and "customers: 10,000" in out
    assert "auc: 0.8451" in out and "n: 10,000" in out and "2,500,000" in out
    assert not SCIENTIFIC.search(out), out
    out = _printed(capsys, monkeypatch, lambda: emit([{"rows": 123_456}], False))
    assert "123,456" in out


def test_commands_print_no_scientific_notation(tmp_path) -> None:
    """``crmine rfm`` and ``crmine tables`` on a shop with big orders."""
    runner = CliRunner()
    ws = tmp_path / "ws"
    assert runner.invoke(app, ["init", str(ws)]).exit_code == 0
    rows = ["order_id,customer_id,order_ts,product_id,quantity,unit_price"]
    rows += [f"{i},C{i % 7},2024-0{1 + i % 9}-1{i % 10},P{i % 3},{1 + i % 4},{250_000 + i}.5"
             for i in range(60)]
    (tmp_path / "orders.csv").write_text("\n".join(rows) + "\n")
    result = runner.invoke(app, ["ingest", "orders", str(tmp_path / "orders.csv"), "-w", str(ws)])
    assert result.exit_code == 0, result.stderr
    shown = {}
    for command in (["rfm", "--end", "2024-12-31"], ["tables"], ["quality"]):
        result = runner.invoke(app, [*command, "-w", str(ws)], terminal_width=200)
        assert result.exit_code == 0, result.stderr
        assert not SCIENTIFIC.search(result.stdout), (command, result.stdout)
        shown[command[0]] = result.stdout
    assert re.search(r"\b\d{3},\d{3}\b", shown["rfm"])  # spend in the hundred thousands


def test_models_list_and_show_group_digits(tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    from crmine.models import save_model

    runner = CliRunner()
    ws = tmp_path / "ws"
    assert runner.invoke(app, ["init", str(ws)]).exit_code == 0
    fitted = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    save_model(fitted, ws / "models", "churn", kind="logistic",
               metadata={"metrics": {"n_train": 10_000, "revenue": 1_979_000.0,
                                     "roc_auc": 0.84567}})
    for command in (["models", "list"], ["models", "show", "churn"]):
        result = runner.invoke(app, [*command, "-w", str(ws)], terminal_width=200)
        assert result.exit_code == 0, result.stderr
        assert "10,000" in result.stdout and "1,979,000" in result.stdout, result.stdout
        assert "0.8457" in result.stdout
        assert not SCIENTIFIC.search(result.stdout), result.stdout
