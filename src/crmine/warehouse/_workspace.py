"""A workspace: a folder with ``crmine.toml``, the warehouse file, ``models/`` and ``reports/``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pandas as pd
import pyarrow as pa

from crmine.config import CONFIG_FILE, Config, load_config, save_config
from crmine.exceptions import SchemaError, WorkspaceError
from crmine.warehouse._encryption import is_encrypted

__all__ = ["SCHEMAS", "Workspace"]

# Layers, named like dbt's; `truth` holds a synthetic company's planted ground truth and
# `meta` the load log.
MODELS_DIR = "models"  # the workspace folder holding saved models
SCHEMAS = ("raw", "staging", "core", "marts", "quarantine", "truth", "meta")


def _split(name: str) -> tuple[str, str]:
    if "." not in name:
        raise SchemaError(
            f"table name {name!r} must be qualified by its schema, e.g. 'marts.{name}'"
        )
    schema, table = name.split(".", 1)
    return schema, table


class Workspace:
    """An open crmine workspace.

    Use :meth:`init` to create one and :meth:`open` to open an existing one. The warehouse is
    reached through Ibis (:attr:`con`); DuckDB-specific work (file readers, transactions) goes
    through :attr:`duck`, the same underlying connection.

    Examples
    --------
    >>> import tempfile
    >>> ws = Workspace.init(tempfile.mkdtemp())
    >>> ws.config.settings
    {'time_unit': 'D', 'currency': 'USD'}
    >>> ws.write_table("marts.example", pd.DataFrame({"customer_id": ["a", "b"]}))
    >>> ws.read("marts.example")["customer_id"].tolist()
    ['a', 'b']
    >>> ws.close()
    """

    def __init__(self, root: Path, config: Config, *, read_only: bool = False) -> None:
        self.root = root
        self.config = config
        self.read_only = read_only
        if config.engine != "duckdb":
            raise WorkspaceError(
                f"{root / CONFIG_FILE}: engine {config.engine!r}: a workspace warehouse is a "
                "DuckDB file; Spark runs the same feature expressions on a Spark session "
                "(crmine.features.customer_rfm over ibis.pyspark.connect(session)). "
                'Set [warehouse] engine = "duckdb".'
            )
        self.warehouse_path = root / config.warehouse_path
        self._connect()
        self._transactions = 0  # depth of Workspace.transaction blocks open
        if not read_only:
            for schema in SCHEMAS:
                self.duck.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            self._follow_move()
            from crmine.warehouse._ingest import remove_orphan_landings

            remove_orphan_landings(self)  # an ingest killed before it committed
            from crmine.warehouse._runs import recover_pointers

            recover_pointers(self)  # a run killed while publishing: finish or undo it

    def _connect(self) -> None:
        try:
            if is_encrypted(self.config.extra):  # opt-in: crmine.privacy encrypts workspaces
                self.con = self._connect_encrypted()
            else:
                self.con = ibis.duckdb.connect(str(self.warehouse_path), read_only=self.read_only)
        except duckdb.Error as exc:
            if "encrypt" in str(exc).lower():
                raise WorkspaceError(
                    f"cannot open the encrypted warehouse {self.warehouse_path}: {exc}. Give "
                    "the workspace's key (CRMINE_ENCRYPTION_KEY or its key file)"
                ) from exc
            raise WorkspaceError(
                f"cannot open the warehouse {self.warehouse_path}: {exc}. If another crmine "
                "process is using it, wait for it to finish; if the file is from another "
                "DuckDB version, re-create the workspace or export it with that version"
            ) from exc
        self.duck: duckdb.DuckDBPyConnection = self.con.con
        # crmine draws its own progress; DuckDB's bar would garble --json and logs.
        self.duck.execute("SET enable_progress_bar = false")

    def _connect_encrypted(self) -> Any:
        """The warehouse attached with its key (module crmine.warehouse._encryption)."""
        from crmine.warehouse._encryption import attach_clause, load_crypto, workspace_key

        # asked once per Workspace (a prompt is not repeated when the file is reopened)
        key = getattr(self, "_encryption_key", None) or workspace_key(self.root, self.config.extra)
        self._encryption_key = key
        from crmine.warehouse._sealed import remember_key

        remember_key(self.root, key)  # models and reports of this workspace are sealed with it
        con = ibis.duckdb.connect()
        name = self.warehouse_path.stem
        load_crypto(con.con, key)
        path = str(self.warehouse_path).replace("'", "''")
        con.con.execute(
            f"ATTACH '{path}' AS \"{name}\" {attach_clause(key, read_only=self.read_only)}"
        )
        con.con.execute(f'USE "{name}"')
        return con

    def reconnect(self) -> None:
        """Open the warehouse file again after :meth:`close` (e.g. once it was rewritten)."""
        self._connect()

    def _follow_move(self) -> None:
        """Point the raw.* views at this folder's landing files when the workspace has been
        moved or copied since it was last opened (the views hold absolute paths)."""
        self.duck.execute("CREATE TABLE IF NOT EXISTS meta.workspace (root VARCHAR)")
        row = self.duck.execute("SELECT root FROM meta.workspace").fetchone()
        here = str(self.root)
        if row is None:
            self.duck.execute("INSERT INTO meta.workspace VALUES (?)", [here])
            return
        before = str(row[0])
        if before == here:
            return

        def literal(folder: str) -> str:  # how the folder appears inside a view's SQL
            return "'" + (folder + "/raw/").replace("'", "''")

        views = self.duck.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE schema_name = 'raw' "
            "AND database_name = current_database()"
        ).fetchall()
        with self.transaction():
            for _name, sql in views:
                moved = str(sql).replace(literal(before), literal(here))
                self.duck.execute(moved.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1))
            self.duck.execute("UPDATE meta.workspace SET root = ?", [here])

    # -- life cycle -------------------------------------------------------------------------
    @classmethod
    def init(cls, folder: str | Path, *, exist_ok: bool = True) -> Workspace:
        """Create a workspace in ``folder`` (made if missing) and return it open."""
        root = Path(folder).expanduser().resolve()
        if (root / CONFIG_FILE).exists() and not exist_ok:
            raise WorkspaceError(f"{root} is already a crmine workspace ({CONFIG_FILE} exists)")
        root.mkdir(parents=True, exist_ok=True)
        for sub in (MODELS_DIR, "reports"):
            (root / sub).mkdir(exist_ok=True)
        if not (root / CONFIG_FILE).exists():
            save_config(root, Config())
        return cls(root, load_config(root))

    @classmethod
    def open(cls, folder: str | Path = ".", *, read_only: bool = False) -> Workspace:
        """Open the workspace in ``folder``; fails clearly when it is not one."""
        root = Path(folder).expanduser().resolve()
        if not (root / CONFIG_FILE).exists():
            raise WorkspaceError(
                f"{root} is not a crmine workspace (no {CONFIG_FILE}); "
                f"create one with `crmine init {folder}` or pass --workspace DIR"
            )
        return cls(root, load_config(root), read_only=read_only)

    def close(self) -> None:
        if is_encrypted(self.config.extra) and not self.read_only and not self._transactions:
            from crmine.warehouse._encryption import seal_landing_files

            seal_landing_files(self)  # a load's landing copy is not left in plaintext
        self.con.disconnect()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save_config(self) -> None:
        save_config(self.root, self.config)

    @property
    def models_dir(self) -> Path:
        return self.root / MODELS_DIR

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    # -- reading ----------------------------------------------------------------------------
    def tables(self, schema: str | None = None) -> list[str]:
        """Qualified names of the tables in the warehouse (optionally of one schema)."""
        rows = self.duck.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY 1, 2"
        ).fetchall()
        return [f"{s}.{t}" for s, t in rows if schema is None or s == schema]

    def has_table(self, name: str) -> bool:
        schema, table = _split(name)
        row = self.duck.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
            "AND table_name = ? AND table_catalog = current_database()",
            [schema, table],
        ).fetchone()
        return bool(row and row[0])

    def table(self, name: str) -> ibis.Table:
        """The Ibis table ``schema.table``; a missing one names what to run to make it."""
        schema, table = _split(name)
        if not self.has_table(name):
            present = ", ".join(self.tables(schema)) or "none"
            raise SchemaError(
                f"table {name} does not exist in {self.warehouse_path} (tables in {schema}: "
                f"{present}); load data with `crmine ingest` or run the analysis that writes it"
            )
        return self.con.table(table, database=schema)

    def read(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The whole table as a pandas DataFrame."""
        t = self.table(name)
        if columns:
            missing = [c for c in columns if c not in t.columns]
            if missing:
                raise SchemaError(
                    f"table {name} has no column(s) {missing}; columns found: {list(t.columns)}"
                )
            t = t.select(*columns)
        return t.to_pandas()

    def resolved(self, name: str) -> str:
        """The name to read for the core table ``name`` in an analysis: one customer per
        person once identities are resolved (a ``resolved.*`` view), else ``name`` itself."""
        from crmine.warehouse._resolved import resolved_name

        return resolved_name(self, name)

    def columns(self, name: str) -> list[str]:
        return list(self.table(name).columns)

    # -- writing ----------------------------------------------------------------------------
    def write_table(
        self, name: str, data: pd.DataFrame | pa.Table, *, mode: str = "replace"
    ) -> None:
        """Write a DataFrame/Arrow table to ``schema.table`` (``mode`` replace or append)."""
        schema, table = _split(name)
        if mode not in ("replace", "append"):
            raise ValueError(f"mode must be 'replace' or 'append', not {mode!r}")
        self.duck.register("_crmine_incoming", data)
        try:
            if mode == "append" and self.has_table(name):
                self.duck.execute(
                    f'INSERT INTO {schema}."{table}" BY NAME SELECT * FROM _crmine_incoming'
                )
            else:
                self.duck.execute(
                    f'CREATE OR REPLACE TABLE {schema}."{table}" AS SELECT * FROM _crmine_incoming'
                )
        finally:
            self.duck.unregister("_crmine_incoming")

    def write_mart(
        self, name: str, data: pd.DataFrame, *, model_version: str | None = None
    ) -> None:
        """Write an analysis result to ``marts.<name>``, stamped with model version and time."""
        frame = data.copy()
        frame["model_version"] = model_version or "n/a"
        frame["scored_at"] = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
        self.write_table(f"marts.{name}", frame)

    def upsert_customer_scores(
        self, scores: pd.DataFrame, *, model: str, model_version: str
    ) -> None:
        """Merge per-customer columns into ``marts.customer_scores``.

        ``scores`` has ``customer_id`` and the columns this model owns (e.g. ``p_alive``,
        ``predicted_clv_12m``). Those columns are replaced for every customer; other models'
        columns are kept. ``<model>_model_version`` and ``<model>_scored_at`` record provenance.
        """
        if "customer_id" not in scores.columns:
            raise SchemaError(
                f"scores from {model} need a customer_id column; "
                f"columns found: {list(scores.columns)}"
            )
        if scores["customer_id"].duplicated().any():
            dup = scores.loc[scores["customer_id"].duplicated(), "customer_id"].iloc[0]
            raise SchemaError(f"scores from {model} have customer_id {dup!r} more than once")
        new = scores.copy()
        new["customer_id"] = new["customer_id"].astype(str)
        new[f"{model}_model_version"] = model_version
        new[f"{model}_scored_at"] = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
        if self.has_table("marts.customer_scores"):
            old = self.read("marts.customer_scores")
            # Scores keyed the other way (ids vs pseudonyms: `[privacy] pseudonymise_analyses`
            # switched since) name no one in common: replaced, never mixed into one table.
            if _keyed_by_pseudonyms(old["customer_id"]) == _keyed_by_pseudonyms(new["customer_id"]):
                keep = [c for c in old.columns if c == "customer_id" or c not in new.columns]
                new = old[keep].merge(new, on="customer_id", how="outer")
        self.write_table("marts.customer_scores", new.sort_values("customer_id", kind="stable"))

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: a failure inside rolls the warehouse back to where it was.

        Nested inside another (a pipeline run is one transaction), it joins the outer one.
        """
        if self._transactions:
            self._transactions += 1
            try:
                yield self.duck
            finally:
                self._transactions -= 1
            return
        self._transactions = 1
        try:
            with self._own_transaction():
                yield self.duck
        finally:
            self._transactions = 0

    @contextmanager
    def _own_transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.duck.execute("BEGIN TRANSACTION")
        try:
            yield self.duck
        except BaseException:
            self.duck.execute("ROLLBACK")
            raise
        else:
            self.duck.execute("COMMIT")

    def setting(self, key: str, default: Any = None) -> Any:
        return self.config.settings.get(key, default)


def _keyed_by_pseudonyms(ids: pd.Series) -> bool:
    """Whether most of ``ids`` are keyed pseudonyms ("p" and 16 hex digits, crmine.privacy)."""
    return bool(ids.astype(str).str.fullmatch(r"p[0-9a-f]{16}").mean() > 0.5) if len(ids) else False
