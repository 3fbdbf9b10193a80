"""Cityscapes-DVPS -> ``data/cityscapes-dvps/video_sequence/{train,val}/`` as PolyphonicFormer reads it.

The depth archive (``video_sequence/{train,val}/*_depth.png``) names every frame:
``{seq:06d}_{frame:06d}_{city}_{cs_seq:06d}_{cs_frame:06d}_depth.png``; the Cityscapes frame
``{city}_{cs_seq}_{cs_frame}`` is a frame of the Cityscapes-VPS split of the same name. Beside each
depth file (bytes unchanged) go its image from the Cityscapes sequence archive (``_leftImg8bit.png``,
bytes unchanged) and ``_gtFine_instanceTrainIds.png``: the VPS panoptic_inst of the frame in the
``joe-siyuan-qiao/vps`` fork's encoding (16-bit, stuff ``trainId*1000``, things ``trainId*1000+k``,
void 32000), which is what ViP-DeepLab's ``copy_gt.py`` / ``copy_video_sequence.py`` put there.
Sources: formats-video.md 5; ViP-DeepLab ``cityscapes-dvps/``.
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
from segprep.datasets import cityscapes_vps as cvps
from segprep.datasets.base import Download, Option, Recipe, parse_splits
from segprep.datasets.cityscapes import GT
from segprep.datasets.dvps import (GRAY16, SPLITS, check_depth_png, check_depth_values, check_image, check_map,
                                   depth_note, find_video_sequence, wrong_download)
from segprep.encodings import cityscapes_vps as vps
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.engine.runner import Plan
from segprep.engine.tasks import Task, TaskContext
from segprep.io.images import decode_png_fast, encode_png_fast
from segprep.report.model import CountRow, ReportSection, evenly_spaced

PUBLISHED_FRAMES = {"train": 2400, "val": 300}  # google-research/deeplab2 data/dataset.py (2400/300/300)
PUBLISHED_SEQUENCES = {"train": 400, "val": 50}
DEPTH = Download(
    "video_sequence.zip", "",
    "https://drive.google.com/file/d/147esC0jEhWQCCEMOHj5nYGCPnuwmQrl4 (joe-siyuan-qiao/ViP-DeepLab "
    "cityscapes-dvps/README.md)",
    "the Cityscapes-DVPS depth maps, video_sequence/{train,val}/{seq:06d}_{frame:06d}_{city}_{seq:06d}_{frame:06d}"
    "_depth.png (uint16, metres*256). Its file name is not published: any zip or tar in --raw whose name contains "
    "'video_sequence', 'dvps' or 'depth' and holds these files is used, and so is the extracted video_sequence/ folder",
    extracted=("video_sequence",),
)
_KEYWORDS = ("video_sequence", "dvps", "depth")
_DEPTH = re.compile(r"(?:^|/)(?:video_sequence/)?(train|val)/(\d{6}_\d{6}_[a-z]+_\d{6}_\d{6})_depth\.png$")
_NAME = re.compile(r"^((\d{6})_(\d{6})_([a-z]+)_(\d{6})_(\d{6}))_(leftImg8bit|gtFine_instanceTrainIds|depth)\.png$")
KINDS = ("leftImg8bit", "gtFine_instanceTrainIds", "depth")


class CityscapesDVPS(Recipe):
    NAME = "cityscapes-dvps"
    FOLDER = "cityscapes-dvps"
    TITLE = "Cityscapes-DVPS (depth-aware video panoptic segmentation)"
    VERSION = "1"
    LABEL_OUTPUTS = ("video_sequence/*/*_gtFine_instanceTrainIds.png", "video_sequence/*/*_depth.png")
    DOWNLOADS = (DEPTH, cvps.VPS, cvps.SEQUENCE, GT)
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare", "train,val", shapes_output=False),
    )
    SAMPLE_OPTIONS = cvps.CityscapesVPS.SAMPLE_OPTIONS

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        splits = parse_splits(options.get("splits") or "train,val", SPLITS)
        depth, notes = find_depth(raw)
        inputs = cvps.find_inputs(raw)
        tasks = []
        for split in splits:
            frames = {frame.stem: frame for frame in cvps.split_frames(inputs, split)}
            used = set()
            for (depth_split, prefix), source in sorted(depth.items()):
                if depth_split != split:
                    continue
                stem = prefix[len("000000_000000_"):]
                used.add(stem)
                tasks += frame_tasks(split, prefix, source, frames.get(stem), inputs)
            unused = sorted(set(frames) - used)
            if unused:
                notes.append(f"{split}: {len(unused)} Cityscapes-VPS frames have no depth file (e.g. {unused[0]}); "
                             "they are not part of Cityscapes-DVPS")
        return Plan(tasks, self.salt(options), notes + inputs.notes)

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        verify_tree(out_root, report, official, jobs, progress)

    def inspect_raw(self, raw: Path) -> list[tuple[str, str]]:
        return wrong_download(raw, DEPTH, find_depth)

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        section = ReportSection(self.NAME, self.FOLDER, self.TITLE, cvps.categories())
        labels = []
        for split in SPLITS:
            folder = out_root / "video_sequence" / split
            names = sorted(os.listdir(folder)) if folder.is_dir() else []
            depth = [n for n in names if n.endswith("_depth.png")]
            section.counts.append(CountRow(split, "frames", len(depth), PUBLISHED_FRAMES[split]))
            section.counts.append(CountRow(split, "sequences", len({n[:6] for n in depth}), PUBLISHED_SEQUENCES[split]))
            labels += [f"video_sequence/{split}/{n}" for n in names if n.endswith("_gtFine_instanceTrainIds.png")]
        for rel in evenly_spaced(labels, 4):
            label = decode_png_fast((out_root / rel).read_bytes(), rel)
            panoptic = np.where(label == vps.DVPS_VOID, vps.VOID, np.where(label < vps.DIVISOR * 11,
                                                                            label // vps.DIVISOR, label))
            image = out_root / rel.replace("gtFine_instanceTrainIds", "leftImg8bit")
            section.frames.append(cvps.panoptic_view(os.path.basename(rel)[:13], image, panoptic, rel))
        return section

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.samples.cityscapes_vps import write_sample

        write_sample(out, videos=cvps._videos_option(options.get("videos") or "2,2,1"),
                     width=int(options.get("width") or 512), jobs=jobs, depth=True)


RECIPE = CityscapesDVPS


def find_depth(raw: Path):
    return find_video_sequence(raw, _DEPTH, _KEYWORDS, "Cityscapes-DVPS depth maps", DEPTH)


def frame_tasks(split: str, prefix: str, depth: Any, frame: cvps.Frame | None, inputs: cvps.Inputs) -> list[Task]:
    base = f"video_sequence/{split}/{prefix}"
    tasks = [Task(f"{base}_depth.png", place_depth, (depth,), (f"{base}_depth.png",), group=f"{split} depth")]
    image, label = f"{base}_leftImg8bit.png", f"{base}_gtFine_instanceTrainIds.png"
    if frame is None:
        message = (f"{depth.describe()} names the Cityscapes frame {prefix[14:]}, which panoptic_im_{split}_city_vps.json "
                   f"does not list: the depth archive and the Cityscapes-VPS download do not belong together")
        return tasks + [cvps.missing_task(image, (image,), f"{split} images", message),
                        cvps.missing_task(label, (label,), f"{split} instanceTrainIds", message)]
    tasks.append(cvps.image_task(image, frame.stem, inputs, f"{split} images"))
    if frame.cls is None or frame.inst is None:
        tasks.append(cvps.missing_task(label, (label,), f"{split} instanceTrainIds", cvps.missing_labels_message(frame)))
    else:
        tasks.append(Task(label, convert_frame, (frame.cls, frame.inst), (label,), group=f"{split} instanceTrainIds",
                          size_hint=300_000))
    return tasks


# ---------------------------------------------------------------------- actions (run in workers)


def place_depth(ctx: TaskContext, task: Task) -> None:
    ctx.place(task.inputs[0], task.outputs[0], check=check_depth_png)


def convert_frame(ctx: TaskContext, task: Task) -> None:
    """The frame's VPS colour + instance maps -> panoptic_inst -> the DVPS value of every pixel."""
    _, panoptic = cvps.frame_labels(ctx, *task.inputs)
    ctx.write_bytes(task.outputs[0], encode_png_fast(vps.dvps_label(panoptic)))


