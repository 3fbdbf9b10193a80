"""Executors run batches of work somewhere: inline (``--jobs 1``) or in a pool of processes.

An executor only submits a function with arguments and hands back a ``Future``; what is run,
how results are journaled and how failures are reported is the runner's business. A process
pool that breaks (a worker killed or crashed) is replaced by ``restart``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

__all__ = ["BrokenProcessPool", "Executor", "InlineExecutor", "ProcessExecutor", "make_executor", "default_jobs"]


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Executor:
    jobs: int = 1

    def submit(self, fn, *args) -> Future:
        raise NotImplementedError

    def restart(self) -> None:
        """Replace broken workers; inline execution never breaks."""

    def shutdown(self, cancel: bool = False) -> None:
        pass


class InlineExecutor(Executor):
    """Runs each batch at submission, in this process (debugging, tests, one core)."""

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # the runner reports it like a worker failure
            future.set_exception(exc)
        return future


class ProcessExecutor(Executor):
    def __init__(self, jobs: int):
        self.jobs = jobs
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # "spawn" everywhere: no inherited locks or threads (the progress bar has one), same on every OS.
        return ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker)

    def submit(self, fn, *args) -> Future:
        return self._pool.submit(fn, *args)

    def restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def shutdown(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


def _init_worker() -> None:
    # Ctrl-C goes to the main process, which stops feeding work and shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def make_executor(jobs: int) -> Executor:
    return InlineExecutor() if jobs <= 1 else ProcessExecutor(jobs)
