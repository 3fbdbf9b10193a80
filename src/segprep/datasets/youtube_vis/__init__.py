"""YouTube-VIS 2019 and 2021 -> ``data/youtube_vis_{2019,2021}/`` as Video K-Net (mmtracking) reads it.

Shared by the two recipes (``youtube_vis_2019/``, ``youtube_vis_2021/``, which only declare their
downloads); this package defines no ``RECIPE`` itself. Its rooms: ``sources.py`` (finding the
downloads), ``work.py`` (the actions), ``verify.py``, ``report.py``, ``sample.py``; the CocoVID
converter is ``encodings/cocovid.py``. The output:

- ``annotations/{split}.json``: the official annotation file, bytes unchanged;
- ``annotations/youtube_vis_{year}_{split}.json``: CocoVID, the records mmtracking's
  ``youtubevis2coco.py`` writes (see ``encodings/youtube_vis.py``, ``encodings/cocovid.py``), in the same bytes as its
  ``mmcv.dump``; written as a stream, the official file read in windows and each track read
  again by its byte span, so neither file is ever held whole in memory;
- ``{split}/JPEGImages/{video}/{frame}.jpg``: the frames the json lists, bytes unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from segprep.datasets._shared import vis_holdout
from segprep.datasets.base import Option, Recipe, parse_splits
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task
from segprep.errors import BadInput, MissingInput, SegprepError
from segprep.io.jsonscan import JsonScanner
from segprep.io.sources import FileSource, Source, SourceReader
from segprep.datasets._shared.actions import report_missing

SPLITS = ("train", "valid", "test")
REQUIRED_SPLITS = ("train", "valid")  # what Video K-Net's configs read
PUBLISHED_VIDEOS = {  # https://youtube-vos.org/dataset/vis/
    "2019": {"train": 2238, "valid": 302, "test": 343},
    "2021": {"train": 2985, "valid": 421, "test": 453},
}


def cocovid_name(year: str, split: str) -> str:
    return f"annotations/youtube_vis_{year}_{split}.json"


from segprep.datasets.youtube_vis.sources import FrameStore, find_inputs  # noqa: E402
from segprep.datasets._shared.actions import place_json  # noqa: E402
from segprep.datasets.youtube_vis.work import convert_json, place_frame  # noqa: E402
from segprep.datasets.youtube_vis.verify import YouTubeVISVerify  # noqa: E402
from segprep.datasets.youtube_vis.report import YouTubeVISReport  # noqa: E402
from segprep.encodings.cocovid import _VOS_HINT, format_stats, read_videos  # noqa: E402


# ---------------------------------------------------------------------- the recipe

class YouTubeVIS(YouTubeVISVerify, YouTubeVISReport, Recipe):
    YEAR: ClassVar[str]
    VERSION = "1"
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare (a split whose files are absent is skipped unless named "
               "here)", "train,valid,test", shapes_output=False),
        Option("all-frames", "also place the frames between the annotated ones, from the *_all_frames downloads",
               False, flag=True),
        *vis_holdout.OPTIONS,
    )
    SAMPLE_OPTIONS = (
        Option("frames", "annotated frames per video", 4, int),
        Option("all-frames", "also write the *_all_frames.zip archives (every frame)", False, flag=True),
    )

    # ------------------------------------------------------------------ plan

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        requested = options.get("splits") or "train,valid,test"
        splits = parse_splits(requested, SPLITS)
        explicit = requested != "train,valid,test"
        all_frames = bool(options.get("all_frames"))
        found = find_inputs(raw, self.YEAR)
        if not found.jsons:
            if found.vos:
                raise BadInput(f"{raw}: {found.vos[0]}: {_VOS_HINT}. Download YouTube-VIS {self.YEAR} instead:\n"
                               + self.download_help())
            if found.other_year_jsons:
                other = "2021" if self.YEAR == "2019" else "2019"
                raise BadInput(f"{found.other_year_jsons[0]} is laid out as YouTube-VIS {other} is published "
                               f"({self.json_name('train')} is what {self.YEAR} has): prepare it with "
                               f"`segprep prepare youtube-vis-{other}`, or put the {self.YEAR} files as published")
            raise MissingInput(f"no YouTube-VIS {self.YEAR} annotation file under {raw}. Expected:\n"
                               + self.download_help())
        def problem(split: str, json_source: Source | None, stores: list[FrameStore]) -> tuple[str | None, bool]:
            if json_source is None:
                return f"no {self.json_name(split)} found, the {split} split is skipped", False
            if not stores:
                return f"no frames for {split} ({split}.zip or {split}/JPEGImages/) found, the split is skipped", False
            if all_frames and not any(s.all_frames for s in stores):  # asked for: an error, not a skip
                return f"--all-frames: no {split}_all_frames.zip (or {split}_all_frames/JPEGImages/) found", True
            return None, False

        def split_tasks(split: str, json_source: Source, stores: list[FrameStore], videos: list[dict]) -> list[Task]:
            holdout = vis_holdout.tasks(options, self.YEAR, json_source, "annotations/train.json") \
                if split == "train" else []
            return self._json_tasks(split, json_source) + holdout + frame_tasks(split, videos, stores, all_frames)

        return plan_splits(self, raw, options, splits, explicit, found, self.YEAR, problem, split_tasks)

    def json_name(self, split: str) -> str:
        return f"{split}.json" if self.YEAR == "2019" else f"{split}/instances.json (in {split}.zip)"

    def _json_tasks(self, split: str, source: Source) -> list[Task]:
        group = f"{split} annotations"
        converted = cocovid_name(self.YEAR, split)
        return [
            Task(f"annotations/{split}.json", place_json, (source,), (f"annotations/{split}.json",), group=group),
            Task(converted, convert_json, (source,), (converted,), {"year": self.YEAR, "split": split}, group,
                 size_hint=source.size),
        ]

    # ------------------------------------------------------------------ segprep list --raw, segprep report

    def inspect_raw(self, raw: Path) -> list[tuple[str, str]]:
        """A YouTube-VOS download, or the other year's, is present but wrong."""
        try:
            found = find_inputs(raw, self.YEAR)
        except SegprepError as exc:
            return [(str(raw), str(exc))]
        if found.jsons:
            return [(vos, "a YouTube-VOS file or archive, not used") for vos in found.vos]
        if found.vos:
            return [(found.vos[0], f"{_VOS_HINT}: not YouTube-VIS {self.YEAR}")]
        if found.other_year_jsons:
            other = "2021" if self.YEAR == "2019" else "2019"
            return [(found.other_year_jsons[0], f"laid out as YouTube-VIS {other}: prepare it with youtube-vis-{other}")]
        return []

    # ------------------------------------------------------------------ sample

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.datasets.youtube_vis.sample import write_sample

        write_sample(out, self.YEAR, frames=int(options.get("frames") or 4),
                     all_frames=bool(options.get("all_frames")), jobs=jobs)


