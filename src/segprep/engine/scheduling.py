"""Feeds a run's tasks to the executor: bounded batches (memory stays flat), archives that can only be
read in one pass streamed once in archive order, remote members prefetched in archive order, and a
broken pool recovered by rerunning the lost tasks one at a time (so the one that kills it is named).
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from segprep.engine.executors import BrokenProcessPool, Executor, LostBatch
from segprep.engine.tasks import Task, TaskResult
from segprep.engine.worker import WorkerConfig, run_batch
from segprep.errors import SegprepError
from segprep.io import remote
from segprep.io.archives import Archive, iter_members
from segprep.io.sources import fetch_remote, is_remote, remote_wants

MAX_BATCH = 32  # tasks per submission: amortises inter-process overhead, keeps the bar moving
MAX_BATCH_BYTES = 64 << 20  # preloaded bytes per submission, so memory stays flat
IN_FLIGHT_PER_JOB = 3  # submitted-but-unfinished batches per worker
REMOTE_BATCH_BYTES = 64 << 20  # remote bytes fetched together (one batch fetching while the last is handed out)
REMOTE_BATCH_TASKS = 1024


Item = tuple[Task, "dict[str, bytes] | None"]


class Scheduler:
    """Feeds items to the executor in bounded batches and hands every result to ``on_result``."""

    def __init__(self, executor: Executor, config: WorkerConfig, bar, on_result, fail_fast: bool):
        self.executor = executor
        self.config = config
        self.bar = bar
        self.on_result = on_result
        self.fail_fast = fail_fast
        self.in_flight: dict[Future, list[Item]] = {}
        self.tasks: dict[str, Task] = {}
        self.failed = 0
        self.delivered = 0
        self.stop = False
        self._shown = 0.0

    def run(self, todo: list[Task]) -> int:
        """Runs every task; returns how many were never run (fail-fast)."""
        self.tasks = {t.key: t for t in todo}
        batch_size = max(1, min(MAX_BATCH, len(todo) // (self.executor.jobs * 8) or 1))
        items = _interleave(_feeds(todo))
        batch: list[Item] = []
        batch_bytes = 0
        try:
            for item in items:
                if isinstance(item, TaskResult):  # a failure found while feeding (damaged archive)
                    self._deliver(item)
                    continue
                if self.stop:
                    break
                batch.append(item)
                batch_bytes += sum(len(v) for v in (item[1] or {}).values())
                if len(batch) >= batch_size or batch_bytes >= MAX_BATCH_BYTES:
                    self._submit(batch)
                    batch, batch_bytes = [], 0
        except SegprepError:  # a feed cannot go on (a remote login refused): keep what is running, then stop
            if batch:
                self._submit(batch)
            while self.in_flight:
                self._collect()
            raise
        if batch and not self.stop:
            self._submit(batch)
        while self.in_flight:
            self._collect()
        return len(todo) - self.delivered

    def _submit(self, batch: list[Item]) -> None:
        while len(self.in_flight) >= self.executor.jobs * IN_FLIGHT_PER_JOB:
            self._collect()
        try:
            future = self.executor.submit(run_batch, self.config, batch)
        except BrokenProcessPool:  # the pool broke since the last collect: this batch is lost with the others
            self._recover([batch])
            return
        self.in_flight[future] = batch

    def _collect(self) -> None:
        done, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)
        lost: list[list[Item]] = []
        for future in done:
            batch = self.in_flight.pop(future)
            try:
                results = future.result()
            except BrokenProcessPool:
                lost.append(batch)
                continue
            except LostBatch:  # only this batch: the rest of the cluster goes on
                self._run_alone(batch)
                continue
            except Exception as exc:  # e.g. a task that cannot be pickled: report, never drop
                results = [TaskResult(t.key, False, error=f"could not run: {type(exc).__name__}: {exc}") for t, _ in batch]
            for result in results:
                self._deliver(result)
        if lost:
            self._recover(lost)

    def _recover(self, lost: list[list[Item]]) -> None:
        """The pool broke: every batch in flight died with it, and which task killed it is unknown."""
        lost += self.in_flight.values()
        self.in_flight.clear()
        self.executor.restart()
        for batch in lost:
            self._run_alone(batch)

    def _run_alone(self, batch: list[Item]) -> None:
        """Reruns the tasks of a lost batch one at a time on a fresh pool: one that kills it again is the culprit."""
        for item in batch:
            task = item[0]
            try:
                results = self.executor.submit(run_batch, self.config, [item]).result()
            except (BrokenProcessPool, LostBatch):
                self.executor.restart()
                results = [TaskResult(task.key, False, error=(
                    f"the worker process died while processing {task.describe_inputs()} "
                    "(killed, out of memory, or crashed in a native library)"))]
            for result in results:
                self._deliver(result)

    def _deliver(self, result: TaskResult) -> None:
        self.delivered += 1
        self.on_result(result, self.tasks[result.key])
        if not result.ok:
            self.failed += 1
            if self.fail_fast:
                self.stop = True
        now = time.monotonic()
        if remote.active() and now - self._shown >= 0.5:  # bytes fetched so far, twice a second at most
            self._shown = now
            self.bar.advance(1, self.failed, fetched=remote.human(remote.fetched_bytes()))
        else:
            self.bar.advance(1, self.failed)


def _feeds(todo: list[Task]) -> list[Iterator[Item | TaskResult]]:
    """One feed per archive that must be read in one pass, plus one for all random-access tasks."""
    by_archive: dict[Archive, list[Task]] = defaultdict(list)
    fetched: list[Task] = []
    direct: list[Task] = []
    for task in todo:
        archives = {s.archive for s in task.inputs if s.sequential}
        if len(archives) > 1:
            raise ValueError(f"{task.key}: inputs from several one-pass archives (a recipe bug)")
        if archives:
            by_archive[archives.pop()].append(task)
        elif any(is_remote(s) for s in task.inputs):
            fetched.append(task)
        else:
            direct.append(task)
    feeds: list[Iterator[Item | TaskResult]] = [_stream(archive, tasks) for archive, tasks in sorted(
        by_archive.items(), key=lambda kv: kv[0].parts)]
    if fetched:
        feeds.append(_fetched(fetched))
    feeds.append(iter([(task, None) for task in direct]))
    return feeds


def _fetched(tasks: list[Task]) -> Iterator[Item | TaskResult]:
    """Tasks with remote inputs, with their bytes: fetched by ranges in bounded batches, the next batch
    downloading while this one is handed to the workers (so at most two batches are held in memory).

    Tasks go in archive order (neighbouring members merge into one request) and tasks that share a
    member stay in one batch, so no member is fetched twice."""
    wants = {w.key: w for w in remote_wants([s for task in tasks for s in task.inputs if is_remote(s)])}

    def position(task: Task):
        return min((wants[s.describe()].parts, wants[s.describe()].start) for s in task.inputs if is_remote(s))

    batches: list[list[Task]] = [[]]
    keys: set[str] = set()
    size = 0
    for task in sorted(tasks, key=position):
        mine = {s.describe() for s in task.inputs if is_remote(s)}
        full = size >= REMOTE_BATCH_BYTES or len(batches[-1]) >= REMOTE_BATCH_TASKS
        if batches[-1] and full and not (mine & keys) or size >= 2 * REMOTE_BATCH_BYTES:
            batches.append([])
            keys = set()
            size = 0
        batches[-1].append(task)
        size += sum(wants[k].end - wants[k].start for k in mine - keys)
        keys |= mine

    def fetch(batch: list[Task]) -> dict:
        return fetch_remote([s for task in batch for s in task.inputs])

    with ThreadPoolExecutor(1, thread_name_prefix="segprep-prefetch") as prefetcher:
        pending = prefetcher.submit(fetch, batches[0])
        for index, batch in enumerate(batches):
            fetched = pending.result()
            if index + 1 < len(batches):
                pending = prefetcher.submit(fetch, batches[index + 1])
            for task in batch:
                loaded = {s.describe(): fetched[s.describe()] for s in task.inputs if is_remote(s)}
                errors = [str(v) for v in loaded.values() if isinstance(v, SegprepError)]
                if errors:
                    yield TaskResult(task.key, False, error="; ".join(errors))
                else:
                    yield task, loaded
            del fetched


def _stream(archive: Archive, tasks: list[Task]) -> Iterator[Item | TaskResult]:
    """Reads the archive once; yields each task when all its members from it have passed by."""
    needs: dict[str, list[Task]] = defaultdict(list)
    waiting: dict[str, set[str]] = {}
    loaded: dict[str, dict[str, bytes]] = defaultdict(dict)
    for task in tasks:
        names = {s.member.name for s in task.inputs if s.sequential}
        waiting[task.key] = names
        for name in names:
            needs[name].append(task)
    try:
        for name, data in iter_members(archive, needs):
            for task in needs.pop(name):
                source = next(s for s in task.inputs if s.sequential and s.member.name == name)
                loaded[task.key][source.describe()] = data
                waiting[task.key].discard(name)
                if not waiting[task.key]:
                    yield task, loaded.pop(task.key)
    except SegprepError as exc:
        for task in itertools.chain.from_iterable(needs.values()):
            if task.key in waiting and waiting.pop(task.key):
                yield TaskResult(task.key, False, error=str(exc))


def _interleave(feeds: list[Iterator]) -> Iterator:
    """Round-robin over the feeds so workers stay busy while the main process reads a stream."""
    active = list(feeds)
    while active:
        for feed in list(active):
            try:
                yield next(feed)
            except StopIteration:
                active.remove(feed)
