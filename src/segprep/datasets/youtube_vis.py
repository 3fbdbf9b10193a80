"""YouTube-VIS 2019 and 2021 -> ``data/youtube_vis_{2019,2021}/`` as Video K-Net (mmtracking) reads it.

Shared by the two recipes (``youtube_vis_2019.py``, ``youtube_vis_2021.py``); this module defines
no ``RECIPE`` itself. The output:

- ``annotations/{split}.json``: the official annotation file, bytes unchanged;
- ``annotations/youtube_vis_{year}_{split}.json``: CocoVID, the records mmtracking's
  ``youtubevis2coco.py`` writes (see ``encodings/youtube_vis.py``), in the same bytes as its
  ``mmcv.dump``; written as a stream, the official file read in windows and each track read
  again by its byte span, so neither file is ever held whole in memory;
- ``{split}/JPEGImages/{video}/{frame}.jpg``: the frames the json lists, bytes unchanged.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from segprep.checks.findings import Report
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced
from segprep.datasets.base import Option, Recipe, parse_splits
from segprep.encodings import youtube_vis as vis
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput, MissingInput, SegprepError
from segprep.io.archives import Archive, Member, find_archive, list_members
from segprep.io.images import jpeg_info
from segprep.io.jsonscan import JsonScanner, Raw, decode_shallow, read_through
from segprep.io.sources import FileSource, MemberSource, Source, SourceReader, walk_dirs

SPLITS = ("train", "valid", "test")
REQUIRED_SPLITS = ("train", "valid")  # what Video K-Net's configs read
PUBLISHED_VIDEOS = {  # https://youtube-vos.org/dataset/vis/
    "2019": {"train": 2238, "valid": 302, "test": 343},
    "2021": {"train": 2985, "valid": 421, "test": 453},
}
JSON_DEPTH = 2  # annotation files are looked for in --raw and two folder levels below (frames: four)
_FRAME = re.compile(r"^[^/\\]+/[^/\\]+\.jpg$")
_MEMBER_FRAME = re.compile(r"^(?:([^/]+)/)?JPEGImages/([^/]+)/([^/]+\.jpg)$")
_MEMBER_JSON = re.compile(r"^(?:([^/]+)/)?instances\.json$")
# A track's "segmentations" as json.dumps writes it (null or uncompressed RLE, ", " and ": " separators):
# found by a fast, lenient pattern (no brackets, braces or quotes can hide inside the counts), then each
# RLE is checked against the strict grammar before its text is copied as it is (the bytes json.dumps
# would write); any other form is decoded and re-encoded.
_LENIENT_RLE = r'(?:null|\{"counts": \[[0-9, ]*\], "size": \[[0-9]+, [0-9]+\]\})'
_RAW_SEGMENTATIONS = {"segmentations": re.compile(r"\[(?:%s(?:, %s)*)?\]" % (_LENIENT_RLE, _LENIENT_RLE))}
_RLE_ITEM = re.compile(r"null|\{[^}]*\}")
_LEADING_ZERO = re.compile(r"(?:^| )0[0-9]")
_VOS_HINT = ("it looks like YouTube-VOS (video object segmentation: meta.json and Annotations/ PNGs), a "
             "different dataset from YouTube-VIS with the same archive names")


def cocovid_name(year: str, split: str) -> str:
    return f"annotations/youtube_vis_{year}_{split}.json"


# ---------------------------------------------------------------------- reading the official json


@dataclass(slots=True)
class _Track:
    """An official annotation (one object through a video), located by its bytes in the file."""

    start: int
    end: int
    ident: Any  # official annotation id
    video_id: Any
    category_id: Any
    lengths: tuple[int, int, int]  # of bboxes, segmentations, areas
    annotated: int  # frames with a box
    problem: str  # "" or what mmtracking's converter would trip over


@dataclass
class OfficialJson:
    name: str
    categories: list[dict]
    videos: list[dict]
    tracks: dict[Any, list[_Track]] = field(default_factory=dict)  # video id -> tracks in json order
    notes: list[str] = field(default_factory=list)


def read_videos(scanner: JsonScanner) -> list[dict]:
    """The checked ``videos`` of an official json, reading no further than needed."""
    for member in scanner.members():
        if member.key == "videos":
            return _check_videos(scanner.name, member.value())
    raise BadInput(f"{scanner.name} has no 'videos': not a YouTube-VIS annotation file")


def read_official(scanner: JsonScanner, year: str, with_annotations: bool) -> OfficialJson:
    """Categories, videos and the byte spans of the tracks of an official json (one pass, windowed)."""
    categories = videos = None
    tracks: list[_Track] = []
    for member in scanner.members():
        if member.key == "categories":
            categories = member.value()
        elif member.key == "videos":
            videos = _check_videos(scanner.name, member.value())
        elif member.key == "annotations" and with_annotations:
            if not member.is_array():
                raise BadInput(f"{scanner.name}: 'annotations' is not a list")
            tracks = [_index_track(scanner.name, start, end, value)
                      for start, end, value in member.elements(raw=_RAW_SEGMENTATIONS)]
    if videos is None:
        raise BadInput(f"{scanner.name} has no 'videos': not a YouTube-VIS annotation file")
    official = OfficialJson(scanner.name, [], videos)
    official.categories = _check_categories(scanner.name, categories, year, official.notes)
    frames = {v["id"]: len(v["file_names"]) for v in videos}
    for track in tracks:
        where = f"{scanner.name}: annotation {track.ident!r} (video {track.video_id!r})"
        if track.video_id not in frames:
            raise BadInput(f"{where}: no video has this id")
        if set(track.lengths) != {frames[track.video_id]}:
            raise BadInput(f"{where}: bboxes/segmentations/areas have {'/'.join(map(str, track.lengths))} entries "
                           f"but the video lists {frames[track.video_id]} frames")
        if track.problem:
            raise BadInput(f"{where}: {track.problem}")
        official.tracks.setdefault(track.video_id, []).append(track)
    return official


def _check_videos(name: str, videos: Any) -> list[dict]:
    if isinstance(videos, dict):
        raise BadInput(f"{name}: 'videos' is a mapping, not a list: {_VOS_HINT}. Use the YouTube-VIS download.")
    if not isinstance(videos, list):
        raise BadInput(f"{name}: 'videos' is not a list: not a YouTube-VIS annotation file")
    out, seen = [], set()
    for index, video in enumerate(videos):
        where = f"{name}: video #{index}"
        if not isinstance(video, dict) or not {"id", "width", "height", "file_names"} <= video.keys():
            raise BadInput(f"{where} lacks id, width, height or file_names")
        names = video["file_names"]
        if not isinstance(names, list) or not names:
            raise BadInput(f"{where} (id {video['id']!r}) lists no frames")
        for frame in names:
            if not isinstance(frame, str) or not _FRAME.match(frame) or frame.split("/")[0] in (".", ".."):
                raise BadInput(f"{where} (id {video['id']!r}): frame name {frame!r} is not '<video>/<frame>.jpg'")
        if video["id"] in seen:
            raise BadInput(f"{where}: video id {video['id']!r} is used twice")
        seen.add(video["id"])
        if not all(isinstance(video[k], int) and video[k] > 0 for k in ("width", "height")):
            raise BadInput(f"{where} (id {video['id']!r}): width/height are not positive integers")
        out.append({"id": video["id"], "width": video["width"], "height": video["height"], "file_names": names})
    return out


def _check_categories(name: str, categories: Any, year: str, notes: list[str]) -> list[dict]:
    if categories is None:
        notes.append(f"{name} has no 'categories' (a trimmed file?): the official {year} list is used")
        return vis.official_categories(year)
    if not isinstance(categories, list) or not all(isinstance(c, dict) and "id" in c and "name" in c
                                                   for c in categories):
        raise BadInput(f"{name}: 'categories' is not a list of {{id, name}}")
    names = [c["name"] for c in sorted(categories, key=lambda c: (str(type(c["id"])), c["id"]))]
    version = vis.category_version(names)
    if version is not None and version != year:
        raise BadInput(f"{name} holds the YouTube-VIS {version} categories, not the {year} ones: "
                       f"prepare it with `segprep prepare youtube-vis-{version}`")
    if version is None:
        notes.append(f"{name}: the categories are not the official {year} ones (converted as they are; "
                     "verify will report them)")
    return categories


def _index_track(name: str, start: int, end: int, ann: Any) -> _Track:
    if not isinstance(ann, dict):
        raise BadInput(f"{name}: an annotation at byte {start:,} is not an object")
    missing = {"id", "video_id", "category_id", "bboxes", "segmentations", "areas", "iscrowd"} - ann.keys()
    if missing:
        raise BadInput(f"{name}: annotation {ann.get('id')!r} lacks {sorted(missing)}")
    if isinstance(ann["segmentations"], Raw):
        ann = dict(ann, segmentations=_split_segmentations(ann["segmentations"]))
    lists = [ann[k] for k in ("bboxes", "segmentations", "areas")]
    if not all(isinstance(v, list) for v in lists):
        raise BadInput(f"{name}: annotation {ann['id']!r}: bboxes, segmentations and areas must be lists")
    bboxes, segmentations, areas = lists
    problem = ""
    annotated = 0
    for frame_id, bbox in enumerate(bboxes):
        if bbox is None:
            continue
        annotated += 1
        if not problem:
            if frame_id >= len(segmentations) or segmentations[frame_id] is None:
                problem = f"frame {frame_id} has a box but no segmentation"
            elif frame_id >= len(areas) or areas[frame_id] is None:
                problem = f"frame {frame_id} has a box but no area"
    if annotated and not problem:
        if not isinstance(ann["category_id"], int):
            problem = f"category_id {ann['category_id']!r} is not an integer"
        elif not isinstance(ann["id"], int):
            problem = "the id is not an integer"
    return _Track(start, end, ann["id"], ann["video_id"], ann["category_id"], tuple(len(v) for v in lists),
                  annotated, problem)


def _split_segmentations(raw: Raw) -> list[Raw | None]:
    """The elements of a canonical segmentations array (see _RAW_SEGMENTATIONS): None or the RLE's text."""
    return [None if m.group() == "null" else Raw(raw.start + m.start(), raw.start + m.end(), m.group())
            for m in _RLE_ITEM.finditer(raw.text, 1, len(raw.text) - 1)]