def plan_videos(source: Source, reader: SourceReader, version: str) -> list[dict]:
    """``read_videos`` of a json file or archive member (see there; also OVIS's)."""
    if isinstance(source, FileSource):
        with open(source.path, "rb") as f:
            return read_videos(JsonScanner(f, source.describe()), version)
    import io

    return read_videos(JsonScanner(io.BytesIO(reader.read(source)), source.describe()), version)


def plan_splits(recipe: Recipe, raw: Path, options: dict[str, Any], splits: list[str], explicit: bool, found,
                version: str, problem: Callable, split_tasks: Callable) -> Plan:
    """The plan of a YouTube-VIS-family recipe (also OVIS's), split by split: ``problem(split, json source,
    frame stores)`` says why a split cannot be prepared (and whether that is an error even when the split
    was not named), a skipped split becomes a warning (an error when ``--splits`` named it), and
    ``split_tasks(split, json source, stores, videos)`` gives the tasks of the others."""
    tasks: list[Task] = []
    warnings: list[str] = []
    reader = SourceReader()
    try:
        for split in splits:
            json_source, stores = found.jsons.get(split), found.stores.get(split, [])
            reason, fatal = problem(split, json_source, stores)
            if reason:
                if explicit or fatal:
                    raise MissingInput(f"{raw}: {reason}. Expected:\n{recipe.download_help()}")
                warnings.append(reason)
                continue
            tasks += split_tasks(split, json_source, stores, plan_videos(json_source, reader, version))
    finally:
        reader.close()
    warnings += vis_holdout.unused(options, tasks)
    if not tasks:
        raise MissingInput(f"{raw}: nothing to prepare ({'; '.join(warnings)}). Expected:\n{recipe.download_help()}")
    return Plan(tasks, recipe.salt(options), found.notes, finalize=print_stats, warnings=warnings)


def frame_tasks(split: str, videos: list[dict], stores: list[FrameStore], all_frames: bool,
                 folder: str = "") -> list[Task]:
    """A task per frame, placed at ``{folder}/<video>/<frame>`` (``{split}/JPEGImages`` unless given)."""
    folder_out = folder or f"{split}/JPEGImages"
    tasks = []
    group = f"{split} frames"
    for video in videos:
        name = video["file_names"][0].split("/")[0]
        size = [video["width"], video["height"]]
        wanted = [f.split("/", 1) for f in video["file_names"]]
        if all_frames:
            listed = {frame for s in stores if s.all_frames for frame in s.frames(name)}
            extra = sorted(listed - {frame for v, frame in wanted if v == name})
            wanted += [(name, frame) for frame in extra]
        for folder, frame in wanted:
            output = f"{folder_out}/{folder}/{frame}"
            stores_in_order = [s for s in stores if s.all_frames] if all_frames else stores
            source = next((src for s in stores_in_order if (src := s.source(folder, frame)) is not None), None)
            if source is None:
                tried = ", ".join(s.label for s in stores_in_order)
                tasks.append(Task(output, report_missing, (), (output,),
                                  {"message": f"frame {folder}/{frame} of the {split} json is in none of: {tried}"},
                                  group, size_hint=0))
            else:
                tasks.append(Task(output, place_frame, (source,), (output,), {"size": size}, group))
    return tasks


def print_stats(ctx: FinalizeContext) -> None:
    for task in ctx.tasks:
        if task.action is convert_json and ctx.extras.get(task.key):
            ctx.say(format_stats(task.params["year"], ctx.extras[task.key], ctx.verbose))
