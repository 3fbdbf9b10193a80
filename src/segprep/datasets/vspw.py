"""VSPW -> ``data/vspw/`` as Tube-Link (``data_root='data/vspw'``) and DVIS (``VSPW_480p``) read it.

What the official ``change2_480p.py`` (sssdddwww2/CVPR2021_VSPW_Implement) does, on every core:
every frame of ``data/{video}/origin/`` is resized with Pillow so that its *height* becomes 480
(width ``int(480*w/h)``) BILINEAR and saved as JPEG at Pillow's default quality 75; its mask, when
there is one, NEAREST to the same size, keeping the raw values (0 "others", 1-124 the classes, 255
void) in an 8-bit one-channel PNG. A frame already at the target size is linked, not re-encoded.
``--height 720`` makes them 720 high instead. The split files are copied byte for byte.

Inputs: the full download as one ``VSPW_data.tar`` or its parts ``VSPW_data.tar_aa``, ``_ab``...
(read in place, as one stream, never concatenated on disk), the extracted ``VSPW/`` tree, or the
official ``VSPW_480p`` download (already resized: linked). Frames found in several places are
taken from an extracted folder before an archive, and a damaged copy (0 bytes, truncated) is
passed over when an intact one exists: the replacement images the authors publish for clip
``988_f_Xvy_DCPt8`` are used by extracting them into ``--raw``. Damaged frames with no intact copy
fail their own task, named, with that advice; ``--skip-damaged`` leaves them out instead and lists
them in ``damaged_frames.txt``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.datasets.base import Download, Option, Recipe
from segprep.datasets.video_frames import (DEFAULT_QUALITY, SPLITS, check_split_files, height_target,
                                           named_archives, place_split_file, put_unchanged, read_source, read_split,
                                           read_split_lists, report_missing, stems_and_strays, subdirs)
from segprep.encodings import vspw as enc
from segprep.engine.malloc import tune_malloc
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput, MissingInput, SegprepError
from segprep.io.archives import list_members
from segprep.io.images import decode_png_fast, encode_png_fast, jpeg_info, png_info, resize_jpeg, resize_nearest
from segprep.io.sources import FileSource, MemberSource, Source
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced

LABELLED_SPLITS = ("train", "val")
TARGET_HEIGHT = 480  # change2_480p.py
PUBLISHED_VIDEOS = 3536  # VSPW paper abstract
PUBLISHED_FRAMES = 251_633
# sha256 of the sorted video ids of VSPW-dataset/VSPW-dataset-download vspw_videolist.txt, one per line
VIDEO_IDS_SHA256 = "b4756444a7caea226ff410830bf5e8e153a3865d98e1b44c2979df11cdfffe2f"
LABEL_TABLE = "label_num_dic_final.json"
DAMAGED_RECORD = "damaged_frames.txt"
DAMAGED_CLIP = "988_f_Xvy_DCPt8"  # "Some images from "988_f_Xvy_DCPt8" are damaged or incomplete with 0 byte"
PAGE = "https://github.com/VSPW-dataset/VSPW-dataset-download"
REPLACEMENT = ("Google Drive https://drive.google.com/file/d/1kuQksbhw_sgB5n6fKzts2G9KZn41-q_N or Baidu "
               "https://pan.baidu.com/s/1J6zxUm41Dd36YccYCLmycA (password ww7a)")

DOWNLOAD = Download(
    "VSPW_data.tar", "43 GB",
    f"{PAGE} (README: Google Drive as one file or 6 parts of 8 GB, or Baidu)",
    "VSPW/data/{video}/origin/{frame:08d}.jpg, VSPW/data/{video}/mask/{frame:08d}.png (train, val), "
    "VSPW/{train,val,test}.txt, VSPW/label_num_dic_final.json; the parts VSPW_data.tar_aa, _ab... are read as one "
    "archive without joining them, and the extracted VSPW/ folder is accepted too. Clip 988_f_Xvy_DCPt8 has "
    f"damaged frames: extract the authors' replacement images ({REPLACEMENT}) to VSPW/data/988_f_Xvy_DCPt8/origin/",
    extracted=("VSPW/data", "data"),
)
DOWNLOAD_480P = Download(
    "VSPW_480p.zip", "",
    f"{PAGE} (README: \"VSPW 480P download links\", Google Drive or Baidu)",
    "optional: the official download already resized to 480p (VSPW_480p/data/{video}/{origin,mask}/, split "
    "files), linked instead of resizing the full download when present (file name not published: any VSPW*.zip / "
    ".tar[.gz] with 480p in its name is searched, and an extracted VSPW_480p/ folder)",
    extracted=("VSPW_480p/data",), optional=True,
)

_ARCHIVE_NAME = re.compile(r"^vspw.*\.(zip|tar|tar\.gz|tgz)$", re.IGNORECASE)
_FRAME_MEMBER = re.compile(r"^(?:(.*)/)?([^/]+)/(origin|mask)/([^/]+)\.(jpg|png)$")
_TREE_FILE_MEMBER = re.compile(r"^(?:(.*)/)?(train\.txt|val\.txt|test\.txt|label_num_dic_final\.json)$")
_SUFFIX = {"origin": "jpg", "mask": "png"}
_STEM = re.compile(r"^\d+$")
_MAX_DEPTH = 5  # --raw/<at most two folders>/VSPW/data/<video>/origin

Key = tuple[str, str]  # (video, frame stem)


class Damaged(BadInput):
    """An input that is empty, truncated or cannot be decoded (``--skip-damaged`` may leave it out)."""


@dataclass
class _Tree:
    """One VSPW tree (a folder or an archive prefix): frames, masks and the files beside ``data/``."""

    name: str
    extracted: bool
    resized: bool  # the official VSPW_480p download
    images: dict[Key, Source] = field(default_factory=dict)
    masks: dict[Key, Source] = field(default_factory=dict)
    files: dict[str, Source] = field(default_factory=dict)  # train.txt, val.txt, test.txt, label_num_dic_final.json


class VSPW(Recipe):
    NAME = "vspw"
    FOLDER = "vspw"
    TITLE = "VSPW (video semantic segmentation, 124 classes)"
    VERSION = "1"
    LABEL_OUTPUTS = ("data/*/mask/*.png",)
    DOWNLOADS = (DOWNLOAD, DOWNLOAD_480P)
    OPTIONS = (
        Option("height", "frame height after resizing (width int(H*w/h)): 480 as change2_480p.py and the VSPW_480p "
               "download, or e.g. 720", TARGET_HEIGHT, int, example=360),
        Option("jpeg-quality", "JPEG quality of resized frames (75 = Pillow's default, as the official script)",
               DEFAULT_QUALITY, int, example=90),
        Option("skip-damaged", "leave out frames whose JPEG or mask is empty, truncated or undecodable (listed in "
               "damaged_frames.txt) instead of failing them", False, flag=True, shapes_output=False),
    )
    SAMPLE_OPTIONS = (
        Option("frames", "frames per video", 3, int),
        Option("extra-videos", "additional 1920x1080 train videos (for benchmarks)", 0, int),
        Option("parts", "parts the archive is split into (VSPW_data.tar_aa, _ab...)", 2, int),
        Option("without-replacement", "leave out the replacement images of 988_f_Xvy_DCPt8, so that its 0-byte frame "
               "reaches prepare", False, flag=True),
    )

    # ------------------------------------------------------------------ plan

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        height = int(options.get("height") or TARGET_HEIGHT)
        quality = int(options.get("jpeg_quality") or DEFAULT_QUALITY)
        if height < 1:
            raise SegprepError(f"--height {height}: must be positive")
        if not 1 <= quality <= 100:
            raise SegprepError(f"--jpeg-quality {quality}: choose 1-100")
        trees, notes = find_trees(raw)
        usable = [t for t in trees if not t.resized or height == TARGET_HEIGHT]
        if len(usable) < len(trees):
            notes.append(f"VSPW_480p frames are not used for --height {height} (they are already 480 high; the "
                         "full download is resized instead)")
        if not any(t.images for t in usable):
            hint = (" (only the VSPW_480p download is here: --height other than 480 needs the full download)"
                    if trees and any(t.images for t in trees) else "")
            raise MissingInput(f"no VSPW frames under {raw}{hint}. Expected:\n  - {DOWNLOAD.describe()}\n"
                               f"  - or {DOWNLOAD_480P.describe()}")
        split_sources = _split_sources(trees, raw)
        lists, seen = read_split_lists(split_sources)
        frames, replaced = pick_frames(usable, prefer_resized=height == TARGET_HEIGHT)
        notes += replaced
        params = {"height": height, "quality": quality}
        policy = {"skip_damaged": bool(options.get("skip_damaged"))}
        tasks = [Task(f"{split}.txt", place_split_file, (source,), (f"{split}.txt",), group="split files")
                 for split, source in split_sources.items()]
        label_table = next((t.files[LABEL_TABLE] for t in _ranked(trees, False) if LABEL_TABLE in t.files), None)
        if label_table is not None:
            tasks.append(Task(LABEL_TABLE, place_label_table, (label_table,), (LABEL_TABLE,), group="split files"))
        by_video: dict[str, list[str]] = defaultdict(list)
        for video, stem in frames:
            by_video[video].append(stem)
        for split, videos in lists.items():
            for video in videos:
                tasks += _video_tasks(split, video, sorted(by_video.get(video, ())), frames, params, policy)
        unlisted = sorted(set(by_video) - set(seen))
        if unlisted:
            notes.append(f"{len(unlisted):,} video(s) on disk are in no split file and are left out, "
                         f"e.g. {unlisted[0]}")
        return Plan(tasks, self.salt(options), notes, finalize=partial(write_record, policy["skip_damaged"]))

    # ------------------------------------------------------------------ verify

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        _verify(out_root, report, official, jobs, progress)

    def inspect_raw(self, raw: Path) -> list[tuple[str, str]]:
        try:
            trees, _ = find_trees(raw)
        except SegprepError as exc:
            return [(str(raw), str(exc))]
        if not trees:
            return []
        problems = []
        if not any(f"{s}.txt" in t.files for t in trees for s in SPLITS) and not (raw / "train.txt").is_file():
            problems.append((trees[0].name, "no train.txt / val.txt / test.txt beside data/: they ship in the VSPW "
                                             "download (VSPW/*.txt)"))
        candidates: dict[Key, list[Source]] = defaultdict(list)
        for tree in trees:
            for key, source in tree.images.items():
                candidates[key].append(source)
        empty = sorted(k for k, sources in candidates.items() if all(s.size == 0 for s in sources))
        for video in sorted({v for v, _ in empty}):
            stems = [s for v, s in empty if v == video]
            first = candidates[(video, stems[0])][0].describe()
            problems.append((first, f"{len(stems)} frame(s) of {video} are empty (0 bytes): {_advice(video)}"))
        return problems

    # ------------------------------------------------------------------ report

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        return report_section(self, out_root, jobs, progress)

    # ------------------------------------------------------------------ sample

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.samples.vspw import write_sample

        write_sample(out, frames=int(options.get("frames") or 3), extra_videos=int(options.get("extra_videos") or 0),
                     parts=int(options.get("parts") or 2), replacement=not options.get("without_replacement"),
                     jobs=jobs)


RECIPE = VSPW


# ---------------------------------------------------------------------- inputs


def find_trees(raw: Path) -> tuple[list[_Tree], list[str]]:
    """VSPW trees under ``raw``: extracted folders (breadth first, sorted), then VSPW* archives."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n  - {DOWNLOAD.describe()}")
    trees: dict[str, _Tree] = {}
    frontier = [raw]
    for _ in range(_MAX_DEPTH):
        next_frontier = []
        for folder in frontier:
            for entry in subdirs(folder):
                inside = {e.name for e in subdirs(entry.path)}
                if "origin" not in inside:
                    next_frontier.append(Path(entry.path))
                    continue
                clip = Path(entry.path)  # <tree>/data/<video>/origin
                top = clip.parent.parent if clip.parent.name == "data" else clip.parent
                tree = trees.get(str(top))
                if tree is None:
                    where = f"{raw.absolute().name}/{top.relative_to(raw).as_posix()}"
                    tree = trees[str(top)] = _Tree(str(top), True, _is_480p(where))
                    for name in ("train.txt", "val.txt", "test.txt", LABEL_TABLE):
                        if (top / name).is_file():
                            tree.files[name] = FileSource.of(top / name)
                for kind in ("origin", "mask"):
                    if kind in inside:
                        _scan(clip / kind, clip.name, kind, tree)
        frontier = next_frontier
    found = list(trees.values())
    notes = [f"{t.name}: {len(t.images):,} frames, {len(t.masks):,} masks (extracted"
             f"{', official 480p download' if t.resized else ''})" for t in found]
    for archive in named_archives(raw, _ARCHIVE_NAME):
        by_prefix: dict[str, _Tree] = {}

        def tree_of(prefix: str) -> _Tree:
            if prefix not in by_prefix:
                by_prefix[prefix] = _Tree(f"{archive.display}:{prefix}", False, _is_480p(f"{archive.display}/{prefix}"))
            return by_prefix[prefix]

        for member in list_members(archive):
            match = _FRAME_MEMBER.match(member.name)
            if match:
                prefix, video, kind, stem, suffix = match.groups()
                if suffix == _SUFFIX[kind]:
                    parent, _, last = (prefix or "").rpartition("/")
                    tree = tree_of(parent if last == "data" else (prefix or ""))
                    (tree.images if kind == "origin" else tree.masks)[(video, stem)] = MemberSource(archive, member)
                continue
            match = _TREE_FILE_MEMBER.match(member.name)
            if match:
                tree_of(match.group(1) or "").files[match.group(2)] = MemberSource(archive, member)
        for prefix, tree in sorted(by_prefix.items()):
            found.append(tree)
            how = "one pass" if archive.sequential else "random access"
            notes.append(f"{tree.name}: {len(tree.images):,} frames, {len(tree.masks):,} masks ({how}"
                         f"{', official 480p download' if tree.resized else ''})")
    return found, notes


