"""The VIPSeg report section."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from segprep.datasets._shared.video_frames import SPLITS, parse_split
from segprep.encodings import vipseg as enc
from segprep.engine.progress import Progress
from segprep.io.images import decode_png
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced
from segprep.datasets.vipseg import JSON_ALL, LABELLED_SPLITS, PUBLISHED_VIDEOS


# ---------------------------------------------------------------------- report


def _class_stats(path: Path) -> ClassStats | None:
    """Pixels per category from the json's segment areas; instances are (video, thing id) tracks."""
    if not path.is_file():
        return None
    data = json.loads(path.read_bytes())
    pixels = np.zeros(enc.NUM_CATEGORIES, np.int64)
    tracks: set[tuple[str, int]] = set()
    for video in data.get("annotations", []):
        for frame in video["annotations"]:
            for segment in frame["segments_info"]:
                pixels[segment["category_id"]] += segment["area"]
                if enc.CATEGORIES[segment["category_id"]][1]:
                    tracks.add((video["video_id"], segment["id"]))
    instances = np.zeros(enc.NUM_CATEGORIES, np.int64)
    for _, segment_id in tracks:
        instances[enc.category_of(segment_id)] += 1
    return ClassStats(pixels.tolist(), instances.tolist(), f"from {JSON_ALL}; instances are tracks (video, id)")


def _label_view(out_root: Path, video: str, stem: str) -> LabelView:
    """A frame and its raw mask: the segment id is the raw value, void is 0 and the bad value 200."""
    mask = decode_png((out_root / "panomasks" / video / f"{stem}.png").read_bytes(), f"{video}/{stem}.png")
    with Image.open(out_root / "images" / video / f"{stem}.jpg") as im:
        image = np.asarray(im.convert("RGB"))
    categories = enc.category_table()[mask.astype(np.int64)]
    category_of = {int(v): int(enc.category_of(int(v))) for v in np.unique(mask) if enc.category_of(int(v)) >= 0}
    return LabelView(f"{video}/{stem}", image, mask.astype(np.int64), category_of, categories < 0,
                     f"panomasks/{video}/{stem}.png")


class VIPSegReport:
    """``VIPSeg.report_section``, kept in this room: the recipe class lists this class as a base."""

    # ------------------------------------------------------------------ report

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        categories = [Category(name, color, bool(isthing)) for name, isthing, color in enc.CATEGORIES]
        section = ReportSection(self.NAME, self.FOLDER, self.TITLE, categories)
        lists = {split: parse_split((out_root / f"{split}.txt").read_bytes(), f"{split}.txt")
                 for split in SPLITS if (out_root / f"{split}.txt").is_file()}
        labelled: list[tuple[str, str]] = []  # (video, stem) of every frame with a mask
        strip_video = None
        for split, videos in lists.items():
            present = [v for v in videos if (out_root / "images" / v).is_dir()]
            frames = sum(len(os.listdir(out_root / "images" / v)) for v in present)
            missing = len(videos) - len(present)
            section.counts.append(CountRow(split, "videos", len(present), PUBLISHED_VIDEOS[split],
                                           f"{missing:,} listed videos missing" if missing else ""))
            section.counts.append(CountRow(split, "frames", frames))
            if split in LABELLED_SPLITS:
                for video in sorted(present):
                    stems = sorted(n[:-4] for n in os.listdir(out_root / "panomasks" / video)) \
                        if (out_root / "panomasks" / video).is_dir() else []
                    labelled += [(video, stem) for stem in stems]
                    if split == "val" and strip_video is None and len(stems) >= 2:
                        strip_video = (video, stems)
        stats = _class_stats(out_root / JSON_ALL)
        if stats is not None:
            section.stats = stats
        section.frames = [_label_view(out_root, video, stem) for video, stem in evenly_spaced(labelled, 4)]
        if strip_video is not None:
            video, stems = strip_video
            middle = max(0, len(stems) // 2 - 3)
            section.strips = [[_label_view(out_root, video, stem) for stem in stems[middle:middle + 6]]]
        return section
