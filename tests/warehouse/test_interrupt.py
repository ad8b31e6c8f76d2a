"""Ctrl-C and kill -9 during an ingest (issue 12, findings 3 and 11): the warehouse stays as
it was and no landing file is left in raw/ (at once for Ctrl-C, once the workspace is next
opened for kill -9)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from crmine.warehouse import Workspace, ingest
from crmine.warehouse._ingest import remove_orphan_landings

_CHILD = """
import sys
from crmine.warehouse import Workspace, ingest
with Workspace.open(sys.argv[1]) as ws:
    ingest(ws, "orders", sys.argv[2])
"""


def _state(root: Path) -> tuple[object, ...]:
    with Workspace.open(root) as ws:
        loads = ws.duck.execute("SELECT list(load_id ORDER BY load_id) FROM meta.loads").fetchone()
        lines = ws.duck.execute("SELECT count(*) FROM core.fct_order_lines").fetchone()
        rejects = ws.duck.execute("SELECT count(*) FROM quarantine.rejects").fetchone()
        raw = sorted(p.name for p in (root / "raw").iterdir())
    return loads, lines, rejects, raw


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_or_killed_ingest_leaves_the_warehouse_as_it_was(tmp_path, sig):
    root = tmp_path / "ws"
    small = tmp_path / "small.csv"
    small.write_text("order_id,customer_id,order_ts,amount\nA1,C1,2024-01-01,5\n")
    with Workspace.init(root) as ws:
        ingest(ws, "orders", small)
    before = _state(root)
    big = tmp_path / "big.csv"
    duckdb.execute(
        f"COPY (SELECT 'O' || (i // 3) AS order_id, 'C' || (i % 1000) AS customer_id, "
        f"'2024-01-01' AS order_ts, 'P' || (i % 500) AS product_id, 1 + i % 5 AS quantity, "
        f"2.5 AS unit_price FROM range(2000000) t(i)) TO '{big}' (HEADER)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root), str(big)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list((root / "raw").glob("orders__l00002.*")):  # the load is under way
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)
    sent = time.monotonic()
    child.send_signal(sig)
    _out, err = child.communicate(timeout=30)
    stopped = time.monotonic() - sent
    assert child.returncode != 0
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in err and "Traceback" in err
        assert "RuntimeError" not in err
        # nothing left behind even before the workspace is opened again
        assert sorted(p.name for p in (root / "raw").iterdir()) == before[3]
        print(f"Ctrl-C stopped the ingest in {stopped:.2f}s")
    assert _state(root) == before


def test_orphan_landing_files_are_removed_when_the_workspace_opens(tmp_path):
    root = tmp_path / "ws"
    path = tmp_path / "o.csv"
    path.write_text("order_id,customer_id,order_ts,amount\nA1,C1,2024-01-01,5\n")
    with Workspace.init(root) as ws:
        ingest(ws, "orders", path)
        kept = sorted(p.name for p in (root / "raw").iterdir())
    assert kept == ["orders__l00001.csv"]
    # what a kill -9 between landing and commit leaves
    for name in ("orders__l00002.csv", "events__l00003.parquet", "orders__l00004.csv.gz.unpacked"):
        (root / "raw" / name).write_text("x")
    (root / "raw" / "notes.txt").write_text("not a landing file")
    with Workspace.open(root) as ws:
        assert sorted(p.name for p in (root / "raw").iterdir()) == ["notes.txt", *kept]
        assert ws.read("raw.orders__l00001")["order_id"].tolist() == ["A1"]
        assert remove_orphan_landings(ws) == []


def test_ingest_caps_duckdb_memory_while_it_runs_and_restores_it(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("order_id,customer_id,order_ts,amount\nA1,C1,2024-01-01,5\n")
    with Workspace.init(tmp_path / "ws") as ws:
        ws.duck.execute("SET memory_limit = '3GiB'")
        ingest(ws, "orders", path)
        assert ws.duck.execute("SELECT current_setting('memory_limit')").fetchone() == ("3.0 GiB",)
        ws.duck.execute("SET memory_limit = '500MiB'")  # lower than the cap: left alone
        (tmp_path / "p.csv").write_text(
            "order_id,customer_id,order_ts,amount\nA2,C1,2024-01-02,5\n"
        )
        ingest(ws, "orders", tmp_path / "p.csv")
        limit = ws.duck.execute("SELECT current_setting('memory_limit')").fetchone()
        assert limit == ("500.0 MiB",)
