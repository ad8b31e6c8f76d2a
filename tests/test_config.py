"""crmine.toml: wrong value types are clear errors, and every command opening a workspace
refuses an unknown or mistyped ``[settings]`` key (exit code 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmine.cli import app
from crmine.config import CONFIG_FILE, Config, load_config, save_config
from crmine.exceptions import ConfigError

runner = CliRunner()

GOOD = '''[warehouse]
engine = "duckdb"
path = "warehouse.duckdb"

[settings]
time_unit = "W"
currency = "EUR"
'''


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(text, encoding="utf-8")
    return folder


def test_a_valid_file_round_trips(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD + '\n[demo]\nseed = 3\n'))
    assert (config.engine, config.warehouse_path) == ("duckdb", "warehouse.duckdb")
    assert config.settings == {"time_unit": "W", "currency": "EUR"}
    assert config.extra == {"demo": {"seed": 3}}
    save_config(tmp_path, config)
    assert load_config(tmp_path).to_dict() == config.to_dict()
    assert load_config(tmp_path / "nowhere").settings == Config().settings


@pytest.mark.parametrize(("text", "message"), [
    ('[warehouse]\npath = 5\n', r"\[warehouse\] path = 5 must be a file name in quotes"),
    ('warehouse = "duckdb"\n', r"\[warehouse\] must be a table .*not 'duckdb'.*engine = "),
    ('[warehouse]\nengine = "sqlite"\n', r"engine = 'sqlite' is not supported"),
    ('mappings = 5\n', r"\[mappings\] must be a table .*not 5.*\[mappings.orders\]"),
    ('[mappings]\norders = 5\n', r"\[mappings.orders\] must map source column names"),
    ('[mappings.orders]\n"Invoice" = 1\n', r"\[mappings.orders\] must map source column"),
    ('settings = "x"\n', r"\[settings\] must be a table .*not 'x'.*time_unit = \"D\""),
    ('sources = 5\n', r"\[sources\] must be a table .*not 5.*\[sources.orders\]"),
    ('[sources]\norders = "data/orders.csv"\n', r"\[sources.orders\] must be a table"),
    ('[settings\ntime_unit = "D"\n', r"not valid TOML"),
])  # fmt: skip
def test_wrong_value_types_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    _write(tmp_path, text)
    with pytest.raises(ConfigError, match="(?s)" + message) as info:
        load_config(tmp_path)
    assert str(tmp_path / CONFIG_FILE) in str(info.value)


def _run(*args: str) -> tuple[int, str, str, BaseException | None]:
    result = runner.invoke(app, list(args))
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.stdout, result.stderr, exc


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    code, _, err, _ = _run("init", str(ws))
    assert code == 0, err
    return ws


def _settings(ws: Path, lines: str) -> None:
    """Rewrite the workspace's crmine.toml with ``lines`` as its [settings]."""
    text = '[warehouse]\nengine = "duckdb"\npath = "warehouse.duckdb"\n\n[settings]\n'
    (ws / CONFIG_FILE).write_text(text + lines + "\n", encoding="utf-8")