def _is_480p(name: str) -> bool:
    return "480p" in name.lower()


def _scan(folder: Path, video: str, kind: str, tree: _Tree) -> None:
    suffix = "." + _SUFFIX[kind]
    target = tree.images if kind == "origin" else tree.masks
    for entry in os.scandir(folder):
        if entry.name.endswith(suffix) and not entry.name.startswith(".") and entry.is_file():
            target[(video, entry.name[: -len(suffix)])] = FileSource.of(entry.path)


def _ranked(trees: list[_Tree], prefer_resized: bool) -> list[_Tree]:
    """Extracted before archives; the 480p download first when its frames are what is asked for, else last."""
    return sorted(trees, key=lambda t: (t.resized != prefer_resized, not t.extracted))


def _split_sources(trees: list[_Tree], raw: Path) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for split in SPLITS:
        name = f"{split}.txt"
        source = next((t.files[name] for t in _ranked(trees, False) if name in t.files), None)
        if source is None and (raw / name).is_file():
            source = FileSource.of(raw / name)
        if source is not None:
            out[split] = source
    missing = [f"{s}.txt" for s in SPLITS if s not in out]
    if missing:
        raise MissingInput(
            f"the split list(s) {', '.join(missing)} were not found beside any data/ folder under {raw} "
            f"(looked in {[t.name for t in trees]}). They ship in the VSPW download (VSPW/train.txt, val.txt, "
            f"test.txt; {PAGE}): put them in the VSPW/ folder that holds data/."
        )
    return out


