"""The engine's promises, checked for every registered recipe on its own `segprep sample`.

A recipe is covered the day it is registered: every test here is parametrised over
``datasets.registry()``. Each recipe's sample is prepared twice per session, from the archives and
from the same download extracted (hard links), and each test works on copies or fresh folders.
The heaviest cases (SIGKILL at several points) are marked ``heavy``: ``pytest -m "not heavy"``
skips them locally; CI runs everything.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import kill_part_way, tree_bytes
from rawcopy import extract_all, is_archive
from segprep import api, datasets
from segprep.cli import main
from segprep.engine import workerserver
from segprep.engine.atomic import TMP_MARK

RECIPES = list(datasets.registry())
STATE = api.STATE_FOLDER


# ---------------------------------------------------------------------------- fixtures


class Case:
    """One recipe's sample: raw (archives), extracted, and a clean prepare of each."""

    def __init__(self, name: str, root: Path):
        self.name = name
        self.recipe = datasets.get(name)
        self.folder = self.recipe.FOLDER
        # a sample option named like an output-shaping option provides the download that option reads
        shaping = {o.name: o for o in self.recipe.OPTIONS if o.shapes_output}
        self.sample_options = {o.dest: True if o.flag else shaping[o.name].example
                               for o in self.recipe.SAMPLE_OPTIONS if o.name in shaping}
        self.raw = api.sample(name, root / "raw", jobs=2, options=self.sample_options)
        self.extracted = extract_all(self.raw, root / "extracted")
        self.data = root / "data"
        self.summary = api.prepare(name, self.raw, self.data, jobs=2, quiet=True)
        assert self.summary.ok, self.summary.failures
        self.tree = outputs(self.data / self.folder)
        self.data_x = root / "data_x"
        summary = api.prepare(name, self.extracted, self.data_x, jobs=2, quiet=True)
        assert summary.ok, summary.failures
        assert outputs(self.data_x / self.folder) == self.tree, "archives and extracted folders give other bytes"

    def prepare(self, data: Path, raw: Path | None = None, **kw):
        return api.prepare(self.name, raw or self.raw, data, jobs=kw.pop("jobs", 2), quiet=True, **kw)

    def cli(self, *args: str) -> list[str]:
        return ["prepare", self.name, "--quiet", *args]


@pytest.fixture(scope="session", params=RECIPES)
def case(request, tmp_path_factory) -> Case:
    return Case(request.param, tmp_path_factory.mktemp(request.param))


def outputs(root: Path) -> dict[str, bytes]:
    return tree_bytes(root) if root.exists() else {}


def stats(root: Path) -> dict[str, tuple]:
    """Every file under root: (size, inode, mtime_ns, bytes): a rewrite with the same bytes shows."""
    out = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            st = path.stat()
            out[path.relative_to(root).as_posix()] = (st.st_size, st.st_ino, st.st_mtime_ns, path.read_bytes())
    return out


def temporaries(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if TMP_MARK in p.name)


def copy_data(case: Case, to: Path) -> Path:
    shutil.copytree(case.data, to, copy_function=shutil.copy2)
    return to


# ---------------------------------------------------------------------------- rerun, dry run, resume


def test_a_rerun_rewrites_nothing_and_says_everything_was_skipped(case):
    for data in (case.data, case.data_x):  # from archives, and from extracted files (hard links)
        before = stats(data / case.folder)
        summary = case.prepare(data, case.raw if data == case.data else case.extracted)
        assert summary.ok and summary.written == 0 and summary.skipped == summary.planned
        assert summary.finalized == [], f"finalize rewrote {summary.finalized}"
        assert stats(data / case.folder) == before
        assert temporaries(data) == []


def test_dry_run_writes_nothing_on_an_empty_or_half_prepared_folder(case, tmp_path):
    empty = tmp_path / "empty"
    summary = case.prepare(empty, dry_run=True)
    assert summary.dry_run and summary.planned > 0
    assert not empty.exists() or not any(empty.rglob("*"))
    half = copy_data(case, tmp_path / "half")
    files = sorted(p for p in (half / case.folder).rglob("*") if p.is_file())
    for path in files[::2]:
        path.unlink()
    before = stats(half)
    summary = case.prepare(half, dry_run=True)
    assert summary.skipped < summary.planned
    assert stats(half) == before


