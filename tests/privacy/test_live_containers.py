"""A byte hit of an erased value inside a longer live value is someone else's bytes, not a
trace (``C012876`` inside a live ``C0128761``: a warehouse packs strings without separators);
a hit that no live value explains still is one."""

from __future__ import annotations

from crmine.privacy._traces import byte_offsets, file_traces, live_containers, unexplained
from crmine.warehouse import Workspace
from crmine.warehouse._core import ensure_core_table
from crmine.warehouse._schema import entity

ERASED = "C012876"


def test_hits_inside_live_values_are_not_traces(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    try:
        ensure_core_table(ws.duck, entity("customers"), {})
        ws.duck.execute(
            "INSERT INTO core.dim_customer (customer_id, email) VALUES ('C0128761', "
            "'xC012876@shop.com'), ('C0128769', NULL), ('C9', 'other@shop.com')"
        )
        containers = live_containers(ws, [ERASED, "nobody@shop.com"])
        assert sorted(containers[ERASED.encode()]) == [b"C0128761", b"C0128769",
                                                         b"xC012876@shop.com"]  # fmt: skip
        assert b"nobody@shop.com" not in containers
        packed = ws.root / "packed.bin"
        packed.write_bytes(b"\x00C0128761C0128769xC012876@shop.com\x00")
        stale = ws.root / "stale.bin"  # the erased id itself, followed by another id
        stale.write_bytes(b"\x00C0128761C012876C9\x00")
        pattern = ERASED.encode()
        assert byte_offsets(packed, [pattern]) == {pattern: [1, 9, 18]}
        assert unexplained(packed, byte_offsets(packed, [pattern]), containers) == {}
        assert unexplained(stale, byte_offsets(stale, [pattern]), containers) == {pattern: [9]}
        found = {t.where for t in file_traces(ws.root, [ERASED], ws.duck,
                                              skip=[ws.warehouse_path], containers=containers)}
        assert found == {str(stale)}
        # without the live values every hit counts
        assert str(packed) in {t.where for t in file_traces(ws.root, [ERASED], ws.duck,
                                                            skip=[ws.warehouse_path])}
    finally:
        ws.close()