def pick_frames(trees: list[_Tree], prefer_resized: bool) -> tuple[dict[Key, tuple[Source | None, Source | None]],
                                                                       list[str]]:
    """(video, stem) -> (image, mask), each from the best tree that has an intact copy; and notes on the
    damaged copies passed over. Only frames found in several places are read here (to find which copy is intact)."""
    ranked = _ranked(trees, prefer_resized)
    out: dict[Key, tuple[Source | None, Source | None]] = {}
    passed_over: list[tuple[Key, str]] = []
    chosen: dict[str, list[Key]] = defaultdict(list)  # tree -> frames it gives that others have too
    keys = set().union(*(t.images.keys() | t.masks.keys() for t in ranked)) if ranked else set()
    for key in sorted(keys):
        images = [(t, t.images[key]) for t in ranked if key in t.images]
        image_tree, image = _intact(images, jpeg_info, key, passed_over)
        if len(images) > 1:
            chosen[image_tree.name].append(key)
        masks = [(t, t.masks[key]) for t in ranked if key in t.masks]
        same = [(t, m) for t, m in masks if t is image_tree]
        _, mask = _intact(same + [c for c in masks if c[0] is not image_tree], png_info, key, passed_over)
        out[key] = (image, mask)
    notes = [f"{len(keys):,} frame(s) found in several places are taken from {name}, e.g. {keys[0][0]}/{keys[0][1]}"
             for name, keys in sorted(chosen.items())]
    if passed_over:
        (video, stem), what = passed_over[0]
        notes.append(f"{len(passed_over):,} damaged file(s) passed over for an intact copy found elsewhere, e.g. "
                     f"{video}/{stem}: {what}")
    return out, notes


