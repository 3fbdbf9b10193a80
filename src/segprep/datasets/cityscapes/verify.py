"""The checks of a prepared Cityscapes folder."""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.encodings import cityscapes as cs
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.errors import BadInput
from segprep.io.images import decode_png_fast, png_info
from segprep.datasets.cityscapes import (CITIES, DERIVED_KINDS, GT_KINDS, LABELLED, PUBLISHED_FRAMES,
                                         SEGM_MAX_FRACTION, SPLITS)
from segprep.datasets.cityscapes.work import detectron2_json, gt_path, panoptic_path


_OUT_GT = re.compile(r"^([a-z]+_\d{6}_\d{6})_gtFine_(polygons\.json|labelIds\.png|instanceIds\.png|color\.png|"
                     r"labelTrainIds\.png|instanceTrainIds\.png)$")
_OUT_IMAGE = re.compile(r"^([a-z]+_\d{6}_\d{6})_leftImg8bit\.png$")


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
