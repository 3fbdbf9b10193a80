"""The KITTI-STEP report section."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from segprep.encodings import step
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.io.images import decode_png
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced
from segprep.datasets.kitti_step import LABELLED_SPLITS, PUBLISHED_FRAMES, SEQUENCES, SPLITS


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


class KittiStepReport:
    """``KittiStep.report_section``, kept in this room: the recipe class lists this class as a base."""

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