def _intact(candidates: list[tuple[_Tree, Source]], check, key: Key,
            passed_over: list[tuple[Key, str]]) -> tuple[_Tree | None, Source | None]:
    """The first candidate whose bytes pass ``check`` (read only when there is a choice); else the first."""
    if len(candidates) < 2:
        return candidates[0] if candidates else (None, None)
    for tree, source in candidates:
        if source.sequential:  # a one-pass archive: only its size can be judged here
            if source.size > 0:
                return tree, source
            passed_over.append((key, f"{source.describe()} is empty (0 bytes)"))
            continue
        try:
            check(read_source(source), source.describe())
            return tree, source
        except BadInput as exc:
            passed_over.append((key, str(exc)))
    return candidates[0]


def _video_tasks(split: str, video: str, stems: list[str], frames: dict[Key, tuple[Source | None, Source | None]],
                 params: dict, policy: dict) -> list[Task]:
    labelled = split in LABELLED_SPLITS
    group = f"{split} frames"
    if not stems:
        return [Task(f"data/{video}/", report_missing, (), (), {"message": (
            f"video {video} is listed in {split}.txt but has no frames: expected VSPW/data/{video}/origin/*.jpg from "
            f"{DOWNLOAD.filename} ({PAGE})")}, group, 0)]
    tasks = []
    for stem in stems:
        image, mask = frames[(video, stem)]
        image_rel, mask_rel = f"data/{video}/origin/{stem}.jpg", f"data/{video}/mask/{stem}.png"
        if image is None:
            tasks.append(Task(image_rel, report_missing, (), (), {"message": (
                f"the mask {mask.describe()} has no image: expected VSPW/data/{video}/origin/{stem}.jpg")}, group, 0))
        elif mask is None and labelled:
            tasks.append(Task(image_rel, report_missing, (), (image_rel,), {"message": (
                f"no mask for the {split} frame {image.describe()}: expected VSPW/data/{video}/mask/{stem}.png from "
                f"{DOWNLOAD.filename} ({PAGE})")}, group, 0))
        elif mask is None:
            tasks.append(Task(image_rel, make_frame, (image,), (image_rel,), params, group, policy=policy))
        else:
            tasks.append(Task(image_rel, make_frame, (image, mask), (image_rel, mask_rel), params, group,
                              policy=policy))
    return tasks


