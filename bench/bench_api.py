"""Load on the REST API: requests/s and latency of a cube count, a customer 360 and a
real-time score under concurrent clients, against calling the Python functions directly.

    .venv/bin/python bench/bench_api.py [--customers 10000] [--clients 50] [--requests 1000]
                                        [--workspace DIR]

A demo company is built into ``--workspace`` (default ``/tmp/crmine-bench-api-<customers>``)
once and reused. The reference is measured first in this process (the Python call the route
makes, same arguments); then ``crmine serve`` runs in a subprocess on a free loopback port and
an asyncio load generator (httpx, ``--clients`` connections) sends ``--requests`` requests per
route. Printed: requests/s, p50 and p95 latency, errors, and the ratio of the API's p95 to the
direct call's. The issue's goal (1 million customers, 50 clients): p95 under 100 ms for a
customer 360 and a cube count, under 20 ms for scoring one customer, no errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CRMINE = str(Path(sys.executable).parent / "crmine")
CUSTOMER = "C000003"
ROUTES = {
    "cube count": "/api/v1/cube/count?where=city=Shanghai&where=gender=F",
    "customer 360": f"/api/v1/customers/{CUSTOMER}",
    "score one (churn)": f"/api/v1/scores/churn/{CUSTOMER}",
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def workspace(folder: Path, customers: int) -> Path:
    if not (folder / "warehouse.duckdb").exists():
        print(f"building the demo company ({customers:,} customers) in {folder} …", flush=True)
        subprocess.run([CRMINE, "demo", str(folder), "--customers",
                        str(customers)], check=True, env={**os.environ, "CRMINE_PROGRESS": "0"},
                       stdout=subprocess.DEVNULL)
    return folder


def direct(folder: Path, n: int) -> dict[str, list[float]]:
    """Seconds per call of the functions the routes call, on an open workspace."""
    from crmine.api._scoring import RealtimeScorer
    from crmine.api._views import customer_360
    from crmine.cube import query
    from crmine.warehouse import Workspace

    out: dict[str, list[float]] = {}
    with Workspace.open(folder) as ws:
        scorer = RealtimeScorer()
        calls: dict[str, Callable[[], Any]] = {
            "cube count": lambda: query(ws, where=["city=Shanghai", "gender=F"]).count,
            "customer 360": lambda: customer_360(ws, CUSTOMER, pii=False),
            "score one (churn)": lambda: scorer.score(ws, "churn", [CUSTOMER]),
        }
        for name, call in calls.items():
            call()  # warm: cube built, features computed, model loaded
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


async def load(url: str, path: str, headers: dict[str, str], clients: int, requests: int
               ) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    todo = iter(range(requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=60) as client:
        await client.get(path)  # warm the server's caches

        async def worker() -> None:
            nonlocal errors
            for _ in todo:
                t0 = time.perf_counter()
                r = await client.get(path)
                latencies.append(time.perf_counter() - t0)
                errors += r.status_code != 200

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - start
    return latencies, errors, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--workspace", type=Path)
    args = ap.parse_args()
    folder = workspace(args.workspace or Path(f"/tmp/crmine-bench-api-{args.customers}"),
                       args.customers)
    os.environ.setdefault("CRMINE_PROGRESS", "0")
    ref = direct(folder, 50)
    tok = token(folder)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([CRMINE, "serve", "-w", str(folder),
                               "--port", str(port)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {tok}"}
        print(f"{args.customers:,} customers, {args.clients} clients, {args.requests} "
              f"requests per route, {os.cpu_count()} cores")
        print(f"{'route':20} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7} "
              f"{'direct p95 ms':>14} {'ratio':>7}")
        for name, path in ROUTES.items():
            lat, errors, wall = asyncio.run(load(url, path, headers, args.clients,
                                                 args.requests))
            d95 = pct(ref[name], 0.95)
            print(f"{name:20} {len(lat) / wall:8.1f} {statistics.median(lat) * 1e3:8.1f} "
                  f"{pct(lat, 0.95) * 1e3:8.1f} {errors:7d} {d95 * 1e3:14.2f} "
                  f"{pct(lat, 0.95) / d95:7.1f}")
    finally:
        server.terminate()  # graceful: uvicorn finishes requests in flight
        server.wait(30)


if __name__ == "__main__":
    main()