def test_journal_deleted_or_option_changed_and_back_ends_with_the_same_tree(case, tmp_path):
    data = tmp_path / "data"
    assert case.prepare(data, case.extracted).ok
    (data / STATE / case.name / "journal.jsonl").unlink()
    assert case.prepare(data, case.extracted).ok
    assert temporaries(data) == [] and outputs(data / case.folder) == case.tree
    shaping = [o for o in case.recipe.OPTIONS if o.shapes_output]
    for option in shaping:
        other = True if option.flag else option.example
        assert other is not None, f"{case.name}: give --{option.name} an example value (Option.example)"
        changed = case.prepare(data, case.extracted, options={option.dest: other})
        assert changed.ok and changed.written > 0, f"--{option.name} {other} changed nothing"
        back = case.prepare(data, case.extracted)
        assert back.ok and temporaries(data) == []
        assert outputs(data / case.folder) == case.tree, f"--{option.name} changed and back: other bytes"


def test_the_download_is_left_as_it_was_and_move_consumes_only_after_every_output(case, tmp_path):
    for raw in (case.raw, case.extracted):  # read in place (archives) or hard-linked (extracted): untouched
        before = {rel: (st[0], st[2], st[3]) for rel, st in stats(raw).items()}  # size, mtime, bytes
        assert case.prepare(tmp_path / f"data-{raw.name}", raw).ok
        assert {rel: (st[0], st[2], st[3]) for rel, st in stats(raw).items()} == before
    moved = tmp_path / "moved-raw"
    shutil.copytree(case.extracted, moved)
    summary = case.prepare(tmp_path / "data-move", moved, placement="move")
    assert summary.ok and outputs(tmp_path / "data-move" / case.folder) == case.tree
    source = tree_bytes(case.extracted)
    gone = sorted(set(source) - set(tree_bytes(moved)))
    assert len(gone) == summary.consumed
    placed = set(case.tree.values())
    assert all(source[rel] in placed for rel in gone), "--move consumed a file whose bytes are not an output"


def test_a_second_prepare_of_the_same_dataset_and_folder_is_refused_while_one_runs(case, tmp_path, capsys):
    import fcntl

    state = tmp_path / "data" / STATE / case.name
    state.mkdir(parents=True)
    with open(state / "lock", "a") as held:  # what a running prepare holds
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(case.cli("--raw", str(case.raw), "--data", str(tmp_path / "data"))) == 2
    assert "is locked" in capsys.readouterr().err
    assert outputs(tmp_path / "data" / case.folder) == {}


def test_one_job_gives_the_same_bytes_as_the_default(case, tmp_path):
    assert case.prepare(tmp_path / "data", jobs=1).ok
    assert outputs(tmp_path / "data" / case.folder) == case.tree


@pytest.mark.heavy
def test_a_run_killed_anywhere_resumes_to_the_same_bytes(case, tmp_path):
    """SIGKILL of the whole process group after a seeded number of outputs, and inside finalize."""
    finalized = set(case.tree) - {rel for t in case.recipe.plan(case.raw, case.data / case.folder,
                                                                  _defaults(case)).tasks for rel in t.outputs}
    rng = random.Random(f"{case.name}/kill")
    points = [("tasks", rng.randint(1, max(1, len(case.tree) - len(finalized) - 1)))]
    if finalized:  # every task output there: finalize is next (each of its writes waits 1 s first)
        points.append(("finalize", len(case.tree) - len(finalized)))
    for label, files in points:
        data = tmp_path / label
        cmd = [sys.executable, "-m", "segprep", *case.cli("--raw", str(case.raw), "--data", str(data), "--jobs", "2")]
        kill_part_way(cmd, data / case.folder, files, delay_ms=150 if label == "tasks" else 0, timeout=90,
                      extra_env={"SEGPREP_FINALIZE_DELAY_MS": "1000"}, settle=0.3 if label == "finalize" else 0.0)
        if label == "finalize":  # the kill landed inside finalize: some aggregates are not there yet
            assert set(outputs(data / case.folder)) != set(case.tree), "finalize had finished: kill came too late"
        assert case.prepare(data).ok
        assert outputs(data / case.folder) == case.tree, f"killed at {label} ({files} files): other bytes"
        assert temporaries(data) == []


