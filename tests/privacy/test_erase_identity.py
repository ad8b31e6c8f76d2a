"""Erasing a person resolved across sources removes every one of their records: the CRM's,
the shop's and the help desk's, with the crosswalk, its links and its history."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # a demo with identity sources and a Splink resolution


def test_erasure_follows_the_identity_crosswalk(tmp_path):
    from crmine.demo._workspace import build_demo_workspace
    from crmine.identity import resolve_identities
    from crmine.privacy import erase, find_subjects, table_traces

    ws, _ = build_demo_workspace(tmp_path / "ws", n_customers=400, seed=0,
                                 identity_sources=True)  # fmt: skip
    try:
        resolve_identities(ws)
        # a person with records in at least three sources
        person, n = ws.duck.execute(
            "SELECT customer_id, count(*) FROM core.customer_identity GROUP BY 1 "
            "HAVING count(DISTINCT source) >= 3 ORDER BY 1 LIMIT 1"
        ).fetchone()
        records = {r[0] for r in ws.duck.execute(
            "SELECT source_id FROM core.customer_identity WHERE customer_id = ?", [person]
        ).fetchall()}  # fmt: skip
        assert len(records) == n >= 3
        subjects = find_subjects(ws, ids=[person])
        assert records <= subjects.ids
        receipt = erase(ws, [person])
        assert receipt.verified, receipt.remaining
        for table in ("core.customer_identity", "core.identity_links", "core.identity_history",
                      "core.dim_customer"):  # fmt: skip
            assert receipt.tables.get(table, 0) > 0, table
        assert table_traces(ws, sorted(records)) == []
        left = ws.duck.execute("SELECT count(*) FROM core.customer_identity").fetchone()[0]
        assert left > 0  # everyone else is still resolved
    finally:
        ws.close()
