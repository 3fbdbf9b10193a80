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
import gc
import json
import os
import re
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.datasets.base import Download, Option, Recipe, parse_splits
from segprep.encodings import coco
from segprep.engine.malloc import tune_malloc
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput, MissingInput
from segprep.io import jsonio
from segprep.io.archives import Archive, find_archive, list_members, nested
from segprep.io.images import decode_png_fast, encode_png_fast, png_info
from segprep.io.jsonscan import read_through
from segprep.io.sources import FileSource, MemberSource, Source, SourceReader, find_dirs
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced

SPLITS = ("train", "val")
PUBLISHED_IMAGES = {"train": 118287, "val": 5000}  # deeplab2 data/dataset.py splits_to_sizes
THING_ONLY_JSON = "annotations/panoptic_train2017_thing_only_coco.json"

IMAGES = {
    split: Download(
        f"{split}2017.zip", size, "https://cocodataset.org/#download (images.cocodataset.org/zips/)",
        f"the {split} images, {split}2017/{{id:012d}}.jpg; the extracted {split}2017/ folder is accepted too",
        url=f"http://images.cocodataset.org/zips/{split}2017.zip", md5=md5, extracted=(f"{split}2017",),
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
    md5="f4bbac642086de4f52a3fdda2de5fa2c", extracted=("annotations/instances_train2017.json",),
)
PANOPTIC = Download(
    "panoptic_annotations_trainval2017.zip", "821 MB",
    "https://cocodataset.org/#download (images.cocodataset.org/annotations/)",
    "annotations/panoptic_{train,val}2017.json and the zips annotations/panoptic_{train,val}2017.zip of the "
    "panoptic PNGs (read in place, no need to extract anything); extracted jsons, inner zips and "
    "panoptic_{train,val}2017/ PNG folders are accepted too",
    url="http://images.cocodataset.org/annotations/panoptic_annotations_trainval2017.zip",
    md5="4170db65fc022c9c296af880dbca6055", extracted=("annotations/panoptic_train2017.json",),
)

_IMAGE = re.compile(r"(?:^|/)(train|val)2017/([^/]+\.jpg)$")
_PNG = re.compile(r"(?:^|/)panoptic_(train|val)2017/([^/]+\.png)$")
_JSON = re.compile(r"(?:^|/)((?:instances|panoptic)_(?:train|val)2017\.json)$")
_ANCHORS = {"train2017", "val2017", "annotations", "panoptic_train2017", "panoptic_val2017"}
_OUTPUT_DIRS = ("train2017", "val2017", "annotations", "panoptic_train2017", "panoptic_val2017",
                "panoptic_stuff_train2017", "panoptic_stuff_val2017")


class Coco(Recipe):
    NAME = "coco"
    FOLDER = "coco"
    TITLE = "COCO 2017 (instances + panoptic, with detectron2's panoptic_stuff maps)"
    VERSION = "1"
    LABEL_OUTPUTS = ("panoptic_train2017/*.png", "panoptic_stuff_train2017/*.png")
    DOWNLOADS = (IMAGES["train"], IMAGES["val"], INSTANCES, PANOPTIC)
    OPTIONS = (
        Option("splits", "comma-separated splits to prepare", "train,val", shapes_output=False),
        Option("thing-only-json", f"also write {THING_ONLY_JSON} (thing segments as COCO instances, RLE masks)",
               False, None, flag=True, shapes_output=False),
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
                tasks.append(Task(f"annotations/{name}", place_file, (found.jsons[name],), (f"annotations/{name}",),
                                  group="annotations"))
            tasks += _image_tasks(split, found.images[split], panoptic)
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

    # ------------------------------------------------------------------ report

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        categories = [Category(name, rgb, bool(thing)) for _, name, _, thing, rgb in coco.CATEGORIES]
        index_of = {c[0]: k for k, c in enumerate(coco.CATEGORIES)}
        section = ReportSection(self.NAME, self.FOLDER, self.TITLE, categories)
        pixels, instances = [0] * len(categories), [0] * len(categories)
        shown: list[tuple[str, dict]] = []
        with gc_paused():
            for split in SPLITS:
                folders = {f: _count_files(out_root / f) for f in (f"{split}2017", f"panoptic_{split}2017",
                                                                   f"panoptic_stuff_{split}2017")}
                section.counts.append(CountRow(split, "images", folders[f"{split}2017"], PUBLISHED_IMAGES[split]))
                section.counts.append(CountRow(split, "panoptic PNGs", folders[f"panoptic_{split}2017"],
                                               PUBLISHED_IMAGES[split]))
                section.counts.append(CountRow(split, "panoptic_stuff maps", folders[f"panoptic_stuff_{split}2017"],
                                               PUBLISHED_IMAGES[split]))
                try:
                    panoptic = json.loads((out_root / f"annotations/panoptic_{split}2017.json").read_bytes())
                except (FileNotFoundError, ValueError):
                    section.notes.append(f"annotations/panoptic_{split}2017.json missing or unreadable")
                    continue
                for ann in panoptic.get("annotations", []):
                    for seg in ann.get("segments_info", []):
                        k = index_of.get(seg.get("category_id"))
                        if k is not None:
                            pixels[k] += int(seg.get("area") or 0)
                            instances[k] += int(bool(categories[k].isthing and not seg.get("iscrowd")))
                files = {img.get("id"): img.get("file_name") for img in panoptic.get("images", [])}
                shown += [(split, dict(ann, image_file=files.get(ann.get("image_id"))))
                          for ann in evenly_spaced(panoptic.get("annotations", []), 2)]
                del panoptic
        section.stats = ClassStats(pixels, instances, "train and val: pixels are the panoptic json areas; "
                                                      "instances are the non-crowd thing segments")
        for split, ann in shown:
            try:
                section.frames.append(_label_view(out_root, split, ann, index_of))
            except (BadInput, OSError) as exc:
                section.notes.append(f"panoptic_{split}2017/{ann.get('file_name')}: not drawn ({exc})")
        return section

    # ------------------------------------------------------------------ sample

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.samples.coco import write_sample

        write_sample(out, train=int(options.get("train_images", 6)), val=int(options.get("val_images", 4)),
                     nested=options.get("nested") or "deflated", jobs=jobs)


RECIPE = Coco


# ---------------------------------------------------------------------- inputs


class Inputs:
    def __init__(self) -> None:
        self.images: dict[str, dict[str, Source]] = {s: {} for s in SPLITS}  # split -> file name -> source
        self.pngs: dict[str, dict[str, Source]] = {s: {} for s in SPLITS}
        self.jsons: dict[str, Source] = {}  # e.g. "panoptic_train2017.json" -> source
        self.notes: list[str] = []

    def add(self, rel: str, source_of) -> str | None:
        """Files the path ``rel`` as an image, PNG or json (first found wins); returns what it was."""
        match = _IMAGE.search(rel)
        if match:
            bucket, key = self.images[match.group(1)], match.group(2)
            kind = "images"
        else:
            match = _PNG.search(rel)
            if match:
                bucket, key = self.pngs[match.group(1)], match.group(2)
                kind = "panoptic PNGs"
            else:
                match = _JSON.search(rel)
                if not match:
                    return None
                bucket, key = self.jsons, match.group(1)
                kind = "jsons"
        if key in bucket:
            return None
        bucket[key] = source_of()
        return kind


def find_inputs(raw: Path, out_root: Path | None = None) -> Inputs:
    """Images, panoptic PNGs and jsons: extracted files first, then the zips (nested ones included)."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n{Coco.download_help()}")
    found = Inputs()
    skip = {out_root.resolve()} if out_root is not None else set()
    inner_zips: list[Path] = []
    # mmdetection keeps the PNG folders inside annotations/
    for anchor in find_dirs(raw, _ANCHORS, 3, descend_into={"annotations"}, skip=skip):
        counts: Counter = Counter()
        for entry in sorted(os.scandir(anchor), key=lambda e: e.name):
            if not entry.is_file() or entry.name.startswith("."):
                continue
            if re.fullmatch(r"panoptic_(train|val)2017\.zip", entry.name):
                inner_zips.append(Path(entry.path))
                continue
            rel = Path(entry.path).relative_to(raw).as_posix()
            kind = found.add(rel, lambda p=entry.path: FileSource.of(p))
            if kind:
                counts[kind] += 1
        if counts:
            found.notes.append(f"{anchor}: {_counts(counts)} (extracted)")
    folders = [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")
                             and p.resolve() not in skip)
    for path in inner_zips:  # panoptic_{split}2017.zip taken out of the panoptic zip, not unzipped
        _add_archive(found, Archive((str(path),), "zip"))
    for download in (IMAGES["train"], IMAGES["val"], INSTANCES, PANOPTIC):
        for folder in folders:
            archive = find_archive(folder, download.filename)
            if archive is None:
                continue
            members = _add_archive(found, archive)
            if download is PANOPTIC:
                for member in members:
                    if re.fullmatch(r"(?:.*/)?panoptic_(train|val)2017\.zip", member.name):
                        _add_archive(found, nested(archive, member.name))
            break
    return found


def _add_archive(found: Inputs, archive: Archive):
    members = list_members(archive)
    counts: Counter = Counter()
    for member in members:
        kind = found.add(member.name, lambda m=member: MemberSource(archive, m))
        if kind:
            counts[kind] += 1
    if counts:
        how = "one pass" if archive.sequential else "random access"
        found.notes.append(f"{archive.display}: {_counts(counts)} ({how})")
    return members


def _counts(counts: Counter) -> str:
    return ", ".join(f"{n:,} {kind}" for kind, n in sorted(counts.items()))


@contextmanager
def gc_paused(freeze: bool = False):
    """Pauses Python's cyclic garbage collector while millions of small objects are made (a 1 GB json,
    ~360k tasks): with it running, parsing and planning take 4-6x longer. ``freeze`` moves what exists
    at the end out of later collections (the plan lives as long as the run); memory is still freed by
    reference counting, and nothing built here forms cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def _load_json(reader: SourceReader, source: Source) -> dict:
    try:
        data = json.loads(reader.read(source))
    except ValueError as exc:
        raise BadInput(f"{source.describe()} is not valid json ({exc}); it is damaged: download it again") from None
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise BadInput(f"{source.describe()} has no 'annotations' list: not a COCO panoptic json")
    return data


# ---------------------------------------------------------------------- tasks


def _image_tasks(split: str, images: dict[str, Source], panoptic: dict) -> list[Task]:
    tasks = []
    for name, source in sorted(images.items()):
        rel = f"{split}2017/{name}"
        tasks.append(Task(rel, place_jpeg, (source,), (rel,), group=f"{split} images"))
    listed = sorted({str(img.get("file_name")) for img in panoptic.get("images", [])} - set(images))
    for name in listed:
        rel = f"{split}2017/{name}"
        tasks.append(Task(rel, report_missing, (), (rel,), {"message": (
            f"image {name}, listed in panoptic_{split}2017.json, is in none of the downloads: expected "
            f"{split}2017/{name} from {IMAGES[split].filename}")}, f"{split} images", size_hint=0))
    return tasks


def _panoptic_tasks(split: str, pngs: dict[str, Source], panoptic: dict, thing_only: bool) -> tuple[list[Task], int]:
    sizes = {img.get("id"): (img.get("width"), img.get("height")) for img in panoptic.get("images", [])}
    tasks, listed = [], set()
    for ann in panoptic["annotations"]:
        name = str(ann.get("file_name"))
        listed.add(name)
        png_rel, stuff_rel = f"panoptic_{split}2017/{name}", f"panoptic_stuff_{split}2017/{name}"
        segments = [[s.get("id"), s.get("category_id")] for s in ann.get("segments_info", [])]
        source = pngs.get(name)
        if source is None:
            tasks.append(Task(png_rel, report_missing, (), (png_rel, stuff_rel), {"message": (
                f"panoptic PNG {name}, listed in panoptic_{split}2017.json, is in none of the downloads: expected "
                f"panoptic_{split}2017/{name} in annotations/panoptic_{split}2017.zip inside {PANOPTIC.filename}")},
                f"{split} panoptic", size_hint=0))
            continue
        size = sizes.get(ann.get("image_id"))
        tasks.append(Task(png_rel, convert_panoptic, (source,), (png_rel, stuff_rel),
                          {"segments": segments, "size": list(size) if size else None},
                          f"{split} panoptic + panoptic_stuff", size_hint=source.size * 2))
        if thing_only:
            things = [[s.get("id"), s.get("category_id"), s.get("iscrowd", 0), s.get("area"), s.get("bbox")]
                      for s in ann.get("segments_info", []) if s.get("category_id") in coco.THING_IDS]
            tasks.append(Task(f"thing-only/{name}", thing_rles, (source,), (),
                              {"things": things, "image_id": ann.get("image_id")}, "train thing-only RLE",
                              size_hint=0))
    return tasks, len(set(pngs) - listed)


# ---------------------------------------------------------------------- actions (run in workers)


def place_file(ctx: TaskContext, task: Task) -> None:
    """An annotation json, unchanged, once read through (a truncated download is named, never placed)."""
    source = task.inputs[0]
    with ctx.open(source) as f:
        read_through(f, source.describe())
    ctx.place(source, task.outputs[0])


def place_jpeg(ctx: TaskContext, task: Task) -> None:
    """Places a photo unchanged after a cheap check that it is a complete JPEG (start and end markers)."""
    source = task.inputs[0]
    if isinstance(source, FileSource):  # read only its ends; the file itself is linked
        with open(source.path, "rb") as f:
            head = f.read(3)
            f.seek(max(0, source.size - 1024))
            tail = f.read()
        check_jpeg(head, tail, source.describe())
        ctx.place(source, task.outputs[0])
    else:
        ctx.place(source, task.outputs[0], check=lambda data, name: check_jpeg(data[:3], data[-1024:], name))


def check_jpeg(head: bytes, tail: bytes, name: str) -> None:
    if head != b"\xff\xd8\xff":
        raise BadInput(f"{name} is not a JPEG file ({'empty' if not head else 'wrong signature'})")
    if b"\xff\xd9" not in tail:
        raise BadInput(f"{name} is truncated: no JPEG end marker (interrupted download or extraction?)")


def report_missing(ctx: TaskContext, task: Task) -> None:
    raise MissingInput(task.params["message"])


def convert_panoptic(ctx: TaskContext, task: Task) -> None:
    """Places the panoptic PNG unchanged and writes its panoptic_stuff map (decoded once)."""
    tune_malloc()
    png_rel, stuff_rel = task.outputs
    segments, size = task.params["segments"], task.params["size"]
    stuff = ctx.place(task.inputs[0], png_rel, check=lambda data, name: panoptic_stuff_png(data, name, segments, size))
    ctx.write_bytes(stuff_rel, stuff)


def panoptic_stuff_png(data: bytes, name: str, segments: list, size) -> bytes:
    """PNG bytes of the panoptic_stuff map of a panoptic PNG (``segments``: [segment id, category id] pairs)."""
    ids = decode_ids(data, name, size)
    try:
        stuff = coco.panoptic_stuff(ids, segments)
    except KeyError as exc:
        raise BadInput(f"{name}: its segments_info names category {exc}, which is no COCO panoptic category") from None
    except (TypeError, ValueError) as exc:
        raise BadInput(f"{name}: bad segments_info in the panoptic json ({exc})") from None
    return encode_png_fast(stuff)


def decode_ids(data: bytes, name: str, size) -> np.ndarray:
    """Segment ids of a panoptic PNG after checking it is complete, 8-bit RGB and of the json's size."""
    info = png_info(data, name)
    if info.color_type != 2 or info.bit_depth != 8:
        raise BadInput(f"{name}: expected an 8-bit RGB PNG, found colour type {info.color_type}, {info.bit_depth} bit")
    if size is not None and [info.width, info.height] != list(size):
        raise BadInput(f"{name} is {info.width}x{info.height}, its json entry says {size[0]}x{size[1]}")
    return coco.rgba2id(decode_png_fast(data, name, rgba=True, info=info))


def thing_rles(ctx: TaskContext, task: Task) -> list[dict]:
    """The thing segments of one image as COCO instance annotations (RLE via pycocotools), without ids."""
    from pycocotools import mask as mask_utils

    source = task.inputs[0]
    ids = decode_ids(ctx.read(source), source.describe(), None)
    out = []
    for segment_id, category_id, iscrowd, area, bbox in task.params["things"]:
        rle = mask_utils.encode(np.asfortranarray(ids == segment_id, dtype=np.uint8))
        rle["counts"] = rle["counts"].decode("ascii")
        out.append({"area": area, "bbox": bbox, "category_id": category_id, "image_id": task.params["image_id"],
                    "iscrowd": iscrowd, "segmentation": rle})
    return out


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


# ---------------------------------------------------------------------- verification


def verify_coco(out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    present = [s for s in SPLITS if (out_root / "annotations" / f"panoptic_{s}2017.json").exists()
               or (out_root / f"{s}2017").is_dir()]
    for entry in sorted(os.listdir(out_root)):
        report.checked("layout")
        if entry not in _OUTPUT_DIRS:
            report.fail("layout", entry, "stray entry (coco/ holds " + ", ".join(_OUTPUT_DIRS) + ")")
    splits = list(SPLITS) if official else present
    if not splits:
        report.checked("layout")
        report.fail("layout", ".", "no split prepared (annotations/panoptic_{train,val}2017.json missing)")
    image_work, png_work = [], []
    counts: dict[str, dict[str, int]] = {"folder": {}, "instances": {}, "panoptic": {}}
    for split in splits:
        jsons = {}
        for kind in ("instances", "panoptic"):
            loaded = rules.read_json(report, "json", out_root, f"annotations/{kind}_{split}2017.json")
            if loaded is not None:
                jsons[kind] = loaded
        files = _list_folder(out_root, f"{split}2017", ".jpg", report)
        pngs = _list_folder(out_root, f"panoptic_{split}2017", ".png", report)
        stuff = _list_folder(out_root, f"panoptic_stuff_{split}2017", ".png", report)
        counts["folder"][split] = len(files)
        listed_images: dict[str, tuple] = {}
        for kind, data in jsons.items():
            counts[kind][split] = len(data.get("images", []))
            for img in data.get("images", []):
                listed_images.setdefault(img.get("file_name"), (img.get("width"), img.get("height")))
        if "instances" in jsons and "panoptic" in jsons:
            _check_json_agreement(split, jsons["instances"], jsons["panoptic"], report)
        if "instances" in jsons:
            _check_instances(split, jsons["instances"], report)
        for name, size in sorted(listed_images.items(), key=lambda kv: str(kv[0])):
            report.checked("images")
            if name not in files:
                report.fail("images", f"{split}2017/{name}", "listed in the jsons, missing")
            else:
                image_work.append((str(out_root / f"{split}2017" / name), size))
        for name in sorted(set(files) - set(listed_images)):
            report.fail("images", f"{split}2017/{name}", "not listed in the jsons (stray file)")
        if "panoptic" in jsons:
            png_work += _panoptic_work(out_root, split, jsons["panoptic"], pngs, stuff, report)
        del jsons
    for (path, _), result in zip(image_work, parallel_map(check_image, image_work, jobs, progress, "verify coco images")):
        message = f"{type(result).__name__}: {result}" if isinstance(result, Exception) else result
        report.add([("decode", os.path.relpath(path, out_root), message)])
    results = parallel_map(check_panoptic, png_work, jobs, progress, "verify coco panoptic")
    for item, result in zip(png_work, results):
        if isinstance(result, Exception):
            result = [("panoptic png", item[0], f"{type(result).__name__}: {result}")]
        report.add((check, os.path.relpath(path, out_root), message) for check, path, message in result)
    if official:
        _check_official(counts, out_root, report)


def _list_folder(out_root: Path, folder: str, suffix: str, report: Report) -> set[str]:
    path = out_root / folder
    report.checked("layout")
    if not path.is_dir():
        report.fail("layout", folder, "folder missing")
        return set()
    names = set()
    for name in sorted(os.listdir(path)):  # findings in a stable order
        if name.endswith(suffix) and not name.startswith("."):
            names.add(name)
        else:
            report.fail("layout", f"{folder}/{name}", f"stray file (only *{suffix} belong here)")
    return names


def _check_json_agreement(split: str, instances: dict, panoptic: dict, report: Report) -> None:
    rel = f"annotations/panoptic_{split}2017.json"
    report.checked("json agreement")
    a = {(i.get("id"), i.get("file_name"), i.get("width"), i.get("height")) for i in instances.get("images", [])}
    b = {(i.get("id"), i.get("file_name"), i.get("width"), i.get("height")) for i in panoptic.get("images", [])}
    if a != b:
        report.fail("json agreement", rel, f"images differ from instances_{split}2017.json: "
                                           f"{len(b - a):,} only here, {len(a - b):,} only there")
    report.checked("categories")
    categories = panoptic.get("categories", [])
    table = [(c[0], c[3]) for c in coco.CATEGORIES]
    if [(c.get("id"), c.get("isthing")) for c in categories] != table:
        report.fail("categories", rel, "categories are not COCO's 133 (ids and thing flags in detectron2's order), "
                                       "so the panoptic_stuff values would not mean what this json says")
    report.checked("categories")
    things = [c.get("id") for c in categories if c.get("isthing")]
    if [c.get("id") for c in instances.get("categories", [])] != things:
        report.fail("categories", f"annotations/instances_{split}2017.json",
                    "categories differ from the panoptic thing categories (Video K-Net asserts they are equal)")
    known = {c.get("id") for c in categories}
    image_ids = {i.get("id") for i in panoptic.get("images", [])}
    for ann in panoptic.get("annotations", []):
        report.checked("categories")
        unknown = sorted({s.get("category_id") for s in ann.get("segments_info", [])} - known, key=str)
        if unknown:
            report.fail("categories", f"panoptic_{split}2017/{ann.get('file_name')}", f"unknown category ids {unknown}")
        report.checked("json agreement")
        if ann.get("image_id") not in image_ids:
            report.fail("json agreement", rel, f"annotation {ann.get('file_name')} names image {ann.get('image_id')}, "
                                               "which is not in images")


def _check_instances(split: str, instances: dict, report: Report) -> None:
    rel = f"annotations/instances_{split}2017.json"
    known = {c.get("id") for c in instances.get("categories", [])}
    image_ids = {i.get("id") for i in instances.get("images", [])}
    annotations = instances.get("annotations", [])
    report.checked("instances", len(annotations))
    ids = Counter(a.get("id") for a in annotations)
    repeated = [i for i, n in ids.items() if n > 1]
    if repeated:
        report.fail("instances", rel, f"{len(repeated):,} annotation ids used twice (Video K-Net asserts unique ids), "
                                      f"e.g. {sorted(repeated, key=str)[:3]}")
    bad_cat = sum(1 for a in annotations if a.get("category_id") not in known)
    if bad_cat:
        report.fail("instances", rel, f"{bad_cat:,} annotations with a category id not in its categories")
    bad_image = sum(1 for a in annotations if a.get("image_id") not in image_ids)
    if bad_image:
        report.fail("instances", rel, f"{bad_image:,} annotations of images not in its images")


def _panoptic_work(out_root: Path, split: str, panoptic: dict, pngs: set[str], stuff: set[str], report: Report) -> list:
    sizes = {img.get("id"): (img.get("width"), img.get("height")) for img in panoptic.get("images", [])}
    work, listed = [], set()
    for ann in panoptic.get("annotations", []):
        name = str(ann.get("file_name"))
        listed.add(name)
        png_rel, stuff_rel = f"panoptic_{split}2017/{name}", f"panoptic_stuff_{split}2017/{name}"
        report.checked("pairs", 2)
        if name not in pngs:
            report.fail("pairs", png_rel, "listed in the panoptic json, missing")
            continue
        if name not in stuff:
            report.fail("pairs", stuff_rel, "missing (run prepare again)")
        segments = [(s.get("id"), s.get("category_id"), s.get("area"), s.get("bbox")) for s in ann.get("segments_info", [])]
        work.append((str(out_root / png_rel), str(out_root / stuff_rel) if name in stuff else None,
                     sizes.get(ann.get("image_id")), segments))
    for name in sorted(pngs - listed):
        report.fail("pairs", f"panoptic_{split}2017/{name}", "not listed in the panoptic json (stray file)")
    for name in sorted(stuff - listed):
        report.fail("pairs", f"panoptic_stuff_{split}2017/{name}", "not listed in the panoptic json (stray file)")
    return work


def check_image(item: tuple[str, tuple]) -> str | None:
    """Decodes a photo (DCT-scaled: every entropy-coded byte is read) and compares its size with the json's."""
    from PIL import Image

    tune_malloc()
    path, (width, height) = item
    with Image.open(path) as im:
        if im.format != "JPEG":
            return f"not a JPEG ({im.format})"
        size = im.size
        im.draft(im.mode, (max(1, size[0] // 8), max(1, size[1] // 8)))
        im.load()
    if list(size) != [width, height]:
        return f"{size[0]}x{size[1]}, the json says {width}x{height}"
    return None


def check_panoptic(item) -> list[tuple[str, str, str | None]]:
    """One panoptic PNG against its segments_info, and its panoptic_stuff map against both."""
    tune_malloc()
    png_path, stuff_path, size, segments = item
    out: list[tuple[str, str, str | None]] = []
    try:
        ids = decode_ids(Path(png_path).read_bytes(), os.path.basename(png_path), size)
    except BadInput as exc:
        return [("panoptic png", png_path, str(exc))]
    keys = [s[0] for s in segments]
    listed = coco.Segments(ids, keys)
    areas, boxes, unlisted = listed.stats()
    problems = []
    if unlisted:
        problems.append(f"ids in the PNG without a segments_info entry: {unlisted[:5]}")
    repeated = [k for k, n in Counter(keys).items() if n > 1]
    if repeated:
        problems.append(f"segment ids listed twice: {repeated[:5]}")
    if 0 in keys:
        problems.append("segment id 0 (VOID) is listed in segments_info")
    absent = [k for k, a in zip(keys, areas) if a == 0]
    if absent:
        problems.append(f"segments_info ids absent from the PNG: {absent[:5]}")
    out.append(("panoptic png", png_path, "; ".join(problems) or None))
    wrong = [f"id {sid}: area {area} / bbox {bbox} in the json, {a} / {b} in the PNG"
             for (sid, _, area, bbox), a, b in zip(segments, areas, boxes) if a and (area != a or list(bbox or []) != b)]
    out.append(("area/bbox", png_path, "; ".join(wrong[:3]) + (f" (+{len(wrong) - 3} more)" if len(wrong) > 3 else "")
                if wrong else None))
    if stuff_path is not None:
        out.append(("panoptic_stuff", stuff_path, _check_stuff(stuff_path, listed, [s[1] for s in segments])))
    return out


def _check_stuff(path: str, listed: coco.Segments, categories: list) -> str | None:
    try:
        data = Path(path).read_bytes()
        info = png_info(data, os.path.basename(path))
        if info.color_type != 0 or info.bit_depth != 8:
            return f"expected an 8-bit single-channel PNG, found colour type {info.color_type}, {info.bit_depth} bit"
        values = decode_png_fast(data, os.path.basename(path), info=info)
    except BadInput as exc:
        return str(exc)
    if values.shape != listed.ids.shape:
        return f"{values.shape[1]}x{values.shape[0]}, its panoptic PNG is {listed.ids.shape[1]}x{listed.ids.shape[0]}"
    present = np.flatnonzero(np.bincount(values.ravel(), minlength=256))
    bad = [int(v) for v in present if v > coco.NUM_STUFF and v != coco.VOID]
    if bad:
        return f"values outside 0-{coco.NUM_STUFF}/255: {bad[:8]}"
    try:
        expected = listed.panoptic_stuff(categories)
    except (KeyError, TypeError, ValueError):
        return None  # the category problem is reported by the categories check
    differ = int(np.count_nonzero(values != expected))
    return f"{differ:,} pixels disagree with the panoptic PNG and its segments_info" if differ else None


def _count_files(folder: Path) -> int:
    try:
        return sum(1 for e in os.scandir(folder) if e.is_file() and not e.name.startswith("."))
    except FileNotFoundError:
        return 0


def _label_view(out_root: Path, split: str, ann: dict, index_of: dict[int, int]) -> LabelView:
    from PIL import Image

    rel = f"panoptic_{split}2017/{ann.get('file_name')}"
    ids = decode_ids((out_root / rel).read_bytes(), rel, None).astype(np.int64)
    with Image.open(out_root / f"{split}2017" / str(ann.get("image_file"))) as im:
        image = np.asarray(im.convert("RGB"))
    category_of = {int(s["id"]): index_of[s["category_id"]] for s in ann.get("segments_info", [])
                   if s.get("category_id") in index_of}
    return LabelView(os.path.splitext(str(ann.get("file_name")))[0], image, ids, category_of, ids == 0, rel)


def _check_official(counts: dict[str, dict[str, int]], out_root: Path, report: Report) -> None:
    for where, found in counts.items():
        for message in rules.count_mismatches(found, PUBLISHED_IMAGES):
            report.fail("official counts", "." if where == "folder" else "annotations", f"images ({where}) of {message}")
        report.checked("official counts", len(PUBLISHED_IMAGES))
    report.checked("official categories")
    try:
        categories = json.loads((out_root / "annotations/panoptic_val2017.json").read_bytes()).get("categories", [])
    except (FileNotFoundError, ValueError):
        return  # reported by the json check
    things = sum(1 for c in categories if c.get("isthing"))
    if (len(categories), things) != (133, 80):
        report.fail("official categories", "annotations/panoptic_val2017.json",
                    f"{len(categories)} categories ({things} things, {len(categories) - things} stuff); "
                    "COCO panoptic has 133 (80 things, 53 stuff)")
