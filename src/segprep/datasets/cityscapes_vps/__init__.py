"""Cityscapes-VPS -> ``data/cityscapes_vps/`` as Video K-Net's ``cityscapes_vps_clips*.py`` configs read it.

Cityscapes-VPS is built from the 500 Cityscapes **val** snippets (30 frames each): 6 frames per
video are labelled (the 5th, 10th, ..., 30th; the 20th is the Cityscapes gtFine frame), 400 / 50 /
50 videos for train / val / test. Inputs: the VPS zip (released jsons, colour and instance maps of
the 5 new frames), the Cityscapes sequence zip (only members under ``leftImg8bit_sequence/val/``
are read) and gtFine (the 20th frames' ``_gtFine_color`` and ``_gtFine_instanceIds``).

Outputs (mcahny/vps ``prepare_data``; formats-video.md 4):

* ``{split}/img/{file_name}``: the frames of ``panoptic_im_{split}_city_vps.json`` under their
  VPS names (``{video:04d}_{frame:04d}_{city}_{seq}_{frame}_{leftImg8bit|newImg8bit}.png``), bytes unchanged;
  ``{val,test}/img_all/``: the 30 frames per video of ``im_all_info_{split}_city_vps.json``;
* ``{train,val}/labelmap/`` and ``panoptic_inst/`` under the names Video K-Net derives
  (``leftImg8bit`` -> ``gtFine_color``, ``newImg8bit`` -> ``final_mask``), pixel values of
  ``create_panoptic_labels.py`` (``encodings.cityscapes_vps``);
* ``val/panoptic_video/`` + ``panoptic_gt_val_city_vps.json``: ``create_panoptic_video_labels.py``'s
  schema with deterministic segment ids (panoptic_inst value + 1) instead of random colours;
* the released jsons, bytes unchanged.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from segprep.checks.findings import Report
from segprep.datasets.base import Option, Recipe, parse_splits
from segprep.datasets._shared.cityscapes import GT
from segprep.engine.progress import Progress
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task
from segprep.errors import MissingInput
from segprep.report.model import ReportSection
from segprep.datasets._shared.cityscapes_vps_sources import (Frame, LABELLED, SEQUENCE, SPLITS, VIDEO_SAMPLE_OPTIONS,
                                                             VPS, _videos_option, find_inputs, split_frames)
from segprep.datasets._shared.cityscapes_vps_labels import image_task, missing_labels_message, missing_task

PUBLISHED_FRAMES = {"train": 2400, "val": 300, "test": 300}  # mcahny/vps README; deeplab2 dataset.py (DVPS)
PUBLISHED_VIDEOS = {"train": 400, "val": 50, "test": 50}
FRAMES_PER_VIDEO = 6
DENSE_FRAMES = 30  # img_all: every frame of a val/test snippet (nframes_span_test=30)
VIDEO_JSON = "panoptic_gt_val_city_vps.json"
THING_CLASSES = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")  # Video K-Net CLASSES

from segprep.datasets.cityscapes_vps.sources import _categories, _unused_labels, dense_frames  # noqa: E402
from segprep.datasets.cityscapes_vps.work import convert_frame, place_json, video_json  # noqa: E402
from segprep.datasets.cityscapes_vps.verify import verify_tree  # noqa: E402
from segprep.datasets.cityscapes_vps.report import report_section  # noqa: E402


class CityscapesVPS(Recipe):
    NAME = "cityscapes-vps"
    COMPILED_CODECS = True
    FOLDER = "cityscapes_vps"
    TITLE = "Cityscapes-VPS (video panoptic segmentation)"
    VERSION = "1"
    LABEL_OUTPUTS = ("*/panoptic_inst/*.png", "val/panoptic_video/*.png", "*/labelmap/*.png")
    DOWNLOADS = (VPS, SEQUENCE, GT)
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare (test: img/ and img_all/ only, it has no labels)",
               "train,val", shapes_output=False),
    )
    SAMPLE_OPTIONS = VIDEO_SAMPLE_OPTIONS

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        splits = parse_splits(options.get("splits") or "train,val", SPLITS)
        inputs = find_inputs(raw, need_labels=any(split in LABELLED for split in splits))
        frames = {split: split_frames(inputs, split) for split in splits}
        tasks = [Task(name, place_json, (source,), (name,), group="released jsons")
                 for name, source in sorted(inputs.jsons.items())]
        for split in splits:
            if split in LABELLED and f"instances_{split}_city_vps_rle.json" not in inputs.jsons:
                raise MissingInput(f"instances_{split}_city_vps_rle.json (Video K-Net's ins_ann) is not in the "
                                   f"Cityscapes-VPS download under {raw}.\n  - {VPS.describe()}")
            for frame in frames[split]:
                tasks.append(image_task(f"{split}/img/{frame.file_name}", frame.stem, inputs, f"{split} img"))
                if split in LABELLED:
                    tasks.append(_label_task(frame, video=split == "val"))
            if split != "train":
                for name in dense_frames(inputs, split):
                    tasks.append(image_task(f"{split}/img_all/{name}", name[: -len("_leftImg8bit.png")], inputs,
                                            f"{split} img_all"))
        finalize = None
        if "val" in splits:
            categories = _categories(inputs, "val")
            finalize = partial(write_video_json, frames=[(f.label_name, f"val/panoptic_inst/{f.label_name}")
                                                         for f in frames["val"]], categories=categories)
        notes = inputs.notes + _unused_labels(inputs, frames)
        return Plan(tasks, self.salt(options), notes, finalize=finalize)

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        verify_tree(out_root, report, official, jobs, progress)

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        return report_section(self, out_root)

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.datasets.cityscapes_vps.sample import write_sample

        write_sample(out, videos=_videos_option(options.get("videos") or "2,2,1"), width=int(options.get("width") or 512),
                     jobs=jobs)


RECIPE = CityscapesVPS


def _label_task(frame: Frame, video: bool) -> Task:
    split, name = frame.split, frame.label_name
    outputs = [f"{split}/panoptic_inst/{name}", f"{split}/labelmap/{name}"]
    if video:
        outputs.append(f"{split}/panoptic_video/{name}")
    group = f"{split} labelmap + panoptic_inst" + (" + panoptic_video" if video else "")
    if frame.cls is None or frame.inst is None:
        return missing_task(outputs[0], tuple(outputs), group, missing_labels_message(frame))
    return Task(outputs[0], convert_frame, (frame.cls, frame.inst), tuple(outputs), {"video": video}, group,
                size_hint=300_000 * len(outputs))


# ---------------------------------------------------------------------- finalize


def write_video_json(ctx: FinalizeContext, frames: list[tuple[str, str]], categories: list) -> None:
    """panoptic_gt_val_city_vps.json in create_panoptic_video_labels.py's schema (json.dump, key order)."""
    if ctx.complete([VIDEO_JSON], [key for _, key in frames]):
        ctx.write_bytes(VIDEO_JSON, video_json([(name, ctx.extras[key]) for name, key in frames], categories))