# Every kind of command that opens a workspace: warehouse, features, pipeline, report, models.
COMMANDS = [["tables"], ["quality"], ["check"], ["rfm"], ["report"], ["run"],
            ["models", "drift", "churn"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_an_unknown_setting_names_the_nearest_valid_one(workspace: Path,
                                                        command: list[str]) -> None:
    _settings(workspace, 'curency = "EUR"')
    code, out, err, exc = _run(*command, "-w", str(workspace), "--json")
    assert exc is None and code == 2, (code, err, exc)
    message = json.loads(out)["error"]["message"]
    assert "unknown setting 'curency'; did you mean 'currency'?" in message
    assert str(workspace / CONFIG_FILE) in message
    assert "Traceback" not in err and "curency" in " ".join(err.split())


@pytest.mark.parametrize(("line", "expected"), [
    ("currency = 5", "setting currency = 5 must be text"),
    ('time_unit = "Y"', "setting time_unit = 'Y' must be one of 'D', 'W', 'M'"),
    ('observation_end = "soon"', "observation_end = 'soon' must be a date"),
    ("cube_bands = 3", "setting cube_bands = 3 must be a table"),
])  # fmt: skip
def test_a_wrong_type_says_what_is_expected(workspace: Path, line: str, expected: str) -> None:
    _settings(workspace, line)
    code, out, err, exc = _run("tables", "-w", str(workspace))
    assert exc is None and code == 2
    assert expected in " ".join(err.split())
    assert "Traceback" not in err and out == ""


def test_a_broken_file_stops_init_and_every_command(workspace: Path) -> None:
    (workspace / CONFIG_FILE).write_text('[warehouse]\npath = 5\n', encoding="utf-8")
    for command in (["init", str(workspace)], ["tables", "-w", str(workspace)]):
        code, out, _err, exc = _run(*command, "--json")
        assert exc is None and code == 2, command
        assert "path = 5 must be a file name" in json.loads(out)["error"]["message"]


def test_init_refuses_a_misspelt_setting_in_an_existing_workspace(workspace: Path) -> None:
    _settings(workspace, 'time_unt = "D"')
    code, _, err, exc = _run("init", str(workspace))
    assert exc is None and code == 2
    assert "did you mean 'time_unit'" in " ".join(err.split())


def test_declared_settings_pass(workspace: Path) -> None:
    _settings(workspace, 'observation_end = "2024-12-31"\n[settings.cube_bands]\nage = [30, 50]')
    code, out, err, exc = _run("tables", "-w", str(workspace), "--json")
    assert exc is None and code == 0, err
    assert {"table": "meta.workspace", "rows": 1} in json.loads(out)


def test_an_analysis_setting_is_checked_once_declared(workspace: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys an analysis declares are valid (and type-checked) like the workspace's own."""
    from crmine.contract import Setting
    from crmine.contract import _settings as settings_module

    declared = settings_module.all_settings()
    extra = Setting("demo_offer_cost", float, 20.0, "cost of one offer")
    monkeypatch.setattr(settings_module, "all_settings",
                        lambda: {**declared, extra.key: extra})
    _settings(workspace, "demo_offer_cost = 12")
    code, _, err, _ = _run("tables", "-w", str(workspace))
    assert code == 0, err
    _settings(workspace, 'demo_offer_cost = "cheap"')
    code, _, err, _ = _run("tables", "-w", str(workspace))
    assert code == 2 and "demo_offer_cost = 'cheap' must be a number" in " ".join(err.split())


def test_checking_workspace_settings_does_not_import_the_analyses(workspace: Path) -> None:
    """A file holding only workspace settings is checked without importing every analysis
    (which costs seconds on each command)."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path\n"
        "from crmine.cli._common import check_workspace_config\n"
        f"check_workspace_config(Path({str(workspace)!r}))\n"
        "print(sorted({m.split('.')[1] for m in sys.modules if m.count('.') >= 1 and "
        "m.split('.')[0] == 'crmine' and m.split('.')[1] in ('churn', 'clv', 'basket')}))\n"
    )
    _settings(workspace, 'time_unit = "W"\ncurrency = "EUR"\nobservation_end = "2024-12-31"')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True)
    assert out.stdout.strip() == "[]"


def test_the_warehouse_file_must_lie_inside_the_workspace(tmp_path):
    """A path into another workspace would mix two companies' data: refused unless said."""

    (tmp_path / "other").mkdir()
    ws = tmp_path / "acme"
    ws.mkdir()
    (ws / "crmine.toml").write_text('[warehouse]\npath = "../other/warehouse.duckdb"\n')
    with pytest.raises(ConfigError, match=r"lies outside the workspace folder.*allow_outside"):
        load_config(ws)
    (ws / "crmine.toml").write_text(
        '[warehouse]\npath = "../other/warehouse.duckdb"\nallow_outside = true\n'
    )
    assert load_config(ws).warehouse_outside
    (ws / "crmine.toml").write_text('[warehouse]\npath = "data/warehouse.duckdb"\n')
    assert load_config(ws).warehouse_path == "data/warehouse.duckdb"
