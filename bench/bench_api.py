"""Load on the REST API: requests/s and latency of a cube count, a customer 360 and a
real-time score under concurrent clients, against calling the Python functions directly.

    .venv/bin/python bench/bench_api.py [--customers 1000000] [--clients 50] [--requests 1000]
                                        [--base 20000] [--workspace DIR]

The company: up to ``--base`` customers the demo itself (``crmine demo``, in
``/tmp/crmine-bench-api-<customers>``); above, the demo of ``--base`` customers scaled up in SQL
(``bench/_big_workspace.py``, cached in ``/tmp/crmine-big``). Each request asks for a
different thing: a customer drawn at random (360 view, scoring) and one of 40 filter
combinations (count), so neither the server's caches nor DuckDB's see one repeated question.
The reference is measured first in this process (the Python call the route makes, same
arguments, on the warehouse file); then ``crmine serve`` runs in a subprocess on a free loopback
port (its start-up, which copies and prepares the warehouse, is timed) and an asyncio load
generator (httpx, ``--clients`` connections, no pause between requests) sends ``--requests``
requests per route. Printed: requests/s, p50 and p95 latency, errors, the direct call's p50
and p95, the ratio of the API's p95 to the direct p95, and the load average of the machine
(shared with other work) around each route. The issue's goal (1 million customers, 50
clients): p95 under 100 ms for a customer 360 and a cube count, under 20 ms for scoring one
customer, no errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CRMINE = str(Path(sys.executable).parent / "crmine")
ROUTES = ("cube count", "customer 360", "score one (churn)")
CITIES = ("Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Hangzhou", "Chengdu", "Wuhan",
          "Suzhou", "Tianjin", "Nanjing")
FILTERS = [[f"city={c}", f"gender={g}"] for c in CITIES for g in ("F", "M")] + \
          [[f"city={c}", f"age_band={a}"] for c in CITIES for a in ("25-35", "35-45")]


def path_of(route: str, rng: random.Random, ids: list[str]) -> str:
    if route == "cube count":
        return "/api/v1/cube/count?" + "&".join(f"where={w}" for w in rng.choice(FILTERS))
    if route == "customer 360":
        return f"/api/v1/customers/{rng.choice(ids)}"
    return f"/api/v1/scores/churn/{rng.choice(ids)}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def workspace(folder: Path | None, customers: int, base: int) -> Path:
    if customers > base and folder is None:
        sys.path.insert(0, str(Path(__file__).parent))
        from _big_workspace import big_workspace

        return big_workspace(None, customers, base_customers=base)
    folder = folder or Path(f"/tmp/crmine-bench-api-{customers}")
    if not (folder / "warehouse.duckdb").exists():
        print(f"building the demo company ({customers:,} customers) in {folder} …", flush=True)
        subprocess.run([CRMINE, "demo", str(folder), "--customers",
                        str(customers)], check=True, env={**os.environ, "CRMINE_PROGRESS": "0"},
                       stdout=subprocess.DEVNULL)
    return folder


def sample_ids(folder: Path, n: int = 500) -> dict[str, list[str]]:
    """Customers to ask for: any customer for the 360 view; for scoring, customers the churn
    model scores (subscribers: the others are a 404 by design, not a server error)."""
    import duckdb

    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        def draw(sql: str) -> list[str]:
            return [str(r[0]) for r in con.execute(sql + f" USING SAMPLE {int(n)} ROWS")
                    .fetchall()]

        anyone = draw("SELECT customer_id FROM marts.customer_features")
        scored = draw("SELECT customer_id FROM marts.retention_list") or anyone
    return {"customer 360": anyone, "score one (churn)": scored, "cube count": anyone}


def direct(folder: Path, n: int, ids: dict[str, list[str]], routes: tuple[str, ...]
           ) -> dict[str, list[float]]:
    """Seconds per call of the functions the routes call, on the warehouse file."""
    from crmine.api._scoring import RealtimeScorer
    from crmine.api._views import customer_360
    from crmine.cube import query
    from crmine.warehouse import Workspace

    rng = random.Random(1)
    out: dict[str, list[float]] = {}
    with Workspace.open(folder, read_only=True) as ws:
        scorer = RealtimeScorer()
        calls: dict[str, Callable[[], Any]] = {
            "cube count": lambda: query(ws, where=rng.choice(FILTERS)).count,
            "customer 360": lambda: customer_360(ws, rng.choice(ids["customer 360"]),
                                                 pii=False),
            "score one (churn)": lambda: scorer.score(
                ws, "churn", [rng.choice(ids["score one (churn)"])]),
        }
        for name, call in calls.items():
            if name not in routes:
                continue
            t0 = time.perf_counter()
            call()  # warm: cube read, features computed, model loaded
            print(f"  warm-up of {name}: {time.perf_counter() - t0:.1f} s", flush=True)
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
            out[name] = times
    return out


def token(folder: Path) -> str:
    from crmine.api import add_user
    from crmine.warehouse import Workspace

    with Workspace.open(folder) as ws:
        _, tok = add_user(ws, f"bench-{time.time_ns() % 10**9}", "marketer")
    return tok


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
                   ) -> int:
    """One HTTP/1.1 request on a kept-alive connection; the answer's status (body read)."""
    writer.write(head)
    found = await reader.readuntil(b"\r\n\r\n")
    status = int(found[9:12])
    lower = found.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        await reader.readexactly(int(lower[at + 17:end]))
    else:  # chunked
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def load(url: str, route: str, ids: list[str], headers: dict[str, str], clients: int,
               requests: int) -> tuple[list[float], Counter[int], float]:
    """``requests`` requests from ``clients`` kept-alive connections, each sending its next
    request as soon as the answer is in (closed loop).

    A raw asyncio client, not httpx: httpx costs about 3.6 ms of CPU a request, twice the
    server's, so on a shared machine it measured itself. This one costs a few tenths.
    """
    latencies: list[float] = []
    errors: Counter[int] = Counter()  # status -> count, of the answers that are not 200
    rng = random.Random(2)
    paths = [path_of(route, rng, ids) for _ in range(requests)]
    todo = iter(paths)
    host, port = url.removeprefix("http://").rsplit(":", 1)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())

    def head(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode()

    # warm the server's caches (the model, lookups); a score's first request starts scoring
    # every customer in the background: wait for it (minutes at 1M). A fresh connection per
    # poll: a server busy scoring may close an idle kept-alive one as it is reused.
    t0 = time.perf_counter()
    while True:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=3600) as client:
            try:
                answer = await client.get(paths[0])
            except httpx.TransportError:
                await asyncio.sleep(2)
                continue
        if answer.status_code != 200 or answer.json().get("precomputed", True):
            break
        if time.perf_counter() - t0 > 1200:
            print("  every customer's scores not ready after 20 min: timing on-request")
            break
        await asyncio.sleep(2)
    if route.startswith("score"):
        print(f"  every customer scored in the background in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for path in todo:
                t0 = time.perf_counter()
                try:
                    status = await asyncio.wait_for(_request(reader, writer, head(path)), 120)
                except (TimeoutError, OSError, asyncio.IncompleteReadError):
                    status = 599  # the connection broke: counted, then opened again
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors[status] += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    wall = time.perf_counter() - start
    return latencies, errors, wall


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--base", type=int, default=20_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--direct", type=int, default=50, help="direct calls per route")
    ap.add_argument("--workspace", type=Path)
    ap.add_argument("--route", action="append", choices=ROUTES,
                    help="only these routes (repeat; default all)")
    args = ap.parse_args()
    routes = tuple(args.route or ROUTES)
    os.environ.setdefault("CRMINE_PROGRESS", "0")
    folder = workspace(args.workspace, args.customers, args.base)
    ids = sample_ids(folder)
    print(f"direct calls ({args.direct} per route), load {loadavg()} …", flush=True)
    ref = direct(folder, args.direct, ids, routes)
    tok = token(folder)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    server = subprocess.Popen([CRMINE, "serve", "-w", str(folder),
                               "--port", str(port)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {tok}"}
    try:
        for _ in range(6000):
            try:
                if httpx.get(url + "/api/v1/me", headers=headers, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        print(f"server up (copy of the warehouse made and prepared) in "
              f"{time.perf_counter() - t0:.1f} s")
        print(f"{args.customers:,} customers, {args.clients} clients, {args.requests} "
              f"requests per route, {os.cpu_count()} cores")
        print(f"{'route':18} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'errors':>8} "
              f"{'direct p50':>10} {'direct p95':>10} {'ratio':>6} {'cpu ms/req':>10}  "
              "load 1/5/15 min")
        for name in routes:
            before = loadavg()
            cpu0 = cpu_seconds(server.pid)
            lat, errors, wall = asyncio.run(load(url, name, ids[name], headers, args.clients,
                                                 args.requests))
            # the server's own CPU per request (with its warm-up request): what a shared,
            # loaded machine does not distort
            cpu = (cpu_seconds(server.pid) - cpu0) / (len(lat) + 1)
            d50, d95 = statistics.median(ref[name]), pct(ref[name], 0.95)
            shown = ",".join(f"{k}:{v}" for k, v in sorted(errors.items())) or "0"
            print(f"{name:18} {len(lat) / wall:7.1f} {statistics.median(lat) * 1e3:8.1f} "
                  f"{pct(lat, 0.95) * 1e3:8.1f} {shown:>8} {d50 * 1e3:10.2f} "
                  f"{d95 * 1e3:10.2f} {pct(lat, 0.95) / d95:6.1f} {cpu * 1e3:10.2f}  "
                  f"{before} → {loadavg()}",
                  flush=True)
    finally:
        server.terminate()  # graceful: uvicorn finishes requests in flight
        server.wait(60)


if __name__ == "__main__":
    main()