def _defaults(case: Case) -> dict:
    return {o.dest: o.default for o in case.recipe.OPTIONS}


# ---------------------------------------------------------------------------- bad input


_opened: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], str):
        _opened.append(args[0])


sys.addaudithook(_audit)


def _input_kinds(case: Case) -> dict[str, Path]:
    """One extracted input file per kind (extension) the recipe reads, the first in sorted order: files
    its tasks read, and files its plan opens (an annotation json that lists the frames)."""
    global _opened
    _opened = []
    try:
        plan = case.recipe.plan(case.extracted, case.data / case.folder, _defaults(case))
        read = set(_opened)
    finally:
        _opened = None
    read |= {s.describe() for t in plan.tasks for s in t.inputs}
    kinds: dict[str, Path] = {}
    for path in sorted(p for p in case.extracted.rglob("*") if p.is_file() and str(p) in read):
        kind = path.suffix.lower()
        if kind in (".jpg", ".jpeg", ".png", ".json") and kind not in kinds:
            kinds[kind] = path
    return kinds


def test_a_truncated_input_of_each_kind_is_named_and_the_rest_is_written(case, tmp_path, capsys):
    kinds = _input_kinds(case)
    assert kinds, f"{case.name}: no input file found to damage"
    for kind, victim in sorted(kinds.items()):
        raw = tmp_path / f"raw{kind}"
        shutil.copytree(case.extracted, raw)
        target = raw / victim.relative_to(case.extracted)
        target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 3)])
        data = tmp_path / f"data{kind}"
        code = main(case.cli("--raw", str(raw), "--data", str(data)))
        text = "".join(capsys.readouterr())
        assert code in (1, 2), f"{kind}: a truncated {target.name} gave exit {code}"
        assert str(target) in text or target.name in text, f"{kind}: {target} is not named:\n{text[-2000:]}"
        written = outputs(data / case.folder)
        if code == 2:  # read while planning (a json that lists the frames): nothing started
            assert written == {}, f"{kind}: exit 2 but files were written"
            continue
        for rel, data_bytes in written.items():
            assert case.tree.get(rel) == data_bytes, f"{kind}: {rel} written with other bytes"
        plan = case.recipe.plan(raw, data / case.folder, _defaults(case))
        needing = {rel for t in plan.tasks if any(s.describe() == str(target) for s in t.inputs) for rel in t.outputs}
        task_outputs = {rel for t in plan.tasks for rel in t.outputs}
        missing = set(case.tree) - set(written) - needing
        unexplained = {rel for rel in missing if rel in task_outputs or f"{rel} not written" not in text}
        assert not unexplained, f"{kind}: outputs that do not need {target.name} are missing: {sorted(unexplained)[:5]}"
        assert temporaries(data) == []


HOSTILE = [("../escaped.txt", b"x"), ("/tmp/segprep-absolute.txt", b"x"), ("link-out", "../../outside")]


def _zip_with(data: bytes, name: str, payload) -> bytes:
    """The zip ``data`` with one more member (a symbolic link when ``payload`` is its target text)."""
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as zf:
        info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
        if isinstance(payload, str):  # mode in the high bits of the external attributes, target as content
            info.external_attr, info.create_system = 0o120777 << 16, 3
        zf.writestr(info, payload)
    return buffer.getvalue()


