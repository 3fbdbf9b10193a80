"""The SemKITTI-DVPS report section."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from segprep.datasets._shared.dvps import SPLITS
from segprep.engine.progress import Progress
from segprep.io.images import decode_png, decode_png_fast
from segprep.report.model import Category, CountRow, LabelView, ReportSection, evenly_spaced
from segprep.datasets.semkitti_dvps import CLASSES, INSTANCE_DIVISOR, NUM_THINGS, SEQUENCE_FRAMES, VOID, split_of


# ---------------------------------------------------------------------- report


def _label_view(out_root: Path, rel: str) -> LabelView:
    classes = decode_png_fast((out_root / rel).read_bytes(), rel).astype(np.int64)
    instances = decode_png_fast((out_root / rel.replace("gtFine_class", "gtFine_instance")).read_bytes(), rel)
    image = decode_png((out_root / rel.replace("gtFine_class", "leftImg8bit")).read_bytes(), rel)
    segments = classes * INSTANCE_DIVISOR + instances
    category_of = {int(s): int(s) // INSTANCE_DIVISOR for s in np.unique(segments)
                   if int(s) // INSTANCE_DIVISOR < len(CLASSES)}
    return LabelView(os.path.basename(rel)[:13], image, segments, category_of, classes == VOID, rel)


class SemKittiDVPSReport:
    """``SemKittiDVPS.report_section``, kept in this room: the recipe class lists this class as a base."""

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