def _load_track(scanner: JsonScanner, track: _Track, decoder=json.JSONDecoder()) -> dict:
    """A track read again by its span; canonical segmentations stay text (``Raw``)."""
    data = scanner.read(track.start, track.end)
    text = data.decode("latin-1")
    if not text.isascii():
        return scanner.load(track.start, track.end)
    try:
        value, end = decode_shallow(decoder, text, 0, _RAW_SEGMENTATIONS)
    except ValueError:
        end = -1
    if end != len(text) or not isinstance(value, dict):
        raise BadInput(f"{scanner.name}: the annotation at byte {track.start:,} changed since it was read")
    if isinstance(value.get("segmentations"), Raw):
        value["segmentations"] = _split_segmentations(value["segmentations"])
        if not all(s is None or _canonical_rle(s.text) for s in value["segmentations"]):
            return scanner.load(track.start, track.end)  # decoded (and refused if it is not valid JSON)
    return value


def _canonical_rle(text: str) -> bool:
    """Whether an RLE that matched _LENIENT_RLE is exactly what json.dumps writes (plain string tests,
    no per-number work): decimal integers without leading zeros, each separated by ", "."""
    cut = text.index('], "size": [')
    for numbers in (text[12:cut], text[cut + 12 : -2]):
        if not numbers:
            continue
        if not (numbers[0].isdigit() and numbers[-1].isdigit()) or ", ," in numbers:
            return False
        separators = numbers.count(", ")
        if numbers.count(",") != separators or numbers.count(" ") != separators:
            return False
        if (numbers[0] == "0" or " 0" in numbers) and _LEADING_ZERO.search(numbers):
            return False
    return True


