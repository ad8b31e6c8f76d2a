"""The warehouse the server reads: a private copy of the workspace's DuckDB file, made again
whenever the file changes.

DuckDB lets a file be opened for writing by one process only, and by nobody else meanwhile: a
server holding the workspace's file would keep every ``crmine run`` or ``crmine ingest`` out,
and a run would keep the server out. So the server never opens the file. It copies it (and
its write-ahead log) into ``.serving/`` and serves every request from the copy. The file and
its WAL hold the last committed state whenever nothing is being written to them, and a run is
one transaction (:func:`crmine.warehouse.published_run`) that is in them only once it has
committed: a copy during which neither file changed is therefore the last complete run, and a
copy that saw a write is thrown away. A watcher looks at their modification times every
second; when they have moved, a new copy is made, prepared (the stored cube, indexes for
one-customer lookups) and swapped in. Requests in flight finish on the copy they started on;
it is deleted once they have. A server started while a run writes serves the copy the
previous server left.

Writes of the server itself (API users, background jobs) go to the workspace's file
(:meth:`ServingPool.writing`) and are published by an immediate refresh.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import os
import queue
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from crmine.exceptions import WorkspaceError
from crmine.warehouse import Workspace
from crmine.warehouse._serving_copies import SERVING_DIR

if TYPE_CHECKING:
    from crmine.api._lookup import Lookup
    from crmine.config import Config
    from crmine.cube._index import CubeIndex
    from crmine.cube._table import Cube

__all__ = ["SERVING_DIR", "ServingPool", "WarehouseBusy"]

# One-customer lookups of the 360 view: an index turns a scan of every order line into a few
# page reads.
_LOOKUPS = ("core.dim_customer", "core.fct_order_lines", "core.fct_tickets",
            "marts.customer_segments", "marts.customer_scores", "marts.retention_list",
            "marts.basket_recommendations", "marts.lifecycle_stages")

_INDEX_MAX_ROWS = 5_000_000
_COUNTER = itertools.count(1)
_SERVED: set[Path] = set()  # copies open in this process (never reused by another pool)
Stat = tuple[tuple[int, int] | None, ...]


def _stat(path: Path) -> Stat:
    out: list[tuple[int, int] | None] = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            s = p.stat()
            out.append((s.st_mtime_ns, s.st_size))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


class WarehouseBusy(WorkspaceError):
    """The workspace's file is being written by another process (the server only reads)."""


