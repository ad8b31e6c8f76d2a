"""Progress bars for long work, shown on stderr only when a person is watching."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")

__all__ = ["progress_enabled", "stage", "track"]


def progress_enabled() -> bool:
    """True on an interactive terminal unless CRMINE_PROGRESS=0 (always True if =1)."""
    flag = os.environ.get("CRMINE_PROGRESS")
    if flag is not None:
        return flag not in ("0", "false", "no")
    return sys.stderr.isatty()


def _progress() -> Progress:
    from rich.console import Console

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar when enabled."""
    if not progress_enabled():
        yield from items
        return
    with _progress() as bar:
        yield from bar.track(items, description=description, total=total)


@contextmanager
def stage(description: str) -> Iterator[None]:
    """A spinner for one long step of unknown length."""
    if not progress_enabled():
        yield
        return
    with _progress() as bar:
        task = bar.add_task(description, total=None)
        yield
        bar.update(task, total=1, completed=1)