def _dump_value(value: Any) -> str:
    """``json.dumps(value)``, with a short cut for the integers, floats and boxes of annotations."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is Raw:
        return value.text
    if kind is list and all(type(v) is float and v - v == 0 for v in value):  # finite floats: repr is json's
        return "[" + ", ".join(map(repr, value)) + "]"
    return json.dumps(value)


def _dump_record(record: dict) -> str:
    """``json.dumps(record)`` where Raw values are their text (identical bytes for canonical text)."""
    return "{" + ", ".join(f'"{k}": {_dump_value(v)}' for k, v in record.items()) + "}"


# ---------------------------------------------------------------------- writing CocoVID


@dataclass
class Counts:
    videos: int = 0
    images: int = 0
    objects: int = 0
    instances: int = 0
    per_category: Counter = field(default_factory=Counter)


def count(official: OfficialJson) -> Counts:
    counts = Counts(len(official.videos), sum(len(v["file_names"]) for v in official.videos))
    for video in official.videos:
        annotated = [t for t in official.tracks.get(video["id"], ()) if t.annotated]
        counts.objects += sum(t.annotated for t in annotated)
        counts.instances += len({t.ident for t in annotated})
        for track in annotated:
            counts.per_category[track.category_id] += track.annotated
    return counts


def cocovid_chunks(scanner: JsonScanner, official: OfficialJson, with_annotations: bool) -> Iterator[bytes]:
    """The CocoVID json in pieces, byte-identical to ``json.dumps`` of mmtracking's dict.

    Keys appear as they would in its ``defaultdict(list)``: ``categories``, then ``videos`` and
    ``images`` when there is a video, and ``annotations`` (train only) when there is an object.
    """
    yield b'{"categories": ' + json.dumps(official.categories).encode()
    if not official.videos:
        yield b"}"
        return
    yield b', "videos": ' + json.dumps([vis.video_record(v) for v in official.videos]).encode()
    yield b', "images": ['
    image_id = 1
    for video in official.videos:
        records = vis.image_records(video, image_id)
        yield (", " if image_id > 1 else "").encode() + json.dumps(records)[1:-1].encode()
        image_id += len(records)
    yield b"]"
    if with_annotations and any(t.annotated for tracks in official.tracks.values() for t in tracks):
        yield b', "annotations": ['
        image_id = annotation_id = instance_id = 1
        for video in official.videos:
            tracks = [t for t in official.tracks.get(video["id"], ()) if t.annotated]
            if tracks:
                loaded = [_load_track(scanner, t) for t in tracks]
                records = vis.annotation_records(video, loaded, image_id, annotation_id, instance_id)
                yield ((", " if annotation_id > 1 else "") + ", ".join(map(_dump_record, records))).encode()
                annotation_id += len(records)
                instance_id += len({t.ident for t in tracks})
            image_id += len(video["file_names"])
        yield b"]"
    yield b"}"


def convert(fileobj, name: str, year: str, split: str) -> tuple[Iterator[bytes], dict]:
    """Reads an official json (pass one) and returns the CocoVID chunks (pass two, lazy) and the statistics."""
    scanner = JsonScanner(fileobj, name)
    with_annotations = split == "train"
    official = read_official(scanner, year, with_annotations)
    counts = count(official)
    stats = {
        "split": split, "videos": counts.videos, "images": counts.images, "notes": official.notes,
        "annotations": with_annotations, "objects": counts.objects, "instances": counts.instances,
        "classes": [[c["id"], c["name"], counts.per_category.get(c["id"], 0)] for c in official.categories],
    }
    return cocovid_chunks(scanner, official, with_annotations), stats


def format_stats(year: str, stats: dict, verbose: bool = False) -> str:
    """The split's counts and a compact table of the classes that have objects; ``verbose``: mmtracking's
    own printout, a line per category counted by its id (zero when absent)."""
    lines = [f"-----YouTube VIS {year} {stats['split']}------", f"{stats['videos']} videos", f"{stats['images']} images"]
    if stats["annotations"]:
        lines += [f"{stats['objects']} objects", f"{stats['instances']} instances"]
    lines.append("-----------------------")
    if stats["annotations"] and verbose:
        lines += [f"Class {cid} {name} has {n} objects." for cid, name, n in stats["classes"]]
    elif stats["annotations"]:
        present = [(cid, name, n) for cid, name, n in stats["classes"] if n]
        width = max((len(name) for _, name, _ in present), default=0)
        lines += [f"  {cid:>3} {name:<{width}} {n:>8,} objects" for cid, name, n in present]
        absent = len(stats["classes"]) - len(present)
        if absent:
            lines.append(f"  {absent} of {len(stats['classes'])} classes have no objects (--verbose lists every class)")
    lines += [f"note: {note}" for note in stats["notes"]]
    return "\n".join(lines)


# ---------------------------------------------------------------------- finding the download


@dataclass
class FrameStore:
    """Where a split's frames are: an extracted JPEGImages folder or an archive."""

    label: str
    all_frames: bool  # a *_all_frames download: every frame, not only the annotated ones
    folder: Path | None = None
    archive: Archive | None = None
    members: dict[str, dict[str, Member]] = field(default_factory=dict)  # video -> frame -> member
    _listed: dict[str, dict[str, str]] = field(default_factory=dict)

    def frames(self, video: str) -> dict[str, Source | str]:
        """frame name -> source (archives) or path (folders) of one video."""
        if self.archive is not None:
            return self.members.get(video, {})
        if video not in self._listed:
            folder = self.folder / video
            try:
                names = {e.name: e.path for e in os.scandir(folder) if e.name.endswith(".jpg") and e.is_file()}
            except (FileNotFoundError, NotADirectoryError):
                names = {}
            self._listed[video] = names
        return self._listed[video]

    def source(self, video: str, frame: str) -> Source | None:
        found = self.frames(video).get(frame)
        if found is None:
            return None
        if self.archive is not None:
            return MemberSource(self.archive, found)
        return FileSource.of(found)