def _advice(video: str) -> str:
    if video == DAMAGED_CLIP:
        return (f"a known defect of the VSPW download (\"Some images from {DAMAGED_CLIP} are damaged or incomplete "
                f"with 0 byte\", {PAGE}). The authors publish the replacement images: {REPLACEMENT}. Extract them so "
                f"that the frames are at <--raw>/VSPW/data/{DAMAGED_CLIP}/origin/*.jpg (an intact copy is taken before "
                "the archive's) and rerun, or rerun with --skip-damaged to leave damaged frames out (listed in "
                f"{DAMAGED_RECORD})")
    return ("the download (or its extraction) is damaged here: download or extract it again and rerun, or rerun "
            f"with --skip-damaged to leave damaged frames out (listed in {DAMAGED_RECORD})")


# ---------------------------------------------------------------------- actions (run in workers)


def place_label_table(ctx: TaskContext, task: Task) -> None:
    def check(data: bytes, name: str) -> None:
        try:
            json.loads(data)
        except ValueError as exc:
            raise BadInput(f"{name} is not valid json ({exc})") from None

    ctx.place(task.inputs[0], task.outputs[0], check=check)


def make_frame(ctx: TaskContext, task: Task) -> dict | None:
    """The frame (and its mask) at the target height, or, with ``skip_damaged``, nothing for a damaged one."""
    tune_malloc()
    try:
        return _frame(ctx, task)
    except Damaged as exc:
        video = task.outputs[0].split("/")[1]
        if not task.policy.get("skip_damaged"):
            raise BadInput(f"{exc}: {_advice(video)}") from None
        for rel in task.outputs:
            ctx.omit(rel)
        return {"damaged": str(exc)}


def _frame(ctx: TaskContext, task: Task) -> dict | None:
    image_source = task.inputs[0]
    image_name = image_source.describe()
    image_data = _damage(ctx.read, image_source)  # an archive that ends inside the member is damage too
    info = _damage(jpeg_info, image_data, image_name)
    size = (info.width, info.height)
    target = height_target(size, task.params["height"])
    resized = target != size
    mask = gray = mask_bytes = None
    odd = 0
    if len(task.inputs) > 1:
        mask_source = task.inputs[1]
        mask_name = mask_source.describe()
        mask_bytes = _damage(ctx.read, mask_source)
        mask_info = _damage(png_info, mask_bytes, mask_name)
        enc.check_format(mask_info, mask_name)  # a mask of another kind is not damaged: it fails whatever the policy
        mask, gray = _damage(enc.decode_mask, mask_bytes, mask_name, mask_info)
        if (mask.shape[1], mask.shape[0]) != size:
            raise BadInput(f"{mask_name} is {mask.shape[1]}x{mask.shape[0]} but its image {image_name} is "
                           f"{size[0]}x{size[1]}; the pair is inconsistent (re-extract this video)")
        if resized:
            mask = resize_nearest(mask, target)
        invalid, odd = enc.check_values(mask)
        if invalid:
            raise BadInput(f"{mask_name}: values {invalid[:10]} are not VSPW labels (0 others, 1-124 classes, "
                           "255 void)")
    if resized:
        # the headers may be complete and the picture data not: decoding finds it
        ctx.write_bytes(task.outputs[0], _damage(resize_jpeg, image_data, image_name, target, task.params["quality"]))
    else:
        put_unchanged(ctx, image_source, task.outputs[0], image_data)
    if mask is None:
        return None
    if gray and not resized:
        put_unchanged(ctx, task.inputs[1], task.outputs[1], mask_bytes)  # already what we would write
    else:
        ctx.write_bytes(task.outputs[1], encode_png_fast(mask))
    return {"odd": odd} if odd else None


