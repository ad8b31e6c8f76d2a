"""Files of an encrypted workspace written sealed: saved models and HTML reports.

A sealed file is a Parquet file encrypted with a key derived from the workspace's key
(Parquet modular encryption, AES-GCM: authenticated, so a changed byte or a wrong key fails
to read instead of giving wrong content). It keeps the name of the file it stands for
(``model.joblib``, ``index.html``) and is told apart by its first bytes, ``PARE`` (an
encrypted-footer Parquet file), so every reader goes through :func:`read_bytes` and gets the
plaintext in memory: nothing decrypted is written to disk. In a workspace that is not
encrypted the same functions read and write plain files.

The crypto is DuckDB's (the ``httpfs`` extension shipped as a PyPI package, as for the
warehouse and the landing files): no other cryptography package is needed. One private
in-memory connection per process does the work, under a lock.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crmine.exceptions import WorkspaceError

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "MAGIC",
    "dump_object",
    "is_sealed",
    "key_for",
    "load_object",
    "read_bytes",
    "refuse_plaintext_in_encrypted",
    "remember_key",
    "reseal",
    "seal_key",
    "sealed_files",
    "write_bytes",
]

MAGIC = b"PARE"  # how an encrypted-footer Parquet file starts (and ends)
_CHUNK = 8 << 20  # bytes per row: large files stay under DuckDB's per-value limits
_DERIVE = b"crmine-sealed-file\x00"

_lock = threading.Lock()
_con: duckdb.DuckDBPyConnection | None = None
_registered: set[str] = set()
# workspace root -> the key it was opened with (set by the workspace; a rotated key wins over
# the environment, and a prompted key is not asked again)
_KEYS: dict[Path, str] = {}


def remember_key(root: Path, key: str) -> None:
    _KEYS[root.resolve()] = key


def _workspace_root(path: Path) -> Path | None:
    from crmine.config import CONFIG_FILE

    here = path.resolve()
    for folder in [here, *here.parents][:5]:  # models/<name>/<version>/model.joblib
        if (folder / CONFIG_FILE).is_file():
            return folder
    return None


def key_for(path: str | Path) -> str | None:
    """The key files at ``path`` are sealed with: the encrypted workspace's that holds it,
    None when it is in no encrypted workspace."""
    root = _workspace_root(Path(path))
    if root is None:
        return None
    from crmine.config import load_config
    from crmine.warehouse._encryption import is_encrypted, workspace_key

    extra = load_config(root).extra
    if not is_encrypted(extra):
        return None
    if root in _KEYS:
        return _KEYS[root]
    key = workspace_key(root, extra)
    remember_key(root, key)
    return key


def _connection(key: str) -> tuple[duckdb.DuckDBPyConnection, str]:
    """The private connection (crypto loaded) and the name ``key``'s file key is under."""
    global _con
    if _con is None:
        import duckdb

        from crmine.warehouse._encryption import _extension_file

        con = duckdb.connect()
        con.execute(f"LOAD '{str(_extension_file()).replace(chr(39), chr(39) * 2)}'")
        con.execute("SET enable_progress_bar = false")
        _con = con
    derived = hashlib.sha256(_DERIVE + key.encode("utf-8")).digest()
    name = "k" + hashlib.sha256(derived).hexdigest()[:16]  # names the key, reveals nothing
    if name not in _registered:
        secret = base64.b64encode(derived).decode("ascii")
        _con.execute(f"PRAGMA add_parquet_key('{name}', '{secret}')")
        _registered.add(name)
    return _con, name


