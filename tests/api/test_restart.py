"""A restart serves the prepared copy the last server left when the warehouse has not changed
since (no copy, no preparation), and copies afresh when it has."""

from __future__ import annotations

import shutil

from crmine.api._serving import ServingPool, _note
from crmine.cube import query


def test_restart_reuses_the_prepared_copy_of_an_unchanged_warehouse(api_root, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(api_root, root, ignore=shutil.ignore_patterns(".serving"))
    first = ServingPool(root, size=1, on_publish=None)
    with first.borrow_cube() as (_, cube):
        count = query(cube, where=["city=Shanghai"]).count
        assert first.index is not None and first.index.count([]) == query(cube).count
    copy = first._current.path  # type: ignore[union-attr]
    first.close()
    assert copy.exists() and _note(copy).exists()

    second = ServingPool(root, size=1)
    try:
        served = second._current.path  # type: ignore[union-attr]
        assert served != copy and not copy.exists()  # the same file, renamed as its own
        names = [p.name for p in (root / ".serving").iterdir()]
        assert served.name in names and _note(served).name in names
        assert all(n.startswith(served.name) for n in names)  # its sidecars renamed too
        with second.borrow_cube() as (_, cube):
            assert second.index is not None
            assert query(cube, where=["city=Shanghai"]).count == count
    finally:
        second.close()

    (root / "warehouse.duckdb").touch()  # changed since: not reused
    third = ServingPool(root, size=1)
    try:
        assert third._current.path != served  # type: ignore[union-attr]
        assert not served.exists()  # the stale copy is cleaned up
    finally:
        third.close()
