"""What the VIPSeg and VSPW recipes share: the same videos, split lists and Pillow-exact resize rule.

Both official conversions (VIPSeg's ``change2_720p.py``, VSPW's ``change2_480p.py``) open every
frame with Pillow, make its **height** the target (width ``int(H*w/h)``: portrait frames stay
portrait, small frames are upscaled), resize the image BILINEAR and save it with Pillow's default
JPEG quality (75), and resize the mask NEAREST to the image's new size. Both downloads list their
videos in ``train.txt``, ``val.txt`` and ``test.txt`` (one id per line; the line order numbers the
videos for the training code, so the files are copied byte for byte).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from segprep.checks.findings import Report
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput
from segprep.io.archives import Archive, archive_kind, find_archive, iter_members
from segprep.io.images import JpegInfo, resize_jpeg
from segprep.io.sources import FileSource, MemberSource, Source, SourceReader

SPLITS = ("train", "val", "test")
DEFAULT_QUALITY = 75  # Pillow's default, what the official scripts' img.save() uses
_PART = re.compile(r"^(.*)[._][a-z]{2}$")  # VSPW_data.tar_aa -> VSPW_data.tar


def height_target(size: tuple[int, int], height: int) -> tuple[int, int]:
    """(width, height) after the official scripts' resize: ``(int(height*w/h), height)``."""
    w, h = size
    return int(height * w / h), height


# ---------------------------------------------------------------------- finding inputs


def subdirs(folder: Path | str) -> list[os.DirEntry]:
    """The visible sub-folders of ``folder``, sorted by name; none when it is not a readable folder."""
    try:
        return sorted((e for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")),
                      key=lambda e: e.name)
    except (NotADirectoryError, PermissionError, FileNotFoundError):
        return []


def named_archives(raw: Path, name: re.Pattern) -> list[Archive]:
    """Archives in ``raw`` and its sub-folders whose file name matches ``name`` (``VIPSeg.zip``...);
    a split archive (``VSPW_data.tar_aa``, ``_ab``...) is one archive of its parts, in order."""
    found = []
    for folder in [raw] + [Path(e.path) for e in subdirs(raw)]:
        bases: set[str] = set()
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if not entry.is_file():
                continue
            if name.match(entry.name) and archive_kind(entry.name):
                bases.add(entry.name)
            else:
                part = _PART.match(entry.name)
                if part and name.match(part.group(1)) and archive_kind(part.group(1)):
                    bases.add(part.group(1))
        for base in sorted(bases):
            archive = find_archive(folder, base)
            if archive is not None:
                found.append(archive)
    return found


# ---------------------------------------------------------------------- split files


def parse_split(data: bytes, name: str) -> list[str]:
    """The video ids of a split file; refuses anything that is not a list of plain ids."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{name} is not a text file") from None
    videos = [line.strip() for line in text.splitlines() if line.strip()]
    for video in videos:
        if "/" in video or "\\" in video or video in (".", ".."):
            raise BadInput(f"{name}: '{video}' is not a video id")
    return videos


def read_source(source: Source) -> bytes:
    """The bytes of a small input while planning (a member of a one-pass archive costs a pass)."""
    reader = SourceReader()
    try:
        if isinstance(source, MemberSource) and source.sequential:
            return dict(iter_members(source.archive, [source.member.name]))[source.member.name]
        return reader.read(source)
    finally:
        reader.close()


def read_split(source: Source) -> list[str]:
    return parse_split(read_source(source), source.describe())


def read_split_lists(sources: dict[str, Source]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The video lists of the split files, and video -> split; a video listed in two splits is refused."""
    lists = {split: read_split(source) for split, source in sources.items()}
    split_of: dict[str, str] = {}
    for split, videos in lists.items():
        for video in videos:
            if video in split_of:
                raise BadInput(f"video {video} is listed in both {split_of[video]}.txt and {split}.txt")
            split_of[video] = split
    return lists, split_of


def check_split_files(root: Path, report: Report) -> dict[str, list[str]]:
    """verify: the three split files are there with LF line endings; returns their video lists."""
    lists: dict[str, list[str]] = {}
    for split in SPLITS:
        path = root / f"{split}.txt"
        report.checked("split files")
        if not path.is_file():
            report.fail("split files", f"{split}.txt", "missing")
            continue
        data = path.read_bytes()
        if b"\r" in data:
            report.fail("split files", f"{split}.txt", "CRLF line endings (the loaders would read ids ending in \\r)")
        lists[split] = parse_split(data, f"{split}.txt")
    return lists


def stems_and_strays(folder: Path, suffix: str) -> tuple[list[str], list[str]]:
    """Sorted stems of the ``*suffix`` files in ``folder``, and the names of everything else there."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return [], []
    stems = [name[: -len(suffix)] for name in names if name.endswith(suffix)]
    return stems, [name for name in names if not name.endswith(suffix)]


def listed_stems(folder: Path, suffix: str, report: Report) -> list[str]:
    """``stems_and_strays`` that reports each stray file."""
    stems, strays = stems_and_strays(folder, suffix)
    for name in strays:
        report.fail("layout", os.path.join(folder.parent.name, folder.name, name), f"stray file (not *{suffix})")
    return stems


# ---------------------------------------------------------------------- actions (run in workers)


def place_split_file(ctx: TaskContext, task: Task) -> None:
    ctx.place(task.inputs[0], task.outputs[0], check=parse_split)


def put_unchanged(ctx: TaskContext, source: Source, rel: str, data: bytes) -> None:
    """Unchanged bytes: a file is linked (or copied); an archive member's bytes, already read, are written."""
    if isinstance(source, FileSource):
        ctx.place(source, rel)
    else:
        ctx.write_bytes(rel, data)


def write_image(ctx: TaskContext, source: Source, rel: str, data: bytes, info: JpegInfo,
                target: tuple[int, int], quality: int) -> None:
    """The frame at ``target`` size: resized as the official scripts do, or, already that size, unchanged."""
    if (info.width, info.height) == tuple(target):
        put_unchanged(ctx, source, rel, data)
    else:
        ctx.write_bytes(rel, resize_jpeg(data, source.describe(), target, quality))
