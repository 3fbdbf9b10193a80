"""Runs a plan: skip what the journal proves done, run the rest on an executor, finalize, summarize.

The runner knows nothing about datasets. It keeps the engine's promises: every task's result is
journaled as it arrives (so a killed run resumes), a failed task is reported with its input and
never hides the others, work is fed to the pool in bounded batches (memory stays flat), members
of archives that can only be read in one pass are streamed once in archive order, and ``--move``
consumes the sources only after everything is written.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segprep.engine import atomic
from segprep.engine.executors import BrokenProcessPool, Executor, LostBatch, make_executor
from segprep.engine.atomic import OutputRecord
from segprep.engine.journal import FINALIZE_KEY, Journal, JournalEntry, outputs_intact, shape_id
from segprep.engine.progress import Progress
from segprep.engine.tasks import Placement, Task, TaskResult
from segprep.engine.worker import WorkerConfig, debug_delay, run_batch
from segprep.errors import NotEnoughSpace, SegprepError
from segprep.io import remote
from segprep.io.archives import Archive, iter_members
from segprep.io.sources import FileSource, MemberSource, fetch_remote, is_remote, remote_wants

MAX_BATCH = 32  # tasks per submission: amortises inter-process overhead, keeps the bar moving
MAX_BATCH_BYTES = 64 << 20  # preloaded bytes per submission, so memory stays flat
IN_FLIGHT_PER_JOB = 3  # submitted-but-unfinished batches per worker
REMOTE_BATCH_BYTES = 64 << 20  # remote bytes fetched together (one batch fetching while the last is handed out)
REMOTE_BATCH_TASKS = 1024


@dataclass
class RunOptions:
    jobs: int = 1
    placement: Placement = "link"
    dry_run: bool = False
    fail_fast: bool = False
    quiet: bool = False
    scheduler: str | None = None  # a Dask scheduler address: run the tasks on that cluster
    verbose: bool = False  # finalize's statistics in full


class FinalizeContext:
    """What ``finalize`` gets: every finished task's returned value (new or from the journal), the keys
    of the tasks that failed, and atomic writes that leave an output with the same bytes untouched."""

    def __init__(self, out_root: Path, tasks: list[Task], extras: dict[str, Any],
                 say: Callable[[str], None] | None = None, failed: set[str] | None = None):
        self.out_root = out_root
        self.tasks = tasks
        self.extras = extras
        self.failed = failed or set()  # keys of tasks that failed or never ran: their extras are absent
        self.verbose = False  # --verbose: statistics in full
        self.written: list[str] = []
        self.unchanged: list[str] = []  # outputs that already held the bytes finalize made
        self.records: list[OutputRecord] = []  # every aggregate in place, for the journal (and verify)
        self.withheld: list[str] = []  # aggregates not written because a task they need failed
        self._say = say
        self.notes: list[str] = []  # facts for the summary table (also with --quiet)

    def say(self, message: str) -> None:
        """A message for the user (statistics, notes); silent with --quiet."""
        if self._say is not None:
            self._say(message)

    def note(self, text: str) -> None:
        """A fact that belongs in the run's summary (e.g. how many values were repaired)."""
        self.notes.append(text)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Writes ``rel`` atomically, unless it already holds ``data``: a rerun that changes nothing
        leaves every file as it was (bytes, inode and mtime), so make, rsync or a watching job see
        no change."""
        debug_delay("SEGPREP_FINALIZE_DELAY_MS")  # lets tests kill a run inside finalize
        target = self.out_root / rel
        if atomic.same_bytes(target, data):
            self.unchanged.append(rel)
            st = os.stat(target)
            placed = st.st_mtime_ns, st.st_ino
        else:
            placed = atomic.write_bytes(target, data)
            self.written.append(rel)
        self.records.append(OutputRecord(rel, len(data), atomic.digest(data), *placed))

    def complete(self, rels: Iterable[str], keys: Iterable[str]) -> bool:
        """True when none of the tasks ``keys`` failed, so the aggregates ``rels`` built from them can be
        written. Otherwise they are withheld, not written without the failed items (a json that lists
        every frame of a split must not silently miss some): an older copy from a complete earlier run
        is removed, and the summary says which task they wait for."""
        failed = sorted(k for k in keys if k in self.failed)
        if not failed:
            return True
        for rel in rels:
            (self.out_root / rel).unlink(missing_ok=True)
            self.withheld.append(rel)
            self.note(f"{rel} not written: it needs {len(failed):,} failed task(s), e.g. {failed[0]}; "
                      "fix the input and rerun")
        return False


@dataclass
class Plan:
    tasks: list[Task]
    salt: str  # recipe name, version and output-shaping options: part of every fingerprint
    notes: list[str] = field(default_factory=list)  # what was found where, for the user
    finalize: Callable[[FinalizeContext], None] | None = None
    warnings: list[str] = field(default_factory=list)  # what will not be prepared and why; printed before the run


@dataclass
class RunSummary:
    dataset: str
    planned: int = 0
    written: int = 0
    skipped: int = 0
    not_run: int = 0
    failures: list[TaskResult] = field(default_factory=list)
    bytes_written: int = 0
    bytes_needed: int = 0
    seconds: float = 0.0
    finalized: list[str] = field(default_factory=list)
    finalize_unchanged: int = 0  # aggregate files finalize found already up to date
    removed: int = 0  # outputs of another output shape that this plan no longer writes
    consumed: int = 0
    dry_run: bool = False
    plan_text: str = ""
    notes: list[str] = field(default_factory=list)  # from finalize (e.g. values that were repaired)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.not_run

    def table(self) -> str:
        rows = [
            ("planned tasks", f"{self.planned:,}"),
            ("written", f"{self.written:,} ({_human(self.bytes_written)})"),
            ("skipped (done before)", f"{self.skipped:,}"),
            ("failed", f"{len(self.failures):,}"),
        ]
        if self.not_run:
            rows.append(("not run (--fail-fast)", f"{self.not_run:,}"))
        if self.finalized:
            rows.append(("finalized", ", ".join(self.finalized)))
        if self.removed:
            rows.append(("removed (other options)", f"{self.removed:,}"))
        if self.finalize_unchanged:
            rows.append(("aggregates up to date", f"{self.finalize_unchanged:,}"))
        if self.consumed:
            rows.append(("sources consumed (--move)", f"{self.consumed:,}"))
        rows.append(("wall time", f"{self.seconds:.1f} s"))
        width = max(len(r[0]) for r in rows)
        lines = [f"{self.dataset}:"] + [f"  {name:<{width}}  {value}" for name, value in rows]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def run(plan: Plan, dataset: str, out_root: Path, state_dir: Path, options: RunOptions) -> RunSummary:
    start = time.monotonic()
    progress = Progress(options.quiet)
    _check_plan(plan)
    journal = Journal(state_dir / "journal.jsonl")
    summary = RunSummary(dataset, planned=len(plan.tasks), dry_run=options.dry_run)
    todo: list[Task] = []
    extras: dict[str, Any] = {}
    for task in plan.tasks:
        entry = journal.get(task.key)
        if entry is not None and entry.fingerprint == task.fingerprint(plan.salt) and outputs_intact(entry, out_root):
            extras[task.key] = entry.extra
        else:
            todo.append(task)
    summary.skipped = len(plan.tasks) - len(todo)
    summary.bytes_needed = sum(_bytes_needed(task, out_root, options.placement) for task in todo)
    fetching = remote_plan(todo)
    if options.dry_run:
        summary.plan_text = describe_plan(plan, todo, summary, out_root, fetching)
        return summary
    for warning in plan.warnings:
        progress.say(f"{dataset}: {warning}")
    for line in fetching:
        progress.say(f"{dataset}: {line}")
    _check_space(out_root, summary.bytes_needed)
    lock = _take_lock(state_dir, dataset)
    atomic.remove_stale_temporaries([out_root, state_dir])
    shape = shape_id(plan.salt)
    summary.removed = _remove_outputs_of_other_shapes(journal, plan, shape, out_root)

    def on_result(result: TaskResult, task: Task) -> None:
        if result.ok:
            journal.record(JournalEntry(task.key, task.fingerprint(plan.salt), result.outputs, result.extra, shape))
            extras[task.key] = result.extra
            summary.written += 1
            summary.bytes_written += sum(o.size for o in result.outputs)
        else:
            summary.failures.append(result)

    executor = make_executor(options.jobs if len(todo) > 1 else 1, options.scheduler)
    config = WorkerConfig(out_root, options.placement)
    try:
        if todo:
            with progress.bar(len(todo), dataset) as bar:
                summary.not_run = _Scheduler(executor, config, bar, on_result, options.fail_fast).run(todo)
        if plan.finalize is not None and not summary.not_run:
            # Also after failures: what does not depend on a failed task is still written
            # (the recipe withholds the aggregates that do, and says so).
            failed = {r.key for r in summary.failures}
            fctx = FinalizeContext(out_root, plan.tasks, extras, progress.say, failed)
            fctx.verbose = options.verbose
            plan.finalize(fctx)
            journal.record(JournalEntry(FINALIZE_KEY, "", fctx.records, None))
            summary.finalized = fctx.written
            summary.finalize_unchanged = len(fctx.unchanged)
            summary.notes = fctx.notes
        if options.placement == "move" and summary.ok:
            summary.consumed = _consume_sources(plan.tasks, out_root, progress)
    finally:
        executor.shutdown(cancel=True)
        journal.compact()
        _write_failure_log(state_dir, summary.failures)
        lock.close()
    summary.notes += remote_totals()
    summary.seconds = time.monotonic() - start
    return summary


def remote_plan(todo: list[Task]) -> list[str]:
    """What a run will fetch from remote archives and files, said before it starts (and by --dry-run)."""
    sources = {s.describe(): s for task in todo for s in task.inputs if is_remote(s)}
    if not sources:
        return []
    wants = remote_wants(list(sources.values()))
    per_object: dict[tuple[str, ...], list] = defaultdict(list)
    for want in wants:
        per_object[want.parts].append(want)
    lines = []
    for parts, items in sorted(per_object.items()):
        reader = remote.parts_reader(parts)
        needed = sum(w.end - w.start for w in items)
        what = f"{len(items):,} members" if items[0].extent is not None or len(parts) > 1 or \
            items[0].end - items[0].start != reader.size else "the file"
        share = f", {100 * needed / reader.size:.1f}%" if reader.size else ""
        lines.append(f"remote: will fetch {_human(needed)} ({what}) of {reader.url} ({_human(reader.size)}{share}); "
                     f"{_human(reader.stats.bytes)} read so far (listing)")
    files = [w for w in wants if w.extent is None and len(per_object[w.parts]) == 1 and w.start == 0]
    if len(lines) > 12:  # many remote files (an extracted download in a bucket): one line for them
        total = sum(w.end - w.start for w in files)
        lines = [line for line in lines if "(the file)" not in line][:12]
        lines.append(f"remote: will fetch {_human(total)} in {len(files):,} files")
    return lines


def remote_totals() -> list[str]:
    """Bytes fetched from each remote object in this run, against its size."""
    rows = remote.totals()
    lines = []
    archives = [row for row in rows if row[2].bytes and row[1] > 0]
    for url, size, stats, label in archives[:12]:
        retried = f", {stats.retries:,} retried" if stats.retries else ""
        relogged = f", {stats.relogins} new login(s)" if stats.relogins else ""
        lines.append(f"remote: fetched {_human(stats.bytes)} of {_human(size)} ({100 * stats.bytes / size:.2f}%) in "
                     f"{stats.requests:,} requests{retried}{relogged} from {url}")
    if len(archives) > 12:
        rest = archives[12:]
        lines.append(f"remote: fetched {_human(sum(r[2].bytes for r in rest))} from {len(rest):,} more files")
    return lines


def _remove_outputs_of_other_shapes(journal: Journal, plan: Plan, shape: str, out_root: Path) -> int:
    """Removes what tasks of another output shape wrote that this plan no longer writes (e.g. the frames
    between the annotated ones after ``--all-frames`` is dropped), so that changing an option and back
    ends with the same tree. A task absent because an option only selects work (``--splits``) was
    written with this very shape: it is kept. Returns how many files were removed."""
    keys = {t.key for t in plan.tasks}
    planned = {rel for t in plan.tasks for rel in t.outputs}
    removed = 0
    for key in sorted(journal.entries):
        if key in keys or key == FINALIZE_KEY:
            continue
        entry = journal.get(key)
        if entry.shape is None or entry.shape == shape:
            continue
        for record in entry.outputs:
            if record.path not in planned and (out_root / record.path).is_file():
                (out_root / record.path).unlink()
                removed += 1
        journal.drop(key)
    return removed


def _take_lock(state_dir: Path, dataset: str):
    """An exclusive lock on the dataset's state folder for the whole run: two prepares of one dataset
    into one folder would sweep each other's temporaries and interleave their journals."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(state_dir / "lock", "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise SegprepError(f"another `segprep prepare {dataset}` is writing to this folder ({state_dir} is locked); "
                           "wait for it to finish, or give this one another --data") from None
    return handle


