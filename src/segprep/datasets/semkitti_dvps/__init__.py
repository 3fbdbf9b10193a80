"""SemKITTI-DVPS -> ``data/semkitti-dvps/video_sequence/{train,val}/`` as Video K-Net's KITTIDVPSDataset reads it.

The annotation download holds ``video_sequence/{train,val}/{seq:06d}_{frame:06d}_gtFine_class.png``,
``..._gtFine_instance.png`` and ``..._depth_{focal}.png`` (uint16, metres*256; the focal length of the
frame's camera is the last name field). The images come from the KITTI odometry colour archive,
``sequences/{seq:02d}/image_2/{frame:06d}.png``, and go beside them as ``{seq:06d}_{frame:06d}_leftImg8bit.png``
(ViP-DeepLab ``semkitti-dvps/copy_images.py``); sequence 08 is val, 00-07, 09 and 10 are train.
Every file is placed unchanged. Sources: formats-video.md 6.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segprep.checks.findings import Report
from segprep.datasets.base import Download, Option, Recipe, parse_splits
from segprep.datasets._shared.actions import report_missing
from segprep.datasets._shared.dvps import SPLITS, wrong_download
from segprep.engine.progress import Progress
from segprep.engine.runner import Plan
from segprep.engine.tasks import Task

# SemanticKITTI's 19 learning classes, things first (Video K-Net external/semkitti_dvps.py CLASSES for the 8
# things; the stuff order is SemanticKITTI's); colours only for drawing (semantic-kitti.yaml, as RGB).
CLASSES = (
    ("car", (100, 150, 245)), ("bicycle", (100, 230, 245)), ("motorcycle", (30, 60, 150)), ("truck", (80, 30, 180)),
    ("other-vehicle", (0, 0, 255)), ("person", (255, 30, 30)), ("bicyclist", (255, 40, 200)),
    ("motorcyclist", (150, 30, 90)), ("road", (255, 0, 255)), ("parking", (255, 150, 255)), ("sidewalk", (75, 0, 75)),
    ("other-ground", (175, 0, 75)), ("building", (255, 200, 0)), ("fence", (255, 120, 50)),
    ("vegetation", (0, 175, 0)), ("trunk", (135, 60, 0)), ("terrain", (150, 240, 80)), ("pole", (255, 240, 150)),
    ("traffic-sign", (255, 0, 0)),
)
NUM_THINGS = 8
VOID = 255
INSTANCE_DIVISOR = 10000  # Video K-Net: panoptic = class * 10000 + instance
VAL_SEQUENCE = 8
SEQUENCES = tuple(range(11))
# KITTI odometry sequence lengths (frames 000000..n-1; the devkit's readme). deeplab2's 19,120 / 4,070 are these
# minus one per sequence: the number of consecutive pairs.
SEQUENCE_FRAMES = {0: 4541, 1: 1101, 2: 4661, 3: 801, 4: 271, 5: 2761, 6: 1101, 7: 1101, 8: 4071, 9: 1591, 10: 1201}
PUBLISHED_PAIRS = {"train": 19120, "val": 4070}  # google-research/deeplab2 data/dataset.py
ANNOTATIONS = Download(
    "video_sequence.zip", "",
    "https://drive.google.com/file/d/1cCn1yeu2dmT4CnvkOyItxARFBXpDdu-0 (joe-siyuan-qiao/ViP-DeepLab "
    "semkitti-dvps/README.md)",
    "the SemKITTI-DVPS annotations, video_sequence/{train,val}/{seq:06d}_{frame:06d}_{gtFine_class,gtFine_instance,"
    "depth_{focal}}.png. Its file name is not published: any zip or tar in --raw whose name contains "
    "'video_sequence', 'dvps' or 'semkitti' and holds these files is used, and so is the extracted video_sequence/ "
    "folder",
    extracted=("video_sequence",),
)
IMAGES = Download(
    "data_odometry_color.zip", "65 GB",
    "https://www.cvlibs.net/datasets/kitti/eval_odometry.php (\"Download odometry data set (color, 65 GB)\")",
    "KITTI odometry colour images, dataset/sequences/{seq:02d}/image_2/{frame:06d}.png (only sequences 00-10 of "
    "image_2 are read); the extracted sequences/ folder is accepted too",
    url="https://s3.eu-central-1.amazonaws.com/avg-kitti/data_odometry_color.zip",
    extracted=("dataset/sequences", "sequences"), home="kitti",
)
KINDS = ("leftImg8bit", "gtFine_class", "gtFine_instance", "depth")


def split_of(seq: int) -> str:
    return "val" if seq == VAL_SEQUENCE else "train"


from segprep.datasets.semkitti_dvps.sources import find_annotations, find_images  # noqa: E402
from segprep.datasets.semkitti_dvps.work import _image_task, place_annotation  # noqa: E402
from segprep.datasets.semkitti_dvps.verify import verify_tree  # noqa: E402
from segprep.datasets.semkitti_dvps.report import SemKittiDVPSReport  # noqa: E402


class SemKittiDVPS(SemKittiDVPSReport, Recipe):
    NAME = "semkitti-dvps"
    FOLDER = "semkitti-dvps"
    TITLE = "SemKITTI-DVPS (depth-aware video panoptic segmentation)"
    VERSION = "1"
    LABEL_OUTPUTS = ("video_sequence/*/*_gtFine_class.png", "video_sequence/*/*_gtFine_instance.png",
                     "video_sequence/*/*_depth_*.png")
    DOWNLOADS = (ANNOTATIONS, IMAGES)
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare", "train,val", shapes_output=False),
    )
    SAMPLE_OPTIONS = (
        Option("frames", "frames per sequence (sequences 00-10, and 11 without labels)", 3, int),
    )

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        splits = parse_splits(options.get("splits") or "train,val", SPLITS)
        annotations, notes = find_annotations(raw)
        images, image_notes = find_images(raw)
        notes += image_notes
        tasks = []
        for (split, seq, frame), files in sorted(annotations.items()):
            if split not in splits:
                continue
            stem = f"video_sequence/{split}/{seq:06d}_{frame:06d}"
            tasks.append(_image_task(f"{stem}_leftImg8bit.png", images.get((seq, frame)), seq, frame, split))
            for kind, check in (("gtFine_class", "label"), ("gtFine_instance", "label"), ("depth", "depth")):
                if kind not in files:
                    output = f"{stem}_{kind}.png" if kind != "depth" else f"{stem}_depth.png"
                    tasks.append(Task(output, report_missing, (), (output,), {"message": (
                        f"no {kind} file for the frame {seq:06d}_{frame:06d} in the annotations ({ANNOTATIONS.page})")},
                        f"{split} {kind}", size_hint=0))
                    continue
                name, source = files[kind]
                output = f"video_sequence/{split}/{name}"
                tasks.append(Task(output, place_annotation, (source,), (output,), {"check": check}, f"{split} {kind}"))
        unlabelled = [key for key in images if key[0] in SEQUENCES and (split_of(key[0]), *key) not in annotations]
        if unlabelled:
            notes.append(f"{len(unlabelled):,} images of sequences 00-10 have no annotation and are not placed "
                         f"(e.g. sequences/{unlabelled[0][0]:02d}/image_2/{unlabelled[0][1]:06d}.png)")
        return Plan(tasks, self.salt(options), notes)

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        verify_tree(out_root, report, official, jobs, progress)

    def inspect_raw(self, raw: Path) -> list[tuple[str, str]]:
        return wrong_download(raw, ANNOTATIONS, find_annotations)

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.datasets.semkitti_dvps.sample import write_sample

        write_sample(out, frames=int(options.get("frames") or 3), jobs=jobs)


RECIPE = SemKittiDVPS
