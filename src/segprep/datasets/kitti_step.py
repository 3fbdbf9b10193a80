"""KITTI-STEP -> ``data/kitti-step/video_sequence/{train,val,test}/`` as Video K-Net reads it.

Every file is the official one, bytes unchanged, under the name
``{seq:06d}_{frame:06d}_{leftImg8bit|panoptic}.png`` (6 + 6 digits: the 5-digit example in
Video K-Net's DATASET.md is a typo; its own script and evaluators use 6). Splits follow the
official lists (deeplab2 ``data/dataset.py``, Video K-Net ``scripts/kitti_step_prepare.py``).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.datasets.base import Download, Option, Recipe, parse_splits
from segprep.encodings import step
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.engine.runner import Plan
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput, MissingInput
from segprep.io.archives import find_archive, list_members
from segprep.io.images import decode_png, png_info
from segprep.io.sources import FileSource, MemberSource, Source, find_dirs
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced

TRAIN_SEQUENCES = (0, 1, 3, 4, 5, 9, 11, 12, 15, 17, 19, 20)
VAL_SEQUENCES = (2, 6, 7, 8, 10, 13, 14, 16, 18)
TEST_SEQUENCES = tuple(range(29))
SEQUENCES = {"train": TRAIN_SEQUENCES, "val": VAL_SEQUENCES, "test": TEST_SEQUENCES}
SPLITS = ("train", "val", "test")
LABELLED_SPLITS = ("train", "val")
PUBLISHED_FRAMES = {"train": 5027, "val": 2981, "test": 11095}  # deeplab2 data/dataset.py splits_to_sizes
_TRAINING_SPLIT = {seq: "train" for seq in TRAIN_SEQUENCES} | {seq: "val" for seq in VAL_SEQUENCES}

IMAGES = Download(
    "data_tracking_image_2.zip", "15 GB",
    "https://www.cvlibs.net/datasets/kitti/eval_tracking.php (\"Download left color images of tracking data set\")",
    "KITTI tracking left colour images, training/image_02/{seq:04d}/{frame:06d}.png (seqs 0000-0020) and "
    "testing/image_02/ (0000-0028); its extracted training/ and testing/ folders, or DeepLab2's "
    "images/{train,val,test}/{seq:04d}/ are accepted too",
    url="https://s3.eu-central-1.amazonaws.com/avg-kitti/data_tracking_image_2.zip",
    extracted=("training/image_02", "testing/image_02", "images/train", "images/test"),
)
MAPS = Download(
    "kitti-step.tar.gz", "",
    "https://storage.googleapis.com/gresearch/tf-deeplab/data/kitti-step.tar.gz",
    "STEP panoptic maps, kitti-step/panoptic_maps/{train,val}/{seq:04d}/{frame:06d}.png; the extracted "
    "panoptic_maps/ folder (or Video K-Net's merged training/panoptic/{seq:04d}/) is accepted too",
    url="https://storage.googleapis.com/gresearch/tf-deeplab/data/kitti-step.tar.gz",
    extracted=("kitti-step/panoptic_maps", "panoptic_maps", "training/panoptic"),
)

# Relative paths (of extracted files or archive members) -> (layout, split-or-folder, seq, frame)
_IMAGE_PATTERNS = (
    ("kitti", re.compile(r"(?:^|/)(training|testing)/image_02/(\d{4})/(\d{6})\.png$")),
    ("deeplab2", re.compile(r"(?:^|/)images/(train|val|test)/(\d{4})/(\d{6})\.png$")),
)
_MAP_PATTERNS = (
    ("step", re.compile(r"(?:^|/)panoptic_maps/(train|val)/(\d{4})/(\d{6})\.png$")),
    ("videoknet", re.compile(r"(?:^|/)(training)/panoptic/(\d{4})/(\d{6})\.png$")),
)
# Folders whose subtree may hold the files above; the search below stops at them.
_ANCHORS = {"image_02", "images", "panoptic_maps", "panoptic"}
_NAME = re.compile(r"^(\d{6})_(\d{6})_(leftImg8bit|panoptic)\.png$")

Key = tuple[str, int, int]  # (split, seq, frame)


class KittiStep(Recipe):
    NAME = "kitti-step"
    FOLDER = "kitti-step"
    TITLE = "KITTI-STEP (video panoptic segmentation)"
    VERSION = "1"
    LABEL_OUTPUTS = ("video_sequence/*/*_panoptic.png",)
    DOWNLOADS = (IMAGES, MAPS)
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare", "train,val,test", shapes_output=False),
    )
    SAMPLE_OPTIONS = (
        Option("frames", "frames per sequence", 6, int),
    )

    # ------------------------------------------------------------------ plan

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        splits = _parse_splits(options.get("splits") or "train,val,test")
        images, maps, notes = find_inputs(raw)
        for split in splits:
            if not any(k[0] == split for k in images):
                raise MissingInput(
                    f"no KITTI tracking images for the {split} split under {raw}. Expected:\n{_describe(IMAGES)}"
                )
            if split in LABELLED_SPLITS and not any(k[0] == split for k in maps):
                raise MissingInput(f"no STEP panoptic maps for the {split} split under {raw}. Expected:\n{_describe(MAPS)}")
        tasks = []
        for key in sorted(set(images) | set(maps)):
            split, seq, frame = key
            if split not in splits:
                continue
            stem = f"video_sequence/{split}/{seq:06d}_{frame:06d}"
            image, label = images.get(key), maps.get(key)
            if image is not None:
                tasks.append(_place(f"{stem}_leftImg8bit.png", image, f"{split} images"))
            else:
                tasks.append(_missing(f"{stem}_leftImg8bit.png", f"{split} images", (
                    f"no image for the panoptic map {label.describe()}: expected "
                    f"{'training' if split != 'test' else 'testing'}/image_02/{seq:04d}/{frame:06d}.png "
                    f"from {IMAGES.filename} ({IMAGES.page})")))
            if split in LABELLED_SPLITS:
                if label is not None:
                    tasks.append(_place(f"{stem}_panoptic.png", label, f"{split} panoptic maps"))
                else:
                    tasks.append(_missing(f"{stem}_panoptic.png", f"{split} panoptic maps", (
                        f"no panoptic map for the image {image.describe()}: expected "
                        f"panoptic_maps/{split}/{seq:04d}/{frame:06d}.png from {MAPS.filename} ({MAPS.page})")))
        return Plan(tasks, self.salt(options), notes)

    # ------------------------------------------------------------------ verify

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        root = out_root / "video_sequence"
        frames: dict[str, dict[tuple[int, int], set[str]]] = {}
        for split in SPLITS:
            folder = root / split
            if not folder.is_dir():
                report.checked("layout")
                if official or split in LABELLED_SPLITS:
                    report.fail("layout", f"video_sequence/{split}", "folder missing")
                continue
            frames[split] = _list_split(folder, split, report)
        if root.is_dir():
            for entry in sorted(os.listdir(root)):
                if entry not in SPLITS:
                    report.fail("layout", f"video_sequence/{entry}", "stray entry (only train, val, test belong here)")
        work = []
        for split, found in frames.items():
            for (seq, frame), kinds in sorted(found.items()):
                stem = root / split / f"{seq:06d}_{frame:06d}"
                report.checked("pairs")
                if split in LABELLED_SPLITS and kinds != {"leftImg8bit", "panoptic"}:
                    missing = ({"leftImg8bit", "panoptic"} - kinds).pop()
                    report.fail("pairs", f"video_sequence/{split}/{seq:06d}_{frame:06d}_{missing}.png", "missing")
                work.append((str(stem), "leftImg8bit" in kinds, "panoptic" in kinds))
        results = parallel_map(check_frame, work, jobs, progress, "verify kitti-step")
        for (stem, _, _), result in zip(work, results):
            rel = os.path.relpath(stem, out_root)
            if isinstance(result, Exception):
                report.crashed("decode", rel, result)
                continue
            for check, suffix, message in result:
                report.checked(check)
                if message is not None:
                    report.fail(check, rel + suffix, message)
        for split, found in frames.items():
            by_seq: dict[int, list[int]] = defaultdict(list)
            for (seq, frame), kinds in found.items():
                if "leftImg8bit" in kinds:  # the loader lists images; neighbours are looked up among them
                    by_seq[seq].append(frame)
            for seq, numbers in sorted(by_seq.items()):
                report.checked("contiguous frames")
                gaps = rules.missing_frames(numbers)
                if gaps:
                    report.fail("contiguous frames", f"video_sequence/{split}/{seq:06d}_*",
                                f"frames missing: {rules.format_ranges(gaps)} (Video K-Net drops frames next to a gap)")
        if official:
            _check_official(frames, report)

    # ------------------------------------------------------------------ report

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        categories = [Category(name, color, index in step.THING_CLASSES)
                      for index, (name, color) in enumerate(zip(step.CLASS_NAMES, step.CLASS_COLORS))]
        section = ReportSection(self.NAME, self.FOLDER, self.TITLE, categories)
        root = out_root / "video_sequence"
        names = {split: sorted(os.listdir(root / split)) if (root / split).is_dir() else [] for split in SPLITS}
        maps: list[str] = []
        for split in SPLITS:
            images = [n for n in names[split] if n.endswith("_leftImg8bit.png")]
            sequences = {int(n[:6]) for n in images}
            missing = sorted(set(SEQUENCES[split]) - sequences)
            section.counts.append(CountRow(split, "frames", len(images), PUBLISHED_FRAMES[split],
                                           f"sequences missing: {missing}" if missing else ""))
            if split in LABELLED_SPLITS:
                labels = [f"video_sequence/{split}/{n}" for n in names[split] if n.endswith("_panoptic.png")]
                section.counts.append(CountRow(split, "panoptic maps", len(labels), PUBLISHED_FRAMES[split]))
                maps += labels
        results = parallel_map(map_statistics, [str(out_root / m) for m in maps], jobs, progress, "report kitti-step")
        pixels = np.zeros(256, np.int64)
        tracks: set[tuple[str, int, int]] = set()  # (sequence folder, class, instance): one track per object
        for rel, result in zip(maps, results):
            if isinstance(result, Exception):
                continue
            counts, present = result
            pixels += counts
            tracks |= {(rel.rsplit("_", 2)[0][:-7], c, i) for c, i in present}
        instances = np.bincount([c for _, c, _ in tracks], minlength=step.NUM_CLASSES)[: step.NUM_CLASSES]
        section.stats = ClassStats(pixels[: step.NUM_CLASSES].tolist(), instances.tolist(),
                                   f"all {len(maps):,} panoptic maps; instances are tracks (sequence, id)")
        section.frames = [_label_view(out_root, rel) for rel in evenly_spaced(maps, 4)]
        by_sequence: dict[str, list[str]] = defaultdict(list)
        for rel in maps:
            by_sequence[rel[: -len("_000000_panoptic.png")]].append(rel)
        if by_sequence:
            longest = max(sorted(by_sequence), key=lambda k: len(by_sequence[k]))
            frames = by_sequence[longest]
            middle = max(0, len(frames) // 2 - 3)
            section.strips = [[_label_view(out_root, rel) for rel in frames[middle:middle + 6]]]
        return section

    # ------------------------------------------------------------------ sample

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.samples.kitti_step import write_sample

        write_sample(out, frames=int(options.get("frames") or 6), jobs=jobs)


RECIPE = KittiStep


# ---------------------------------------------------------------------- inputs


def find_inputs(raw: Path) -> tuple[dict[Key, Source], dict[Key, Source], list[str]]:
    """Images and panoptic maps by (split, seq, frame), from extracted folders first, then archives."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n{_describe(IMAGES)}\n{_describe(MAPS)}")
    images: dict[Key, Source] = {}
    maps: dict[Key, Source] = {}
    notes: list[str] = []
    for anchor in find_dirs(raw, _ANCHORS, 4):
        found_images = found_maps = 0
        for path in _pngs_under(anchor):
            rel = path.relative_to(raw).as_posix()
            key = _image_key(rel)
            if key is not None and key not in images:
                images[key] = FileSource.of(path)
                found_images += 1
                continue
            key = _map_key(rel)
            if key is not None and key not in maps:
                maps[key] = FileSource.of(path)
                found_maps += 1
        if found_images or found_maps:
            notes.append(f"{anchor}: {found_images:,} images, {found_maps:,} panoptic maps (extracted)")
    for download in (IMAGES, MAPS):
        for folder in [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")):
            archive = find_archive(folder, download.filename)
            if archive is None:
                continue
            found_images = found_maps = 0
            for member in list_members(archive):
                image_key, map_key = _image_key(member.name), _map_key(member.name)
                if image_key is not None and image_key not in images:
                    images[image_key] = MemberSource(archive, member)
                    found_images += 1
                elif map_key is not None and map_key not in maps:
                    maps[map_key] = MemberSource(archive, member)
                    found_maps += 1
            how = "one pass" if archive.sequential else "random access"
            notes.append(f"{archive.parts[0]}: {found_images:,} images, {found_maps:,} panoptic maps ({how})")
            break
    return images, maps, notes


def _pngs_under(anchor: Path):
    """Files of the form anchor/[split/]{seq:04d}/{frame:06d}.png, in sorted order."""
    def subdirs(folder: Path, pattern: str):
        try:
            return sorted(Path(e.path) for e in os.scandir(folder) if e.is_dir() and re.fullmatch(pattern, e.name))
        except FileNotFoundError:
            return []

    seq_dirs = subdirs(anchor, r"\d{4}") + [d for s in subdirs(anchor, r"train|val|test") for d in subdirs(s, r"\d{4}")]
    for seq_dir in seq_dirs:
        for entry in sorted(os.scandir(seq_dir), key=lambda e: e.name):
            if re.fullmatch(r"\d{6}\.png", entry.name) and entry.is_file():
                yield Path(entry.path)


def _image_key(rel: str) -> Key | None:
    return _key(rel, _IMAGE_PATTERNS, raw_layout="kitti")


def _map_key(rel: str) -> Key | None:
    return _key(rel, _MAP_PATTERNS, raw_layout="videoknet")


def _key(rel: str, patterns, raw_layout: str) -> Key | None:
    """(split, seq, frame) of a path; in ``raw_layout`` (training/testing folders) the split comes from the seq."""
    for layout, pattern in patterns:
        match = pattern.search(rel)
        if match:
            folder, seq, frame = match.group(1), int(match.group(2)), int(match.group(3))
            if layout == raw_layout:
                split = "test" if folder == "testing" else _TRAINING_SPLIT.get(seq)
                return None if split is None else (split, seq, frame)
            _check_arranged_split(rel, folder, seq)
            return folder, seq, frame
    return None


def _check_arranged_split(rel: str, split: str, seq: int) -> None:
    if seq not in SEQUENCES[split]:
        official = _TRAINING_SPLIT.get(seq, "no")
        raise BadInput(
            f"{rel}: sequence {seq:04d} is filed under '{split}', but the official KITTI-STEP split puts it in "
            f"{official} split (train {TRAIN_SEQUENCES}, val {VAL_SEQUENCES}). Move it back, or use the original "
            "archives."
        )


def _parse_splits(text: str) -> tuple[str, ...]:
    return parse_splits(text, SPLITS)


def _describe(download: Download) -> str:
    return f"  - {download.describe()}"


# ---------------------------------------------------------------------- actions (run in workers)


def _place(output: str, source: Source, group: str) -> Task:
    return Task(output, place_rgb_png, (source,), (output,), group=group)


def _missing(output: str, group: str, message: str) -> Task:
    return Task(output, report_missing, (), (output,), {"message": message}, group, size_hint=0)


def place_rgb_png(ctx: TaskContext, task: Task) -> None:
    """Places the file unchanged after checking it is a complete 8-bit RGB PNG."""
    source = task.inputs[0]
    # A zip member's CRC-32 already vouches for its bytes: walking the chunks catches truncation.
    check = _check_rgb_png if isinstance(source, FileSource) or source.member.crc == 0 else _check_rgb_png_structure
    ctx.place(source, task.outputs[0], check=check)


def _check_rgb_png_structure(data: bytes, name: str) -> None:
    _check_rgb_png(data, name, verify_crc=False)


def _check_rgb_png(data: bytes, name: str, verify_crc: bool = True) -> None:
    info = png_info(data, name, verify_crc)
    if info.color_type != 2 or info.bit_depth != 8:
        raise BadInput(f"{name}: expected an 8-bit RGB PNG, found colour type {info.color_type}, {info.bit_depth} bit")


def report_missing(ctx: TaskContext, task: Task) -> None:
    raise MissingInput(task.params["message"])


# ---------------------------------------------------------------------- verification


def _list_split(folder: Path, split: str, report: Report) -> dict[tuple[int, int], set[str]]:
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    for name in sorted(os.listdir(folder)):
        report.checked("layout")
        match = _NAME.match(name)
        rel = f"video_sequence/{split}/{name}"
        if match is None:
            report.fail("layout", rel, "stray file (not {seq:06d}_{frame:06d}_{leftImg8bit|panoptic}.png)")
        elif match.group(3) == "panoptic" and split == "test":
            report.fail("layout", rel, "panoptic map in the test split (KITTI-STEP has no test labels)")
        else:
            found[(int(match.group(1)), int(match.group(2)))].add(match.group(3))
    return found


def check_frame(item: tuple[str, bool, bool]) -> list[tuple[str, str, str | None]]:
    """Checks one frame; returns (check, file suffix, message or None when it passed)."""
    stem, has_image, has_map = item
    out: list[tuple[str, str, str | None]] = []
    size = None
    if has_image:
        path = stem + "_leftImg8bit.png"
        try:
            info = png_info(Path(path).read_bytes(), os.path.basename(path))
            size = (info.width, info.height)
            out.append(("decode", "_leftImg8bit.png", None))
        except BadInput as exc:
            out.append(("decode", "_leftImg8bit.png", str(exc)))
    if has_map:
        path = stem + "_panoptic.png"
        try:
            rgb = decode_png(Path(path).read_bytes(), os.path.basename(path))
            out.append(("decode", "_panoptic.png", None))
        except BadInput as exc:
            out.append(("decode", "_panoptic.png", str(exc)))
            return out
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            out.append(("values", "_panoptic.png", f"not an RGB map (shape {rgb.shape})"))
            return out
        if size is not None:
            same = (rgb.shape[1], rgb.shape[0]) == size
            out.append(("same size", "_panoptic.png", None if same else
                        f"{rgb.shape[1]}x{rgb.shape[0]}, its image is {size[0]}x{size[1]}"))
        semantic, instance = step.decode(rgb)
        bad = rules.unexpected_values(semantic, list(range(step.NUM_CLASSES)) + [step.VOID])
        out.append(("values", "_panoptic.png", f"semantic (R) values outside 0-18/255: {bad}" if bad else None))
        stray = (instance != 0) & ~step.thing_lookup()[semantic]
        classes = sorted(int(c) for c in set(semantic[stray].tolist())) if stray.any() else []
        out.append(("instances", "_panoptic.png", f"instance ids on classes {classes} (only person 11 and car 13 have "
                                                  "instances)" if classes else None))
    return out


def map_statistics(path: str) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """Pixels per semantic value and the (class, instance) pairs of one panoptic map."""
    semantic, instance = step.decode(decode_png(Path(path).read_bytes(), path))
    things = instance != 0
    pairs = np.unique(semantic[things].astype(np.int64) * 65536 + instance[things])
    return np.bincount(semantic.ravel(), minlength=256), {(int(p) // 65536, int(p) % 65536) for p in pairs}


def _label_view(out_root: Path, rel: str) -> LabelView:
    semantic, instance = step.decode(decode_png((out_root / rel).read_bytes(), rel))
    image = decode_png((out_root / rel.replace("_panoptic.png", "_leftImg8bit.png")).read_bytes(), rel)
    segments = semantic.astype(np.int64) * 100000 + instance
    category_of = {int(sid): int(sid) // 100000 for sid in np.unique(segments) if int(sid) // 100000 < step.NUM_CLASSES}
    return LabelView(rel.rsplit("/", 1)[1][: -len("_panoptic.png")], image, segments, category_of,
                     semantic == step.VOID, rel)


def _check_official(frames: dict[str, dict[tuple[int, int], set[str]]], report: Report) -> None:
    counts = {split: sum(1 for kinds in found.values() if "leftImg8bit" in kinds) for split, found in frames.items()}
    for message in rules.count_mismatches(counts, PUBLISHED_FRAMES):
        report.fail("official counts", "video_sequence", f"frames of {message}")
    report.checked("official counts", len(PUBLISHED_FRAMES))
    for split, found in frames.items():
        sequences = {seq for seq, _ in found}
        report.checked("official sequences")
        if sequences != set(SEQUENCES[split]):
            missing, extra = sorted(set(SEQUENCES[split]) - sequences), sorted(sequences - set(SEQUENCES[split]))
            report.fail("official sequences", f"video_sequence/{split}",
                        f"sequences missing {missing}, unexpected {extra}")