# ---------------------------------------------------------------------- verification


def verify_tree(out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    root = out_root / "video_sequence"
    for entry in sorted(os.listdir(out_root)):
        if entry != "video_sequence":
            report.fail("layout", entry, "stray entry (only video_sequence/ belongs here)")
    frames: dict[str, dict[str, set[str]]] = {}
    for split in SPLITS:
        report.checked("layout")
        if not (root / split).is_dir():
            report.fail("layout", f"video_sequence/{split}", "folder missing")
            continue
        found: dict[str, set[str]] = defaultdict(set)
        for name in sorted(os.listdir(root / split)):
            match = _NAME.match(name)
            if match is None:
                report.fail("layout", f"video_sequence/{split}/{name}", "stray file (not {seq:06d}_{frame:06d}_{city}_"
                            "{seq:06d}_{frame:06d}_{leftImg8bit|gtFine_instanceTrainIds|depth}.png)")
                continue
            found[match.group(1)].add(match.group(7))
        frames[split] = found
    if root.is_dir():
        for entry in sorted(os.listdir(root)):
            if entry not in SPLITS:
                report.fail("layout", f"video_sequence/{entry}", "stray entry (only train and val belong here)")
    work = []
    for split, found in frames.items():
        for prefix, kinds in sorted(found.items()):
            report.checked("files")
            missing = [k for k in KINDS if k not in kinds]
            if missing:
                report.fail("files", f"video_sequence/{split}/{prefix}_*", f"missing: {', '.join(missing)}")
                continue
            work.append((str(out_root), f"video_sequence/{split}/{prefix}"))
        _check_sequences(split, found, report)
    results = parallel_map(check_frame, work, jobs, progress, "verify cityscapes-dvps")
    stats = []
    for (_, stem), result in zip(work, results):
        if isinstance(result, Exception):
            report.crashed("decode", f"{stem}_*", result)
            continue
        checks, depth = result
        report.add(checks)
        if depth is not None:
            stats.append(depth)
    if stats:
        report.note(depth_note(stats))
    if official:
        counts = {s: len(f) for s, f in frames.items()}
        for message in rules.count_mismatches(counts, PUBLISHED_FRAMES):
            report.fail("official counts", "video_sequence", f"frames of {message}")
        sequences = {s: len({p[:6] for p in f}) for s, f in frames.items()}
        for message in rules.count_mismatches(sequences, PUBLISHED_SEQUENCES):
            report.fail("official counts", "video_sequence", f"sequences of {message}")
        report.checked("official counts", 4)


def _check_sequences(split: str, found: dict[str, set[str]], report: Report) -> None:
    """Frames of a sequence are numbered without gaps (deeplab2 and PolyphonicFormer pair consecutive ones) and
    come from one Cityscapes snippet, in order."""
    sequences: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    for prefix in found:
        seq, frame, city, cs_seq, cs_frame = prefix.split("_")
        sequences[seq].append((int(frame), f"{city}_{cs_seq}", int(cs_frame)))
    for seq, items in sorted(sequences.items()):
        report.checked("sequences")
        items.sort()
        problems = []
        gaps = rules.missing_frames([f for f, _, _ in items])
        if gaps or items[0][0] != 0:
            problems.append(f"frames missing: {rules.format_ranges(gaps) or 'from 0'}")
        snippets = sorted({s for _, s, _ in items})
        if len(snippets) != 1:
            problems.append(f"frames of several Cityscapes snippets {snippets}")
        cs_frames = [c for _, _, c in items]
        if cs_frames != sorted(cs_frames):
            problems.append("Cityscapes frame numbers are not in the sequence's order")
        if problems:
            report.fail("sequences", f"video_sequence/{split}/{seq}_*", "; ".join(problems))


def check_frame(item: tuple[str, str]) -> tuple[list[tuple[str, str, str | None]], tuple[int, int, int] | None]:
    """Checks of one frame's three files; returns (check, file, message or None) and the depth statistics."""
    root, stem = Path(item[0]), item[1]
    out: list[tuple[str, str, str | None]] = []
    size = check_image(root / f"{stem}_leftImg8bit.png", f"{stem}_leftImg8bit.png", out)
    label = check_map(root / f"{stem}_gtFine_instanceTrainIds.png", f"{stem}_gtFine_instanceTrainIds.png", GRAY16,
                      "a 16-bit one-channel PNG", size, out)
    depth = check_map(root / f"{stem}_depth.png", f"{stem}_depth.png", GRAY16, "a 16-bit one-channel PNG (uint16, "
                      "metres*256)", size, out)
    if label is not None:
        present = np.flatnonzero(np.bincount(label.ravel(), minlength=1 << 16))
        bad = [int(v) for v in present if not vps.valid_dvps_values()[v]]
        out.append(("values", f"{stem}_gtFine_instanceTrainIds.png", None if not bad else
                    f"values that are neither 32000 (void), stuff trainId*1000 nor thing trainId*1000+k: {bad[:10]}"))
    return out, check_depth_values(depth, f"{stem}_depth.png", out) if depth is not None else None