@dataclass
class Inputs:
    jsons: dict[str, Source] = field(default_factory=dict)
    other_year_jsons: list[str] = field(default_factory=list)
    stores: dict[str, list[FrameStore]] = field(default_factory=lambda: defaultdict(list))
    vos: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_inputs(raw: Path, year: str) -> Inputs:
    """The official jsons and frame stores per split, extracted folders before archives."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder")
    found = Inputs()
    extracted: list[FrameStore] = []
    for folder, depth in _folders(raw):
        names = sorted(os.listdir(folder))
        for entry in names:
            path = folder / entry
            if entry == "meta.json":
                found.vos.append(str(path))
            elif entry == "Annotations" and path.is_dir() and "JPEGImages" in names:
                found.vos.append(str(path))
            elif entry == "JPEGImages" and path.is_dir():
                split, all_frames = _split_of(folder.name)
                if split is not None:
                    extracted.append(FrameStore(str(path), all_frames, folder=path))
            if depth > JSON_DEPTH:
                continue
            json_split = _json_split(folder, entry, year)
            if json_split is not None and json_split not in found.jsons and path.is_file():
                found.jsons[json_split] = FileSource.of(path)
                found.notes.append(f"{path}: the official {json_split} annotations")
            elif _json_split(folder, entry, "2021" if year == "2019" else "2019") is not None and path.is_file():
                found.other_year_jsons.append(str(path))
    for store in sorted(extracted, key=lambda s: (s.all_frames, s.label)):
        found.stores[_split_of(store.folder.parent.name)[0]].append(store)
        found.notes.append(f"{store.label}: {'all' if store.all_frames else 'annotated'} frames (extracted)")
    for all_frames in (False, True):
        for split in SPLITS:
            filename = f"{split}_all_frames.zip" if all_frames else f"{split}.zip"
            for folder in [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")):
                archive = find_archive(folder, filename)
                if archive is not None:
                    _read_archive(archive, split, all_frames, year, found)
                    break
    return found


_FRAME_DIRS = ("JPEGImages", "Annotations")


def _folders(raw: Path, max_depth: int = 4) -> list[tuple[Path, int]]:
    """raw and the folders below it with their depth, a few levels deep, not descending into frame folders."""
    walk = walk_dirs(raw, max_depth, lambda name: name not in _FRAME_DIRS)
    return [(raw, 0)] + [(path, depth) for path, depth in walk if path.name not in _FRAME_DIRS]


def _split_of(name: str) -> tuple[str | None, bool]:
    if name in SPLITS:
        return name, False
    if name.endswith("_all_frames") and name[: -len("_all_frames")] in SPLITS:
        return name[: -len("_all_frames")], True
    return None, False


def _json_split(folder: Path, entry: str, year: str) -> str | None:
    if year == "2019":
        stem = entry[:-5] if entry.endswith(".json") else None
        return stem if stem in SPLITS else None
    return folder.name if entry == "instances.json" and folder.name in SPLITS else None


def _read_archive(archive: Archive, split: str, all_frames: bool, year: str, found: Inputs) -> None:
    members = list_members(archive)
    if any(m.name.split("/")[-1] == "meta.json" or "/Annotations/" in f"/{m.name}" for m in members):
        found.vos.append(archive.display)
        found.notes.append(f"{archive.display}: a YouTube-VOS archive (meta.json, Annotations/); not used")
        return
    store = FrameStore(archive.display, all_frames, archive=archive)
    prefixes = {None, f"{split}_all_frames" if all_frames else split}
    count_frames = 0
    for member in members:
        match = _MEMBER_FRAME.match(member.name)
        if match and match.group(1) in prefixes:
            store.members.setdefault(match.group(2), {})[match.group(3)] = member
            count_frames += 1
            continue
        match = _MEMBER_JSON.match(member.name)
        if match and match.group(1) in prefixes and not all_frames:
            if year == "2021" and split not in found.jsons:
                found.jsons[split] = MemberSource(archive, member)
                found.notes.append(f"{archive.display}:{member.name}: the official {split} annotations")
            elif year == "2019":
                found.other_year_jsons.append(f"{archive.display}:{member.name}")
    if count_frames:
        found.stores[split].append(store)
        found.notes.append(f"{archive.display}: {count_frames:,} {'all' if all_frames else 'annotated'} frames "
                           f"({'one pass' if archive.sequential else 'random access'})")


# ---------------------------------------------------------------------- the recipe


class YouTubeVIS(Recipe):
    YEAR: ClassVar[str]
    VERSION = "1"
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare (a split whose files are absent is skipped unless named "
               "here)", "train,valid,test", shapes_output=False),
        Option("all-frames", "also place the frames between the annotated ones, from the *_all_frames downloads",
               False, flag=True),
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
        tasks: list[Task] = []
        warnings: list[str] = []
        reader = SourceReader()
        try:
            for split in splits:
                json_source = found.jsons.get(split)
                stores = found.stores.get(split, [])
                problem = None
                if json_source is None:
                    problem = f"no {self.json_name(split)} found, the {split} split is skipped"
                elif not stores:
                    problem = f"no frames for {split} ({split}.zip or {split}/JPEGImages/) found, the split is skipped"
                elif all_frames and not any(s.all_frames for s in stores):
                    problem = f"--all-frames: no {split}_all_frames.zip (or {split}_all_frames/JPEGImages/) found"
                if problem:
                    if explicit or (all_frames and json_source is not None and stores):
                        raise MissingInput(f"{raw}: {problem}. Expected:\n{self.download_help()}")
                    warnings.append(problem)
                    continue
                videos = _plan_videos(json_source, reader)
                tasks += self._json_tasks(split, json_source)
                tasks += _frame_tasks(split, videos, stores, all_frames)
        finally:
            reader.close()
        if not tasks:
            raise MissingInput(f"{raw}: nothing to prepare ({'; '.join(warnings)}). Expected:\n{self.download_help()}")
        return Plan(tasks, self.salt(options), found.notes, finalize=_print_stats, warnings=warnings)

    def json_name(self, split: str) -> str:
        return f"{split}.json" if self.YEAR == "2019" else f"{split}/instances.json (in {split}.zip)"

    def _json_tasks(self, split: str, source: Source) -> list[Task]:
        group = f"{split} annotations"
        converted = cocovid_name(self.YEAR, split)
        return [
            Task(f"annotations/{split}.json", place_official, (source,), (f"annotations/{split}.json",), group=group),
            Task(converted, convert_json, (source,), (converted,), {"year": self.YEAR, "split": split}, group,
                 size_hint=source.size),
        ]

    # ------------------------------------------------------------------ verify

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        present = []
        for split in SPLITS:
            paths = [out_root / f"annotations/{split}.json", out_root / cocovid_name(self.YEAR, split)]
            exists = [p.is_file() for p in paths]
            report.checked("layout")
            if not any(exists):
                if split in REQUIRED_SPLITS or official:
                    report.fail("layout", f"annotations/{split}.json", f"missing: the {split} split is not prepared")
                continue
            for path, ok in zip(paths, exists):
                if not ok:
                    report.fail("layout", os.path.relpath(path, out_root), "missing")
            if all(exists):
                present.append(split)
        heads: dict[str, dict] = {}
        for split in present:
            try:
                heads[split] = _read_head(out_root / cocovid_name(self.YEAR, split))
            except SegprepError as exc:
                report.checked("cocovid schema")
                report.fail("cocovid schema", cocovid_name(self.YEAR, split), str(exc))
                continue
            _check_head(self.YEAR, split, heads[split], report)
        work: list[tuple] = [("json", str(out_root), self.YEAR, split) for split in heads]
        for split, head in heads.items():
            frames = _check_frame_files(out_root, split, head, report)
            for start in range(0, len(frames), 64):
                work.append(("frames", str(out_root), split, frames[start : start + 64]))
        results = parallel_map(verify_item, work, jobs, progress, f"verify youtube-vis-{self.YEAR}")
        for item, result in zip(work, results):
            if isinstance(result, Exception):
                check, rel = ("annotations", cocovid_name(self.YEAR, item[3])) if item[0] == "json" else (
                    "decode", f"{item[2]}/JPEGImages")
                report.crashed(check, rel, result)
                continue
            for check, n, failures in result:
                report.checked(check, n)
                for path, message in failures:
                    report.fail(check, path, message)
        if official:
            for split in SPLITS:
                report.checked("official counts")
                found = len(heads[split]["videos"]) if split in heads else 0
                want = PUBLISHED_VIDEOS[self.YEAR][split]
                if found != want:
                    report.fail("official counts", cocovid_name(self.YEAR, split),
                                f"{split}: {found:,} videos found, {want:,} published ({found - want:+,})")

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

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        names = vis.CATEGORIES[self.YEAR]
        categories = [Category(name, _category_color(name), True) for name in names]
        section = ReportSection(self.NAME, self.FOLDER, self.TITLE, categories)
        heads = {}
        for split in SPLITS:
            path = out_root / cocovid_name(self.YEAR, split)
            head = _read_head(path) if path.is_file() else {}
            heads[split] = head
            section.counts.append(CountRow(split, "videos", len(head.get("videos", [])),
                                           PUBLISHED_VIDEOS[self.YEAR][split],
                                           "" if head else f"{cocovid_name(self.YEAR, split)} missing"))
            section.counts.append(CountRow(split, "frames", len(head.get("images", []))))
        train = heads["train"]
        if not train.get("images"):
            section.notes.append("no train annotations prepared: no class statistics or frames")
            return section
        by_video: dict[Any, list[dict]] = defaultdict(list)
        for image in train["images"]:
            by_video[image["video_id"]].append(image)
        videos = [by_video[v["id"]] for v in train.get("videos", []) if by_video.get(v["id"])]
        picked = [frames[len(frames) // 2] for frames in evenly_spaced(videos, 4)]
        longest = max(videos, key=len)
        middle = max(0, len(longest) // 2 - 3)
        strip = longest[middle : middle + 6]
        wanted = {image["id"] for image in picked + strip}
        pixels, tracks, objects, annotations = _scan_train(out_root / cocovid_name(self.YEAR, "train"), wanted)
        section.counts.append(CountRow("train", "objects (annotated masks)", objects))
        index = {c["id"]: i for i, c in enumerate(train.get("categories", [])) if c.get("name") in names}
        section.stats = ClassStats([pixels.get(c, 0) for c in range(1, 41)],
                                   [len(tracks.get(c, ())) for c in range(1, 41)],
                                   "train split: pixels from the annotation areas; instances are tracks (instance_id)")
        view = lambda image: _label_view(out_root, image, annotations.get(image["id"], []), index)  # noqa: E731
        section.frames = [view(image) for image in picked]
        section.strips = [[view(image) for image in strip]]
        return section

    # ------------------------------------------------------------------ sample

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.samples.youtube_vis import write_sample

        write_sample(out, self.YEAR, frames=int(options.get("frames") or 4),
                     all_frames=bool(options.get("all_frames")), jobs=jobs)


def _plan_videos(source: Source, reader: SourceReader) -> list[dict]:
    if isinstance(source, FileSource):
        with open(source.path, "rb") as f:
            return read_videos(JsonScanner(f, source.describe()))
    import io

    return read_videos(JsonScanner(io.BytesIO(reader.read(source)), source.describe()))


def _frame_tasks(split: str, videos: list[dict], stores: list[FrameStore], all_frames: bool) -> list[Task]:
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
            output = f"{split}/JPEGImages/{folder}/{frame}"
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


# ---------------------------------------------------------------------- actions (run in workers)


def place_official(ctx: TaskContext, task: Task) -> None:
    """The official json, bytes unchanged, once it has been read through: a truncated or damaged
    download is named and never placed (a loader would fail on it later, far from the cause)."""
    source = task.inputs[0]
    with ctx.open(source) as f:
        read_through(f, source.describe())
    ctx.place(source, task.outputs[0])


def convert_json(ctx: TaskContext, task: Task) -> dict:
    source = task.inputs[0]
    with ctx.open(source) as f:
        chunks, stats = convert(f, source.describe(), task.params["year"], task.params["split"])
        ctx.write_chunks(task.outputs[0], chunks)
    return stats


def place_frame(ctx: TaskContext, task: Task) -> None:
    width, height = task.params["size"]

    def check(data: bytes, name: str) -> None:
        info = jpeg_info(data, name)
        if (info.width, info.height) != (width, height):
            raise BadInput(f"{name} is {info.width}x{info.height}, its json says {width}x{height} "
                           "(frames from another download?)")

    ctx.place(task.inputs[0], task.outputs[0], check=check)


def report_missing(ctx: TaskContext, task: Task) -> None:
    raise MissingInput(task.params["message"])


def _print_stats(ctx: FinalizeContext) -> None:
    for task in ctx.tasks:
        if task.action is convert_json and ctx.extras.get(task.key):
            ctx.say(format_stats(task.params["year"], ctx.extras[task.key], ctx.verbose))


# ---------------------------------------------------------------------- verification


def _read_head(path: Path) -> dict:
    """categories, videos, images of a CocoVID file and its top-level keys (annotations are not read)."""
    head: dict[str, Any] = {"keys": []}
    with open(path, "rb") as f:
        for member in JsonScanner(f, path.name).members():
            head["keys"].append(member.key)
            if member.key in ("categories", "videos", "images"):
                head[member.key] = member.value()
    return head


def _check_head(year: str, split: str, head: dict, report: Report) -> None:
    rel = cocovid_name(year, split)
    expected = ["categories", "videos", "images"] + (["annotations"] if split == "train" else [])
    report.checked("cocovid schema")
    if head["keys"] != expected:
        report.fail("cocovid schema", rel, f"top-level keys {head['keys']}, expected {expected}")
    head.setdefault("categories", [])
    head.setdefault("videos", [])
    head.setdefault("images", [])
    report.checked("categories")
    names = [c.get("name") for c in head["categories"]]
    ids = [c.get("id") for c in head["categories"]]
    if names != list(vis.CATEGORIES[year]) or ids != list(range(1, 41)):
        report.fail("categories", rel, f"not the 40 official {year} categories with ids 1-40 in order "
                                       f"(found {len(names)}: {names[:5]}...)")
    video_ids = {}
    for video in head["videos"]:
        report.checked("cocovid schema")
        if set(video) != {"id", "name", "width", "height"} or video["id"] in video_ids:
            report.fail("cocovid schema", rel, f"video {video!r}: keys must be id, name, width, height; ids unique")
        video_ids[video.get("id")] = video
    per_video: dict[Any, list[int]] = defaultdict(list)
    image_ids = set()
    for position, image in enumerate(head["images"], 1):
        report.checked("cocovid schema")
        keys = {"file_name", "height", "width", "id", "frame_id", "video_id"}
        if set(image) != keys:
            report.fail("cocovid schema", rel, f"image {image.get('id')!r}: keys {sorted(image)}, expected "
                                               f"{sorted(keys)}")
            continue
        if image["id"] != position:
            report.fail("cocovid schema", rel, f"image {image['id']!r} at position {position}: ids must count from 1")
        image_ids.add(image["id"])
        video = video_ids.get(image["video_id"])
        if video is None:
            report.fail("cocovid schema", rel, f"image {image['id']}: no video {image['video_id']!r}")
            continue
        if image["file_name"].split("/")[0] != video["name"] or (image["width"], image["height"]) != (
                video["width"], video["height"]):
            report.fail("cocovid schema", rel, f"image {image['id']} ({image['file_name']}) does not match its video "
                                               f"{video['name']} ({video['width']}x{video['height']})")
        per_video[image["video_id"]].append(image["frame_id"])
    for video_id, video in video_ids.items():
        report.checked("frame ids")
        frame_ids = per_video.get(video_id, [])
        if frame_ids != list(range(len(frame_ids))) or not frame_ids:
            report.fail("frame ids", rel, f"video {video['name']}: frame_ids {frame_ids[:8]}... are not 0..n-1 in "
                                          "order (Video K-Net places frames by frame_id)")


def _check_frame_files(out_root: Path, split: str, head: dict, report: Report) -> list[tuple[str, int, int]]:
    """Every image of the json exists; nothing else but frames of its videos is in JPEGImages."""
    root = out_root / split / "JPEGImages"
    named = {image["file_name"]: (image["width"], image["height"]) for image in head["images"]
             if isinstance(image.get("file_name"), str)}
    sizes = {video["name"]: (video["width"], video["height"]) for video in head["videos"]}
    on_disk: set[str] = set()
    if root.is_dir():
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if not entry.is_dir():
                report.fail("layout", f"{split}/JPEGImages/{entry.name}", "stray file")
                continue
            for frame in sorted(os.listdir(entry.path)):
                on_disk.add(f"{entry.name}/{frame}")
    frames = []
    for name, size in named.items():
        report.checked("frames exist")
        if name not in on_disk:
            report.fail("frames exist", f"{split}/JPEGImages/{name}", "missing (named in the json)")
        else:
            frames.append((name, *size))
    for name in sorted(on_disk - named.keys()):
        video, frame = name.split("/", 1)
        report.checked("layout")
        if video in sizes and frame.endswith(".jpg"):
            frames.append((name, *sizes[video]))  # an unannotated frame (--all-frames): checked like the others
        else:
            report.fail("layout", f"{split}/JPEGImages/{name}", "stray file (not a frame of a video in the json)")
    return frames


def verify_item(item: tuple) -> list[tuple[str, int, list[tuple[str, str]]]]:
    """One unit of verification (in a worker): a split's jsons, or a batch of frames."""
    if item[0] == "frames":
        return _verify_frames(Path(item[1]), item[2], item[3])
    return _verify_jsons(Path(item[1]), item[2], item[3])