def _check_plan(plan: Plan) -> None:
    keys = Counter(t.key for t in plan.tasks)
    outputs = Counter(rel for t in plan.tasks for rel in t.outputs)
    twice = [k for k, n in keys.items() if n > 1] + [o for o, n in outputs.items() if n > 1]
    if twice:
        raise ValueError(f"the plan names these keys or outputs twice (a recipe bug): {sorted(twice)[:5]}")


def _bytes_needed(task: Task, out_root: Path, placement: Placement) -> int:
    if task.size_hint is not None:
        return task.size_hint
    total = 0
    for source in task.inputs:
        linkable = isinstance(source, FileSource) and placement != "copy" and _same_device(source.path, out_root)
        total += 0 if linkable else source.size
    return total


_devices: dict[str, int] = {}


def _same_device(path: str, out_root: Path) -> bool:
    root = _existing_ancestor(out_root)
    if str(root) not in _devices:
        _devices[str(root)] = os.stat(root).st_dev
    try:
        return os.stat(path).st_dev == _devices[str(root)]
    except FileNotFoundError:
        return False


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _check_space(out_root: Path, needed: int) -> None:
    free = shutil.disk_usage(_existing_ancestor(out_root)).free
    margin = 64 << 20  # journal, directories, filesystem slack
    if needed + margin > free:
        raise NotEnoughSpace(
            f"{out_root}: the plan writes {_human(needed)} but only {_human(free)} are free there. "
            "Free some space, choose another --data, or use the default --link (no copies) with the download "
            "extracted on the same filesystem."
        )


