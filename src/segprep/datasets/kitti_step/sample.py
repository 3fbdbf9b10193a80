"""A miniature KITTI-STEP download: ``data_tracking_image_2.zip`` and ``kitti-step.tar.gz``.

Real archive names and inner paths, real sequence ids in each split, frame sizes that differ
between sequences (as in KITTI), street-scene photos, and STEP panoptic maps (R = trainId,
G*256+B = instance) whose cars and people keep their ids from frame to frame, with one id
above 255 so that G is exercised, a crowd region (car without instance) and void rings.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from segprep.encodings import step
from segprep.engine.parallel import imap_ordered
from segprep.io.images import encode_png
from segprep.samples.archives import write_tar, write_zip
from segprep.samples.scenes import StreetScene

# split -> [(sequence, (width, height))]; sizes differ per sequence as in KITTI tracking.
SEQUENCES = {
    "train": [(0, (1242, 375)), (1, (1242, 375))],
    "val": [(2, (1242, 375)), (6, (1224, 370))],
    "test": [(0, (1242, 375)), (3, (1226, 370))],
}
_INSTANCE_IDS = [1, 2, 3, 300, 5, 6, 7, 8, 9, 10, 11, 12]  # deeplab2 ids: MOTS id % 1000 + 1


def write_sample(out: Path, frames: int = 6, jobs: int = 1) -> list[Path]:
    items = sorted(
        (_image_member(split, seq, t), split, seq, size, t)
        for split, sequences in SEQUENCES.items()
        for seq, size in sequences
        for t in range(frames)
    )
    maps: list[tuple[str, bytes]] = []

    def images():
        for (name, split, seq, _, t), rendered in zip(items, imap_ordered(render_frame, items, jobs)):
            if isinstance(rendered, Exception):
                raise rendered
            image, label = rendered
            if label is not None:
                maps.append((f"kitti-step/panoptic_maps/{split}/{seq:04d}/{t:06d}.png", label))
            yield name, image

    out.mkdir(parents=True, exist_ok=True)
    write_zip(out / "data_tracking_image_2.zip", images())
    write_tar(out / "kitti-step.tar.gz", sorted(maps))
    return [out / "data_tracking_image_2.zip", out / "kitti-step.tar.gz"]


def _image_member(split: str, seq: int, t: int) -> str:
    folder = "testing" if split == "test" else "training"
    return f"{folder}/image_02/{seq:04d}/{t:06d}.png"


def render_frame(item) -> tuple[bytes, bytes | None]:
    """PNG bytes of one photo and, for train/val, its STEP panoptic map."""
    _, split, seq, (width, height), t = item
    frame = _scene(split == "test", seq, width, height).render(t)
    image = encode_png(frame.rgb, compress_level=1)  # fast; the bytes are copied unchanged anyway
    label = None if split == "test" else encode_png(step.encode(frame.semantic, frame.instance))
    return image, label


@lru_cache(maxsize=8)
def _scene(testing: bool, seq: int, width: int, height: int) -> StreetScene:
    return StreetScene(seed=1000 * int(testing) + seq, height=height, width=width, instance_ids=list(_INSTANCE_IDS))
