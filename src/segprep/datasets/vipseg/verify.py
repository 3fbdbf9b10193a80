"""The checks of a prepared VIPSeg folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.datasets._shared.video_frames import SPLITS, check_split_files, listed_stems
from segprep.encodings import vipseg as enc
from segprep.engine.malloc import tune_malloc
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.errors import BadInput
from segprep.io.images import decode_png_fast, jpeg_info, png_info
from segprep.datasets.vipseg import (CATEGORIES_JSON, JSON_ALL, LABELLED_SPLITS, OFFICIAL_SPLIT_SHA256,
                                     PUBLISHED_VIDEOS, REPO)


# ---------------------------------------------------------------------- verification


def _verify(root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    lists = check_split_files(root, report)
    for folder in ("images", "panomasks", "panomasksRGB"):
        report.checked("layout")
        if not (root / folder).is_dir():
            report.fail("layout", folder, "folder missing")
    listed = {v for videos in lists.values() for v in videos}
    for folder in ("images", "panomasks", "panomasksRGB"):
        if (root / folder).is_dir():
            for video in sorted(set(os.listdir(root / folder)) - listed):
                report.fail("layout", f"{folder}/{video}", "not a video of any split file")
    work = []
    for split, videos in lists.items():
        labelled = split in LABELLED_SPLITS
        for video in videos:
            report.checked("videos")
            jpgs = listed_stems(root / "images" / video, ".jpg", report)
            if not jpgs:
                report.fail("videos", f"images/{video}", f"listed in {split}.txt but has no frames")
                continue
            if labelled:
                masks = listed_stems(root / "panomasks" / video, ".png", report)
                rgbs = listed_stems(root / "panomasksRGB" / video, ".png", report)
                report.checked("pairs", len(jpgs))
                for stem in sorted(set(jpgs) ^ set(masks)):
                    where = f"panomasks/{video}/{stem}.png" if stem in jpgs else f"images/{video}/{stem}.jpg"
                    report.fail("pairs", where, "missing (Video K-Net pairs sorted images and masks by position)")
                for stem in sorted(set(masks) ^ set(rgbs)):
                    where = f"panomasksRGB/{video}/{stem}.png" if stem in masks else f"panomasks/{video}/{stem}.png"
                    report.fail("pairs", where, "missing")
            elif (root / "panomasks" / video).exists():
                report.fail("layout", f"panomasks/{video}", "masks in the test split")
            for stem in jpgs:
                has_mask = labelled and (root / "panomasks" / video / f"{stem}.png").is_file()
                has_rgb = labelled and (root / "panomasksRGB" / video / f"{stem}.png").is_file()
                work.append((str(root), video, stem, has_mask, has_rgb))
    results = parallel_map(check_frame, work, jobs, progress, "verify vipseg")
    measured: dict[tuple[str, str], dict] = {}
    bad = []
    for (_, video, stem, _, _), result in zip(work, results):
        if isinstance(result, Exception):
            report.crashed("decode", f"images/{video}/{stem}.jpg", result)
            continue
        findings, facts = result
        for check, rel, message in findings:
            report.checked(check)
            if message is not None:
                report.fail(check, rel, message)
        measured[(video, stem)] = facts
        if facts.get("bad"):
            bad.append(f"panomasks/{video}/{stem}.png")
    if bad:
        report.note(f"value 200 (known annotation error, void) in {len(bad):,} raw mask(s), e.g. {bad[0]}")
    _verify_jsons(root, lists, measured, report)
    if official:
        counts = {split: sum(1 for v in videos if (root / "images" / v).is_dir()) for split, videos in lists.items()}
        for message in rules.count_mismatches(counts, PUBLISHED_VIDEOS):
            report.fail("official counts", "images", f"videos of {message}")
        report.checked("official counts", len(PUBLISHED_VIDEOS))
        for split in SPLITS:
            report.checked("official split lists")
            path = root / f"{split}.txt"
            if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() != OFFICIAL_SPLIT_SHA256[split]:
                report.fail("official split lists", f"{split}.txt", f"differs from the official {split}.txt ({REPO})")


def check_frame(item: tuple[str, str, str, bool, bool]) -> tuple[list[tuple[str, str, str | None]], dict]:
    """Checks one frame; returns findings (check, path, message or None) and measured facts for the json check."""
    tune_malloc()
    root, video, stem, has_mask, has_rgb = item
    out: list[tuple[str, str, str | None]] = []
    facts: dict[str, Any] = {}
    image_rel, mask_rel, rgb_rel = f"images/{video}/{stem}.jpg", f"panomasks/{video}/{stem}.png", \
        f"panomasksRGB/{video}/{stem}.png"
    try:
        info = jpeg_info(Path(root, image_rel).read_bytes(), image_rel)
        size = (info.width, info.height)
        facts["size"] = list(size)
        out.append(("decode", image_rel, None))
    except BadInput as exc:
        out.append(("decode", image_rel, str(exc)))
        size = None
    mask = None
    if has_mask:
        try:
            data = Path(root, mask_rel).read_bytes()
            info = png_info(data, mask_rel)
            mask = decode_png_fast(data, mask_rel, info=info)
            out.append(("decode", mask_rel, None))
        except BadInput as exc:
            out.append(("decode", mask_rel, str(exc)))
        if mask is not None:
            if mask.ndim != 2 or info.bit_depth != 16:
                out.append(("mask format", mask_rel, f"expected a 16-bit one-channel PNG, found {info.bit_depth}-bit "
                                                     f"colour type {info.color_type}"))
                mask = None
            else:
                out.append(("mask format", mask_rel, None))
    if mask is not None:
        if size is not None:
            same = (mask.shape[1], mask.shape[0]) == tuple(size)
            out.append(("same size", mask_rel, None if same else
                        f"{mask.shape[1]}x{mask.shape[0]}, its image is {size[0]}x{size[1]}"))
        values, areas, _ = enc.segment_stats(mask)
        invalid = enc.invalid_values(values)
        out.append(("values", mask_rel, f"not VIPSeg labels: {invalid[:10]}" if invalid else None))
        facts["bad"] = int(areas[values == enc.BAD_VALUE].sum())
    if has_rgb:
        try:
            rgb = decode_png_fast(Path(root, rgb_rel).read_bytes(), rgb_rel)
            out.append(("decode", rgb_rel, None))
        except BadInput as exc:
            out.append(("decode", rgb_rel, str(exc)))
            return out, facts
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            out.append(("rgb format", rgb_rel, f"expected an 8-bit RGB PNG, found {rgb.dtype} {rgb.shape}"))
            return out, facts
        ids = enc.rgb_to_id(rgb)
        if mask is not None:
            expected = np.where(mask == enc.BAD_VALUE, 0, mask) if facts.get("bad") else mask
            same = ids.shape == expected.shape and np.array_equal(ids, expected)
            out.append(("rgb = mask", rgb_rel, None if same else "ids differ from the raw mask (200 -> 0)"))
        values, areas, boxes = enc.segment_stats(ids)
        facts["segments"] = [[int(v), int(a), *map(int, b)] for v, a, b in zip(values, areas, boxes) if v != 0]
    return out, facts


def _verify_jsons(root: Path, lists: dict[str, list[str]], measured: dict[tuple[str, str], dict],
                  report: Report) -> None:
    docs = {}
    for name in [JSON_ALL] + [f"panoptic_gt_VIPSeg_{s}.json" for s in SPLITS] + [CATEGORIES_JSON]:
        loaded = rules.read_json(report, "json", root, name)
        if loaded is not None:
            docs[name] = loaded
    if CATEGORIES_JSON in docs:
        report.checked("categories")
        if docs[CATEGORIES_JSON] != enc.categories_json():
            report.fail("categories", CATEGORIES_JSON, "differs from the 124 official VIPSeg categories")
    full = docs.get(JSON_ALL)
    if full is None:
        return
    labelled = sorted(v for s in LABELLED_SPLITS for v in lists.get(s, ()) if (root / "images" / v).is_dir())
    report.checked("json videos")
    listed = [v.get("video_id") for v in full.get("videos", [])]
    if listed != labelled:
        missing, extra = sorted(set(labelled) - set(listed)), sorted(set(listed) - set(labelled))
        report.fail("json videos", JSON_ALL, f"videos missing {missing[:5]}, unexpected {extra[:5]}, or out of order")
    _check_frames(JSON_ALL, full, measured, report)
    for split in SPLITS:
        name = f"panoptic_gt_VIPSeg_{split}.json"
        if name not in docs:
            continue
        report.checked("split json")
        listed = set(lists.get(split, ()))
        if split in LABELLED_SPLITS:
            expected = [v for v in full.get("videos", []) if v["video_id"] in listed]
            if docs[name].get("videos") != expected:
                report.fail("split json", name, f"is not the {split} part of {JSON_ALL}")
            _check_frames(name, docs[name], measured, report)  # its own numbers, not only its video list
        else:
            present = [v.get("video_id") for v in docs[name].get("videos", [])]
            if present != sorted(v for v in listed if (root / "images" / v).is_dir()):
                report.fail("split json", name, "videos differ from test.txt")
            for video_entry in docs[name].get("videos", []):
                for image in video_entry.get("images", []):
                    report.checked("json images")
                    facts = measured.get((video_entry["video_id"], image.get("id")))
                    if facts is None or facts.get("size") != [image.get("width"), image.get("height")]:
                        report.fail("json images", f"{name}: {video_entry['video_id']}/{image.get('id')}",
                                    "no such frame in images/, or another size")


def _check_frames(name: str, doc: dict, measured: dict[tuple[str, str], dict], report: Report) -> None:
    """Every frame of a labelled json against its PNGs: present at its size, and every segment (id present
    in panomasksRGB, area, bbox, category, iscrowd) as measured there."""
    annotations = {a.get("video_id"): a for a in doc.get("annotations", [])}
    for video_entry in doc.get("videos", []):
        video = video_entry["video_id"]
        by_stem = {a["image_id"]: a for a in annotations.get(video, {}).get("annotations", [])}
        for image in video_entry["images"]:
            stem = image["id"]
            facts = measured.get((video, stem))
            where = f"{name}: {video}/{stem}"
            report.checked("json images")
            if facts is None:
                report.fail("json images", where, "no such frame in images/")
                continue
            if facts.get("size") and [image["width"], image["height"]] != facts["size"]:
                report.fail("json images", where, f"size {image['width']}x{image['height']}, the file is "
                                                  f"{facts['size'][0]}x{facts['size'][1]}")
            if "segments" not in facts:
                continue
            report.checked("json segments")
            segments = by_stem.get(stem, {}).get("segments_info")
            if segments is None:
                report.fail("json segments", where, "no annotation")
                continue
            in_png = {row[0]: row[1:] for row in facts["segments"]}
            for segment in segments:
                png = in_png.get(segment["id"])
                if png is None:
                    report.fail("json segments", where, f"segment {segment['id']} is not in its panomasksRGB PNG")
                elif [segment["area"], *segment["bbox"]] != png:
                    report.fail("json segments", where, f"segment {segment['id']}: area {segment['area']}, bbox "
                                                        f"{segment['bbox']}; the PNG gives area {png[0]}, bbox {png[1:]}")
            absent = sorted(set(in_png) - {s["id"] for s in segments})
            if absent:
                report.fail("json segments", where, f"segments {absent[:5]} of the PNG are not listed")
            elif [s["id"] for s in segments] != list(in_png):
                report.fail("json segments", where, "segments not in ascending id order")
            wrong = [s["id"] for s in segments if s["category_id"] != enc.category_of(s["id"]) or s["iscrowd"] != 0]
            if wrong:
                report.fail("json segments", where, f"segments {wrong[:5]}: category_id is not the one of the id "
                                                    "(ids must mean the same category in every frame)")