class _Generation:
    """The open connections to one copy, its cube per connection and the cube's in-memory
    index (None until built); closed and deleted once retired and unused."""

    def __init__(self, path: Path, workspaces: list[Workspace]) -> None:
        self.path = path
        _SERVED.add(path)
        self.all = workspaces
        self.free: queue.Queue[Workspace] = queue.Queue()
        for ws in workspaces:
            self.free.put(ws)
        self.index: CubeIndex | None = None
        self.prepared = False  # by _prepare_copy, completely
        self._cubes: dict[int, Cube] = {}
        self._cube_lock = threading.Lock()  # one connection builds a stale cube at a time
        self._users = 0
        self._retired = False
        self._lock = threading.Lock()

    def cube(self, ws: Workspace) -> Cube:
        """The cube of connection ``ws`` (prepared once: the copy never changes), with the
        index once it is built."""
        cube = self._cubes.get(id(ws))
        if cube is None:
            from crmine.cube._table import prepare

            with self._cube_lock:
                cube = self._cubes.get(id(ws)) or prepare(ws)
                self._cubes[id(ws)] = cube
        if cube.index is None and self.index is not None and cube.table == self.index.table:
            cube.index = self.index
        return cube

    def build_index(self) -> None:
        """Build the cube's in-memory index from one of the connections (quietly left to
        SQL when the cube cannot be read)."""
        from crmine.cube._index import CubeIndex

        self.enter()
        try:
            ws = self.free.get()
            try:
                cube = self.cube(ws)
                self.index = CubeIndex.build(cube.con, cube.table, cube.kinds)
            except Exception:  # counts are answered by SQL instead
                logging.getLogger("crmine.api").warning("no in-memory cube index for %s",
                                                        self.path.name, exc_info=True)
                return
            finally:
                self.free.put(ws)
        finally:
            self.leave()

    def enter(self) -> None:
        with self._lock:
            self._users += 1

    def leave(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._retired and self._users == 0
        if last:
            self._dispose()

    def retire(self) -> None:
        with self._lock:
            self._retired = True
            unused = self._users == 0
        if unused:
            self._dispose()

    def close(self) -> None:
        """Close the connections (the file stays)."""
        from crmine.cube._table import forget

        self.index, self._cubes = None, {}
        for ws in self.all:
            forget(ws.duck)
            with contextlib.suppress(Exception):
                ws.close()
        _SERVED.discard(self.path)

    def _dispose(self) -> None:

        self.close()
        for p in (self.path, self.path.with_name(self.path.name + ".wal"), _note(self.path)):
            p.unlink(missing_ok=True)


class ServingPool:
    """A few read-only connections to the current copy of the warehouse, lent one per request.

    Parameters
    ----------
    root : the workspace folder.
    size : connections serving requests at once.
    writer_lock : held by whoever writes the workspace's file in this process (jobs); a copy
        is made only while it is free.
    on_publish : called after a new copy is swapped in (e.g. to drop cached tokens).
    """

    def __init__(self, root: Path, size: int = 4, *,
                 writer_lock: threading.RLock | None = None,
                 on_publish: Callable[[], None] | None = None) -> None:
        self.root = root
        self.size = size
        self.folder = root / SERVING_DIR
        self.writer_lock = writer_lock or threading.RLock()
        self.published = 0  # copies swapped in since the start
        self._on_publish = on_publish
        self._current: _Generation | None = None
        self._seen: Stat | None = None
        self._refreshing = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.folder.mkdir(exist_ok=True)
        if not self.refresh(force=True):
            self._reuse_previous()

    # -- lending --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lend(self) -> Iterator[tuple[_Generation, Workspace]]:
        gen = self._current
        if gen is None:
            raise WorkspaceError(f"the server is closed ({self.root})")
        gen.enter()
        try:
            ws = gen.free.get()
            try:
                yield gen, ws
            finally:
                gen.free.put(ws)
        finally:
            gen.leave()

    @contextlib.contextmanager
    def borrow(self) -> Iterator[Workspace]:
        with self._lend() as (_, ws):
            yield ws

    @contextlib.contextmanager
    def borrow_cube(self) -> Iterator[tuple[Workspace, Cube]]:
        """A connection and its cube (with the in-memory index once built)."""
        with self._lend() as (gen, ws):
            yield ws, gen.cube(ws)

    def loaded_lookup(self) -> Lookup | None:
        """The per-customer tables of the copy being served, if already loaded (else None:
        read through a connection, which loads them)."""
        from crmine.api._lookup import loaded_lookup

        gen = self._current
        return loaded_lookup(gen.path) if gen is not None and gen.prepared else None

    @property
    def index(self) -> CubeIndex | None:
        """The in-memory cube index of the copy being served (None while it is built)."""
        gen = self._current
        return None if gen is None else gen.index

    @contextlib.contextmanager
    def writing(self) -> Iterator[Workspace]:
        """The workspace's own file, open for writing (then published to readers at once)."""
        with self.writer_lock:
            try:
                ws = Workspace.open(self.root)
            except WorkspaceError as exc:
                if "lock" not in str(exc).lower():
                    raise
                raise WarehouseBusy(
                    f"the warehouse of {self.root} is being written by another crmine "
                    "process (a run or an ingest); try again when it has finished") from exc
            with ws:
                yield ws
            self.refresh(force=True)

    # -- publishing -----------------------------------------------------------------------
    def refresh(self, *, force: bool = False) -> bool:
        """Copy the warehouse and swap the copy in if it changed since the last copy and can
        be read now; True when a new copy was published."""
        main = self.root / self._warehouse_name()
        if not force and _stat(main) == self._seen:
            return False
        if not self._refreshing.acquire(blocking=False):
            return False
        try:
            if not self.writer_lock.acquire(blocking=False):
                return False  # a job of this process is writing: its end publishes
            try:
                left = self._prepared_left(main) if self.published == 0 else None
                copied = left or self._copy(main)
            finally:
                self.writer_lock.release()
            if copied is None:
                return False
            path, seen = copied
            gen = self._open(path, prepare=left is None)
            if left is None and gen.prepared:
                _note(path).write_text(json.dumps({"source": seen, "code": _code_key()}))
            self._publish(gen)
            self._seen = seen
            if self.published == 1:  # copies left by servers that are gone
                self._clean_others(path)
            return True
        finally:
            self._refreshing.release()

    def _prepared_left(self, main: Path) -> tuple[Path, Stat] | None:
        """A prepared copy a stopped server left of exactly the warehouse as it is now
        (same modification times and sizes, prepared by the same code), renamed as ours: a
        restart then skips the copy and the preparation (about a minute at 1 million
        customers)."""
        now = _stat(main)
        key = json.loads(json.dumps({"source": now, "code": _code_key()}))
        for path in sorted(self.folder.glob("warehouse-*.duckdb"),
                           key=lambda p: p.stat().st_mtime, reverse=True):
            pid = path.name.split("-")[1]
            served_elsewhere = pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid))
            if not pid.isdigit() or served_elsewhere or path in _SERVED or \
                    path.with_name(path.name + ".wal").exists():
                continue
            try:
                if json.loads(_note(path).read_text()) != key:
                    continue
            except (OSError, ValueError):
                continue
            target = self.folder / (f"warehouse-{os.getpid()}-{next(_COUNTER)}-"
                                    f"{secrets.token_hex(3)}.duckdb")
            try:  # with whatever was prepared beside it (e.g. lookup files)
                for sibling in self.folder.glob(path.name + "*"):
                    sibling.replace(target.with_name(target.name +
                                                     sibling.name[len(path.name):]))
            except OSError:
                continue
            if _stat(main) != now:
                return None  # written meanwhile: copied afresh
            return target, now
        return None

    def _warehouse_name(self) -> str:
        from crmine.config import load_config

        return load_config(self.root).warehouse_path

    def _copy(self, main: Path) -> tuple[Path, Stat] | None:
        """Copy the file and its WAL without taking DuckDB's lock (a writer must never be
        refused because the server is copying); None when either changed during the copy.

        The file and its WAL hold the last committed state whenever nothing is being
        written to them (a transaction still open, e.g. a whole run, is not in them), so a
        copy during which neither changed is a complete state; one that saw a write is
        thrown away and made again at the next look.
        """
        before = _stat(main)
        if before[0] is None:
            raise WorkspaceError(f"no warehouse file {main}; create the workspace with "
                                 "`crmine init` or `crmine demo`")
        # unique across servers (and apps of one process) sharing the folder
        target = self.folder / (f"warehouse-{os.getpid()}-{next(_COUNTER)}-"
                                f"{secrets.token_hex(3)}.duckdb")
        tmp = target.with_name(target.name + ".tmp")
        wal, target_wal = (p.with_name(p.name + ".wal") for p in (main, target))
        try:
            shutil.copyfile(main, tmp)
            if before[1] is not None:
                shutil.copyfile(wal, target_wal)
        except FileNotFoundError:  # the WAL was checkpointed away meanwhile
            before = ()
        if _stat(main) != before:
            for p in (tmp, target_wal):
                p.unlink(missing_ok=True)
            return None
        tmp.replace(target)
        return target, before

    def _open(self, path: Path, *, prepare: bool = True) -> _Generation:
        """Prepare the copy (it is ours: the stored cube, lookup indexes) unless it was
        prepared before, then open it read-only ``size`` times."""
        from crmine.config import load_config

        config = load_config(self.root)
        copy = dataclasses.replace(config, warehouse_path=str(path))
        prepared = not prepare
        if prepare:
            with contextlib.suppress(WorkspaceError):  # e.g. another server holds it: as is
                _prepare_copy(path, self.root, copy)
                prepared = True
        workspaces = [Workspace(self.root, copy, read_only=True) for _ in range(self.size)]
        gen = _Generation(path, workspaces)
        gen.prepared = prepared
        return gen

    def _publish(self, gen: _Generation) -> None:
        """Swap ``gen`` in with its cube index, built first (seconds at 1 million customers)
        while the older copy still serves."""
        gen.build_index()
        self._swap(gen)

    def _swap(self, gen: _Generation) -> None:
        old, self._current = self._current, gen
        self.published += 1
        if old is not None:
            old.retire()
        if self._on_publish is not None:
            self._on_publish()

    def _reuse_previous(self) -> None:
        """Started while another process writes the warehouse: serve the copy a previous
        server left, if any."""
        left = sorted(self.folder.glob("warehouse-*.duckdb"), key=lambda p: p.stat().st_mtime)
        if not left:
            raise WorkspaceError(
                f"the warehouse of {self.root} is being written by another crmine process "
                "and no earlier copy exists to serve; start the server when it has finished")
        self._publish(self._open(left[-1]))

    # -- watching ---------------------------------------------------------------------------
    def watch(self, interval: float = 1.0) -> None:
        """Look for a changed warehouse every ``interval`` seconds, in a thread."""
        def loop() -> None:
            while not self._stop.wait(interval):
                with contextlib.suppress(Exception):  # tried again at the next look
                    self.refresh()

        self._watcher = threading.Thread(target=loop, daemon=True, name="crmine-serving")
        self._watcher.start()

    def close(self) -> None:
        """Stop watching and close the connections; the last copy stays for a restart."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(10)
        gen, self._current = self._current, None
        if gen is not None:  # its file stays: a restart serves it
            gen.close()

    def _clean_others(self, keep: Path | None) -> None:
        """Delete the copies of servers no longer running (a copy of the current one stays
        while it is being served)."""
        for p in self.folder.glob("warehouse-*"):
            if keep is not None and p.name.startswith(keep.name):
                continue
            pid = p.name.split("-")[1] if p.name.count("-") >= 2 else ""
            copy = p.with_name(p.name.split(".duckdb")[0] + ".duckdb")
            # this process's own: left by a pool closed since (not one being copied)
            closed_here = pid == str(os.getpid()) and copy not in _SERVED and \
                not p.name.endswith(".tmp")
            if pid.isdigit() and (closed_here or not _alive(int(pid))):
                with contextlib.suppress(OSError):
                    p.unlink()


def _note(copy: Path) -> Path:
    """Beside a prepared copy: the state of the warehouse it was copied from."""
    return copy.with_name(copy.name + ".json")


def _code_key() -> str:
    """Fingerprint of the code preparing copies: a copy prepared by other code is not
    reused."""
    import hashlib

    from crmine import __version__

    digest = hashlib.sha256(__version__.encode())
    here = Path(__file__).parent
    for source in (here / "_serving.py", here / "_lookup.py", here / "_users.py",
                   here.parent / "cube" / "_table.py"):
        if source.exists():
            digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prepare_copy(path: Path, root: Path, config: Config) -> None:
    """Build what the copy needs to serve quickly (the stored cube, lookup indexes), writing
    into the copy only."""
    from crmine.api._lookup import build_lookups
    from crmine.api._users import _ensure
    from crmine.cube._table import prepare

    # Not Workspace.open: opened for writing, it would also tidy the workspace folder
    # (landing files, model pointers), which is the business of the workspace's writers.
    ws = Workspace.__new__(Workspace)
    ws.root, ws.config, ws.read_only, ws._transactions = root, config, False, 0
    ws.warehouse_path = path
    ws._connect()
    try:
        _ensure(ws.duck)
        with contextlib.suppress(WorkspaceError, ValueError):  # then built when asked
            prepare(ws)
        sizes = dict(ws.duck.execute(
            "SELECT schema_name || '.' || table_name, estimated_size FROM duckdb_tables() "
            "WHERE database_name = current_database()").fetchall())
        for table in _LOOKUPS:
            # An index over tens of millions of rows takes minutes at every copy; such a
            # table is read by a scan (with its zone maps when clustered by customer).
            if sizes.get(table, _INDEX_MAX_ROWS) < _INDEX_MAX_ROWS and \
                    "customer_id" in ws.columns(table):
                schema, name = table.split(".")
                ws.duck.execute(f"CREATE INDEX IF NOT EXISTS crmine_serve_{name} ON "
                                f'{schema}."{name}" (customer_id)')
        ws.duck.execute("CHECKPOINT")
        build_lookups(ws)  # one customer's rows without a scan (360 view, scoring)
    finally:
        ws.con.disconnect()
