"""The YouTube-VIS report section: counts, class statistics and frames drawn from the CocoVID train file."""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced
from segprep.encodings import youtube_vis as vis
from segprep.engine.progress import Progress
from segprep.io.jsonscan import JsonScanner, Raw
from segprep.datasets.youtube_vis import PUBLISHED_VIDEOS, SPLITS, cocovid_name
from segprep.datasets.youtube_vis.verify import read_head
from segprep.encodings.cocovid import _LENIENT_RLE


# ---------------------------------------------------------------------- report


_RAW_RLE = {"segmentation": re.compile(_LENIENT_RLE)}


def _category_color(name: str) -> tuple[int, int, int]:
    import hashlib

    digest = hashlib.blake2b(name.encode(), digest_size=3).digest()
    return (48 + digest[0] * 207 // 255, 48 + digest[1] * 207 // 255, 48 + digest[2] * 207 // 255)


def _scan_train(path: Path, wanted: set) -> tuple[Counter, dict, int, dict]:
    """Pixels and tracks per category of a CocoVID train file, and the annotations of the wanted images."""
    pixels: Counter = Counter()
    tracks: dict[Any, set] = defaultdict(set)
    annotations: dict[Any, list[dict]] = defaultdict(list)
    objects = 0
    with open(path, "rb") as f:
        for member in JsonScanner(f, path.name).members():
            if member.key != "annotations":
                continue
            for _, _, ann in member.elements(raw=_RAW_RLE):
                objects += 1
                if isinstance(ann.get("area"), (int, float)):
                    pixels[ann.get("category_id")] += int(ann["area"])
                tracks[ann.get("category_id")].add(ann.get("instance_id"))
                if ann.get("image_id") in wanted:
                    if isinstance(ann.get("segmentation"), Raw):
                        ann["segmentation"] = json.loads(ann["segmentation"].text)
                    annotations[ann["image_id"]].append(ann)
    return pixels, tracks, objects, annotations


def _label_view(out_root: Path, image: dict, annotations: list[dict], index: dict,
                folder: str = "train/JPEGImages") -> LabelView:
    import numpy as np
    from PIL import Image
    from pycocotools import mask as mask_utils

    width, height = image["width"], image["height"]
    path = out_root / folder / image["file_name"]
    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
    except OSError:
        rgb = np.zeros((height, width, 3), np.uint8)
    segments = np.zeros(rgb.shape[:2], np.int64)
    category_of = {}
    for ann in annotations:
        if ann.get("category_id") not in index:
            continue
        try:
            with warnings.catch_warnings():  # pycocotools' own use of numpy 2
                warnings.simplefilter("ignore", DeprecationWarning)
                seg = ann["segmentation"]
                if isinstance(seg.get("counts"), str):  # compressed RLE (OVIS)
                    rle = dict(seg, counts=seg["counts"].encode())
                else:
                    rle = mask_utils.frPyObjects(seg, height, width)
                mask = mask_utils.decode(rle).astype(bool)
        except Exception:
            continue
        if mask.shape == segments.shape:
            segments[mask] = ann["instance_id"]
            category_of[int(ann["instance_id"])] = index[ann["category_id"]]
    return LabelView(image["file_name"], rgb, segments, category_of, np.zeros(segments.shape, bool),
                     f"{folder}/{image['file_name']}")


class YouTubeVISReport:
    """``YouTubeVIS.report_section``, kept in this room: the recipe class lists this class as a base."""

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        return vis_report_section(ReportSection(self.NAME, self.FOLDER, self.TITLE, []), out_root, self.YEAR,
                                  PUBLISHED_VIDEOS[self.YEAR], lambda split: cocovid_name(self.YEAR, split),
                                  "train/JPEGImages")


def vis_report_section(section: ReportSection, out_root: Path, version: str, published: dict[str, int],
                       cocovid: Callable[[str], str], frames_folder: str) -> ReportSection:
    """Counts per split, class statistics of train and labelled train frames, from the CocoVID files
    (``cocovid(split)``; train frames under ``frames_folder``), for YouTube-VIS and OVIS."""
    names = vis.CATEGORIES[version]
    section.categories = [Category(name, _category_color(name), True) for name in names]
    heads = {}
    for split in SPLITS:
        path = out_root / cocovid(split)
        head = read_head(path) if path.is_file() else {}
        heads[split] = head
        section.counts.append(CountRow(split, "videos", len(head.get("videos", [])), published[split],
                                       "" if head else f"{cocovid(split)} missing"))
        section.counts.append(CountRow(split, "frames", len(head.get("images", []))))
    train = heads["train"]
    if not train.get("images"):
        section.notes.append("no train annotations prepared: no class statistics or frames")
        return section
    by_video: dict[Any, list[dict]] = defaultdict(list)
    for image in train["images"]:
        by_video[image["video_id"]].append(image)
    videos = [by_video[v["id"]] for v in train.get("videos", []) if by_video.get(v["id"])]
    picked = [frames[len(frames) // 2] for frames in evenly_spaced(videos, 4)]
    longest = max(videos, key=len)
    middle = max(0, len(longest) // 2 - 3)
    strip = longest[middle : middle + 6]
    wanted = {image["id"] for image in picked + strip}
    pixels, tracks, objects, annotations = _scan_train(out_root / cocovid("train"), wanted)
    section.counts.append(CountRow("train", "objects (annotated masks)", objects))
    index = {c["id"]: i for i, c in enumerate(train.get("categories", [])) if c.get("name") in names}
    ids = range(1, len(names) + 1)
    section.stats = ClassStats([pixels.get(c, 0) for c in ids], [len(tracks.get(c, ())) for c in ids],
                               "train split: pixels from the annotation areas; instances are tracks (instance_id)")
    view = lambda image: _label_view(out_root, image, annotations.get(image["id"], []), index,  # noqa: E731
                                     frames_folder)
    section.frames = [view(image) for image in picked]
    section.strips = [[view(image) for image in strip]]
    return section
