"""Progress bars for long work, shown on stderr only when a person is watching; and the
cancel token long work checks at every step of a bar (:func:`cancellable`)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")

__all__ = ["Cancelled", "cancellable", "check_cancelled", "progress_enabled", "stage", "track"]


class Cancelled(BaseException):
    """Raised inside long work whose cancel token was set. A BaseException, like
    KeyboardInterrupt: an analysis's ``except Exception`` must not swallow it, and the run's
    transaction rolls back on it, so a cancelled fit leaves nothing written."""


# The token of the work running in this thread (a background job), and where it reports
# the step it is in: (description, done, total).
_TOKEN: ContextVar[threading.Event | None] = ContextVar("crmine_cancel", default=None)
_REPORT: ContextVar[Callable[[str, int, int | None], None] | None] = ContextVar(
    "crmine_report", default=None)


@contextmanager
def cancellable(token: threading.Event,
                report: Callable[[str, int, int | None], None] | None = None
                ) -> Iterator[None]:
    """Inside, every step of :func:`track` and every :func:`stage` raises :class:`Cancelled`
    once ``token`` is set (from another thread); ``report`` hears each step."""
    reset = _TOKEN.set(token), _REPORT.set(report)
    try:
        yield
    finally:
        _TOKEN.reset(reset[0])
        _REPORT.reset(reset[1])


def check_cancelled(where: str = "") -> None:
    """Raise :class:`Cancelled` if the work in this thread was asked to stop (for loops that
    draw no bar, e.g. bootstrap replicates)."""
    token = _TOKEN.get()
    if token is not None and token.is_set():
        raise Cancelled(f"cancelled during {where}" if where else "cancelled")


def _steps(items: Iterable[T], description: str, total: int | None) -> Iterator[T]:
    report = _REPORT.get()
    for done, item in enumerate(items):
        check_cancelled(f"{description} (step {done + 1}"
                        + (f" of {total})" if total else ")"))
        if report is not None:
            report(description, done, total)
        yield item


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
    """Iterate over ``items`` with a progress bar when enabled (checking the cancel token
    before each item)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    steps = _steps(items, description, total)
    if not progress_enabled():
        yield from steps
        return
    with _progress() as bar:
        yield from bar.track(steps, description=description, total=total)


@contextmanager
def stage(description: str) -> Iterator[None]:
    """A spinner for one long step of unknown length (the cancel token is checked as it
    starts and ends)."""
    check_cancelled(description)
    report = _REPORT.get()
    if report is not None:
        report(description, 0, None)
    if not progress_enabled():
        yield
        check_cancelled(description)
        return
    with _progress() as bar:
        task = bar.add_task(description, total=None)
        yield
        bar.update(task, total=1, completed=1)
    check_cancelled(description)
