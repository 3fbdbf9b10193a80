"""The Cityscapes-DVPS report section."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from segprep.datasets._shared.cityscapes_vps_labels import categories, panoptic_view
from segprep.datasets._shared.dvps import SPLITS
from segprep.encodings import cityscapes_vps as vps
from segprep.engine.progress import Progress
from segprep.io.images import decode_png_fast
from segprep.report.model import CountRow, ReportSection, evenly_spaced
from segprep.datasets.cityscapes_dvps import PUBLISHED_FRAMES, PUBLISHED_SEQUENCES


class CityscapesDVPSReport:
    """``CityscapesDVPS.report_section``, kept in this room: the recipe class lists this class as a base."""

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        section = ReportSection(self.NAME, self.FOLDER, self.TITLE, categories())
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
            section.frames.append(panoptic_view(os.path.basename(rel)[:13], image, panoptic, rel))
        return section