def _damage(fn, *args):
    """``fn(*args)``, its BadInput (empty, truncated, undecodable input) raised as Damaged."""
    try:
        return fn(*args)
    except BadInput as exc:
        raise Damaged(str(exc)) from None


# ---------------------------------------------------------------------- finalize


def write_record(skip_damaged: bool, ctx: FinalizeContext) -> None:
    """``damaged_frames.txt`` (frames left out by --skip-damaged, with why) and the run's notes."""
    damaged, odd = [], []
    for task in ctx.tasks:
        extra = ctx.extras.get(task.key) or {}
        if extra.get("damaged"):
            damaged.append(f"{task.outputs[0]}\t{extra['damaged']}\n")
        if extra.get("odd"):
            odd.append((task.outputs[1], extra["odd"]))
    record = ctx.out_root / DAMAGED_RECORD
    damaged.sort()
    if damaged:
        ctx.write_bytes(DAMAGED_RECORD, "".join(damaged).encode("utf-8"))
        how = "with --skip-damaged" if skip_damaged else "by an earlier run with --skip-damaged"
        ctx.note(f"{len(damaged):,} damaged frame(s) left out {how}, listed in {DAMAGED_RECORD}, e.g. "
                 f"{damaged[0].split(chr(9))[0]}")
    elif record.exists():
        record.unlink()  # every frame it listed has been written since
    if odd:
        ctx.note(f"value 253 (void for Tube-Link; not a label in the VSPW README) kept in {len(odd):,} mask(s), "
                 f"{sum(n for _, n in odd):,} pixels, e.g. {odd[0][0]}")


# ---------------------------------------------------------------------- verification


def read_record(root: Path) -> dict[str, set[str]]:
    """video -> frame stems that ``damaged_frames.txt`` says were left out."""
    out: dict[str, set[str]] = defaultdict(set)
    path = root / DAMAGED_RECORD
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")[0].split("/")
            if len(parts) == 4 and parts[0] == "data" and parts[3].endswith(".jpg"):
                out[parts[1]].add(parts[3][: -len(".jpg")])
    return out


