"""COCO 2017 (instances + panoptic) -> ``data/coco/`` as detectron2 and Video K-Net read it.

Images, the instances and panoptic jsons and the panoptic PNGs are the official files, bytes
unchanged; the PNGs go to ``panoptic_{split}2017/`` at the coco root (not under annotations/).
``panoptic_stuff_{split}2017/`` holds detectron2's ``prepare_panoptic_fpn.py`` semantic maps, value
for value (things 0, stuff 1-53, unlabeled 255, 8-bit gray, same names), made in one lookup-table
pass per image. ``--thing-only-json`` adds ``annotations/panoptic_train2017_thing_only_coco.json``.
The four official zips are read in place, the PNG zips nested in the panoptic zip included.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from segprep.checks.findings import Report
from segprep.datasets.base import Download, Option, Recipe, parse_splits
from segprep.encodings import coco
from segprep.engine.progress import Progress
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task
from segprep.errors import MissingInput
from segprep.io import jsonio
from segprep.io.sources import SourceReader

SPLITS = ("train", "val")
PUBLISHED_IMAGES = {"train": 118287, "val": 5000}  # deeplab2 data/dataset.py splits_to_sizes
THING_ONLY_JSON = "annotations/panoptic_train2017_thing_only_coco.json"
IMAGES = {
    split: Download(
        f"{split}2017.zip", size, "https://cocodataset.org/#download (images.cocodataset.org/zips/)",
        f"the {split} images, {split}2017/{{id:012d}}.jpg; the extracted {split}2017/ folder is accepted too",
        url=f"http://images.cocodataset.org/zips/{split}2017.zip", md5=md5, extracted=(f"{split}2017",),
        home="coco",
    )
    # md5s as published with the COCO download scripts (the same values in every tool that checks them)
    for split, size, md5 in (("train", "18 GB", "cced6f7f71b7629ddf16f17bbcfab6b2"),
                             ("val", "1 GB", "442b8da7639aecaf257c1dceb8ba8c80"))
}
INSTANCES = Download(
    "annotations_trainval2017.zip", "241 MB", "https://cocodataset.org/#download (images.cocodataset.org/annotations/)",
    "annotations/instances_{train,val}2017.json (captions and keypoints are not needed); the extracted "
    "annotations/ folder is accepted too",
    url="http://images.cocodataset.org/annotations/annotations_trainval2017.zip",
    md5="f4bbac642086de4f52a3fdda2de5fa2c", extracted=("annotations/instances_train2017.json",), home="coco",
)
PANOPTIC = Download(
    "panoptic_annotations_trainval2017.zip", "821 MB",
    "https://cocodataset.org/#download (images.cocodataset.org/annotations/)",
    "annotations/panoptic_{train,val}2017.json and the zips annotations/panoptic_{train,val}2017.zip of the "
    "panoptic PNGs (read in place, no need to extract anything); extracted jsons, inner zips and "
    "panoptic_{train,val}2017/ PNG folders are accepted too",
    url="http://images.cocodataset.org/annotations/panoptic_annotations_trainval2017.zip",
    md5="4170db65fc022c9c296af880dbca6055", extracted=("annotations/panoptic_train2017.json",), home="coco",
)

from segprep.datasets.coco.sources import _load_json, find_inputs, gc_paused  # noqa: E402
from segprep.datasets._shared.actions import place_json  # noqa: E402
from segprep.datasets.coco.work import _image_tasks, _panoptic_tasks, thing_rles  # noqa: E402
from segprep.datasets.coco.verify import verify_coco  # noqa: E402
from segprep.datasets.coco import coco2vis  # noqa: E402
from segprep.datasets.coco.report import CocoReport  # noqa: E402


class Coco(CocoReport, Recipe):
    NAME = "coco"
    COMPILED_CODECS = True
    FOLDER = "coco"
    TITLE = "COCO 2017 (instances + panoptic, with detectron2's panoptic_stuff maps)"
    VERSION = "1"
    LABEL_OUTPUTS = ("panoptic_train2017/*.png", "panoptic_stuff_train2017/*.png")
    DOWNLOADS = (IMAGES["train"], IMAGES["val"], INSTANCES, PANOPTIC)
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare", "train,val", shapes_output=False),
        Option("thing-only-json", f"also write {THING_ONLY_JSON} (thing segments as COCO instances, RLE masks)",
               False, None, flag=True, shapes_output=False),
        Option("coco2vis", "also write annotations/coco2{ytvis2019,ytvis2021,ovis}_{split}.json, the COCO pseudo-video "
               "files of DVIS, MinVIS, GenVIS, CTVIS (see datasets/coco/coco2vis.py)", False, None, flag=True,
               shapes_output=False),
    )
    SAMPLE_OPTIONS = (
        Option("train-images", "train images", 6, int),
        Option("val-images", "val images", 4, int),
        Option("nested", "how the PNG zips sit in the panoptic zip: stored (random access) or deflated (one pass)",
               "deflated"),
    )

    # ------------------------------------------------------------------ plan

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        with gc_paused(freeze=True):
            return self._plan(raw, out_root, options)

    def _plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        splits = parse_splits(options.get("splits") or "train,val", SPLITS)
        found = find_inputs(raw, out_root)
        reader = SourceReader()
        tasks: list[Task] = []
        notes = list(found.notes)
        thing_only = bool(options.get("thing_only_json")) and "train" in splits
        if options.get("thing_only_json") and not thing_only:
            notes.append(f"--thing-only-json: {THING_ONLY_JSON} is made from the train split, which is not selected")
        train_json: dict | None = None
        for split in splits:
            panoptic_name, instances_name = f"panoptic_{split}2017.json", f"instances_{split}2017.json"
            for name, download in ((panoptic_name, PANOPTIC), (instances_name, INSTANCES)):
                if name not in found.jsons:
                    raise MissingInput(f"annotations/{name} not found under {raw}. Expected:\n  - {download.describe()}")
            if not found.images[split]:
                raise MissingInput(f"no {split} images under {raw}. Expected:\n  - {IMAGES[split].describe()}")
            if not found.pngs[split]:
                raise MissingInput(f"no panoptic {split} PNGs under {raw}. Expected:\n  - {PANOPTIC.describe()}")
            panoptic = _load_json(reader, found.jsons[panoptic_name])
            for name in (panoptic_name, instances_name):
                tasks.append(Task(f"annotations/{name}", place_json, (found.jsons[name],), (f"annotations/{name}",),
                                  group="annotations"))
            tasks += _image_tasks(split, found.images[split], panoptic)
            if options.get("coco2vis"):
                tasks += coco2vis.tasks(found.jsons[instances_name], split)
            pan_tasks, unlisted = _panoptic_tasks(split, found.pngs[split], panoptic, thing_only and split == "train")
            tasks += pan_tasks
            if unlisted:
                notes.append(f"{unlisted:,} panoptic {split} PNGs are not listed in {panoptic_name}: ignored")
            if split == "train" and thing_only:
                train_json = {k: panoptic.get(k) for k in ("info", "licenses", "images")}
                train_json["image_order"] = [a.get("image_id") for a in panoptic["annotations"]]
            del panoptic
        reader.close()
        finalize = None if train_json is None else functools.partial(write_thing_only_json, header=train_json)
        return Plan(tasks, self.salt(options), notes, finalize)

    # ------------------------------------------------------------------ verify

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        with gc_paused():
            verify_coco(out_root, report, official, jobs, progress)

    # ------------------------------------------------------------------ sample

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.datasets.coco.sample import write_sample

        write_sample(out, train=int(options.get("train_images", 6)), val=int(options.get("val_images", 4)),
                     nested=options.get("nested") or "deflated", jobs=jobs)


RECIPE = Coco


def write_thing_only_json(ctx: FinalizeContext, header: dict) -> None:
    """panopticapi's ``panoptic2detection_coco_format.py --things_only`` layout, ids from 1 (see README)."""
    if not ctx.complete([THING_ONLY_JSON], [t.key for t in ctx.tasks if t.action is thing_rles]):
        return
    by_image = {}
    for task in ctx.tasks:
        if task.action is thing_rles:
            by_image[task.params["image_id"]] = ctx.extras.get(task.key) or []
    annotations = []
    for image_id in header["image_order"]:
        for ann in by_image.get(image_id, []):
            annotations.append(dict(ann, id=len(annotations) + 1))
    data = {"info": header["info"], "licenses": header["licenses"], "images": header["images"],
            "annotations": annotations, "categories": coco.instance_categories()}
    ctx.write_bytes(THING_ONLY_JSON, jsonio.dumps(data))
