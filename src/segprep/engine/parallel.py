"""Parallel maps for read-only work (verification, sample rendering): errors come back as values.

Unlike the runner there is nothing to journal; a function that raises for one item yields that
exception for the item and the others carry on. Results come back in input order, lazily, with
a bounded number of batches in flight, so memory stays flat however many items there are.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

from segprep.engine.executors import BrokenProcessPool, make_executor
from segprep.engine.progress import Progress

MAX_BATCH = 16


def imap_ordered(fn: Callable[[Any], Any], items: Sequence, jobs: int, batch_size: int | None = None) -> Iterator:
    """Yields ``fn(item)`` (or the exception it raised) for each item, in order; ``fn`` is module-level."""
    if not items:
        return
    if batch_size is None:
        batch_size = max(1, min(MAX_BATCH, len(items) // (max(jobs, 1) * 8) or 1))
    executor = make_executor(jobs if len(items) > 1 else 1)
    window: deque[tuple[Future, int]] = deque()
    starts: Iterable[int] = iter(range(0, len(items), batch_size))
    try:
        for start in starts:
            batch = list(items[start : start + batch_size])
            window.append((executor.submit(_apply, fn, batch), len(batch)))
            if len(window) >= executor.jobs * 3:
                yield from _take(window, executor)
        while window:
            yield from _take(window, executor)
    finally:
        executor.shutdown(cancel=True)


def _take(window: deque, executor) -> Iterator:
    future, n = window.popleft()
    try:
        values = future.result()
    except BrokenProcessPool as exc:
        executor.restart()
        lost = [(future, n)] + list(window)
        window.clear()
        for _, count in lost:
            yield from [RuntimeError(f"the worker process died ({exc})")] * count
        return
    yield from values


def parallel_map(fn: Callable[[Any], Any], items: Sequence, jobs: int, progress: Progress, label: str) -> list:
    """``[fn(item) or the exception it raised, ...]`` with a progress bar."""
    out = []
    with progress.bar(len(items), label, unit="item") as bar:
        for value in imap_ordered(fn, items, jobs):
            out.append(value)
            bar.advance()
    return out


def _apply(fn: Callable[[Any], Any], batch: list) -> list:
    out = []
    for item in batch:
        try:
            out.append(fn(item))
        except Exception as exc:
            out.append(exc)
    return out