def _verify_frames(out_root: Path, split: str, frames: list[tuple[str, int, int]]) -> list:
    import io

    from PIL import Image

    failures = []
    for name, width, height in frames:
        rel = f"{split}/JPEGImages/{name}"
        try:
            data = (out_root / rel).read_bytes()
            with Image.open(io.BytesIO(data)) as im:
                if im.format != "JPEG":
                    raise BadInput(f"a {im.format} file, not a JPEG")
                if im.size != (width, height):
                    raise BadInput(f"{im.size[0]}x{im.size[1]}, the json says {width}x{height}")
                im.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # DCT scaling: every block is still read
                im.load()
        except BadInput as exc:
            failures.append((rel, str(exc)))
        except Exception as exc:  # Pillow's errors for damaged files
            failures.append((rel, f"cannot be decoded ({type(exc).__name__}: {exc})"))
    return [("decode", len(frames), failures)]


def _verify_jsons(out_root: Path, year: str, split: str) -> list:
    """The CocoVID file is the conversion of the official one, and every annotation is sound."""
    from pycocotools import mask as mask_utils

    rel = cocovid_name(year, split)
    path = out_root / rel
    out = []
    # 1. byte-identical to a fresh conversion of annotations/{split}.json
    import hashlib

    digest = hashlib.sha256()
    with open(out_root / f"annotations/{split}.json", "rb") as f:
        try:
            chunks, _ = convert(f, f"annotations/{split}.json", year, split)
            for chunk in chunks:
                digest.update(chunk)
            same = _file_sha256(path) == digest.hexdigest()
            message = "differs from the conversion of annotations/{split}.json (edited, or from another file)"
            out.append(("matches official", 1, [] if same else [(rel, message.format(split=split))]))
        except SegprepError as exc:
            out.append(("matches official", 1, [(f"annotations/{split}.json", str(exc))]))
    # 2. references and masks of every annotation
    failures: list[tuple[str, str]] = []
    checked = 0
    images: dict[int, tuple] = {}
    categories: set = set()
    with open(path, "rb") as f:
        scanner = JsonScanner(f, rel)
        for member in scanner.members():
            if member.key == "categories":
                categories = {c.get("id") for c in member.value()}
            elif member.key == "images":
                images = {im["id"]: (im["video_id"], im["width"], im["height"]) for _, _, im in member.elements()}
            elif member.key == "annotations":
                seen_ids: set = set()
                for _, _, ann in member.elements():
                    checked += 1
                    problem = _annotation_problem(ann, images, categories, seen_ids, mask_utils)
                    if problem:
                        failures.append((f"{rel}: annotation {ann.get('id') if isinstance(ann, dict) else '?'}",
                                         problem))
    out.append(("annotations", checked, failures))
    return out


