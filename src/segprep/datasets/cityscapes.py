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

import json
import os
import re
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.datasets.base import Download, Option, Recipe, parse_splits
from segprep.encodings import cityscapes as cs
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput, MissingInput
from segprep.io.archives import find_archive, list_members
from segprep.io.images import decode_png, decode_png_fast, encode_png_fast, png_info
from segprep.io.sources import FileSource, MemberSource, Source, find_dirs
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced

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

GT = Download(
    "gtFine_trainvaltest.zip", "241 MB", "https://www.cityscapes-dataset.com/downloads/ (packageID=1)",
    "fine annotations, gtFine/{train,val,test}/{city}/{city}_{seq}_{frame}_gtFine_{polygons.json,labelIds.png,"
    "instanceIds.png,color.png} with README and license.txt at the root; its extracted gtFine/ folder (and "
    "license.txt beside it) is accepted too", login=True,
    tool=("csDownload", "--resume", "-d", "{raw}", "{filename}"),  # cityscapesScripts' downloader, asks for the account
    extracted=("gtFine",),
)
IMAGES = Download(
    "leftImg8bit_trainvaltest.zip", "11 GB", "https://www.cityscapes-dataset.com/downloads/ (packageID=3)",
    "left 8-bit images, leftImg8bit/{train,val,test}/{city}/{city}_{seq}_{frame}_leftImg8bit.png with README "
    "and license.txt at the root; its extracted leftImg8bit/ folder is accepted too", login=True,
    tool=("csDownload", "--resume", "-d", "{raw}", "{filename}"), extracted=("leftImg8bit",),
)

_GT_NAME = re.compile(r"(?:^|/)gtFine/(train|val|test)/([^/]+)/([^/]+)_gtFine_(polygons\.json|labelIds\.png|"
                      r"instanceIds\.png|color\.png)$")
_IMAGE_NAME = re.compile(r"(?:^|/)leftImg8bit/(train|val|test)/([^/]+)/([^/]+)_leftImg8bit\.png$")
_STEM = re.compile(r"^([a-z]+)_(\d{6})_(\d{6})$")
_OUT_GT = re.compile(r"^([a-z]+_\d{6}_\d{6})_gtFine_(polygons\.json|labelIds\.png|instanceIds\.png|color\.png|"
                     r"labelTrainIds\.png|instanceTrainIds\.png)$")
_OUT_IMAGE = re.compile(r"^([a-z]+_\d{6}_\d{6})_leftImg8bit\.png$")

Key = tuple[str, str, str]  # (split, city, stem)


class Cityscapes(Recipe):
    NAME = "cityscapes"
    FOLDER = "cityscapes"
    TITLE = "Cityscapes fine annotations (semantic, instance, panoptic)"
    VERSION = "1"
    LABEL_OUTPUTS = ("gtFine/*/*/*_gtFine_labelIds.png", "gtFine/*/*/*_gtFine_labelTrainIds.png", "gtFine/*/*/*_gtFine_instanceIds.png",
                     "gtFine/*/*/*_gtFine_instanceTrainIds.png", "gtFine/*/*/*_gtFine_color.png",
                     "gtFine/cityscapes_panoptic_*/*_gtFine_panoptic.png")
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
        from segprep.samples.cityscapes import write_sample

        write_sample(out, frames=int(options.get("frames") or 2), jobs=jobs)


RECIPE = Cityscapes


# ---------------------------------------------------------------------- inputs


