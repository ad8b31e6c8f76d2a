"""Timing helpers shared by the benchmarks: median of repeated runs, ratio lines."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def measure(
    fn: Callable[[], Any], *, repeat: int = 3, setup: Callable[[], Any] | None = None
) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs (``setup`` runs untimed before each)."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(case: str, ours: float, reference: str, ref_time: float, goal: str) -> None:
    """One result line: our time, the reference's, the ratio and the goal."""
    ratio = ours / ref_time
    print(
        f"{case:<48} crmine {ours:8.3f}s | {reference:<34} {ref_time:8.3f}s | "
        f"ratio {ratio:6.2f}x (goal: {goal})",
        flush=True,
    )
