"""A demo workspace with a fitted model, a report and a quarantined row, copied per test
module so that erasure tests do not touch the session's shared demo."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# The person the tests erase: in the demo (seed 0) C001439 (徐娜) has ~190 order lines, events,
# tickets, a survey answer, a subscription and campaign assignments, and a name and address
# no one else has (so that finding either anywhere would be a trace of them).
PERSON = "C001439"


def _add_quarantined_order(ws, folder: Path) -> None:
    """A CSV order file with one good line of PERSON and one with a bad date (quarantined)."""
    from crmine.warehouse import ingest

    path = folder / "late_orders.csv"
    path.write_text(
        "order_id,customer_id,order_ts,product_id,quantity,unit_price\n"
        f"Z900001,{PERSON},2025-06-01 10:00:00,P0001,1,10.0\n"
        f"Z900002,{PERSON},not a date,P0001,1,10.0\n"
        "Z900003,C000019,2025-06-02 10:00:00,P0001,1,12.0\n",
        encoding="utf-8",
    )
    ingest(ws, "orders", path)
    path.unlink()  # the workspace's own landing copy is what must be rewritten
    # another customer's ticket naming the person: masked in their text, not deleted
    tickets = folder / "forwarded.csv"
    tickets.write_text("ticket_id,customer_id,opened_ts,text\n"
                       "T900001,C000019,2025-06-03 09:00:00,"
                       "Please also send the invoice to na.xu1357@example.cn thanks\n",
                       encoding="utf-8")  # fmt: skip
    ingest(ws, "tickets", tickets)
    tickets.unlink()


def demo_order_lines(ws) -> int:
    """PERSON's lines in the demo's own order file (the landing copy of its first orders load)."""
    view = ws.duck.execute(
        "SELECT view_name FROM duckdb_views() WHERE schema_name = 'raw' AND "
        "view_name LIKE 'orders__%' ORDER BY 1 LIMIT 1"
    ).fetchone()[0]
    return ws.duck.execute(f"SELECT count(*) FROM raw.{view} WHERE customer_id = ?",
                           [PERSON]).fetchone()[0]  # fmt: skip


@pytest.fixture(scope="module")
def privacy_template(tmp_path_factory):
    """Folder of a demo (2,000 customers) with a segment model, a report, a CSV landing file
    and a quarantined row of PERSON."""
    from crmine.demo._workspace import build_demo_workspace
    from crmine.pipeline import run_pipeline
    from crmine.report import build_report

    folder = tmp_path_factory.mktemp("privacy") / "template"
    ws, _ = build_demo_workspace(folder, n_customers=2_000, seed=0)
    _add_quarantined_order(ws, folder.parent)
    run_pipeline(ws, only=["segment"])
    build_report(ws)
    ws.close()
    return folder


@pytest.fixture
def fresh_workspace(privacy_template, tmp_path):
    """An open copy of the template, for one test to change."""
    from crmine.warehouse import Workspace

    target = tmp_path / "ws"
    shutil.copytree(privacy_template, target)
    ws = Workspace.open(target)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def erased(privacy_template, tmp_path_factory):
    """A copy of the template with PERSON erased: (workspace, receipt, what the scan found
    before, the values searched for, order lines before and of the person)."""
    from crmine.privacy import erase, find_subjects, traces
    from crmine.warehouse import Workspace

    target = tmp_path_factory.mktemp("erased") / "ws"
    shutil.copytree(privacy_template, target)
    ws = Workspace.open(target)
    needles = sorted(find_subjects(ws, ids=[PERSON]).needles)
    before = traces(ws, needles)
    lines = ws.duck.execute("SELECT count(*) FROM core.fct_order_lines").fetchone()[0]
    own = ws.duck.execute("SELECT count(*) FROM core.fct_order_lines WHERE customer_id = ?",
                          [PERSON]).fetchone()[0]  # fmt: skip
    landing = demo_order_lines(ws)
    # a stopped API server leaves its last copy (with lookup tables) for a restart
    from crmine.api._serving import SERVING_DIR, ServingPool

    ServingPool(target, 1).close()
    assert any((target / SERVING_DIR).glob("*.duckdb.lookup"))
    receipt = erase(ws, [PERSON])
    yield ws, receipt, before, needles, (lines, own, landing)
    ws.close()
