"""Ctrl-C on the command line: crmine's own one-line message and exit 130. The standalone
main of click/typer catches KeyboardInterrupt before crmine's main (click prints "Aborted!",
typer 0.29 exits 130 with nothing said), so crmine's message was never printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

_CRMINE = "from crmine.cli import main; main()"


@pytest.mark.slow
def test_ctrl_c_during_a_long_command_prints_crmines_message_and_exits_130(tmp_path):
    ws = tmp_path / "ws"
    env = {**os.environ, "CRMINE_PROGRESS": "0"}
    child = subprocess.Popen(
        [sys.executable, "-c", _CRMINE, "demo", str(ws), "--customers", "20000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (ws / "warehouse.duckdb").exists():  # the command is at work, past start-up
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "interrupted: nothing of the unfinished work was written" in err
    assert "Aborted" not in err and "Traceback" not in err
