"""The VSPW report section."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from segprep.datasets.base import Recipe
from segprep.datasets._shared.video_frames import SPLITS, read_split, stems_and_strays
from segprep.encodings import vspw as enc
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.io.sources import FileSource
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced
from segprep.datasets.vspw import LABELLED_SPLITS, PUBLISHED_FRAMES, PUBLISHED_VIDEOS


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