def describe_plan(plan: Plan, todo: list[Task], summary: RunSummary, out_root: Path,
                  fetching: list[str] = ()) -> str:
    lines = [f"plan for {summary.dataset} -> {out_root}"]
    lines += [f"  {note}" for note in plan.notes]
    lines += [f"  warning: {warning}" for warning in plan.warnings]
    groups = Counter(t.group for t in plan.tasks)
    pending = Counter(t.group for t in todo)
    width = max((len(g) for g in groups), default=0)
    for group in sorted(groups):
        lines.append(f"  {group:<{width}}  {groups[group]:>8,} tasks, {pending[group]:>8,} to do")
    for task in todo[:3]:
        lines.append(f"  e.g. {task.describe_inputs()} -> {', '.join(task.outputs)}")
    free = shutil.disk_usage(_existing_ancestor(out_root)).free
    lines.append(f"  disk: writes {_human(summary.bytes_needed)}, {_human(free)} free")
    lines += [f"  {line}" for line in fetching]
    return "\n".join(lines)


def _consume_sources(tasks: list[Task], out_root: Path, progress: Progress) -> int:
    """--move: deletes the extracted source files whose bytes now live on unchanged in an output (a hard
    link to them, or a copy with the same bytes across filesystems). A source that was converted (a
    frame resized, a map re-encoded) is kept: its output is not the same data, so nothing was moved."""
    consumed = 0
    archives = set()
    for task in tasks:
        for source in task.inputs:
            if isinstance(source, MemberSource):
                if not source.archive.remote:
                    archives.add(source.archive.parts[0])
            elif not isinstance(source, FileSource):
                continue  # a remote file (--raw URL) is never deleted
            elif _lives_on(source.path, [out_root / rel for rel in task.outputs]):
                os.unlink(source.path)
                consumed += 1
    if archives:
        progress.say(f"--move: archives are read, never deleted; remove them yourself if you wish: {sorted(archives)}")
    return consumed


def _lives_on(path: str, outputs: list[Path]) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    for output in outputs:
        try:
            out = os.stat(output)
        except FileNotFoundError:
            continue
        if (out.st_ino, out.st_dev) == (st.st_ino, st.st_dev):
            return True
        if out.st_size == st.st_size and atomic.file_digest(output) == atomic.file_digest(Path(path)):
            with open(path, "rb") as a, open(output, "rb") as b:  # the digest is a hint; the bytes decide
                if a.read() == b.read():
                    return True
    return False


def _write_failure_log(state_dir: Path, failures: list[TaskResult]) -> None:
    log = state_dir / "failures.log"
    if not failures:
        log.unlink(missing_ok=True)
        return
    text = "".join(f"{r.key}\n  {r.error}\n{r.detail}" for r in sorted(failures, key=lambda r: r.key))
    atomic.write_bytes(log, text.encode("utf-8"))


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


# --------------------------------------------------------------------------- scheduling

Item = tuple[Task, "dict[str, bytes] | None"]


class _Scheduler:
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
            self.bar.advance(1, self.failed, fetched=_human(remote.fetched_bytes()))
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
