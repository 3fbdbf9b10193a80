"""The Python API the command line wraps: prepare, verify, sample, demo."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segprep import datasets
from segprep.checks.findings import Report
from segprep.engine import atomic, runner
from segprep.engine import workerserver
from segprep.engine.executors import default_jobs
from segprep.engine.journal import changed_outputs
from segprep.engine.progress import Progress
from segprep.engine.runner import RunOptions, RunSummary
from segprep.engine.tasks import PLACEMENTS
from segprep.errors import SegprepError
from segprep.io import jsonio

STATE_FOLDER = ".segprep"  # under --data: journals, failure logs and verify results, one folder per dataset
VERIFY_RESULT = "verify.json"


def prepare(
    name: str,
    raw: str | Path,
    data: str | Path = "data",
    *,
    jobs: int | None = None,
    placement: str = "link",
    dry_run: bool = False,
    fail_fast: bool = False,
    quiet: bool = False,
    options: dict[str, Any] | None = None,
    scheduler: str | None = None,
    verbose: bool = False,
    remote: tuple[str, ...] | list[str] = (),
) -> RunSummary:
    """Builds ``data/<FOLDER>`` from the raw download in ``raw``; see ``RunSummary.ok``.

    ``raw``: a folder, or a URL (``s3://``, ``gs://``, ``https://``, ``file://``...) whose archives are read
    by byte ranges and whose files are read directly. ``remote``: homes (``cityscapes``, ``kitti``,
    ``coco``) where downloads missing from ``raw`` are read in place (see ``segprep.io.homes``).
    ``scheduler``: the address of a Dask scheduler to run the tasks on (shared storage needed).
    """
    from segprep.io import homes, remote as remote_io

    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}")
    recipe = datasets.get(name)
    options = {o.dest: o.default for o in recipe.OPTIONS} | dict(options or {})
    # Absolute paths: workers (other processes, other machines) may not share our working folder.
    data = Path(data).absolute()
    out_root = data / recipe.FOLDER
    progress = Progress(quiet)
    remote_io.forget_all()
    try:
        if homes.is_url(raw):
            progress.say(f"{name}: listing {raw} ...")
        raw = homes.open_raw(str(raw), data / STATE_FOLDER, [d.filename for d in recipe.DOWNLOADS])
        progress.say(f"{name}: looking for the download in {raw} ...")
        run_options = RunOptions(jobs or default_jobs(), placement, dry_run, fail_fast, quiet, scheduler, verbose)
        local_jobs = 1 if dry_run or scheduler else run_options.jobs
        workers = workerserver.serving(local_jobs, recipe.COMPILED_CODECS)
        with homes.activate(raw, list(remote), data / STATE_FOLDER), workers:
            plan = recipe.plan(raw, out_root, options)
            return runner.run(plan, name, out_root, data / STATE_FOLDER / name, run_options)
    finally:
        remote_io.forget_all()


@dataclass
class DatasetOutcome:
    name: str
    status: str  # "prepared", "failed", "skipped"
    detail: str = ""
    summary: RunSummary | None = None


def inventory(raw: str | Path, state: str | Path | None = None) -> dict[str, list]:
    """For every dataset: its downloads found, missing or wrong in ``raw`` (see ``segprep.inventory``); ``raw``
    may be a URL (its index goes to ``state``, a temporary folder by default)."""
    import tempfile

    from segprep import inventory as inv
    from segprep.io import remote as remote_io

    with tempfile.TemporaryDirectory(prefix="segprep-list-") as scratch:
        try:
            root = _raw_root(raw, Path(state) if state else Path(scratch))
            return {name: inv.inspect(recipe(), root) for name, recipe in datasets.registry().items()}
        finally:
            remote_io.forget_all()


def _raw_root(raw: str | Path, state: Path) -> Path:
    """``raw`` as a folder to inspect: a URL gives its index of placeholders (every recipe's download names
    are looked up on a web server)."""
    from segprep.io import homes

    if not homes.is_url(raw):
        return Path(raw)
    names = sorted({d.filename for recipe in datasets.registry().values() for d in recipe.DOWNLOADS})
    return homes.open_raw(str(raw), state, names)


def prepare_all(raw: str | Path, data: str | Path = "data", *, quiet: bool = False, **kw) -> list[DatasetOutcome]:
    """Prepares every dataset whose downloads are complete in ``raw`` (or ``raw/<name>``), one after the other;
    ``raw`` may be a URL, as for ``prepare``.

    A failure in one dataset does not stop the others.
    """
    from segprep import inventory as inv
    from segprep.io import homes

    progress = Progress(quiet)
    outcomes = []
    root = _raw_root(raw, Path(data).absolute() / STATE_FOLDER)
    inspected = {name: inv.inspect(recipe(), root) for name, recipe in datasets.registry().items()}
    for name, recipe in datasets.registry().items():
        found = inspected[name]
        if not inv.complete(found):
            problems = "; ".join(f"{f.download.filename} {f.status}" for f in found if f.status != "found")
            outcomes.append(DatasetOutcome(name, "skipped", problems))
            continue
        progress.say(f"== {name}")
        where = inv.dataset_raw(root, recipe)
        if homes.is_url(raw):
            where = str(raw).rstrip("/") + (f"/{recipe.NAME}" if where != root else "")
        try:
            summary = prepare(name, where, data, quiet=quiet, **kw)
        except SegprepError as exc:
            outcomes.append(DatasetOutcome(name, "failed", str(exc)))
            continue
        status = "prepared" if summary.ok else "failed"
        detail = f"{summary.written:,} written, {summary.skipped:,} skipped, {len(summary.failures):,} failed"
        outcomes.append(DatasetOutcome(name, status, detail, summary))
    return outcomes


def verify(name: str, data: str | Path = "data", *, official: bool = False, jobs: int | None = None,
           quiet: bool = False) -> Report:
    recipe = datasets.get(name)
    out_root = Path(data) / recipe.FOLDER
    report = Report(name)
    if not out_root.is_dir():
        report.fail("layout", str(out_root), f"not prepared yet: run `segprep prepare {name} --raw DIR --data {data}`")
        return report
    recipe.verify(out_root, report, official, jobs or default_jobs(), Progress(quiet))
    state = Path(data) / STATE_FOLDER / name
    # Whatever the recipe's own checks can see, an output edited after prepare wrote it is named.
    # A file the recipe's checks already named (its own stray-file rule, a truncated map) is not named twice.
    named = {f.path for f in report.findings}
    report.checked("unchanged since prepare")
    for rel, why in changed_outputs(state / "journal.jsonl", out_root):
        if rel not in named:
            report.fail("unchanged since prepare", rel, why)
    saved = state / VERIFY_RESULT
    atomic.write_bytes(saved, jsonio.dumps(report.to_json() | {"official": official}))
    return report


def last_verify(name: str, data: str | Path) -> Report | None:
    """The result of the last ``verify`` of ``name``, if no ``prepare`` ran after it."""
    state = Path(data) / STATE_FOLDER / name
    saved, journal = state / VERIFY_RESULT, state / "journal.jsonl"
    if not saved.is_file() or (journal.is_file() and journal.stat().st_mtime_ns > saved.stat().st_mtime_ns):
        return None
    return Report.from_json(json.loads(saved.read_bytes()))


def sample(name: str, out: str | Path, *, options: dict[str, Any] | None = None, jobs: int | None = None) -> Path:
    recipe = datasets.get(name)
    options = {o.dest: o.default for o in recipe.SAMPLE_OPTIONS} | dict(options or {})
    out = Path(out)
    recipe.sample(out, options, jobs or default_jobs())
    return out


def report_html(data: str | Path = "data", out: str | Path = "report", *, names: list[str] | None = None,
                jobs: int | None = None, quiet: bool = False, reverify: bool = False) -> Path:
    """Writes the HTML report of every prepared dataset under ``data`` (or ``names``); returns index.html.

    Findings come from the last ``verify`` when no ``prepare`` ran since (verifying a full dataset
    can take much longer than drawing its report), else ``verify`` runs now; ``reverify`` forces it.
    """
    from segprep.report.page import write_report

    data, out = Path(data).absolute(), Path(out).absolute()
    jobs = jobs or default_jobs()
    progress = Progress(quiet)
    sections, reports = [], {}
    with workerserver.serving(jobs):  # one worker server for the sections and verifies of every dataset
        for name, recipe_class in datasets.registry().items():
            if names is not None and name not in names:
                continue
            if not (data / recipe_class.FOLDER).is_dir():
                continue
            progress.say(f"report: {name}")
            sections.append(_report_section(recipe_class, data, jobs, progress))
            saved = None if reverify else last_verify(name, data)
            reports[name] = saved if saved is not None else verify(name, data, jobs=jobs, quiet=quiet)
    return write_report(sections, reports, out, data)


def _report_section(recipe_class, data: Path, jobs: int, progress: Progress):
    """The recipe's report view; when the data is too damaged to draw (a truncated map among the frames
    shown), a section that says so: the page is still written, with verify's findings naming the files."""
    from segprep.report.model import ReportSection

    try:
        return recipe_class().report_section(data / recipe_class.FOLDER, jobs, progress)
    except Exception as exc:  # any damage at all: the report exists to show it, never to abort on it
        return ReportSection(recipe_class.NAME, recipe_class.FOLDER, recipe_class.TITLE, [], notes=[
            f"counts and pictures could not be drawn: {type(exc).__name__}: {exc}. "
            "The findings of verify below name every damaged file; fix them (rerun prepare) and report again."])


