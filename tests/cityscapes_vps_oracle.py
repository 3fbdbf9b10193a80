"""mcahny/vps prepare_data's label computations written out plainly, as the test oracle.

``create_panoptic_labels.py`` (and the ``joe-siyuan-qiao/vps`` fork for Cityscapes-DVPS) and
``create_panoptic_video_labels.py`` as formats-video.md 4.3 and 5.1 describe them: Pillow reads, a
full-image mask per colour and per instance id, ``np.unique`` + ``argmax`` for the majority colour.
Nothing of segprep is used here: the colour table comes from the categories of the released json.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def official_labels(color_path, instance_path, categories: list[dict], fork: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(labelmap uint8, panoptic_inst uint32) of one frame; ``fork``: the DVPS fork's encoding (void 32000,
    stuff trainId*1000)."""
    color = np.array(Image.open(color_path), dtype=np.uint32)[:, :, :3]
    semantic = color[:, :, 0] + color[:, :, 1] * 256 + color[:, :, 2] * 256 * 256
    instance = np.array(Image.open(instance_path))
    by_color = {c["color"][0] + c["color"][1] * 256 + c["color"][2] * 65536: c for c in categories}
    panoptic = np.full(semantic.shape, 32000 if fork else 255, np.uint32)
    label = np.full(semantic.shape, 255, np.uint8)
    for value in np.unique(semantic):
        category = by_color.get(int(value))
        if category is None:
            continue
        mask = semantic == value
        label[mask] = category["id"]
        if category["isthing"] == 0:
            panoptic[mask] = category["id"] * 1000 if fork else category["id"]
    for value in np.unique(instance):
        if value < 1000:
            continue
        mask = instance == value
        colors, counts = np.unique(semantic[mask], return_counts=True)
        category = by_color.get(int(colors[np.argmax(counts)]))
        if category is None or category["isthing"] == 0:
            continue
        panoptic[mask] = category["id"] * 1000 + int(value) % 1000
    return label, panoptic


def official_video_segments(panoptic: np.ndarray, categories: list[dict]) -> dict[int, dict]:
    """create_panoptic_video_labels.py's segments of one panoptic_inst map, keyed by panoptic_inst value
    (the official ids are random colours: the caller maps values to ids)."""
    by_id = {c["id"]: c for c in categories}
    out = {}
    for value in np.unique(panoptic).tolist():
        semantic, crowd = (value, 1) if value < 1000 else (value // 1000, 0)
        if semantic not in by_id:
            continue
        if by_id[semantic]["isthing"] == 0:
            crowd = 0
        out[value] = {"category_id": semantic, "iscrowd": crowd, "area": int((panoptic == value).sum())}
    return out