def _tar_with(data: bytes, name: str, payload, gz: bool) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        info = tarfile.TarInfo(name)
        if isinstance(payload, str):
            info.type, info.linkname = tarfile.SYMTYPE, payload
            dst.addfile(info)
        else:
            info.size = len(payload)
            dst.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def _nested_zip_with(data: bytes, name: str, payload) -> bytes:
    """The zip ``data`` with the hostile member put inside its first inner zip (COCO's panoptic PNG zips)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        inner = next(i.filename for i in src.infolist() if i.filename.endswith(".zip"))
        for info in src.infolist():
            body = src.read(info)
            dst.writestr(info, _zip_with(body, name, payload) if info.filename == inner else body)
    return out.getvalue()


def _archive_kinds(raw: Path) -> dict[str, list[Path]]:
    """kind -> the files of one archive of that kind in the sample (several for a split tar)."""
    kinds: dict[str, list[Path]] = {}
    parts = sorted(p for p in raw.iterdir() if p.is_file() and is_archive(p.name) and ".tar_" in p.name)
    if parts:
        kinds["split tar"] = parts
    for path in sorted(p for p in raw.iterdir() if p.is_file()):
        if path.name.endswith(".zip"):
            kinds.setdefault("zip", [path])
            with zipfile.ZipFile(path) as zf:
                if any(n.endswith(".zip") for n in zf.namelist()):
                    kinds.setdefault("nested zip", [path])
        elif path.name.endswith((".tar.gz", ".tgz")):
            kinds.setdefault("tar.gz", [path])
        elif path.name.endswith(".tar"):
            kinds.setdefault("tar", [path])
    return kinds


def _plant_hostile(kind: str, files: list[Path], name: str, payload, raw: Path) -> None:
    data = b"".join(f.read_bytes() for f in files)
    if kind == "zip":
        data = _zip_with(data, name, payload)
    elif kind == "nested zip":
        data = _nested_zip_with(data, name, payload)
    else:
        data = _tar_with(data, name, payload, gz=kind == "tar.gz")
    sizes = [f.stat().st_size for f in files[:-1]]  # a split tar is cut again at the same places
    start = 0
    for path, size in zip(files, sizes + [len(data)]):
        (raw / path.name).write_bytes(data[start:start + size])
        start += size


def test_a_hostile_archive_member_is_refused_and_named(case, tmp_path, capsys):
    kinds = _archive_kinds(case.raw)
    if not kinds:
        pytest.skip(f"{case.name}: the sample has no archive")
    for kind, files in sorted(kinds.items()):
        for k, (name, payload) in enumerate(HOSTILE):
            raw = tmp_path / f"raw-{kind}-{k}".replace(" ", "-")
            shutil.copytree(case.raw, raw)
            _plant_hostile(kind, files, name, payload, raw)
            data = tmp_path / f"data-{kind}-{k}".replace(" ", "-")
            code = main(case.cli("--raw", str(raw), "--data", str(data)))
            text = "".join(capsys.readouterr())
            assert code == 2, f"{kind} {files[0].name} with member {name!r}: exit {code}\n{text[-1500:]}"
            assert name in text, f"{kind} {files[0].name}: the member {name!r} is not named:\n{text[-1500:]}"
            assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/segprep-absolute.txt").exists()
            assert outputs(data / case.folder) == {}, f"{kind}: outputs written although the archive is refused"


# ---------------------------------------------------------------------------- verify and report


def _label_outputs(case: Case) -> dict[str, str]:
    """One output per kind of label map the recipe declares: pattern -> relative path."""
    import fnmatch

    found = {}
    for pattern in case.recipe.LABEL_OUTPUTS:
        matches = sorted(rel for rel in case.tree if fnmatch.fnmatch(rel, pattern))
        assert matches, f"{case.name}: LABEL_OUTPUTS pattern {pattern} matches no output"
        found[pattern] = matches[len(matches) // 2]
    return found


def _wrong_pixel(path: Path) -> None:
    """One pixel in the middle moved to a neighbouring value, the file saved again in its mode."""
    with Image.open(path) as image:
        image.load()
        mode, palette = image.mode, image.getpalette() if image.mode == "P" else None
        array = np.array(image)
    y, x = array.shape[0] // 2, array.shape[1] // 2
    top = int(np.iinfo(array.dtype).max)
    moved = [v + 1 if v < top else v - 1 for v in np.atleast_1d(array[y, x]).tolist()]
    array[y, x] = moved if array.ndim == 3 else moved[0]
    out = Image.fromarray(array, mode) if mode in ("P", "L", "RGB") else Image.fromarray(array)
    if palette is not None:
        out.putpalette(palette)
    out.save(path, format="PNG")


def _wrong_numbers(text: str) -> list[str]:
    """The json with one number changed by 17: its first number (a size or an id in the header), and the
    middle occurrence of its most frequent numeric field (an area or a box deep in the annotations)."""
    import re

    found = list(re.finditer(r'"(\w+)":\s*\[?\s*(\d{2,})(?=[,\]}\s])', text))
    if not found:
        return []
    by_key: dict[str, list] = {}
    for match in found:
        by_key.setdefault(match.group(1), []).append(match)
    common = max(by_key.values(), key=len)
    picks = {found[0].start(2): found[0], common[len(common) // 2].start(2): common[len(common) // 2]}
    return [text[: m.start(2)] + str(int(m.group(2)) + 17) + text[m.end(2):] for _, m in sorted(picks.items())]


def _written_by_prepare(case: Case) -> set[str]:
    from segprep.engine.journal import Journal

    journal = Journal(case.data / STATE / case.name / "journal.jsonl")
    linked = {o.path for key in journal.entries for o in journal.get(key).outputs if o.digest is None}
    return set(case.tree) - linked


def test_verify_passes_then_names_each_planted_defect(case, tmp_path):
    data = copy_data(case, tmp_path / "data")
    report = api.verify(case.name, data, jobs=2, quiet=True)
    assert report.ok, report.table()
    root = data / case.folder
    plants: list[tuple[str, callable]] = []
    some_dir = sorted({Path(rel).parent for rel in case.tree})[-1]
    plants.append((f"{some_dir}/stray.txt", lambda p: p.write_bytes(b"not an output")))
    by_kind = {}
    for rel in sorted(case.tree):
        by_kind.setdefault(Path(rel).suffix, rel)
    for suffix, rel in sorted(by_kind.items()):
        plants.append((rel, lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])))
    written = _written_by_prepare(case)  # a hard link to the download has no hash to compare with
    for rel in _label_outputs(case).values():
        plants.append((rel, _wrong_pixel))
    for rel in sorted(r for r in case.tree if r.endswith(".json") and r in written):
        for k, text in enumerate(_wrong_numbers(case.tree[rel].decode("utf-8"))):
            plants.append((rel, lambda p, text=text: p.write_text(text)))
    with workerserver.serving(2):  # one warmed-up worker server for the many verify runs below
        for rel, plant in plants:
            shutil.rmtree(data)
            copy_data(case, data)
            target = root / rel
            plant(target)
            report = api.verify(case.name, data, jobs=2, quiet=True)
            named = [f for f in report.findings if Path(rel).name in f.path or Path(rel).name in f.message]
            assert not report.ok and named, f"verify missed the defect planted in {rel}:\n{report.table()}"


def test_report_renders_a_tree_with_planted_defects_and_lists_them(case, tmp_path):
    data = copy_data(case, tmp_path / "data")
    root = data / case.folder
    import fnmatch

    patterns = case.recipe.LABEL_OUTPUTS[:1] or ("*",)  # every map of one kind: the report draws some of them
    victims = sorted(rel for rel in case.tree if fnmatch.fnmatch(rel, patterns[0]))
    for rel in victims:
        path = root / rel
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    (root / "stray.txt").write_bytes(b"x")
    index = api.report_html(data, tmp_path / "report", names=[case.name], jobs=2, quiet=True, reverify=True)
    page = index.read_text()
    for rel in victims + ["stray.txt"]:
        assert Path(rel).name in page, f"the report does not list {rel}"
