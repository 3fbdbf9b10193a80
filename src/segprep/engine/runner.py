"""Runs a plan: skip what the journal proves done, run the rest on an executor, finalize, summarize.

The runner knows nothing about datasets. It keeps the engine's promises: every task's result is
journaled as it arrives (so a killed run resumes), a failed task is reported with its input and
never hides the others, work is fed to the pool in bounded batches (memory stays flat), members
of archives that can only be read in one pass are streamed once in archive order, and ``--move``
consumes the sources only after everything is written.
"""

from __future__ import annotations

import fcntl
import filecmp
import os
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segprep.engine import atomic
from segprep.engine.executors import make_executor
from segprep.engine.finalize import FinalizeContext  # noqa: F401 (recipes import it from here too)
from segprep.engine.journal import FINALIZE_KEY, Journal, JournalEntry, outputs_intact, shape_id
from segprep.engine.progress import Progress
from segprep.engine.scheduling import Scheduler
from segprep.engine.tasks import Placement, Task, TaskResult
from segprep.engine.worker import WorkerConfig
from segprep.errors import NotEnoughSpace, SegprepError
from segprep.io import remote
from segprep.io.remote import human as _human  # one way to print byte counts
from segprep.io.sources import FileSource, MemberSource, is_remote, remote_wants


@dataclass
class RunOptions:
    jobs: int = 1
    placement: Placement = "link"
    dry_run: bool = False
    fail_fast: bool = False
    quiet: bool = False
    scheduler: str | None = None  # a Dask scheduler address: run the tasks on that cluster
    verbose: bool = False  # finalize's statistics in full


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
                summary.not_run = Scheduler(executor, config, bar, on_result, options.fail_fast).run(todo)
        if plan.finalize is not None and not summary.not_run:
            # Also after failures: what does not depend on a failed task is still written
            # (the recipe withholds the aggregates that do, and says so).
            failed = {r.key for r in summary.failures}
            fctx = FinalizeContext(out_root, plan.tasks, extras, progress.say, failed, options.verbose)
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
        if out.st_size == st.st_size and filecmp.cmp(path, output, shallow=False):  # a copy across filesystems
            return True
    return False


def _write_failure_log(state_dir: Path, failures: list[TaskResult]) -> None:
    log = state_dir / "failures.log"
    if not failures:
        log.unlink(missing_ok=True)
        return
    text = "".join(f"{r.key}\n  {r.error}\n{r.detail}" for r in sorted(failures, key=lambda r: r.key))
    atomic.write_bytes(log, text.encode("utf-8"))