def _annotation_problem(ann: Any, images: dict, categories: set, seen_ids: set, mask_utils) -> str:
    keys = ("id", "video_id", "image_id", "category_id", "instance_id", "bbox", "segmentation", "area", "iscrowd")
    if not isinstance(ann, dict) or list(ann) != list(keys):
        return f"keys {list(ann) if isinstance(ann, dict) else type(ann).__name__}, expected {list(keys)}"
    if ann["id"] in seen_ids:
        return "id used twice"
    seen_ids.add(ann["id"])
    image = images.get(ann["image_id"])
    if image is None:
        return f"no image {ann['image_id']!r}"
    video_id, width, height = image
    if ann["video_id"] != video_id:
        return f"video_id {ann['video_id']!r}, its image belongs to video {video_id!r}"
    if ann["category_id"] not in categories:
        return f"no category {ann['category_id']!r}"
    if not isinstance(ann["instance_id"], int):
        return f"instance_id {ann['instance_id']!r} is not an integer"
    seg = ann["segmentation"]
    if not isinstance(seg, dict) or set(seg) != {"counts", "size"}:
        return "the segmentation is not an RLE {counts, size}"
    if seg["size"] != [height, width]:
        return f"RLE size {seg['size']}, the image is {height}x{width} (height x width)"
    counts = seg["counts"]
    if isinstance(counts, list):
        if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != height * width:
            return f"RLE run lengths do not cover the image exactly ({sum(c for c in counts if isinstance(c, int)):,} " \
                   f"pixels, the image has {height * width:,})"
        rle = mask_utils.frPyObjects(seg, height, width)
    elif isinstance(counts, str):
        rle = {"size": seg["size"], "counts": counts.encode()}
    else:
        return "RLE counts are neither a list nor a string"
    try:
        area = int(mask_utils.area(rle))
        box = [float(v) for v in mask_utils.toBbox(rle)]
        if isinstance(counts, str) and mask_utils.decode(rle).shape != (height, width):
            return "the compressed RLE does not decode to the image size"
    except Exception as exc:
        return f"the RLE cannot be decoded ({type(exc).__name__}: {exc})"
    if ann["area"] != area:
        return f"area {ann['area']!r}, the mask has {area} pixels"
    if not isinstance(ann["bbox"], list) or [float(v) for v in ann["bbox"]] != box:
        return f"bbox {ann['bbox']!r}, the mask's box is {box}"
    return ""


