"""SemKITTI-DVPS -> ``data/semkitti-dvps/video_sequence/{train,val}/`` as Video K-Net's KITTIDVPSDataset reads it.

The annotation download holds ``video_sequence/{train,val}/{seq:06d}_{frame:06d}_gtFine_class.png``,
``..._gtFine_instance.png`` and ``..._depth_{focal}.png`` (uint16, metres*256; the focal length of the
frame's camera is the last name field). The images come from the KITTI odometry colour archive,
``sequences/{seq:02d}/image_2/{frame:06d}.png``, and go beside them as ``{seq:06d}_{frame:06d}_leftImg8bit.png``
(ViP-DeepLab ``semkitti-dvps/copy_images.py``); sequence 08 is val, 00-07, 09 and 10 are train.
Every file is placed unchanged. Sources: formats-video.md 6.
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
from segprep.datasets.cityscapes import place_checked, report_missing
from segprep.datasets.dvps import (GRAY8, GRAY16, SPLITS, check_depth_png, check_depth_values, check_image, check_map,
                                   depth_note, find_video_sequence, png_kind, wrong_download)
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.engine.runner import Plan
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput, MissingInput
from segprep.io.archives import find_archive, list_members
from segprep.io.images import decode_png, decode_png_fast, png_info
from segprep.io.sources import FileSource, MemberSource, Source, find_dirs
from segprep.report.model import Category, CountRow, LabelView, ReportSection, evenly_spaced

# SemanticKITTI's 19 learning classes, things first (Video K-Net external/semkitti_dvps.py CLASSES for the 8
# things; the stuff order is SemanticKITTI's); colours only for drawing (semantic-kitti.yaml, as RGB).
CLASSES = (
    ("car", (100, 150, 245)), ("bicycle", (100, 230, 245)), ("motorcycle", (30, 60, 150)), ("truck", (80, 30, 180)),
    ("other-vehicle", (0, 0, 255)), ("person", (255, 30, 30)), ("bicyclist", (255, 40, 200)),
    ("motorcyclist", (150, 30, 90)), ("road", (255, 0, 255)), ("parking", (255, 150, 255)), ("sidewalk", (75, 0, 75)),
    ("other-ground", (175, 0, 75)), ("building", (255, 200, 0)), ("fence", (255, 120, 50)),
    ("vegetation", (0, 175, 0)), ("trunk", (135, 60, 0)), ("terrain", (150, 240, 80)), ("pole", (255, 240, 150)),
    ("traffic-sign", (255, 0, 0)),
)
NUM_THINGS = 8
VOID = 255
INSTANCE_DIVISOR = 10000  # Video K-Net: panoptic = class * 10000 + instance
VAL_SEQUENCE = 8
SEQUENCES = tuple(range(11))
# KITTI odometry sequence lengths (frames 000000..n-1; the devkit's readme). deeplab2's 19,120 / 4,070 are these
# minus one per sequence: the number of consecutive pairs.
SEQUENCE_FRAMES = {0: 4541, 1: 1101, 2: 4661, 3: 801, 4: 271, 5: 2761, 6: 1101, 7: 1101, 8: 4071, 9: 1591, 10: 1201}
PUBLISHED_PAIRS = {"train": 19120, "val": 4070}  # google-research/deeplab2 data/dataset.py

ANNOTATIONS = Download(
    "video_sequence.zip", "",
    "https://drive.google.com/file/d/1cCn1yeu2dmT4CnvkOyItxARFBXpDdu-0 (joe-siyuan-qiao/ViP-DeepLab "
    "semkitti-dvps/README.md)",
    "the SemKITTI-DVPS annotations, video_sequence/{train,val}/{seq:06d}_{frame:06d}_{gtFine_class,gtFine_instance,"
    "depth_{focal}}.png. Its file name is not published: any zip or tar in --raw whose name contains "
    "'video_sequence', 'dvps' or 'semkitti' and holds these files is used, and so is the extracted video_sequence/ "
    "folder",
    extracted=("video_sequence",),
)
IMAGES = Download(
    "data_odometry_color.zip", "65 GB",
    "https://www.cvlibs.net/datasets/kitti/eval_odometry.php (\"Download odometry data set (color, 65 GB)\")",
    "KITTI odometry colour images, dataset/sequences/{seq:02d}/image_2/{frame:06d}.png (only sequences 00-10 of "
    "image_2 are read); the extracted sequences/ folder is accepted too",
    url="https://s3.eu-central-1.amazonaws.com/avg-kitti/data_odometry_color.zip",
    extracted=("dataset/sequences", "sequences"),
)
_KEYWORDS = ("video_sequence", "dvps", "semkitti")
_ANNOTATION = re.compile(r"(?:^|/)(?:video_sequence/)?(train|val)/(\d{6}_\d{6}_(?:gtFine_class|gtFine_instance|"
                         r"depth_\d+(?:\.\d+)?)\.png)$")
_IMAGE = re.compile(r"(?:^|/)sequences/(\d{2})/image_2/(\d{6})\.png$")
_NAME = re.compile(r"^((\d{6})_(\d{6}))_(leftImg8bit|gtFine_class|gtFine_instance|depth_(\d+(?:\.\d+)?))\.png$")
KINDS = ("leftImg8bit", "gtFine_class", "gtFine_instance", "depth")


def split_of(seq: int) -> str:
    return "val" if seq == VAL_SEQUENCE else "train"


class SemKittiDVPS(Recipe):
    NAME = "semkitti-dvps"
    FOLDER = "semkitti-dvps"
    TITLE = "SemKITTI-DVPS (depth-aware video panoptic segmentation)"
    VERSION = "1"
    LABEL_OUTPUTS = ("video_sequence/*/*_gtFine_class.png", "video_sequence/*/*_gtFine_instance.png", "video_sequence/*/*_depth_*.png")
    DOWNLOADS = (ANNOTATIONS, IMAGES)
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare", "train,val", shapes_output=False),
    )
    SAMPLE_OPTIONS = (
        Option("frames", "frames per sequence (sequences 00-10, and 11 without labels)", 3, int),
    )

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        splits = parse_splits(options.get("splits") or "train,val", SPLITS)
        annotations, notes = find_annotations(raw)
        images, image_notes = find_images(raw)
        notes += image_notes
        tasks = []
        for (split, seq, frame), files in sorted(annotations.items()):
            if split not in splits:
                continue
            stem = f"video_sequence/{split}/{seq:06d}_{frame:06d}"
            tasks.append(_image_task(f"{stem}_leftImg8bit.png", images.get((seq, frame)), seq, frame, split))
            for kind, check in (("gtFine_class", "label"), ("gtFine_instance", "label"), ("depth", "depth")):
                if kind not in files:
                    output = f"{stem}_{kind}.png" if kind != "depth" else f"{stem}_depth.png"
                    tasks.append(Task(output, report_missing, (), (output,), {"message": (
                        f"no {kind} file for the frame {seq:06d}_{frame:06d} in the annotations ({ANNOTATIONS.page})")},
                        f"{split} {kind}", size_hint=0))
                    continue
                name, source = files[kind]
                output = f"video_sequence/{split}/{name}"
                tasks.append(Task(output, place_annotation, (source,), (output,), {"check": check}, f"{split} {kind}"))
        unlabelled = [key for key in images if key[0] in SEQUENCES and (split_of(key[0]), *key) not in annotations]
        if unlabelled:
            notes.append(f"{len(unlabelled):,} images of sequences 00-10 have no annotation and are not placed "
                         f"(e.g. sequences/{unlabelled[0][0]:02d}/image_2/{unlabelled[0][1]:06d}.png)")
        return Plan(tasks, self.salt(options), notes)

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        verify_tree(out_root, report, official, jobs, progress)

    def inspect_raw(self, raw: Path) -> list[tuple[str, str]]:
        return wrong_download(raw, ANNOTATIONS, find_annotations)

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        categories = [Category(name, color, index < NUM_THINGS) for index, (name, color) in enumerate(CLASSES)]
        section = ReportSection(self.NAME, self.FOLDER, self.TITLE, categories)
        labels = []
        for split in SPLITS:
            folder = out_root / "video_sequence" / split
            names = sorted(os.listdir(folder)) if folder.is_dir() else []
            images = [n for n in names if n.endswith("_leftImg8bit.png")]
            published = sum(n for s, n in SEQUENCE_FRAMES.items() if split_of(s) == split)
            section.counts.append(CountRow(split, "frames", len(images), published))
            labels += [f"video_sequence/{split}/{n}" for n in names if n.endswith("_gtFine_class.png")]
        section.frames = [_label_view(out_root, rel) for rel in evenly_spaced(labels, 4)]
        section.notes.append("labels and depth are LiDAR points projected into the image: most pixels are void")
        return section

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.samples.semkitti_dvps import write_sample

        write_sample(out, frames=int(options.get("frames") or 3), jobs=jobs)


RECIPE = SemKittiDVPS


# ---------------------------------------------------------------------- inputs


def find_annotations(raw: Path) -> tuple[dict[tuple[str, int, int], dict[str, tuple[str, Source]]], list[str]]:
    """(split, seq, frame) -> kind ("gtFine_class", "gtFine_instance", "depth") -> (file name, source)."""
    found, notes = find_video_sequence(raw, _ANNOTATION, _KEYWORDS, "SemKITTI-DVPS annotation files", ANNOTATIONS)
    out: dict[tuple[str, int, int], dict[str, tuple[str, Source]]] = defaultdict(dict)
    for (split, name), source in sorted(found.items()):
        seq, frame = int(name[:6]), int(name[7:13])
        if seq not in SEQUENCES or split_of(seq) != split:
            raise BadInput(f"{source.describe()}: sequence {seq:02d} is filed under '{split}', but SemKITTI-DVPS puts "
                           f"sequence 08 in val and 00-07, 09, 10 in train; use the official annotation archive")
        kind = "depth" if name[14:].startswith("depth_") else name[14:-4]
        files = out[(split, seq, frame)]
        if kind in files:
            raise BadInput(f"two {kind} files for the frame {seq:06d}_{frame:06d}: {files[kind][0]} and {name}")
        if kind == "depth" and not float(name[20:-4]) > 0:
            raise BadInput(f"{source.describe()}: the focal length in the name ({name[20:-4]}) is not positive")
        files[kind] = (name, source)
    return dict(out), notes


def find_images(raw: Path) -> tuple[dict[tuple[int, int], Source], list[str]]:
    """(seq, frame) -> KITTI odometry image_2 frame of sequences 00-10: extracted sequences/ first, then the zip."""
    images: dict[tuple[int, int], Source] = {}
    notes: list[str] = []
    for anchor in find_dirs(raw, {"sequences"}, 3):
        count = 0
        for seq in SEQUENCES:
            folder = anchor / f"{seq:02d}" / "image_2"
            if not folder.is_dir():
                continue
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                if re.fullmatch(r"\d{6}\.png", entry.name) and entry.is_file() and (seq, int(entry.name[:6])) not in images:
                    images[(seq, int(entry.name[:6]))] = FileSource.of(entry.path)
                    count += 1
        if count:
            notes.append(f"{anchor}: {count:,} images of sequences 00-10 (extracted)")
    for folder in [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")):
        archive = find_archive(folder, IMAGES.filename)
        if archive is None:
            continue
        count = 0
        for member in list_members(archive):
            match = _IMAGE.search(member.name)
            if match and int(match.group(1)) in SEQUENCES:
                key = (int(match.group(1)), int(match.group(2)))
                if key not in images:
                    images[key] = MemberSource(archive, member)
                    count += 1
        notes.append(f"{archive.display}: {count:,} images of sequences 00-10 (random access)")
        break
    if not images:
        raise MissingInput(f"no KITTI odometry colour images (sequences/{{seq}}/image_2/) under {raw}. Expected:\n"
                           f"  - {IMAGES.describe()}")
    return images, notes


def _image_task(output: str, source: Source | None, seq: int, frame: int, split: str) -> Task:
    if source is None:
        return Task(output, report_missing, (), (output,), {"message": (
            f"no image for the annotated frame {seq:06d}_{frame:06d}: expected dataset/sequences/{seq:02d}/image_2/"
            f"{frame:06d}.png from {IMAGES.filename} ({IMAGES.page})")}, f"{split} images", size_hint=0)
    return Task(output, place_checked, (source,), (output,), {"check": "rgb"}, f"{split} images")


# ---------------------------------------------------------------------- actions (run in workers)


def place_annotation(ctx: TaskContext, task: Task) -> None:
    check = check_depth_png if task.params["check"] == "depth" else check_label_png
    ctx.place(task.inputs[0], task.outputs[0], check=check)


def check_label_png(data: bytes, name: str) -> None:
    """Class and instance maps: complete one-channel 8- or 16-bit PNGs (their bit depth is not documented)."""
    info = png_info(data, name)
    if (info.color_type, info.bit_depth) not in GRAY8 | GRAY16:
        raise BadInput(f"{name}: expected a one-channel 8- or 16-bit PNG, found a {png_kind(info)} PNG")


# ---------------------------------------------------------------------- verification


def verify_tree(out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    root = out_root / "video_sequence"
    for entry in sorted(os.listdir(out_root)):
        if entry != "video_sequence":
            report.fail("layout", entry, "stray entry (only video_sequence/ belongs here)")
    frames: dict[str, dict[tuple[int, int], dict[str, str]]] = {}
    for split in SPLITS:
        report.checked("layout")
        if not (root / split).is_dir():
            report.fail("layout", f"video_sequence/{split}", "folder missing")
            continue
        found: dict[tuple[int, int], dict[str, str]] = defaultdict(dict)
        for name in sorted(os.listdir(root / split)):
            match = _NAME.match(name)
            rel = f"video_sequence/{split}/{name}"
            if match is None:
                report.fail("layout", rel, "stray file (not {seq:06d}_{frame:06d}_{leftImg8bit|gtFine_class|"
                                           "gtFine_instance|depth_{focal}}.png)")
                continue
            seq = int(match.group(2))
            if match.group(5) and not float(match.group(5)) > 0:
                report.fail("layout", rel, "the focal length in the name is not positive")
            if seq not in SEQUENCES or split_of(seq) != split:
                report.fail("layout", rel, f"sequence {seq:02d} does not belong to {split} (08 is val, 00-07, 09, 10 "
                                           "train)")
            kind = "depth" if match.group(5) else match.group(4)
            key = (seq, int(match.group(3)))
            if kind in found[key]:
                report.fail("layout", rel, f"a second {kind} file for the frame ({found[key][kind]})")
            found[key][kind] = name
        frames[split] = found
    work = []
    for split, found in frames.items():
        by_seq: dict[int, list[int]] = defaultdict(list)
        for (seq, frame), files in sorted(found.items()):
            report.checked("files")
            by_seq[seq].append(frame)
            missing = [k for k in KINDS if k not in files]
            if missing:
                report.fail("files", f"video_sequence/{split}/{seq:06d}_{frame:06d}_*", f"missing: {', '.join(missing)}")
                continue
            work.append({"root": str(out_root), "folder": f"video_sequence/{split}", "files": files})
        for seq, numbers in sorted(by_seq.items()):
            report.checked("sequences")
            gaps = rules.missing_frames(numbers)
            if gaps or min(numbers) != 0:
                report.fail("sequences", f"video_sequence/{split}/{seq:06d}_*", "frames missing: "
                            f"{rules.format_ranges(gaps) or 'from 0'} (Video K-Net pairs frame n with n +- 1)")
    results = parallel_map(check_frame, work, jobs, progress, "verify semkitti-dvps")
    stats, stuff_instances = [], 0
    for item, result in zip(work, results):
        if isinstance(result, Exception):
            report.crashed("decode", f"{item['folder']}/{item['files']['leftImg8bit']}", result)
            continue
        checks, depth, on_stuff = result
        report.add(checks)
        if depth is not None:
            stats.append(depth)
        stuff_instances += on_stuff
    if stats:
        report.note(depth_note(stats))
    if stuff_instances:
        report.note(f"{stuff_instances:,} frames have instance ids on stuff classes (8-18); Video K-Net keeps them "
                    "(class*10000 + instance)")
    if official:
        _check_official(frames, report)


def check_frame(item: dict) -> tuple[list[tuple[str, str, str | None]], tuple[int, int, int] | None, int]:
    """Checks of one frame's four files: (check, file, message or None), depth statistics, instance ids on stuff."""
    root, folder, files = Path(item["root"]), item["folder"], item["files"]
    out: list[tuple[str, str, str | None]] = []
    rel = {kind: f"{folder}/{name}" for kind, name in files.items()}
    size = check_image(root / rel["leftImg8bit"], rel["leftImg8bit"], out)
    label = "a one-channel 8- or 16-bit PNG"
    classes = check_map(root / rel["gtFine_class"], rel["gtFine_class"], GRAY8 | GRAY16, label, size, out)
    instances = check_map(root / rel["gtFine_instance"], rel["gtFine_instance"], GRAY8 | GRAY16, label, size, out)
    depth = check_map(root / rel["depth"], rel["depth"], GRAY16, "a 16-bit one-channel PNG (uint16, metres*256)", size,
                      out)
    on_stuff = 0
    if classes is not None:
        bad = rules.unexpected_values(classes, list(range(len(CLASSES))) + [VOID])
        out.append(("values", rel["gtFine_class"], f"classes outside 0-18/255: {bad[:10]}" if bad else None))
    if instances is not None:
        large = int(instances.max()) if instances.size else 0
        out.append(("values", rel["gtFine_instance"], None if large < INSTANCE_DIVISOR else
                    f"instance id {large} >= {INSTANCE_DIVISOR} (Video K-Net's class*10000 + instance would overflow)"))
        if classes is not None and classes.shape == instances.shape:
            on_stuff = int(((instances > 0) & (classes >= NUM_THINGS) & (classes != VOID)).any())
    stats = check_depth_values(depth, rel["depth"], out) if depth is not None else None
    return out, stats, on_stuff


