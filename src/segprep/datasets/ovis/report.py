"""The report section of a prepared ``data/ovis/``: the YouTube-VIS view (counts per split, class
statistics and labelled frames of train, from the CocoVID files) plus OVIS's occlusion levels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from segprep.datasets.youtube_vis.report import vis_report_section
from segprep.encodings.cocovid import _RAW_SEGMENTATIONS
from segprep.errors import SegprepError
from segprep.io.jsonscan import JsonScanner
from segprep.report.model import CountRow, ReportSection

LEVELS = ("no_occlusion", "slight_occlusion", "severe_occlusion")


def report_section(recipe, out_root: Path) -> ReportSection:
    from segprep.datasets.ovis import PUBLISHED_VIDEOS, VERSION, cocovid_name

    section = ReportSection(recipe.NAME, recipe.FOLDER, recipe.TITLE, [])
    vis_report_section(section, out_root, VERSION, PUBLISHED_VIDEOS, cocovid_name, "train")
    official = out_root / "annotations/annotations_train.json"
    if official.is_file():
        try:
            levels, tracks, with_levels = occlusion_levels(official)
        except SegprepError as exc:
            section.notes.append(f"occlusion levels not read: {exc}")
            return section
        if with_levels:
            for level in sorted(levels, key=lambda k: (LEVELS.index(k) if k in LEVELS else len(LEVELS), str(k))):
                section.counts.append(CountRow("train", f"masks: {level}", levels[level]))
            section.notes.append(f"occlusion levels of {with_levels:,} of {tracks:,} train tracks, per annotated "
                                 "frame (OVISeval scores them 0 / 0.25 / 0.75 for AP_so/mo/ho)")
        else:
            section.notes.append("annotations_train.json has no per-frame occlusion levels")
    return section


def occlusion_levels(path: Path) -> tuple[Counter, int, int]:
    """Masks per occlusion level, tracks, and tracks that carry an ``occlusion`` list."""
    levels: Counter = Counter()
    tracks = with_levels = 0
    with open(path, "rb") as f:
        for member in JsonScanner(f, path.name).members():
            if member.key != "annotations" or not member.is_array():
                continue
            for _, _, track in member.elements(raw=_RAW_SEGMENTATIONS):
                tracks += 1
                occlusion = track.get("occlusion") if isinstance(track, dict) else None
                if isinstance(occlusion, list):
                    with_levels += 1
                    levels.update(level for level in occlusion if level is not None)
    return levels, tracks, with_levels