def download(name: str, raw: str | Path, *, use_tool: bool = False, quiet: bool = False, **kw) -> list:
    """Fetches the public downloads of ``name`` into ``raw``; describes the others. See ``downloads``."""
    from segprep import downloads

    return downloads.download(datasets.get(name), Path(raw), use_tool=use_tool, quiet=quiet, **kw)


def demo(directory: str | Path = "demo", *, jobs: int | None = None, quiet: bool = False) -> bool:
    """sample -> prepare all -> verify -> report, in ``directory``; True when everything passed."""
    directory = Path(directory)
    progress = Progress(quiet)
    with workerserver.serving(jobs or default_jobs()):  # one worker server for every step of the demo
        for name in datasets.registry():
            progress.say(f"== {name}: writing a sample download to {directory / 'raw' / name}")
            sample(name, directory / "raw" / name, jobs=jobs)
        outcomes = prepare_all(directory / "raw", directory / "data", jobs=jobs, quiet=quiet)
        ok = all(o.status == "prepared" for o in outcomes)
        for outcome in outcomes:
            progress.say(f"{outcome.name}: {outcome.status} ({outcome.detail})")
            report = verify(outcome.name, directory / "data", jobs=jobs, quiet=quiet)
            progress.say(report.table())
            ok = ok and report.ok
        index = report_html(directory / "data", directory / "report", jobs=jobs, quiet=quiet)
    progress.say(f"report: {index}")
    progress.say(f"demo {'passed' if ok else 'FAILED'}: prepared data in {directory / 'data'}")
    return ok
