"""The checks of a prepared COCO folder."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.encodings import coco
from segprep.engine.malloc import tune_malloc
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.errors import BadInput
from segprep.io.images import decode_png_fast, png_info
from segprep.datasets.coco import PUBLISHED_IMAGES, SPLITS, coco2vis
from segprep.datasets.coco.work import decode_ids


_OUTPUT_DIRS = ("train2017", "val2017", "annotations", "panoptic_train2017", "panoptic_val2017",
                "panoptic_stuff_train2017", "panoptic_stuff_val2017")


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
    coco2vis.verify(out_root, report)
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