def _file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------- report


_RAW_RLE = {"segmentation": re.compile(_LENIENT_RLE)}


def _category_color(name: str) -> tuple[int, int, int]:
    import hashlib

    digest = hashlib.blake2b(name.encode(), digest_size=3).digest()
    return (48 + digest[0] * 207 // 255, 48 + digest[1] * 207 // 255, 48 + digest[2] * 207 // 255)


def _scan_train(path: Path, wanted: set) -> tuple[Counter, dict, int, dict]:
    """Pixels and tracks per category of a CocoVID train file, and the annotations of the wanted images."""
    pixels: Counter = Counter()
    tracks: dict[Any, set] = defaultdict(set)
    annotations: dict[Any, list[dict]] = defaultdict(list)
    objects = 0
    with open(path, "rb") as f:
        for member in JsonScanner(f, path.name).members():
            if member.key != "annotations":
                continue
            for _, _, ann in member.elements(raw=_RAW_RLE):
                objects += 1
                if isinstance(ann.get("area"), (int, float)):
                    pixels[ann.get("category_id")] += int(ann["area"])
                tracks[ann.get("category_id")].add(ann.get("instance_id"))
                if ann.get("image_id") in wanted:
                    if isinstance(ann.get("segmentation"), Raw):
                        ann["segmentation"] = json.loads(ann["segmentation"].text)
                    annotations[ann["image_id"]].append(ann)
    return pixels, tracks, objects, annotations


def _label_view(out_root: Path, image: dict, annotations: list[dict], index: dict) -> LabelView:
    import numpy as np
    from PIL import Image
    from pycocotools import mask as mask_utils

    width, height = image["width"], image["height"]
    path = out_root / "train/JPEGImages" / image["file_name"]
    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
    except OSError:
        rgb = np.zeros((height, width, 3), np.uint8)
    segments = np.zeros(rgb.shape[:2], np.int64)
    category_of = {}
    for ann in annotations:
        if ann.get("category_id") not in index:
            continue
        try:
            with warnings.catch_warnings():  # pycocotools' own use of numpy 2
                warnings.simplefilter("ignore", DeprecationWarning)
                mask = mask_utils.decode(mask_utils.frPyObjects(ann["segmentation"], height, width)).astype(bool)
        except Exception:
            continue
        if mask.shape == segments.shape:
            segments[mask] = ann["instance_id"]
            category_of[int(ann["instance_id"])] = index[ann["category_id"]]
    return LabelView(image["file_name"], rgb, segments, category_of, np.zeros(segments.shape, bool),
                     f"train/JPEGImages/{image['file_name']}")
