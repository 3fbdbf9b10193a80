"""OVIS (Occluded Video Instance Segmentation) -> ``data/ovis/``, one tree for seven codebases.

Output (``formats-ovis.md`` §1.6):

- ``{train,valid,test}/<video>/img_0000001.jpg``: the frames the json lists, bytes unchanged
  (hard-linked when extracted), image root of Tube-Link, OMG-Seg, DVIS, DVIS++, MinVIS, GenVIS, CTVIS;
- ``annotations/annotations_{split}.json``: the official file, bytes unchanged (DVIS, DVIS++, MinVIS);
- ``annotations/{split}.json``: the name GenVIS and CTVIS read; train's is the official file,
  valid's and test's are the official bytes without the member ``"annotations": null``;
- ``annotations/youtube_vis_ovis_{split}.json``: CocoVID by mmtracking's converter rules (the file
  Tube-Link's ``youtubevis2coco.py --version ovis`` writes; Tube-Link, OMG-Seg), from segprep's
  streaming YouTube-VIS converter;
- with ``--holdout``: a local validation split of train (``_shared/vis_holdout.py``).

Built on ``datasets/youtube_vis/`` (the YouTube-VIS family's rooms, no RECIPE of their own, as
``youtube_vis_2019/`` and ``youtube_vis_2021/`` are): its frame store, frame tasks, verify and report
helpers, and the CocoVID converter of ``encodings/cocovid.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segprep.datasets._shared import vis_holdout
from segprep.datasets.base import Download, Option, Recipe, parse_splits
from segprep.datasets.ovis import sources, work
from segprep.datasets._shared.actions import place_json
from segprep.datasets.youtube_vis import frame_tasks, plan_splits
from segprep.datasets.youtube_vis.work import convert_json
from segprep.engine.runner import Plan
from segprep.engine.tasks import Task
from segprep.errors import BadInput, MissingInput
from segprep.io.sources import Source

VERSION = "ovis"  # the category version of encodings/youtube_vis.py
SPLITS = sources.SPLITS
REQUIRED_SPLITS = ("train", "valid")  # what Tube-Link's and OMG-Seg's configs read
PUBLISHED_VIDEOS = {"train": 607, "valid": 140, "test": 154}  # 901 in all (songbai.site/ovis; InstMove's split)
_PAGE = ("http://songbai.site/ovis/ -> \"Dataset Download\": a public Google-Drive folder "
         "(https://drive.google.com/drive/folders/1eE4lLKCbv54E866XBVce_ebh3oXYq99b)")


def cocovid_name(split: str) -> str:
    return f"annotations/youtube_vis_ovis_{split}.json"


class OVIS(Recipe):
    NAME = "ovis"
    FOLDER = "ovis"
    TITLE = "OVIS (occluded video instance segmentation)"
    VERSION = "1"
    DOWNLOADS = (
        Download("annotations_train.json", "", _PAGE, "annotations of the 607 training videos (25 classes, RLE per "
                 "frame, per-frame occlusion levels)", extracted=("annotations/annotations_train.json",)),
        Download("annotations_valid.json", "", _PAGE, "the 140 validation videos (\"annotations\": null)",
                 extracted=("annotations/annotations_valid.json",)),
        Download("annotations_test.json", "", _PAGE, "the 154 test videos (\"annotations\": null); optional",
                 extracted=("annotations/annotations_test.json",), optional=True),
        Download("train.zip", "", _PAGE, "train/<video>/img_0000001.jpg..., the annotated frames (no JPEGImages/ "
                 "level); the extracted train/ folder is accepted too", extracted=("train",)),
        Download("valid.zip", "", _PAGE, "valid/<video>/img_*.jpg; or the extracted valid/ folder",
                 extracted=("valid",)),
        Download("test.zip", "", _PAGE, "test/<video>/img_*.jpg; or the extracted test/ folder; optional",
                 extracted=("test",), optional=True),
    )
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare (a split whose files are absent is skipped unless named "
               "here)", "train,valid,test", shapes_output=False),
        *vis_holdout.OPTIONS,
    )
    SAMPLE_OPTIONS = (
        Option("frames", "annotated frames per video", 4, int),
        Option("rle", "mask form: string (compressed RLE), list (uncompressed) or mixed", "string"),
        Option("without-occlusion", "leave out the per-frame occlusion levels", False, flag=True),
    )

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        requested = options.get("splits") or "train,valid,test"
        splits = parse_splits(requested, SPLITS)
        explicit = requested != "train,valid,test"
        found = sources.find_inputs(raw)
        if not found.jsons:
            if found.ytvis_jsons:
                raise BadInput(f"{found.ytvis_jsons[0]} is laid out as YouTube-VIS is published (OVIS publishes "
                               "annotations_{train,valid,test}.json): prepare it with `segprep prepare "
                               f"youtube-vis-2019` or `youtube-vis-2021`, or put the OVIS files as published:\n"
                               + self.download_help())
            raise MissingInput(f"no OVIS annotation file (annotations_train.json, ...) under {raw}. Expected:\n"
                               + self.download_help())
        def problem(split: str, json_source: Source | None, stores: list) -> tuple[str | None, bool]:
            if json_source is None:
                return f"no {sources.json_name(split)} found, the {split} split is skipped", False
            if not stores:
                return f"no frames for {split} ({split}.zip or {split}/<video>/) found, the split is skipped", False
            return None, False

        def split_tasks(split: str, json_source: Source, stores: list, videos: list[dict]) -> list[Task]:
            holdout = vis_holdout.tasks(options, VERSION, json_source, "annotations/annotations_train.json") \
                if split == "train" else []
            return _json_tasks(split, json_source) + frame_tasks(split, videos, stores, False, folder=split) + holdout

        return plan_splits(self, raw, options, splits, explicit, found, VERSION, problem, split_tasks)

    def verify(self, out_root, report, official, jobs, progress) -> None:
        from segprep.datasets.ovis.verify import verify

        verify(out_root, report, official, jobs, progress)

    def inspect_raw(self, raw: Path) -> list[tuple[str, str]]:
        try:
            found = sources.find_inputs(raw)
        except (BadInput, MissingInput) as exc:
            return [(str(raw), str(exc))]
        if not found.jsons and found.ytvis_jsons:
            return [(found.ytvis_jsons[0], "laid out as YouTube-VIS (train.json / instances.json), not OVIS")]
        return []

    def report_section(self, out_root, jobs, progress):
        from segprep.datasets.ovis.report import report_section

        return report_section(self, out_root)

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.datasets.ovis.sample import write_sample

        write_sample(out, frames=int(options.get("frames") or 4), rle=options.get("rle") or "string",
                     occlusion=not options.get("without_occlusion"), jobs=jobs)


def _json_tasks(split: str, source: Source) -> list[Task]:
    group = f"{split} annotations"
    official, renamed, converted = f"annotations/{sources.json_name(split)}", f"annotations/{split}.json", \
        cocovid_name(split)
    rename = place_json if split == "train" else work.write_renamed
    return [
        Task(official, place_json, (source,), (official,), group=group),
        Task(renamed, rename, (source,), (renamed,), group=group),
        Task(converted, convert_json, (source,), (converted,), {"year": VERSION, "split": split}, group,
             size_hint=source.size),
    ]


RECIPE = OVIS
