"""YouTube-VIS official json -> CocoVID, streamed: read in windows, each track read again by its byte span."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from segprep.encodings import youtube_vis as vis
from segprep.errors import BadInput
from segprep.io.jsonscan import JsonScanner, Raw, decode_shallow


_FRAME = re.compile(r"^[^/\\]+/[^/\\]+\.jpg$")


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


def read_videos(scanner: JsonScanner, version: str | None = None) -> list[dict]:
    """The checked ``videos`` of an official json, reading no further than needed. With ``version``, the
    categories are checked too when they come before the annotations, so that a file of the other
    dataset (OVIS / YouTube-VIS) or year is refused before anything is written."""
    videos = None
    for member in scanner.members():
        if member.key == "videos":
            videos = _check_videos(scanner.name, member.value())
            if version is None:
                return videos
        elif member.key == "categories" and version is not None:
            _check_categories(scanner.name, member.value(), version, [])
        elif member.key == "annotations" and videos is not None:
            break
    if videos is None:
        raise BadInput(f"{scanner.name} has no 'videos': not an {'OVIS' if version == 'ovis' else 'YouTube-VIS'} "
                       "annotation file")
    return videos


def read_official(scanner: JsonScanner, year: str, with_annotations: bool) -> OfficialJson:
    """Categories, videos and the byte spans of the tracks of an official json (one pass, windowed)."""
    categories = videos = None
    official_null = False
    tracks: list[_Track] = []
    for member in scanner.members():
        if member.key == "categories":
            categories = member.value()
        elif member.key == "videos":
            videos = _check_videos(scanner.name, member.value())
        elif member.key == "annotations" and with_annotations:
            if not member.is_array():
                if member.value() is not None:
                    raise BadInput(f"{scanner.name}: 'annotations' is not a list")
                official_null = True  # as in OVIS's valid/test files: a split without annotations
                continue
            tracks = [_index_track(scanner.name, start, end, value)
                      for start, end, value in member.elements(raw=_RAW_SEGMENTATIONS)]
    if videos is None:
        raise BadInput(f"{scanner.name} has no 'videos': not a YouTube-VIS annotation file")
    official = OfficialJson(scanner.name, [], videos)
    official.categories = _check_categories(scanner.name, categories, year, official.notes)
    if official_null:
        official.notes.append(f"{scanner.name}: \"annotations\" is null: a split without annotations")
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
        raise BadInput(f"{name} holds the {vis.dataset_title(version)} categories, not the "
                       f"{vis.dataset_title(year)} ones ({len(vis.CATEGORIES[version])} classes: "
                       f"{', '.join(vis.CATEGORIES[version][:3])}, ...): an {vis.dataset_title(version)} file given "
                       f"as {vis.dataset_title(year)}. Prepare it with `segprep prepare {vis.recipe_name(version)}`")
    if version is None:
        notes.append(f"{name}: the categories are not the official {vis.dataset_title(year)} ones (converted as "
                     "they are; verify will report them)")
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
