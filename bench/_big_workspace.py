"""A demo warehouse of any size (e.g. 1 million customers) for benchmarks, without running the
demo at that size.

    from bench._big_workspace import big_workspace      # or: sys.path has bench/
    root = big_workspace("/tmp/crmine-big/ws-1000000", 1_000_000)

    .venv/bin/python bench/_big_workspace.py [--customers 1000000] [--base 20000] [--path DIR]

How: the demo company (``crmine demo``, every analysis run, models saved) is built once at
``base_customers`` in ``/tmp/crmine-big/base-<base>-s<seed>``; a copy is then scaled up in SQL.
Every customer is replicated (replica 0 keeps its id, so ``C000003`` stays a customer; replica
``k`` of base customer number ``i`` gets ``C%07d`` of ``k * base + i``) until ``n_customers``
exist. Each row of every table with a ``customer_id`` in ``core``, ``staging``, ``marts`` and
``truth`` is replicated with its customer: the other entity ids (order, line, ticket, event,
subscription) get ``-k`` appended; shared dimensions (product, campaign, promotion) are kept.
A replica takes its demographic attributes (gender, birth date, age, income, occupation,
education, city, region, country, acquisition channel) from another base customer (its
"donor"), so cube filters stay as selective as in the demo and counts are not exact multiples;
e-mails get ``+k`` before the ``@`` and the last three digits of phones change, so a person's
contact details stay (almost always) unique. The saved models are the base demo's (fitted on
``base_customers``), so scoring works on every replica. The stored cube is built at the end.

Not scaled: the landing files in ``raw/`` and the ``staging`` views over them (orders, events,
surveys) keep the base company's rows; ``meta.*`` (loads, runs) is the base's.

The result is cached: a folder with ``big-workspace.json`` matching the arguments is returned
as it is (pass ``rebuild=True`` to build it again). Building 1M from 20k takes a few minutes;
treat the folder as read-only or copy it (``shutil.copytree``) before writing to it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

__all__ = ["CACHE", "base_workspace", "big_workspace"]

CACHE = Path(os.environ.get("CRMINE_BIG_CACHE", "/tmp/crmine-big"))
MARKER = "big-workspace.json"
LAYOUT_VERSION = 1  # bump when the scaling changes: cached folders are then rebuilt
_CRMINE = str(Path(sys.executable).parent / "crmine")
_SCHEMAS = ("core", "staging", "marts", "truth")
# Ids of shared dimensions: a replicated order still sells the same product.
_SHARED_IDS = {"customer_id", "product_id", "campaign_id", "promotion_id", "load_id"}
_DONATED = ("gender", "birth_date", "age", "income", "occupation", "education", "city",
            "region", "country", "acquisition_channel")


def base_workspace(base_customers: int = 20_000, seed: int = 0) -> Path:
    """The demo company at ``base_customers`` after a full run (built once, cached)."""
    folder = CACHE / f"base-{base_customers}-s{seed}"
    done = folder / ".complete"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    print(f"building the demo company ({base_customers:,} customers) in {folder} …",
          flush=True)
    subprocess.run([_CRMINE, "demo", str(folder), "--customers", str(base_customers),
                    "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "CRMINE_PROGRESS": "0"})
    done.write_text("")
    return folder


def big_workspace(path: str | Path | None = None, n_customers: int = 1_000_000, *,
                  base_customers: int = 20_000, seed: int = 0, rebuild: bool = False) -> Path:
    """A workspace folder holding a demo company of ``n_customers`` (see the module's doc).

    Parameters
    ----------
    path : where the workspace goes (default ``/tmp/crmine-big/ws-<n>-b<base>-s<seed>``).
    n_customers : customers in the result (at least ``base_customers``).
    base_customers, seed : the demo company that is replicated.
    rebuild : build again even when ``path`` already holds a matching workspace.
    """
    if n_customers < base_customers:
        raise ValueError(f"n_customers ({n_customers:,}) must be at least base_customers "
                         f"({base_customers:,})")
    target = Path(path) if path is not None else (
        CACHE / f"ws-{n_customers}-b{base_customers}-s{seed}")
    wanted = {"n_customers": n_customers, "base_customers": base_customers, "seed": seed,
              "layout": LAYOUT_VERSION}
    marker = target / MARKER
    if not rebuild and marker.exists():
        with_meta = json.loads(marker.read_text())
        if {k: with_meta.get(k) for k in wanted} == wanted:
            return target
    base = base_workspace(base_customers, seed)
    building = target.with_name(target.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    shutil.copytree(base, building)
    (building / ".complete").unlink(missing_ok=True)
    t0 = time.perf_counter()
    print(f"scaling {base_customers:,} customers to {n_customers:,} in {target} …", flush=True)
    con = duckdb.connect(str(building / "warehouse.duckdb"))
    try:
        con.execute("SET enable_progress_bar = false")
        rows = _scale(con, n_customers)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _build_cube(building)
    seconds = time.perf_counter() - t0
    (building / MARKER).write_text(json.dumps({**wanted, "rows": rows,
                                               "build_seconds": round(seconds, 1)}, indent=1))
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)
    _point_at(target)
    print(f"… done in {seconds:.0f} s", flush=True)
    return target


# -- scaling -----------------------------------------------------------------------------------
def _scale(con: duckdb.DuckDBPyConnection, n_customers: int) -> dict[str, int]:
    """Replicate every customer's rows until ``n_customers`` exist; rows per table after."""
    base = con.execute("SELECT count(DISTINCT customer_id) FROM core.dim_customer").fetchone()
    n_base = int(base[0]) if base else 0
    replicas = math.ceil(n_customers / n_base)
    # replica k of base customer i (0-based, by id) is customer number k * n_base + i
    con.execute(f"""
        CREATE TEMP TABLE _ids AS
        WITH base AS (SELECT customer_id, row_number() OVER (ORDER BY customer_id) - 1 AS i
                      FROM (SELECT DISTINCT customer_id FROM core.dim_customer))
        SELECT b.customer_id AS old_id, r.k::INTEGER AS k,
               CASE WHEN r.k = 0 THEN b.customer_id
                    ELSE printf('C%07d', r.k * {n_base} + b.i) END AS new_id,
               d.customer_id AS donor_id
        FROM base b CROSS JOIN range({replicas}) r(k)
        JOIN base d ON d.i = (b.i * 7 + r.k * 7919) % {n_base}
        WHERE r.k * {n_base} + b.i < {n_customers}""")
    clash = con.execute("SELECT count(*) - count(DISTINCT new_id) FROM _ids").fetchone()
    if clash and clash[0]:
        raise RuntimeError("replica ids clash with the base company's ids")
    con.execute("CREATE TEMP TABLE _donor AS SELECT * FROM core.dim_customer "
                "WHERE is_current QUALIFY row_number() OVER (PARTITION BY customer_id) = 1")
    tables = con.execute(
        "SELECT t.schema_name, t.table_name FROM duckdb_tables() t JOIN duckdb_columns() c "
        "USING (database_name, schema_name, table_name) WHERE t.database_name = "
        "current_database() AND c.column_name = 'customer_id' AND c.data_type = 'VARCHAR' "
        f"AND t.schema_name IN {_SCHEMAS} ORDER BY 1, 2").fetchall()
    counts: dict[str, int] = {}
    for schema, table in tables:
        name = f'{schema}."{table}"'
        counts[f"{schema}.{table}"] = _scale_table(con, name, replicas)
    return counts


def _scale_table(con: duckdb.DuckDBPyConnection, name: str, replicas: int) -> int:
    schema, table = name.split(".", 1)
    cols = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
        "current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, table.strip('"')]).fetchall()
    names = [c for c, _ in cols]
    donated = table.strip('"') in ("dim_customer", "customers") and "city" in names
    exprs = []
    for col, dtype in cols:
        q = f'"{col}"'
        if col == "customer_id":
            exprs.append("coalesce(m.new_id, t.customer_id) AS customer_id")
        elif col.endswith("_id") and col not in _SHARED_IDS and dtype == "VARCHAR":
            exprs.append(f"CASE WHEN r.k = 0 THEN t.{q} ELSE t.{q} || '-' || r.k END AS {q}")
        elif donated and col in _DONATED:
            exprs.append(f"CASE WHEN r.k = 0 THEN t.{q} ELSE d.{q} END AS {q}")
        elif col == "email" and dtype == "VARCHAR":
            exprs.append(f"CASE WHEN r.k = 0 THEN t.{q} ELSE regexp_replace(t.{q}, '@', "
                         f"'+' || r.k || '@') END AS {q}")
        elif col == "phone" and dtype == "VARCHAR":
            exprs.append(f"CASE WHEN r.k = 0 THEN t.{q} ELSE regexp_replace(t.{q}, "
                         f"'[0-9]{{3}}$', lpad(((hash(t.{q}) + r.k * 37) % 1000)::VARCHAR, 3, "
                         f"'0')) END AS {q}")
        else:
            exprs.append(f"t.{q}")
    donor = "LEFT JOIN _donor d ON d.customer_id = m.donor_id" if donated else ""
    # Rows without a customer (anonymous orders) are replicated as many times as the rest.
    con.execute(f"""
        CREATE TABLE {schema}."_big_{table.strip('"')}" AS
        SELECT {', '.join(exprs)}
        FROM {name} t CROSS JOIN range({replicas}) r(k)
        LEFT JOIN _ids m ON m.old_id = t.customer_id AND m.k = r.k
        {donor}
        WHERE m.new_id IS NOT NULL OR t.customer_id IS NULL
        ORDER BY r.k""")
    con.execute(f"DROP TABLE {name}")
    con.execute(f'ALTER TABLE {schema}."_big_{table.strip(chr(34))}" RENAME TO {table}')
    found = con.execute(f"SELECT count(*) FROM {name}").fetchone()
    return int(found[0]) if found else 0


def _build_cube(folder: Path) -> None:
    """Materialise the cube now (through crmine), so the first query does not pay for it."""
    subprocess.run([sys.executable, "-c", (
        "import sys; from crmine.warehouse import Workspace; from crmine.cube._table import "
        "prepare\nwith Workspace.open(sys.argv[1]) as ws: prepare(ws)"), str(folder)],
        check=True, env={**os.environ, "CRMINE_PROGRESS": "0"})


def _point_at(folder: Path) -> None:
    """Open once through crmine so the raw views follow the folder's new name."""
    subprocess.run([sys.executable, "-c", (
        "import sys; from crmine.warehouse import Workspace\n"
        "Workspace.open(sys.argv[1]).close()"), str(folder)], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--base", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--path", type=Path)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    root = big_workspace(args.path, args.customers, base_customers=args.base, seed=args.seed,
                         rebuild=args.rebuild)
    print(root)
    print((root / MARKER).read_text())


if __name__ == "__main__":
    main()