def _verify(root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    lists = check_split_files(root, report)
    split_of: dict[str, str] = {}
    for split, videos in lists.items():
        for video in videos:
            report.checked("split files")
            if video in split_of:
                report.fail("split files", f"{split}.txt", f"{video} is also listed in {split_of[video]}.txt")
            split_of.setdefault(video, split)
    if (root / LABEL_TABLE).is_file():  # optional: the download's, copied when it has one
        table = rules.read_json(report, "categories", root, LABEL_TABLE)
        if table is not None and table != enc.label_num_dic():
            report.fail("categories", LABEL_TABLE, "differs from the 124 VSPW classes (+ others) in VIPSeg's order")
    report.checked("layout")
    present = {e.name for e in subdirs(root / "data")}
    if not (root / "data").is_dir():
        report.fail("layout", "data", "folder missing")
    for video in sorted(present - set(split_of)):
        report.fail("layout", f"data/{video}", "not a video of any split file")
    damaged = read_record(root)
    work = []
    for split, videos in lists.items():
        for video in videos:
            if video not in present:
                report.checked("videos")
                report.fail("videos", f"data/{video}", f"listed in {split}.txt but missing")
                continue
            work.append((str(root), video, split in LABELLED_SPLITS, sorted(damaged.get(video, ()))))
    results = parallel_map(check_video, work, jobs, progress, "verify vspw")
    heights: Counter = Counter()
    frames_by_split: Counter = Counter()
    odd, excused = [], 0
    per_video_heights = {}
    for (_, video, _, _), result in zip(work, results):
        if isinstance(result, Exception):
            report.crashed("decode", f"data/{video}", result)
            continue
        findings, facts = result
        report.add(findings)
        heights.update(facts["heights"])
        per_video_heights[video] = facts["heights"]
        frames_by_split[split_of[video]] += facts["frames"]
        odd += facts["odd"]
        excused += facts["excused"]
    if heights:
        common = heights.most_common(1)[0][0]
        for video, counts in sorted(per_video_heights.items()):
            report.checked("frame height")
            other = sorted(h for h in counts if h != common)
            if other:
                report.fail("frame height", f"data/{video}/origin", f"frames {other} high, the others {common} "
                                                                    "(every frame is resized to one height)")
        if common != TARGET_HEIGHT:
            report.note(f"frames are {common} pixels high (prepared with --height {common}; change2_480p.py makes "
                        f"them {TARGET_HEIGHT})")
    if excused:
        report.note(f"{excused:,} frame(s) left out as damaged ({DAMAGED_RECORD}): their clips have gaps there")
    if odd:
        pixels = sum(n for _, n in odd)
        report.note(f"value 253 in {len(odd):,} mask(s) ({pixels:,} pixels), e.g. {odd[0][0]}: not a label in the "
                    "VSPW README (0-124, 255); Tube-Link reads it as void, the README's remap would make it class 252")
    if official:
        _check_official(root, lists, present, frames_by_split, report)


def _check_official(root: Path, lists: dict[str, list[str]], present: set[str], frames: Counter,
                    report: Report) -> None:
    listed = sorted({v for videos in lists.values() for v in videos})
    found = [v for v in listed if v in present]
    counts = {"videos": len(found), "frames": sum(frames.values())}
    for message in rules.count_mismatches(counts, {"videos": PUBLISHED_VIDEOS, "frames": PUBLISHED_FRAMES}):
        report.fail("official counts", "data", message)
    report.checked("official counts", 2)
    report.checked("official video list")
    digest = hashlib.sha256("".join(f"{v}\n" for v in listed).encode()).hexdigest()
    if digest != VIDEO_IDS_SHA256:
        report.fail("official video list", "train.txt + val.txt + test.txt",
                    f"the {len(listed):,} listed videos are not the 3,536 of vspw_videolist.txt ({PAGE})")
    report.note("videos / frames per split: " + ", ".join(
        f"{split} {sum(1 for v in lists.get(split, ()) if v in present):,} / {frames[split]:,}" for split in SPLITS))


def check_video(item: tuple[str, str, bool, list[str]]) -> tuple[list[tuple[str, str, str | None]], dict]:
    """Checks one video folder; returns findings (check, path, message or None) and facts for the totals."""
    tune_malloc()
    root, video, labelled, damaged = item
    folder = Path(root) / "data" / video
    out: list[tuple[str, str, str | None]] = []
    facts: dict[str, Any] = {"frames": 0, "heights": Counter(), "odd": [], "excused": 0}
    for name in sorted(os.listdir(folder)):
        if name not in ("origin", "mask"):
            out.append(("layout", f"data/{video}/{name}", "stray entry (only origin/ and mask/ belong here)"))
    images, strays = stems_and_strays(folder / "origin", ".jpg")
    masks, mask_strays = stems_and_strays(folder / "mask", ".png")
    for kind, names in (("origin", strays), ("mask", mask_strays)):
        for name in names:
            out.append(("layout", f"data/{video}/{kind}/{name}", "stray file"))
    out.append(("videos", f"data/{video}/origin", None if images else "no frames"))
    facts["frames"] = len(images)
    if labelled or masks:
        for stem in sorted(set(images) ^ set(masks) if labelled else set(masks) - set(images)):
            where = f"data/{video}/mask/{stem}.png" if stem in images else f"data/{video}/origin/{stem}.jpg"
            out.append(("pairs", where, "missing (the loaders pair each image with the mask of the same name)"))
    mask_set = set(masks)
    for stem in images:
        rel = f"data/{video}/origin/{stem}.jpg"
        try:
            info = jpeg_info((folder / "origin" / f"{stem}.jpg").read_bytes(), rel)
            out.append(("images", rel, None))
            facts["heights"][info.height] += 1
            size = (info.width, info.height)
        except BadInput as exc:
            out.append(("images", rel, str(exc)))
            size = None
        if stem in mask_set:
            out += _check_mask(folder / "mask" / f"{stem}.png", f"data/{video}/mask/{stem}.png", size, facts)
    numbers = [int(s) for s in images if _STEM.match(s)]
    for stem in images:
        if not _STEM.match(stem):
            out.append(("frame names", f"data/{video}/origin/{stem}.jpg", "not a frame number"))
    gaps = rules.missing_frames(numbers)
    left_out = {int(s) for s in damaged}
    facts["excused"] = len(left_out & set(gaps))
    unexplained = [n for n in gaps if n not in left_out]
    out.append(("contiguous frames", f"data/{video}/origin", f"frames missing: {rules.format_ranges(unexplained)} "
                "(the loaders take neighbours by position)" if unexplained else None))
    for stem in sorted(set(damaged) & set(images)):
        out.append(("damaged record", f"data/{video}/origin/{stem}.jpg", f"present, but listed in {DAMAGED_RECORD}"))
    return out, facts


def _check_mask(path: Path, rel: str, size: tuple[int, int] | None, facts: dict) -> list[tuple[str, str, str | None]]:
    try:
        data = path.read_bytes()
        info = png_info(data, rel)
    except BadInput as exc:
        return [("masks", rel, str(exc))]
    if info.color_type != 0 or info.bit_depth != 8:
        return [("masks", rel, f"expected an 8-bit one-channel PNG, found {info.bit_depth}-bit colour type "
                               f"{info.color_type}")]
    try:
        mask = decode_png_fast(data, rel, info=info)
    except BadInput as exc:
        return [("masks", rel, str(exc))]
    out: list[tuple[str, str, str | None]] = [("masks", rel, None)]
    if size is not None:
        same = (mask.shape[1], mask.shape[0]) == size
        out.append(("same size", rel, None if same else f"{mask.shape[1]}x{mask.shape[0]}, its image is "
                                                       f"{size[0]}x{size[1]}"))
    invalid, odd = enc.check_values(mask)
    out.append(("values", rel, f"not VSPW labels (0-124, 255): {invalid[:10]}" if invalid else None))
    if odd:
        facts["odd"].append((rel, odd))
    return out


# ---------------------------------------------------------------------- report

REPORT_MASKS = 2000  # masks decoded for the class statistics (evenly spaced over train + val)


def report_section(recipe: Recipe, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
    categories = [Category(name, color, False) for name, color in enc.categories()]
    section = ReportSection(recipe.NAME, recipe.FOLDER, recipe.TITLE, categories)
    lists = {}
    for split in SPLITS:
        path = out_root / f"{split}.txt"
        lists[split] = read_split(FileSource.of(path)) if path.is_file() else []
    total_videos = total_frames = 0
    labelled: list[str] = []
    for split in SPLITS:
        videos = [v for v in lists[split] if (out_root / "data" / v / "origin").is_dir()]
        count = 0
        for video in videos:
            stems, _ = stems_and_strays(out_root / "data" / video / "origin", ".jpg")
            count += len(stems)
            if split in LABELLED_SPLITS:
                masks, _ = stems_and_strays(out_root / "data" / video / "mask", ".png")
                labelled += [f"data/{video}/mask/{s}.png" for s in sorted(set(stems) & set(masks))]
        section.counts.append(CountRow(split, "videos", len(videos), None,
                                       f"{len(lists[split]) - len(videos):,} listed videos missing"
                                       if len(videos) < len(lists[split]) else ""))
        section.counts.append(CountRow(split, "frames", count))
        total_videos += len(videos)
        total_frames += count
    section.counts.append(CountRow("all", "videos", total_videos, PUBLISHED_VIDEOS))
    section.counts.append(CountRow("all", "frames", total_frames, PUBLISHED_FRAMES))
    section.counts.append(CountRow("train + val", "masks", len(labelled)))
    if not labelled:
        section.notes.append("no masks prepared: no class statistics or frames")
        return section
    picked = evenly_spaced(labelled, REPORT_MASKS)
    results = parallel_map(mask_histogram, [str(out_root / rel) for rel in picked], jobs, progress, "report vspw")
    counts = sum((r for r in results if not isinstance(r, Exception)), np.zeros(256, np.int64))
    section.stats = ClassStats(counts[1: enc.NUM_CLASSES + 1].tolist(), [0] * enc.NUM_CLASSES,
                               f"{'all' if len(picked) == len(labelled) else f'{len(picked):,} of'} "
                               f"{len(labelled):,} train + val masks; 'others' (0): {int(counts[0]):,} px, void (255): "
                               f"{int(counts[255]):,} px")
    section.frames = [_label_view(out_root, rel) for rel in evenly_spaced(labelled, 4)]
    by_video: dict[str, list[str]] = defaultdict(list)
    for rel in labelled:
        by_video[rel.split("/")[1]].append(rel)
    longest = max(sorted(by_video), key=lambda v: len(by_video[v]))
    middle = max(0, len(by_video[longest]) // 2 - 3)
    section.strips = [[_label_view(out_root, rel) for rel in by_video[longest][middle: middle + 6]]]
    return section


def mask_histogram(path: str) -> np.ndarray:
    return enc.histogram(enc.decode_mask(Path(path).read_bytes(), path)[0]).astype(np.int64)


def _label_view(out_root: Path, rel: str) -> LabelView:
    mask = enc.decode_mask((out_root / rel).read_bytes(), rel)[0]
    image_rel = rel.replace("/mask/", "/origin/")[: -len(".png")] + ".jpg"
    with Image.open(out_root / image_rel) as im:
        image = np.asarray(im.convert("RGB"))
    video, stem = rel.split("/")[1], rel.split("/")[3][: -len(".png")]
    present = np.flatnonzero(enc.histogram(mask))
    category_of = {int(v): int(v) - 1 for v in present if 1 <= v <= enc.NUM_CLASSES}
    return LabelView(f"{video}/{stem}", image, mask.astype(np.int64), category_of,
                     (mask == enc.VOID) | (mask == enc.ODD_VOID), rel)
