"""Cityscapes (gtFine) -> ``data/cityscapes/`` as Video K-Net, detectron2 and OpenMMLab read it.

* ``license.txt``, ``leftImg8bit/{split}/{city}/`` and ``gtFine/{split}/{city}/`` (polygons json,
  labelIds, instanceIds, color): the official files, bytes unchanged.
* ``gtFine/{split}/{city}/*_gtFine_{labelTrainIds,instanceTrainIds}.png``: the pixels of
  cityscapesScripts' ``createTrainIdLabelImgs`` / ``createTrainIdInstanceImgs`` (polygons filled
  in json order with Pillow), every split.
* ``annotations/cityscapes_panoptic_{train,val}.json`` + ``gtFine/cityscapes_panoptic_{train,val}/``:
  ``createPanopticImgs`` without ``--use-train-id`` (json byte for byte, PNG pixels); with
  ``--train-id`` also the ``_trainId`` variant where DeepLab2 reads it (``gtFine/``).
* ``annotations/instancesonly_filtered_gtFine_{train,val}.json``: mmdetection's converter schema
  (compressed RLE from instanceIds), images in sorted order so that ids are deterministic.

Sources: formats-image-vis.md section 2, formats-video.md 4.6.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

from segprep.checks.findings import Report
from segprep.datasets._shared.actions import place_checked, report_missing
from segprep.datasets._shared.cityscapes import GT
from segprep.datasets.base import Download, Option, Recipe, parse_splits
from segprep.engine.progress import Progress
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task
from segprep.errors import MissingInput
from segprep.io.sources import Source
from segprep.report.model import ReportSection

SPLITS = ("train", "val", "test")
LABELLED = ("train", "val")  # test labels are placeholders (ego vehicle, rectification border)
PUBLISHED_FRAMES = {"train": 2975, "val": 500, "test": 1525}  # cityscapesScripts README, deeplab2 dataset.py
CITIES = {
    "train": ("aachen", "bochum", "bremen", "cologne", "darmstadt", "dusseldorf", "erfurt", "hamburg", "hanover",
              "jena", "krefeld", "monchengladbach", "strasbourg", "stuttgart", "tubingen", "ulm", "weimar", "zurich"),
    "val": ("frankfurt", "lindau", "munster"),
    "test": ("berlin", "bielefeld", "bonn", "leverkusen", "mainz", "munich"),
}
GT_KINDS = ("polygons.json", "labelIds.png", "instanceIds.png", "color.png")
DERIVED_KINDS = ("labelTrainIds.png", "instanceTrainIds.png")
SEGM_MAX_FRACTION = 0.01  # verify: share of pixels a trainId map may differ from labelIds on polygon edges
IMAGES = Download(
    "leftImg8bit_trainvaltest.zip", "11 GB", "https://www.cityscapes-dataset.com/downloads/ (packageID=3)",
    "left 8-bit images, leftImg8bit/{train,val,test}/{city}/{city}_{seq}_{frame}_leftImg8bit.png with README "
    "and license.txt at the root; its extracted leftImg8bit/ folder is accepted too", login=True,
    tool=("csDownload", "--resume", "-d", "{raw}", "{filename}"), extracted=("leftImg8bit",),
    home="cityscapes",
)
Key = tuple[str, str, str]  # (split, city, stem)

from segprep.datasets.cityscapes.sources import find_inputs  # noqa: E402
from segprep.datasets.cityscapes.work import (  # noqa: E402
    convert_frame, detectron2_json, gt_path, instance_json, panoptic_json, panoptic_path, place_license)
from segprep.datasets.cityscapes.verify import verify_tree  # noqa: E402
from segprep.datasets.cityscapes.report import report_section  # noqa: E402


class Cityscapes(Recipe):
    NAME = "cityscapes"
    COMPILED_CODECS = True
    FOLDER = "cityscapes"
    TITLE = "Cityscapes fine annotations (semantic, instance, panoptic)"
    VERSION = "1"
    LABEL_OUTPUTS = ("gtFine/*/*/*_gtFine_labelIds.png", "gtFine/*/*/*_gtFine_labelTrainIds.png",
                     "gtFine/*/*/*_gtFine_instanceIds.png", "gtFine/*/*/*_gtFine_instanceTrainIds.png",
                     "gtFine/*/*/*_gtFine_color.png", "gtFine/cityscapes_panoptic_*/*_gtFine_panoptic.png")
    DOWNLOADS = (GT, IMAGES)
    # None of these change a task's bytes without changing its outputs (which are in its fingerprint),
    # and finalize rewrites the jsons on every run, so no option forces other tasks to be redone.
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare", "train,val,test", shapes_output=False),
        Option("train-id", "also write the _trainId panoptic variant (DeepLab2, panoptic-deeplab) to "
               "gtFine/cityscapes_panoptic_{split}_trainId[.json]", False, flag=True, shapes_output=False),
        Option("segm-trainid", "point segm_file of the instance jsons to *_gtFine_labelTrainIds.png (Video K-Net's "
               "trainId-based semantic loss) instead of mmdetection's *_gtFine_labelIds.png", False, flag=True,
               shapes_output=False),
    )
    SAMPLE_OPTIONS = (
        Option("frames", "frames per city", 2, int),
    )

    # ------------------------------------------------------------------ plan

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        splits = parse_splits(options.get("splits") or "train,val,test", SPLITS)
        train_id = bool(options.get("train_id"))
        gt, images, license_source, notes = find_inputs(raw)
        for split in splits:
            if not any(k[0] == split for k in images):
                raise MissingInput(f"no Cityscapes images for the {split} split under {raw}. Expected:\n  - "
                                   f"{IMAGES.describe()}")
            if not any(k[0] == split for k in gt):
                raise MissingInput(f"no gtFine annotations for the {split} split under {raw}. Expected:\n  - "
                                   f"{GT.describe()}")
        if license_source is None:
            raise MissingInput(f"no license.txt under {raw} (Video K-Net asserts it). It is at the root of both "
                               f"Cityscapes zips; with extracted folders, keep it beside gtFine/.\n  - {GT.describe()}")
        tasks = [Task("license.txt", place_license, (license_source,), ("license.txt",), group="license")]
        frames: list[tuple[str, str, str, str]] = []  # (split, city, stem, key of its label task)
        for key in sorted(set(gt) | set(images)):
            split, city, stem = key
            if split not in splits:
                continue
            tasks.append(_image_task(key, images.get(key)))
            files = gt.get(key, {})
            label = _label_task(key, files, train_id)
            tasks.append(label)
            frames.append((split, city, stem, label.key))
            for kind, check in (("labelIds.png", "gray"), ("color.png", "color")):
                tasks.append(_place_gt_task(key, kind, files.get(kind), check))
        finalize = partial(write_jsons, frames=frames, train_id=train_id, segm_trainid=bool(options.get("segm_trainid")))
        return Plan(tasks, self.salt(options), notes, finalize=finalize)

    # ------------------------------------------------------------------ verify

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        verify_tree(out_root, report, official, jobs, progress)

    # ------------------------------------------------------------------ report

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        return report_section(self, out_root)

    # ------------------------------------------------------------------ sample

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.datasets.cityscapes.sample import write_sample

        write_sample(out, frames=int(options.get("frames") or 2), jobs=jobs)


RECIPE = Cityscapes


def _image_task(key: Key, source: Source | None) -> Task:
    split, city, stem = key
    output = f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png"
    if source is None:
        return _missing(output, (output,), f"{split} images", (
            f"no image for the annotated frame {stem}: expected leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png "
            f"from {IMAGES.filename} ({IMAGES.page})"))
    return Task(output, place_checked, (source,), (output,), {"check": "rgb"}, f"{split} images")


def _place_gt_task(key: Key, kind: str, source: Source | None, check: str) -> Task:
    split, city, stem = key
    output = gt_path(split, city, stem, kind)
    if source is None:
        return _missing(output, (output,), f"{split} {kind}", _missing_gt(key, kind))
    return Task(output, place_checked, (source,), (output,), {"check": check}, f"{split} {kind}")


def _label_task(key: Key, files: dict[str, Source], train_id: bool) -> Task:
    split, city, stem = key
    outputs = [gt_path(split, city, stem, kind) for kind in ("polygons.json", "instanceIds.png") + DERIVED_KINDS]
    if split in LABELLED:
        outputs.append(panoptic_path(split, stem))
        if train_id:
            outputs.append(panoptic_path(split, stem, True))
    task_key = gt_path(split, city, stem, "*")
    group = f"{split} trainIds + panoptic" if split in LABELLED else f"{split} trainIds"
    missing = [kind for kind in ("polygons.json", "instanceIds.png") if kind not in files]
    if missing:
        return _missing(task_key, tuple(outputs), group, _missing_gt(key, missing[0]))
    inputs = (files["polygons.json"], files["instanceIds.png"])
    size = sum(s.size for s in inputs) + 300_000 * (len(outputs) - 2)
    return Task(task_key, convert_frame, inputs, tuple(outputs), {"split": split}, group, size_hint=size)


def _missing_gt(key: Key, kind: str) -> str:
    split, city, stem = key
    return f"no {stem}_gtFine_{kind}: expected gtFine/{split}/{city}/{stem}_gtFine_{kind} from {GT.filename} ({GT.page})"


def _missing(key: str, outputs: tuple[str, ...], group: str, message: str) -> Task:
    return Task(key, report_missing, (), outputs, {"message": message}, group, size_hint=0)


# ---------------------------------------------------------------------- finalize: the jsons


def write_jsons(ctx: FinalizeContext, frames: list[tuple[str, str, str, str]], train_id: bool,
                segm_trainid: bool) -> None:
    by_split: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for split, city, stem, key in frames:
        if split in LABELLED:
            by_split[split].append((city, stem, key))
    for split, items in sorted(by_split.items()):
        items.sort(key=lambda item: f"{item[0]}/{item[1]}")  # the order of the official tools' sorted glob
        rels = [f"annotations/cityscapes_panoptic_{split}.json", detectron2_json(split),
                f"annotations/instancesonly_filtered_gtFine_{split}.json"]
        rels += [f"gtFine/cityscapes_panoptic_{split}_trainId.json"] if train_id else []
        if not ctx.complete(rels, [key for _, _, key in items]):
            continue
        extras = [(city, stem, ctx.extras[key]) for city, stem, key in items]
        panoptic = panoptic_json(extras, False)
        ctx.write_bytes(f"annotations/cityscapes_panoptic_{split}.json", panoptic)
        ctx.write_bytes(detectron2_json(split), panoptic)  # where createPanopticImgs puts it and detectron2 reads it
        if train_id:
            ctx.write_bytes(f"gtFine/cityscapes_panoptic_{split}_trainId.json", panoptic_json(extras, True))
        ctx.write_bytes(f"annotations/instancesonly_filtered_gtFine_{split}.json", instance_json(extras, segm_trainid))
