"""Executors run batches of work somewhere: inline (``--jobs 1``), in a pool of local processes,
or on a Dask cluster (``--executor dask``, the optional ``segprep[dask]`` extra).

An executor only submits a function with arguments and hands back a ``concurrent.futures.Future``;
what is run, how results are journaled and how failures are reported is the runner's business.
Two ways to lose work are reported as exceptions of the future: ``BrokenProcessPool`` (the local
pool broke: every batch in flight is lost, ``restart`` replaces the pool) and ``LostBatch`` (the
cluster gave up on this one batch after its workers died; the others go on).
"""

from __future__ import annotations

import contextlib
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from segprep.engine import workerserver
from segprep.engine.malloc import tune_malloc
from segprep.errors import SegprepError
from segprep.io import accel

__all__ = ["BrokenProcessPool", "DaskExecutor", "Executor", "InlineExecutor", "LostBatch", "ProcessExecutor",
           "default_jobs", "make_executor"]
SCHEDULER_ENV = "SEGPREP_DASK_SCHEDULER"


class LostBatch(Exception):
    """The workers running this batch died repeatedly (Dask's KilledWorker); other batches are unaffected."""


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
    """A pool of local processes, forked from ``engine.workerserver``'s server (the run's, else its own)."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self._server = contextlib.ExitStack()  # the server of the enclosing run, else one for this pool
        self._server.enter_context(workerserver.serving(jobs))
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.jobs, mp_context=workerserver.pool_context(), initializer=_init_worker,
                                   initargs=(dict(os.environ),))

    def submit(self, fn, *args) -> Future:
        return self._pool.submit(fn, *args)

    def restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def shutdown(self, cancel: bool = False) -> None:
        # Waits for the batches already running (cancelled or not, interpreter exit would wait for them too),
        # so that the fork server reaps every worker before it stops.
        self._pool.shutdown(wait=True, cancel_futures=cancel)
        self._server.close()


def _init_worker(environment: dict[str, str]) -> None:
    # The fork server started with the environment of its time; a worker runs with this run's.
    if os.environ != environment:
        os.environ.clear()
        os.environ.update(environment)
    accel.refresh()
    # Ctrl-C goes to the main process, which stops feeding work and shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_malloc()  # every worker handles frame-sized buffers (recipes also call it: Dask workers)


class DaskExecutor(Executor):
    """Batches go to a Dask distributed cluster; the runner's journal, retries and reports are unchanged.

    The cluster must see the same paths as this machine (shared storage). Dask re-runs a task
    whose worker died on another worker; a task that keeps killing workers ends as ``LostBatch``.
    ``jobs`` is the number of worker threads, so the runner keeps a few batches per thread in
    flight: the scheduler and this client only ever hold that many.
    """

    def __init__(self, scheduler: str):
        try:
            from distributed import Client
        except ImportError:
            raise SegprepError("--executor dask needs Dask distributed: pip install 'segprep[dask]'") from None
        try:
            self.client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise SegprepError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        self._owns_client = True
        self.jobs = max(1, sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values()))
        self._pending: set = set()

    def submit(self, fn, *args) -> Future:
        from distributed.scheduler import KilledWorker

        remote = self.client.submit(fn, *args, pure=False)
        self._pending.add(remote)
        local: Future = Future()

        def settle(done) -> None:
            self._pending.discard(done)
            try:
                local.set_result(done.result())
            except KilledWorker as exc:
                local.set_exception(LostBatch(str(exc)))
            except BaseException as exc:
                local.set_exception(exc)

        remote.add_done_callback(settle)
        return local

    def shutdown(self, cancel: bool = False) -> None:
        if cancel and self._pending:
            self.client.cancel(list(self._pending))
        self._pending.clear()
        if self._owns_client:
            self.client.close()


def make_executor(jobs: int, scheduler: str | None = None) -> Executor:
    """Dask when a scheduler address is given, else a local pool (inline for one job)."""
    if scheduler:
        return DaskExecutor(scheduler)
    return InlineExecutor() if jobs <= 1 else ProcessExecutor(jobs)
