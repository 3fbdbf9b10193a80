"""KITTI-STEP -> ``data/kitti-step/video_sequence/{train,val,test}/`` as Video K-Net reads it.

Every file is the official one, bytes unchanged, under the name
``{seq:06d}_{frame:06d}_{leftImg8bit|panoptic}.png`` (6 + 6 digits: the 5-digit example in
Video K-Net's DATASET.md is a typo; its own script and evaluators use 6). Splits follow the
official lists (deeplab2 ``data/dataset.py``, Video K-Net ``scripts/kitti_step_prepare.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segprep.datasets.base import Download, Option, Recipe, parse_splits
from segprep.engine.runner import Plan
from segprep.errors import MissingInput

TRAIN_SEQUENCES = (0, 1, 3, 4, 5, 9, 11, 12, 15, 17, 19, 20)
VAL_SEQUENCES = (2, 6, 7, 8, 10, 13, 14, 16, 18)
TEST_SEQUENCES = tuple(range(29))
SEQUENCES = {"train": TRAIN_SEQUENCES, "val": VAL_SEQUENCES, "test": TEST_SEQUENCES}
SPLITS = ("train", "val", "test")
LABELLED_SPLITS = ("train", "val")
PUBLISHED_FRAMES = {"train": 5027, "val": 2981, "test": 11095}  # deeplab2 data/dataset.py splits_to_sizes
_TRAINING_SPLIT = {seq: "train" for seq in TRAIN_SEQUENCES} | {seq: "val" for seq in VAL_SEQUENCES}
IMAGES = Download(
    "data_tracking_image_2.zip", "15 GB",
    "https://www.cvlibs.net/datasets/kitti/eval_tracking.php (\"Download left color images of tracking data set\")",
    "KITTI tracking left colour images, training/image_02/{seq:04d}/{frame:06d}.png (seqs 0000-0020) and "
    "testing/image_02/ (0000-0028); its extracted training/ and testing/ folders, or DeepLab2's "
    "images/{train,val,test}/{seq:04d}/ are accepted too",
    url="https://s3.eu-central-1.amazonaws.com/avg-kitti/data_tracking_image_2.zip",
    extracted=("training/image_02", "testing/image_02", "images/train", "images/test"), home="kitti",
)
MAPS = Download(
    "kitti-step.tar.gz", "",
    "https://storage.googleapis.com/gresearch/tf-deeplab/data/kitti-step.tar.gz",
    "STEP panoptic maps, kitti-step/panoptic_maps/{train,val}/{seq:04d}/{frame:06d}.png; the extracted "
    "panoptic_maps/ folder (or Video K-Net's merged training/panoptic/{seq:04d}/) is accepted too",
    url="https://storage.googleapis.com/gresearch/tf-deeplab/data/kitti-step.tar.gz",
    extracted=("kitti-step/panoptic_maps", "panoptic_maps", "training/panoptic"),
)
Key = tuple[str, int, int]  # (split, seq, frame)

from segprep.datasets.kitti_step.sources import _describe, find_inputs  # noqa: E402
from segprep.datasets.kitti_step.work import _missing, _place  # noqa: E402
from segprep.datasets.kitti_step.verify import KittiStepVerify  # noqa: E402
from segprep.datasets.kitti_step.report import KittiStepReport  # noqa: E402


class KittiStep(KittiStepVerify, KittiStepReport, Recipe):
    NAME = "kitti-step"
    FOLDER = "kitti-step"
    TITLE = "KITTI-STEP (video panoptic segmentation)"
    VERSION = "1"
    LABEL_OUTPUTS = ("video_sequence/*/*_panoptic.png",)
    DOWNLOADS = (IMAGES, MAPS)
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare", "train,val,test", shapes_output=False),
    )
    SAMPLE_OPTIONS = (
        Option("frames", "frames per sequence", 6, int),
    )

    # ------------------------------------------------------------------ plan

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        splits = _parse_splits(options.get("splits") or "train,val,test")
        images, maps, notes = find_inputs(raw)
        for split in splits:
            if not any(k[0] == split for k in images):
                raise MissingInput(
                    f"no KITTI tracking images for the {split} split under {raw}. Expected:\n{_describe(IMAGES)}"
                )
            if split in LABELLED_SPLITS and not any(k[0] == split for k in maps):
                raise MissingInput(f"no STEP panoptic maps for the {split} split under {raw}. Expected:\n{_describe(MAPS)}")
        tasks = []
        for key in sorted(set(images) | set(maps)):
            split, seq, frame = key
            if split not in splits:
                continue
            stem = f"video_sequence/{split}/{seq:06d}_{frame:06d}"
            image, label = images.get(key), maps.get(key)
            if image is not None:
                tasks.append(_place(f"{stem}_leftImg8bit.png", image, f"{split} images"))
            else:
                tasks.append(_missing(f"{stem}_leftImg8bit.png", f"{split} images", (
                    f"no image for the panoptic map {label.describe()}: expected "
                    f"{'training' if split != 'test' else 'testing'}/image_02/{seq:04d}/{frame:06d}.png "
                    f"from {IMAGES.filename} ({IMAGES.page})")))
            if split in LABELLED_SPLITS:
                if label is not None:
                    tasks.append(_place(f"{stem}_panoptic.png", label, f"{split} panoptic maps"))
                else:
                    tasks.append(_missing(f"{stem}_panoptic.png", f"{split} panoptic maps", (
                        f"no panoptic map for the image {image.describe()}: expected "
                        f"panoptic_maps/{split}/{seq:04d}/{frame:06d}.png from {MAPS.filename} ({MAPS.page})")))
        return Plan(tasks, self.salt(options), notes)

    # ------------------------------------------------------------------ sample

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.datasets.kitti_step.sample import write_sample

        write_sample(out, frames=int(options.get("frames") or 6), jobs=jobs)


RECIPE = KittiStep


def _parse_splits(text: str) -> tuple[str, ...]:
    return parse_splits(text, SPLITS)