def find_inputs(raw: Path) -> tuple[dict[Key, dict[str, Source]], dict[Key, Source], Source | None, list[str]]:
    """gtFine files by frame and kind, images by frame, license.txt: extracted folders first, then the zips."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n  - {GT.describe()}\n  - {IMAGES.describe()}")
    gt: dict[Key, dict[str, Source]] = defaultdict(dict)
    images: dict[Key, Source] = {}
    license_source: Source | None = None
    notes: list[str] = []
    for anchor in find_dirs(raw, {"gtFine", "leftImg8bit"}, 3):
        found = 0
        for path in _files_under(anchor):
            rel = path.relative_to(raw).as_posix()
            found += _add(rel, lambda p=path: FileSource.of(p), gt, images)
        if found:
            notes.append(f"{anchor}: {found:,} files (extracted)")
            for candidate in (anchor.parent / "license.txt", raw / "license.txt"):
                if license_source is None and candidate.is_file():
                    license_source = FileSource.of(candidate)
    for download in (GT, IMAGES):
        for folder in [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")):
            archive = find_archive(folder, download.filename)
            if archive is None:
                continue
            found = 0
            for member in list_members(archive):
                found += _add(member.name, lambda m=member: MemberSource(archive, m), gt, images)
                if member.name == "license.txt" and license_source is None:
                    license_source = MemberSource(archive, member)
            notes.append(f"{archive.parts[0]}: {found:,} files (random access)")
            break
    return dict(gt), images, license_source, notes


def _add(rel: str, source, gt: dict, images: dict) -> int:
    """Files the path names (a gtFine file or an image), unless an earlier source holds it: 0 or 1."""
    match = _GT_NAME.search(rel)
    if match:
        split, city, stem, kind = match.groups()
        key = _key(rel, split, city, stem)
        if kind in gt[key]:
            return 0
        gt[key][kind] = source()
        return 1
    match = _IMAGE_NAME.search(rel)
    if match:
        split, city, stem = match.groups()
        key = _key(rel, split, city, stem)
        if key in images:
            return 0
        images[key] = source()
        return 1
    return 0


def _key(rel: str, split: str, city: str, stem: str) -> Key:
    match = _STEM.match(stem)
    if match is None or match.group(1) != city:
        raise BadInput(f"{rel}: not a Cityscapes name ({{city}}_{{seq:06d}}_{{frame:06d}} in the folder of its "
                       "city); rename it back or use the official archives")
    return split, city, stem


def _files_under(anchor: Path):
    """anchor/{train,val,test}/{city}/* in sorted order."""
    for split in SPLITS:
        split_dir = anchor / split
        if not split_dir.is_dir():
            continue
        for city in sorted(e.name for e in os.scandir(split_dir) if e.is_dir()):
            for entry in sorted(os.scandir(split_dir / city), key=lambda e: e.name):
                if entry.is_file():
                    yield Path(entry.path)


# ---------------------------------------------------------------------- tasks


def gt_path(split: str, city: str, stem: str, kind: str) -> str:
    return f"gtFine/{split}/{city}/{stem}_gtFine_{kind}"


def panoptic_path(split: str, stem: str, train_id: bool = False) -> str:
    return f"gtFine/cityscapes_panoptic_{split}{'_trainId' if train_id else ''}/{stem}_gtFine_panoptic.png"


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


# ---------------------------------------------------------------------- actions (run in workers)


def report_missing(ctx: TaskContext, task: Task) -> None:
    raise MissingInput(task.params["message"])


def place_license(ctx: TaskContext, task: Task) -> None:
    ctx.place(task.inputs[0], task.outputs[0], check=_check_text)


def _check_text(data: bytes, name: str) -> None:
    if not data.strip():
        raise BadInput(f"{name} is empty; take license.txt from the official zips")


_PNG_KINDS = {  # check name -> (allowed (colour type, bit depth), what it should be)
    "rgb": ({(2, 8)}, "an 8-bit RGB PNG"),
    "gray": ({(0, 8)}, "an 8-bit grayscale PNG"),
    "color": ({(2, 8), (6, 8)}, "an 8-bit RGB(A) PNG"),
}


def place_checked(ctx: TaskContext, task: Task) -> None:
    """Places the file unchanged after checking it is a complete PNG of the expected kind."""
    source = task.inputs[0]
    # A zip member's CRC-32 already vouches for its bytes: walking the chunks catches truncation.
    crc = isinstance(source, FileSource) or source.member.crc == 0
    ctx.place(source, task.outputs[0], check=partial(_check_png, kind=task.params["check"], verify_crc=crc))


def _check_png(data: bytes, name: str, kind: str, verify_crc: bool = True) -> None:
    info = png_info(data, name, verify_crc)
    allowed, what = _PNG_KINDS[kind]
    if (info.color_type, info.bit_depth) not in allowed:
        raise BadInput(f"{name}: expected {what}, found colour type {info.color_type}, {info.bit_depth} bit")


def _parse_polygons(data: bytes, name: str) -> dict:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{name} is not valid JSON ({exc}); it is damaged or truncated") from None
    if not isinstance(document, dict) or not isinstance(document.get("objects"), list):
        raise BadInput(f"{name}: not a Cityscapes polygons file (no 'objects' list)")
    return document


def _decode_instance_ids(data: bytes, name: str) -> np.ndarray:
    ids = decode_png_fast(data, name)
    if ids.ndim != 2:
        raise BadInput(f"{name}: expected a one-channel instanceIds PNG, found shape {ids.shape}")
    return ids.astype(np.uint16, copy=False)


def convert_frame(ctx: TaskContext, task: Task) -> dict | None:
    """polygons json + instanceIds -> both placed, trainId maps, and (train/val) the panoptic PNG(s);
    returns the frame's panoptic segments and instance annotations for ``write_jsons``."""
    polygons, instance_source = task.inputs
    out = task.outputs
    labelled = task.params["split"] in LABELLED
    # both inputs are checked before anything is written, so a bad frame leaves no partial outputs
    annotation = _parse_polygons(ctx.read(polygons), polygons.describe())
    instance_data = ctx.read(instance_source)
    instance_ids = _decode_instance_ids(instance_data, instance_source.describe()) if labelled else \
        _check_any_png(instance_data, instance_source.describe())
    ctx.place(polygons, out[0])
    ctx.place(instance_source, out[1])
    label_train, instance_train = cs.train_ids_of_indexed(*cs.rasterize_indexed(annotation, polygons.describe()))
    ctx.write_bytes(out[2], encode_png_fast(label_train))
    ctx.write_bytes(out[3], encode_png_fast(instance_train))
    if not labelled:
        return None
    stats = cs.segment_stats(cs.column_runs(instance_ids))
    unknown = cs.unknown_values(instance_ids, stats.values)
    if unknown:
        raise BadInput(f"{instance_source.describe()}: values {unknown[:10]} are not Cityscapes ids (class = value "
                       "// 1000 or value must be a label id 0-33); the file is damaged")
    panoptic = encode_png_fast(cs.panoptic_rgb(instance_ids))
    for rel in out[4:]:
        ctx.write_bytes(rel, panoptic)
    height, width = instance_ids.shape
    segments = [[s["id"], s["area"], *s["bbox"]] for s in cs.panoptic_segments(stats)]
    instances = [[a["iscrowd"], a["category_id"], a["bbox"], a["area"], a["segmentation"]["counts"]]
                 for a in cs.instance_annotations(stats, height, width)]
    return {"height": height, "width": width, "segments": segments, "instances": instances}


def _check_any_png(data: bytes, name: str) -> None:
    png_info(data, name)


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


def detectron2_json(split: str) -> str:
    return f"gtFine/cityscapes_panoptic_{split}.json"


def panoptic_json(frames: list[tuple[str, str, dict]], train_id: bool) -> bytes:
    """createPanopticImgs' json, byte for byte: sort_keys=True, indent=4, no final newline."""
    images, annotations = [], []
    for _city, stem, extra in frames:
        images.append({"id": stem, "width": extra["width"], "height": extra["height"],
                       "file_name": f"{stem}_gtFine_leftImg8bit.png"})  # sic: the official name
        segments = []
        for value, area, x, y, w, h in extra["segments"]:
            category, crowd = cs.segment_category(value, train_id)
            segments.append({"id": value, "category_id": category, "area": area, "bbox": [x, y, w, h], "iscrowd": crowd})
        annotations.append({"image_id": stem, "file_name": f"{stem}_gtFine_panoptic.png", "segments_info": segments})
    return cs.dumps_panoptic(images, annotations, cs.panoptic_categories(train_id))


def instance_json(frames: list[tuple[str, str, dict]], segm_trainid: bool) -> bytes:
    """mmdetection's instancesonly_filtered json (key order and separators of its json.dump), ids from 0
    in sorted image order."""
    images, annotations = [], []
    segm = "labelTrainIds" if segm_trainid else "labelIds"
    for image_id, (city, stem, extra) in enumerate(frames):
        images.append({"file_name": f"{city}/{stem}_leftImg8bit.png", "height": extra["height"],
                       "width": extra["width"], "segm_file": f"{city}/{stem}_gtFine_{segm}.png", "id": image_id})
        for crowd, category, bbox, area, counts in extra["instances"]:
            annotations.append({"iscrowd": crowd, "category_id": category, "bbox": bbox, "area": area,
                                "segmentation": {"size": [extra["height"], extra["width"]], "counts": counts},
                                "image_id": image_id, "id": len(annotations)})
    document: dict[str, Any] = {"images": images, "categories": cs.instance_categories(), "annotations": annotations}
    if not annotations:
        document.pop("annotations")  # as mmdetection does for a split without instances
    return json.dumps(document).encode()


# ---------------------------------------------------------------------- verification


def verify_tree(out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    report.checked("layout")
    license_path = out_root / "license.txt"
    if not license_path.is_file() or not license_path.read_bytes().strip():
        report.fail("layout", "license.txt", "missing or empty (Video K-Net's Cityscapes loader asserts it)")
    frames: dict[str, dict[tuple[str, str], set[str]]] = {}
    for split in SPLITS:
        if not (out_root / "leftImg8bit" / split).is_dir() and not (out_root / "gtFine" / split).is_dir():
            report.checked("layout")
            if official or split in LABELLED:
                report.fail("layout", f"leftImg8bit/{split}", "split missing")
            continue
        frames[split] = _list_split(out_root, split, report)
    _check_stray_top(out_root, frames, report)
    jsons = {split: _check_jsons(out_root, split, found, report) for split, found in frames.items() if split in LABELLED}
    work = []
    for split, found in frames.items():
        for (city, stem), kinds in sorted(found.items()):
            report.checked("files")
            expected = {"leftImg8bit.png"} | {f"gtFine_{k}" for k in GT_KINDS + DERIVED_KINDS}
            missing = sorted(expected - kinds)
            if missing:
                report.fail("files", f"gtFine/{split}/{city}/{stem}_*", f"missing: {', '.join(missing)}")
                continue
            item = {"root": str(out_root), "split": split, "city": city, "stem": stem}
            if split in jsons:
                item.update({k: v.get(stem) for k, v in jsons[split].items()})
            work.append(item)
    results = parallel_map(check_frame, work, jobs, progress, "verify cityscapes")
    for item, result in zip(work, results):
        rel = gt_path(item["split"], item["city"], item["stem"], "*")
        if isinstance(result, Exception):
            report.crashed("decode", rel, result)
            continue
        for check, path, message in result:
            report.checked(check)
            if message is not None:
                report.fail(check, path, message)
    if official:
        _check_official(frames, report)


def _list_split(out_root: Path, split: str, report: Report) -> dict[tuple[str, str], set[str]]:
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for folder, pattern, prefix in (("leftImg8bit", _OUT_IMAGE, ""), ("gtFine", _OUT_GT, "gtFine_")):
        split_dir = out_root / folder / split
        if not split_dir.is_dir():
            continue
        for city in sorted(os.listdir(split_dir)):
            if not (split_dir / city).is_dir():
                report.fail("layout", f"{folder}/{split}/{city}", "stray file (only city folders belong here)")
                continue
            for name in sorted(os.listdir(split_dir / city)):
                report.checked("layout")
                match = pattern.match(name)
                rel = f"{folder}/{split}/{city}/{name}"
                if match is None or not match.group(1).startswith(city + "_"):
                    report.fail("layout", rel, "stray file (not a Cityscapes frame file of this city)")
                    continue
                kind = "leftImg8bit.png" if folder == "leftImg8bit" else prefix + match.group(2)
                found[(city, match.group(1))].add(kind)
    return found


def _check_stray_top(out_root: Path, frames: dict, report: Report) -> None:
    allowed = {"license.txt", "leftImg8bit", "gtFine", "annotations"}
    for entry in sorted(os.listdir(out_root)):
        if entry not in allowed:
            report.fail("layout", entry, "stray entry")
    gt_allowed = set(SPLITS)
    for split in LABELLED:
        gt_allowed |= {f"cityscapes_panoptic_{split}", f"cityscapes_panoptic_{split}_trainId",
                       f"cityscapes_panoptic_{split}_trainId.json", os.path.basename(detectron2_json(split))}
    if (out_root / "gtFine").is_dir():
        for entry in sorted(os.listdir(out_root / "gtFine")):
            if entry not in gt_allowed:
                report.fail("layout", f"gtFine/{entry}", "stray entry")


def _load_json(path: Path, report: Report, check: str, rel: str):
    report.checked(check)
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        report.fail(check, rel, "missing")
    except (ValueError, UnicodeDecodeError) as exc:
        report.fail(check, rel, f"not valid JSON ({exc})")
    return None


def _check_jsons(out_root: Path, split: str, found: dict[tuple[str, str], set[str]], report: Report) -> dict[str, dict]:
    """Structure of the split's jsons; returns per-frame pieces for the pixel checks (keyed by stem)."""
    order = sorted(found, key=lambda cs_: f"{cs_[0]}/{cs_[1]}")
    stems = [stem for _, stem in order]
    out: dict[str, dict] = {}
    variants = [("panoptic", f"annotations/cityscapes_panoptic_{split}.json", False)]
    report.checked("panoptic json")
    try:
        if (out_root / detectron2_json(split)).read_bytes() != (out_root / variants[0][1]).read_bytes():
            report.fail("panoptic json", detectron2_json(split), f"differs from {variants[0][1]} (rerun prepare)")
    except FileNotFoundError:
        report.fail("panoptic json", detectron2_json(split), "missing (detectron2 reads it; rerun prepare)")
    if (out_root / f"gtFine/cityscapes_panoptic_{split}_trainId.json").exists() or \
            (out_root / f"gtFine/cityscapes_panoptic_{split}_trainId").exists():
        variants.append(("panoptic_trainid", f"gtFine/cityscapes_panoptic_{split}_trainId.json", True))
    for field, rel, train_id in variants:
        document = _load_json(out_root / rel, report, "panoptic json", rel)
        if document is None:
            continue
        try:
            listed = [a["image_id"] for a in document["annotations"]]
            images = [i["id"] for i in document["images"]]
            categories = document["categories"]
            names = [a["file_name"] for a in document["annotations"]]
        except (KeyError, TypeError) as exc:
            report.fail("panoptic json", rel, f"malformed ({exc})")
            continue
        if categories != cs.panoptic_categories(train_id):
            report.fail("panoptic json", rel, "categories differ from createPanopticImgs'")
        if listed != stems or images != stems:
            report.fail("panoptic json", rel, f"frames listed ({len(listed)}) differ from the frames of the split "
                                              f"({len(stems)}) or are out of order")
        folder = out_root / Path(panoptic_path(split, "x", train_id)).parent
        pngs = sorted(os.listdir(folder)) if folder.is_dir() else []
        report.checked("panoptic json")
        if pngs != sorted(names):
            extra, missing = sorted(set(pngs) - set(names)), sorted(set(names) - set(pngs))
            report.fail("panoptic json", folder.relative_to(out_root).as_posix(),
                        f"PNGs not listed: {extra[:3]}, listed PNGs missing: {missing[:3]}")
        out[field] = {a["image_id"]: a["segments_info"] for a in document["annotations"]}
    rel = f"annotations/instancesonly_filtered_gtFine_{split}.json"
    document = _load_json(out_root / rel, report, "instance json", rel)
    if document is not None:
        out["instances"] = _check_instance_json(document, order, rel, report)
    return out


def _check_instance_json(document: dict, order: list[tuple[str, str]], rel: str, report: Report) -> dict[str, list]:
    try:
        images = document["images"]
        annotations = document.get("annotations", [])
        files = [i["file_name"] for i in images]
        ids = [i["id"] for i in images]
        segm = {i["segm_file"] for i in images}
    except (KeyError, TypeError) as exc:
        report.fail("instance json", rel, f"malformed ({exc})")
        return {}
    if document.get("categories") != cs.instance_categories():
        report.fail("instance json", rel, "categories differ from mmdetection's (ids 24-28, 31-33)")
    if files != [f"{city}/{stem}_leftImg8bit.png" for city, stem in order] or ids != list(range(len(images))):
        report.fail("instance json", rel, "images differ from the frames of the split, or are not in sorted order "
                                          "with ids from 0")
    bad_segm = {s for s in segm if not re.fullmatch(r"[a-z]+/[a-z]+_\d{6}_\d{6}_gtFine_label(Train)?Ids\.png", s)}
    if bad_segm:
        report.fail("instance json", rel, f"segm_file not a labelIds/labelTrainIds file: {sorted(bad_segm)[:3]}")
    if [a.get("id") for a in annotations] != list(range(len(annotations))):
        report.fail("instance json", rel, "annotation ids are not 0, 1, 2, ...")
    per_image: dict[str, list] = defaultdict(list)
    stem_of = {image_id: stem for image_id, (_, stem) in enumerate(order)}
    for a in annotations:
        if a.get("image_id") not in stem_of:
            report.fail("instance json", rel, f"annotation {a.get('id')} names an unknown image {a.get('image_id')}")
            continue
        per_image[stem_of[a["image_id"]]].append(a)
    return dict(per_image)


def _train_id_values_ok(instance_train: np.ndarray) -> list[int]:
    present = np.flatnonzero(np.bincount(instance_train.ravel(), minlength=1 << 16))
    allowed = set(range(cs.NUM_TRAIN_IDS)) | {cs.VOID}
    return [int(v) for v in present if not (v in allowed or (v >= cs.DIVISOR and v // cs.DIVISOR in cs.THING_TRAIN_IDS))]


def check_frame(item: dict) -> list[tuple[str, str, str | None]]:
    """Pixel checks of one frame; returns (check, file, message or None when it passed)."""
    root = Path(item["root"])
    split, city, stem = item["split"], item["city"], item["stem"]
    paths = {kind: gt_path(split, city, stem, kind) for kind in GT_KINDS + DERIVED_KINDS}
    image_rel = f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png"
    out: list[tuple[str, str, str | None]] = []
    maps: dict[str, np.ndarray] = {}
    size = None
    try:
        info = png_info((root / image_rel).read_bytes(), image_rel)
        size = (info.height, info.width)
        out.append(("decode", image_rel, None))
    except BadInput as exc:
        out.append(("decode", image_rel, str(exc)))
    for kind in ("labelIds.png", "instanceIds.png", "labelTrainIds.png", "instanceTrainIds.png"):
        try:
            array = decode_png_fast((root / paths[kind]).read_bytes(), paths[kind])
            if array.ndim != 2:
                raise BadInput(f"{paths[kind]}: expected one channel, found shape {array.shape}")
            maps[kind] = array
            out.append(("decode", paths[kind], None))
        except BadInput as exc:
            out.append(("decode", paths[kind], str(exc)))
    try:
        polygons = json.loads((root / paths["polygons.json"]).read_bytes())
        json_size = (int(polygons["imgHeight"]), int(polygons["imgWidth"]))
        out.append(("decode", paths["polygons.json"], None))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        out.append(("decode", paths["polygons.json"], f"not a polygons file ({exc})"))
        json_size = None
    size = size or json_size
    for kind, array in maps.items():
        ok = size is None or array.shape == size
        out.append(("same size", paths[kind], None if ok else f"{array.shape[1]}x{array.shape[0]}, the image is "
                                                             f"{size[1]}x{size[0]}"))
    if json_size is not None and size is not None:
        out.append(("same size", paths["polygons.json"], None if json_size == size else
                    f"imgWidth x imgHeight {json_size[1]}x{json_size[0]}, the image is {size[1]}x{size[0]}"))
    if len(maps) < 4 or any(a.shape != size for a in maps.values()):
        return out
    label_ids, instance_ids = maps["labelIds.png"].astype(np.uint8), maps["instanceIds.png"].astype(np.uint16)
    label_train, instance_train = maps["labelTrainIds.png"], maps["instanceTrainIds.png"].astype(np.uint16)
    bad = rules.unexpected_values(label_train, list(range(cs.NUM_TRAIN_IDS)) + [cs.VOID])
    out.append(("values", paths["labelTrainIds.png"], f"values outside 0-18/255: {bad}" if bad else None))
    bad = _train_id_values_ok(instance_train)
    out.append(("values", paths["instanceTrainIds.png"], f"values that are neither a trainId nor trainId*1000+k "
                                                         f"of a thing: {bad[:10]}" if bad else None))
    unknown = cs.unknown_values(instance_ids)
    out.append(("values", paths["instanceIds.png"], f"values that are not Cityscapes ids: {unknown[:10]}"
                if unknown else None))
    for kind, actual, expected in (
            ("labelTrainIds.png", label_train, cs.label_train_ids(label_ids)),
            ("instanceTrainIds.png", instance_train, np.take(cs.instance_train_id_lut(), instance_ids))):
        differ, off_edge = rules.mismatches_off_edges(actual, expected)
        message = None
        if off_edge or differ > SEGM_MAX_FRACTION * actual.size:
            source = "labelIds" if kind == "labelTrainIds.png" else "instanceIds"
            message = (f"disagrees with {source} through the label table on {differ:,} pixels "
                       f"({off_edge:,} of them away from any polygon edge)")
        out.append(("agree with ids", paths[kind], message))
    semantic_of_instance = np.where(instance_train >= cs.DIVISOR, instance_train // cs.DIVISOR, instance_train)
    differ = int((semantic_of_instance != label_train).sum())
    out.append(("agree with ids", paths["instanceTrainIds.png"], None if not differ else
                f"its classes differ from labelTrainIds on {differ:,} pixels"))
    if split in LABELLED and not unknown:
        out += _check_panoptic(root, item, instance_ids)
        out += _check_instances(item, instance_ids, paths["instanceIds.png"])
    return out


def _check_panoptic(root: Path, item: dict, instance_ids: np.ndarray) -> list[tuple[str, str, str | None]]:
    out: list[tuple[str, str, str | None]] = []
    expected = np.where(np.take(cs.evaluated_values(), instance_ids), instance_ids, 0)
    for field, train_id in (("panoptic", False), ("panoptic_trainid", True)):
        if field not in item:
            continue
        rel = panoptic_path(item["split"], item["stem"], train_id)
        try:
            rgb = decode_png_fast((root / rel).read_bytes(), rel)
        except (BadInput, FileNotFoundError) as exc:
            out.append(("decode", rel, str(exc)))
            continue
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[:2] != instance_ids.shape:
            out.append(("panoptic ids", rel, f"not an RGB map of the frame's size (shape {rgb.shape})"))
            continue
        ids = cs.rgb_to_id(rgb)
        differ = int((ids != expected).sum())
        out.append(("panoptic ids", rel, f"ids differ from instanceIds (evaluated classes) on {differ:,} pixels"
                    if differ else None))
        segments = item.get(field)
        if segments is None:
            out.append(("panoptic json", rel, "the frame is not in the json"))
            continue
        stats = cs.segment_stats(cs.column_runs(ids))
        actual = {int(v): (int(a), [int(x) for x in b]) for v, a, b in zip(stats.values, stats.areas, stats.boxes) if v}
        problems = []
        listed = {}
        for s in segments:
            listed[s["id"]] = (s["area"], s["bbox"])
            category, crowd = cs.segment_category(s["id"], train_id) if s["id"] in actual else (None, None)
            if (s.get("category_id"), s.get("iscrowd")) != (category, crowd):
                problems.append(f"segment {s['id']}: category/iscrowd {s.get('category_id')}/{s.get('iscrowd')}")
        if listed != actual:
            wrong = sorted(set(listed) ^ set(actual)) or [v for v in listed if listed[v] != actual.get(v)]
            problems.append(f"segments whose area or box differ from the PNG: {wrong[:5]}")
        out.append(("panoptic json", rel, "; ".join(problems) if problems else None))
    return out


def _check_instances(item: dict, instance_ids: np.ndarray, rel: str) -> list[tuple[str, str, str | None]]:
    """The frame's instance annotations against its instanceIds: each RLE must be the canonical COCO RLE of one
    instance's mask (so it decodes to exactly that mask; the first one is also decoded by pycocotools and
    compared pixel for pixel), with that instance's area, box, category and crowd flag; none may be missing."""
    if "instances" not in item:
        return []
    from pycocotools import mask as mask_utils

    h, w = instance_ids.shape
    expected = {a["segmentation"]["counts"]: (v, a) for v, a in _expected_instances(instance_ids)}
    values_of = {v: a for v, a in expected.values()}
    problems, seen = [], set()
    for index, a in enumerate(item.get("instances") or []):
        try:
            counts, size = a["segmentation"]["counts"], a["segmentation"]["size"]
            if index == 0:
                mask = mask_utils.decode({"size": size, "counts": counts.encode("ascii")})
                first = int(np.argmax(mask.ravel(order="F")))
                value = int(instance_ids[first % h, first // h])
                if not np.array_equal(mask.astype(bool), instance_ids == value):
                    problems.append(f"annotation {a.get('id')}: its RLE does not decode to an instanceIds mask")
                    continue
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problems.append(f"annotation {a.get('id')}: malformed ({exc})")
            continue
        match = expected.get(counts) if size == [h, w] else None
        if match is None:
            problems.append(f"annotation {a.get('id')}: its RLE is not the mask of any instance in instanceIds")
            continue
        value, want = match
        got = {k: a.get(k) for k in ("area", "bbox", "category_id", "iscrowd")}
        if got != {k: want[k] for k in got}:
            problems.append(f"annotation {a.get('id')} (instanceIds value {value}): {got} should be "
                            f"{ {k: want[k] for k in got} }")
        seen.add(value)
    if seen != set(values_of):
        problems.append(f"instances without annotation: {sorted(set(values_of) - seen)[:5]}")
    return [("instance json", rel, "; ".join(problems) if problems else None)]


def _expected_instances(instance_ids: np.ndarray) -> list[tuple[int, dict]]:
    stats = cs.segment_stats(cs.column_runs(instance_ids))
    return list(zip(cs.instance_values(stats), cs.instance_annotations(stats, *instance_ids.shape)))


def _check_official(frames: dict[str, dict[tuple[str, str], set[str]]], report: Report) -> None:
    counts = {split: sum(1 for kinds in found.values() if "leftImg8bit.png" in kinds) for split, found in frames.items()}
    for message in rules.count_mismatches(counts, PUBLISHED_FRAMES):
        report.fail("official counts", "leftImg8bit", f"frames of {message}")
    report.checked("official counts", len(PUBLISHED_FRAMES))
    for split in SPLITS:
        cities = {city for city, _ in frames.get(split, {})}
        report.checked("official cities")
        if cities != set(CITIES[split]):
            missing, extra = sorted(set(CITIES[split]) - cities), sorted(cities - set(CITIES[split]))
            report.fail("official cities", f"leftImg8bit/{split}",
                        f"{len(cities)} cities, {len(CITIES[split])} published; missing {missing}, unexpected {extra}")


# ---------------------------------------------------------------------- report


def report_section(recipe: Recipe, out_root: Path) -> ReportSection:
    """Counts per split, class pixels and instances from the panoptic jsons, and a few labelled frames."""
    evaluated = [label for label in cs.LABELS if not label.ignoreInEval]  # trainId order 0-18
    categories = [Category(label.name, tuple(label.color), label.hasInstances) for label in evaluated]
    section = ReportSection(recipe.NAME, recipe.FOLDER, recipe.TITLE, categories)
    labelled: list[str] = []
    for split in SPLITS:
        folder = out_root / "leftImg8bit" / split
        names = sorted(f"{city}/{name}" for city in (os.listdir(folder) if folder.is_dir() else [])
                       for name in os.listdir(folder / city))
        cities = {name.split("/")[0] for name in names}
        missing = sorted(set(CITIES[split]) - cities)
        section.counts.append(CountRow(split, "frames", len(names), PUBLISHED_FRAMES[split],
                                       f"cities missing: {', '.join(missing)}" if missing else ""))
        if split in LABELLED:
            labelled += [f"gtFine/{split}/{n[: -len('_leftImg8bit.png')]}_gtFine_instanceTrainIds.png" for n in names]
    pixels, instances = [0] * len(evaluated), [0] * len(evaluated)
    used = []
    for split in LABELLED:
        path = out_root / f"annotations/cityscapes_panoptic_{split}.json"
        if not path.is_file():
            continue
        used.append(split)
        for annotation in json.loads(path.read_bytes())["annotations"]:
            for segment in annotation["segments_info"]:
                train_id = cs.BY_ID[segment["category_id"]].trainId
                pixels[train_id] += segment["area"]
                instances[train_id] += 0 if segment["iscrowd"] or not categories[train_id].isthing else 1
    if used:
        section.stats = ClassStats(pixels, instances, f"from the panoptic json areas ({' + '.join(used)}); "
                                                      "instances without groups")
    section.frames = [_label_view(out_root, rel) for rel in evenly_spaced(labelled, 4)
                      if (out_root / rel).is_file()]
    return section


def _label_view(out_root: Path, rel: str) -> LabelView:
    instance = decode_png((out_root / rel).read_bytes(), rel).astype(np.int64)
    split, city, name = rel.split("/")[1:]
    stem = name[: -len("_gtFine_instanceTrainIds.png")]
    image = decode_png((out_root / f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png").read_bytes(), stem)
    classes = np.where(instance >= cs.DIVISOR, instance // cs.DIVISOR, instance)
    category_of = {int(v): int(v) // cs.DIVISOR if v >= cs.DIVISOR else int(v)
                   for v in np.unique(instance) if (v // cs.DIVISOR if v >= cs.DIVISOR else v) < cs.NUM_TRAIN_IDS}
    return LabelView(stem, image, instance, category_of, classes == cs.VOID, rel)
