"""A miniature SemKITTI-DVPS download: ``video_sequence.zip`` (annotations) and ``data_odometry_color.zip``.

Real inner paths (``video_sequence/{train,val}/`` and ``dataset/sequences/{seq:02d}/image_{2,3}/``), every
sequence 00-10 (08 in val) plus sequence 11 (test, no annotations), the KITTI image size and focal
length of each sequence. Labels and depth are what a projected LiDAR scan gives: 64 scan lines below
the horizon with dropouts, everything else void (class 255, instance 0, depth 0). Classes are
SemanticKITTI's 19 learning classes (things first); cars and people keep their instance ids from
frame to frame. Class maps are 8-bit, instance and depth maps 16-bit.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from segprep.engine.parallel import imap_ordered
from segprep.io.images import encode_png
from segprep.samples.archives import write_zip
from segprep.datasets._shared.cityscapes_vps_sample import synthetic_depth
from segprep.samples.scenes import StreetScene

SEQUENCES = tuple(range(12))  # 11 has no annotations (a test sequence)


def camera(seq: int) -> tuple[tuple[int, int], float]:
    """(width, height) and focal length of a KITTI odometry sequence's left colour camera (calib P2)."""
    if seq <= 2:
        return (1241, 376), 718.856
    if seq == 3:
        return (1242, 375), 721.5377
    return (1226, 370), 707.0912


def focal_text(focal: float) -> str:
    """The focal length as the depth file names write it (a float32 printed in full: 718.8560180664062)."""
    return repr(float(np.float32(focal)))


# Cityscapes trainIds of the scene -> SemanticKITTI learning classes (things first)
_CLASS = {0: 8, 1: 10, 2: 12, 5: 17, 7: 18, 8: 14, 9: 16, 11: 5, 13: 0}


def write_sample(out: Path, frames: int = 3, jobs: int = 1) -> list[Path]:
    items = [(seq, t) for seq in SEQUENCES for t in range(frames)]
    annotations = []

    def images():
        for (seq, t), rendered in zip(items, imap_ordered(render_frame, items, jobs)):
            if isinstance(rendered, Exception):
                raise rendered
            image, files = rendered
            annotations.extend(files)
            yield f"dataset/sequences/{seq:02d}/image_2/{t:06d}.png", image
            if t == 0:  # the right camera: in the archive, never read
                yield f"dataset/sequences/{seq:02d}/image_3/{t:06d}.png", image

    out.mkdir(parents=True, exist_ok=True)
    write_zip(out / "data_odometry_color.zip", images())
    write_zip(out / "video_sequence.zip", sorted(annotations))
    return [out / "data_odometry_color.zip", out / "video_sequence.zip"]


@lru_cache(maxsize=4)
def _scene(seq: int, width: int, height: int) -> StreetScene:
    return StreetScene(seed=500 + seq, height=height, width=width)


def render_frame(item: tuple[int, int]) -> tuple[bytes, list[tuple[str, bytes]]]:
    seq, t = item
    (width, height), focal = camera(seq)
    scene = _scene(seq, width, height)
    frame = scene.render(t, void_ring=0)
    image = encode_png(frame.rgb, compress_level=1)
    if seq > 10:
        return image, []
    lidar = lidar_mask(height, width, scene.horizon, seq * 1000 + t)
    lut = np.full(256, 255, np.uint8)
    for train_id, cls in _CLASS.items():
        lut[train_id] = cls
    classes = np.where(lidar, lut[frame.semantic], 255).astype(np.uint8)
    instances = np.where(lidar & (classes < 8), frame.instance, 0).astype(np.uint16)
    depth = np.where(lidar, synthetic_depth(frame.semantic, scene.horizon, int(focal), seq * 1000 + t), 0)
    split = "val" if seq == 8 else "train"
    stem = f"video_sequence/{split}/{seq:06d}_{t:06d}"
    files = [(f"{stem}_gtFine_class.png", encode_png(classes)), (f"{stem}_gtFine_instance.png", encode_png(instances)),
             (f"{stem}_depth_{focal_text(focal)}.png", encode_png(depth.astype(np.uint16)))]
    return image, files


def lidar_mask(height: int, width: int, horizon: int, seed: int) -> np.ndarray:
    """Pixels hit by a 64-line scanner: lines from just above the horizon to the bottom, 10% dropouts."""
    rows = np.unique(np.linspace(max(horizon - 20, 0), height - 1, 64).astype(int))
    mask = np.zeros((height, width), bool)
    mask[rows] = True
    mask &= np.random.default_rng(seed).random((height, width)) > 0.1
    return mask