def _check_official(frames: dict[str, dict[tuple[int, int], dict[str, str]]], report: Report) -> None:
    per_seq: dict[int, int] = defaultdict(int)
    for found in frames.values():
        for seq, _ in found:
            per_seq[seq] += 1
    for seq, published in SEQUENCE_FRAMES.items():
        report.checked("official counts")
        if per_seq.get(seq, 0) != published:
            report.fail("official counts", f"video_sequence/{split_of(seq)}/{seq:06d}_*",
                        f"{per_seq.get(seq, 0):,} frames of sequence {seq:02d}, the KITTI odometry sequence has "
                        f"{published:,}")
    pairs = {split: len(found) - len({seq for seq, _ in found}) for split, found in frames.items()}
    for message in rules.count_mismatches(pairs, PUBLISHED_PAIRS):
        report.fail("official counts", "video_sequence", f"consecutive frame pairs of {message}")
    report.checked("official counts", len(PUBLISHED_PAIRS))


# ---------------------------------------------------------------------- report


def _label_view(out_root: Path, rel: str) -> LabelView:
    classes = decode_png_fast((out_root / rel).read_bytes(), rel).astype(np.int64)
    instances = decode_png_fast((out_root / rel.replace("gtFine_class", "gtFine_instance")).read_bytes(), rel)
    image = decode_png((out_root / rel.replace("gtFine_class", "leftImg8bit")).read_bytes(), rel)
    segments = classes * INSTANCE_DIVISOR + instances
    category_of = {int(s): int(s) // INSTANCE_DIVISOR for s in np.unique(segments)
                   if int(s) // INSTANCE_DIVISOR < len(CLASSES)}
    return LabelView(os.path.basename(rel)[:13], image, segments, category_of, classes == VOID, rel)