def is_sealed(path: str | Path) -> bool:
    try:
        with Path(path).open("rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False


def _sql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _seal_to(path: Path, data: bytes, key: str) -> None:
    import pyarrow as pa

    parts = [data[i:i + _CHUNK] for i in range(0, len(data), _CHUNK)] or [b""]
    table = pa.table({"part": pa.array(range(len(parts)), pa.int32()),
                      "data": pa.array(parts, pa.large_binary())})  # fmt: skip
    with _lock:
        con, name = _connection(key)
        con.register("_crmine_sealing", table)
        try:
            con.execute(f"COPY (SELECT part, data FROM _crmine_sealing) TO {_sql(str(path))} "
                        f"(FORMAT parquet, COMPRESSION zstd, "
                        f"ENCRYPTION_CONFIG {{footer_key: '{name}'}})")  # fmt: skip
        finally:
            con.unregister("_crmine_sealing")


def _unseal(path: Path, key: str) -> bytes:
    import duckdb

    with _lock:
        con, name = _connection(key)
        try:
            rows = con.execute(
                f"SELECT data FROM read_parquet({_sql(str(path))}, "
                f"encryption_config = {{footer_key: '{name}'}}) ORDER BY part"
            ).fetchall()
        except duckdb.Error as exc:
            raise WorkspaceError(
                f"cannot decrypt {path}: {str(exc).splitlines()[0][:200]}. It was sealed with "
                "another key than the workspace's, or it was changed after it was written"
            ) from exc
    return b"".join(bytes(r[0]) for r in rows)


def write_bytes(path: str | Path, data: bytes, key: str | None) -> None:
    """Write ``data`` to ``path`` atomically: sealed with ``key``, plain when it is None."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if key is None:
            tmp.write_bytes(data)
        else:
            _seal_to(tmp, data, key)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_bytes(path: str | Path, key: str | None = None) -> bytes:
    """The content of ``path``, decrypted when it is sealed (with ``key``, or the key of the
    encrypted workspace holding it)."""
    path = Path(path)
    if not is_sealed(path):
        return path.read_bytes()
    key = key or key_for(path)
    if key is None:
        raise WorkspaceError(
            f"{path} is encrypted but is not in an encrypted workspace: open it from the "
            "workspace it was written in, with that workspace's key"
        )
    return _unseal(path, key)


def dump_object(obj: Any, path: str | Path, key: str | None, *, compress: int = 3) -> None:
    """``joblib.dump`` to ``path``, sealed with ``key`` (plain when None)."""
    import joblib

    if key is None:
        joblib.dump(obj, path, compress=compress)
        return
    buffer = io.BytesIO()  # the pickle stays in memory: no plaintext copy on disk
    joblib.dump(obj, buffer, compress=compress)
    write_bytes(path, buffer.getvalue(), key)


def load_object(path: str | Path, key: str | None = None) -> Any:
    """``joblib.load`` of a file :func:`dump_object` wrote, sealed or not."""
    import joblib

    path = Path(path)
    if not is_sealed(path):
        return joblib.load(path)
    return joblib.load(io.BytesIO(read_bytes(path, key)))


def sealed_files(root: Path) -> list[Path]:
    """The files a workspace seals: saved models and their metadata, reports."""
    from crmine.warehouse._models import METADATA_FILE, MODEL_FILE

    found = []
    models = root / "models"
    if models.is_dir():
        found += [p for name in (MODEL_FILE, METADATA_FILE) for p in models.rglob(name)]
    reports = root / "reports"
    if reports.is_dir():
        found += [p for p in reports.rglob("*") if p.is_file() and not p.name.startswith(".")]
    return sorted(p for p in found if p.is_file())


def reseal(root: Path, old_key: str | None, new_key: str) -> list[Path]:
    """Seal every file :func:`sealed_files` lists with ``new_key`` (reading plain ones as
    they are and sealed ones with ``old_key``); returns the files rewritten."""
    done = []
    for path in sealed_files(root):
        write_bytes(path, read_bytes(path, old_key), new_key)
        done.append(path)
    return done


def seal_key(ws: Any) -> str | None:
    """The key files written for the open workspace ``ws`` are sealed with (None: plain)."""
    from crmine.warehouse._encryption import is_encrypted

    if not is_encrypted(ws.config.extra):
        return None
    key = getattr(ws, "_encryption_key", None)
    return str(key) if key else key_for(ws.root)


def refuse_plaintext_in_encrypted(path: str | Path) -> None:
    """Raise when ``path`` (a plaintext export: a target list, scores) would be written inside
    an encrypted workspace, where no file may hold a customer's data in plaintext."""
    root = _workspace_root(Path(path).expanduser().resolve().parent)
    if root is None:
        return
    from crmine.config import load_config
    from crmine.warehouse._encryption import is_encrypted

    if is_encrypted(load_config(root).extra):
        raise WorkspaceError(
            f"{path} is inside the encrypted workspace {root}, and an export is written in "
            "plaintext: write it outside the workspace (and keep it as safe as the data)"
        )
