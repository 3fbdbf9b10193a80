"""The Cityscapes-VPS report section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from segprep.checks.findings import Report
from segprep.datasets.base import Recipe
from segprep.encodings import cityscapes_vps as vps
from segprep.io.images import decode_png_fast
from segprep.report.model import ClassStats, CountRow, LabelView, ReportSection, evenly_spaced
from segprep.datasets.cityscapes_vps import PUBLISHED_FRAMES, PUBLISHED_VIDEOS, VIDEO_JSON
from segprep.datasets.cityscapes_vps.verify import _json_frames, _listing
from segprep.datasets._shared.cityscapes_vps_sources import SPLITS, label_name
from segprep.datasets._shared.cityscapes_vps_labels import categories, panoptic_view


def report_section(recipe: Recipe, out_root: Path) -> ReportSection:
    section = ReportSection(recipe.NAME, recipe.FOLDER, recipe.TITLE, categories())
    frames: dict[str, list[str]] = {}
    for split in SPLITS:
        path = out_root / f"panoptic_im_{split}_city_vps.json"
        listed = sorted(f for _, f in _json_frames(json.loads(path.read_bytes()), path.name, Report(""))) \
            if path.is_file() else []
        present = sorted(set(listed) & _listing(out_root / split / "img"))
        frames[split] = present
        section.counts.append(CountRow(split, "frames", len(present), PUBLISHED_FRAMES[split]))
        section.counts.append(CountRow(split, "videos", len({f[:4] for f in present}), PUBLISHED_VIDEOS[split]))
    video_json_path = out_root / VIDEO_JSON
    if video_json_path.is_file():
        pixels, tracks = [0] * vps.NUM_CLASSES, set()
        for annotation in json.loads(video_json_path.read_bytes())["annotations"]:
            for s in annotation["segments_info"]:
                pixels[s["category_id"]] += s["area"]
                if s["category_id"] in vps.THING_TRAIN_IDS and not s["iscrowd"]:
                    tracks.add((annotation["image_id"][:4], s["id"]))
        instances = np.bincount([(i - 1) // vps.DIVISOR for _, i in tracks], minlength=vps.NUM_CLASSES)
        section.stats = ClassStats(pixels, instances[: vps.NUM_CLASSES].tolist(),
                                   f"val, from {VIDEO_JSON}; instances are tracks (video, id)")

    def view(file_name: str) -> LabelView:
        rel = f"val/panoptic_inst/{label_name(file_name)}"
        panoptic = decode_png_fast((out_root / rel).read_bytes(), rel)
        return panoptic_view(file_name[: -len(".png")], out_root / "val/img" / file_name, panoptic, rel)

    labelled = [f for f in frames["val"] if (out_root / "val/panoptic_inst" / label_name(f)).is_file()]
    section.frames = [view(f) for f in evenly_spaced(labelled, 4)]
    if labelled:
        first_video = [f for f in labelled if f[:4] == labelled[0][:4]]
        section.strips = [[view(f) for f in first_video]]
    return section
