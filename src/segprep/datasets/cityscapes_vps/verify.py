"""The checks of a prepared Cityscapes-VPS folder."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.datasets._shared.dvps import GRAY8, GRAY16, RGB8, check_image, check_map
from segprep.encodings import cityscapes_vps as vps
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.datasets.cityscapes_vps import (DENSE_FRAMES, FRAMES_PER_VIDEO, PUBLISHED_FRAMES, PUBLISHED_VIDEOS,
                                             THING_CLASSES, VIDEO_JSON)
from segprep.datasets._shared.cityscapes_vps_sources import (LABELLED, SPLITS, _DENSE_FILE, _FRAME_FILE, label_name,
                                                             released_jsons)


# ---------------------------------------------------------------------- verification

_ALLOWED = {
    "train": {"img", "labelmap", "panoptic_inst"},
    "val": {"img", "img_all", "labelmap", "panoptic_inst", "panoptic_video"},
    "test": {"img", "img_all"},
}


def _listing(folder: Path) -> set[str]:
    return set(os.listdir(folder)) if folder.is_dir() else set()


def verify_tree(out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    allowed_top = set(released_jsons()) | {VIDEO_JSON} | set(SPLITS)
    for entry in sorted(os.listdir(out_root)):
        report.checked("layout")
        if entry not in allowed_top:
            report.fail("layout", entry, "stray entry")
    splits = [s for s in SPLITS if (out_root / s).is_dir()]
    for split in LABELLED:
        report.checked("layout")
        if split not in splits:
            report.fail("layout", split, "split folder missing")
    required = {f"panoptic_im_{s}_city_vps.json" for s in splits} | {f"im_all_info_{s}_city_vps.json" for s in splits
                                                                     if s != "train"}
    required |= {f"instances_{s}_city_vps_rle.json" for s in LABELLED}
    documents = {name: rules.read_json(report, "released jsons", out_root, name)
                 if name in required or (out_root / name).exists() else None for name in released_jsons()}
    video = rules.read_json(report, "video json", out_root, VIDEO_JSON) if "val" in splits else None
    frames: dict[str, list[tuple[str, str]]] = {}
    work: list[dict] = []
    for split in splits:
        for entry in sorted(os.listdir(out_root / split)):
            if entry not in _ALLOWED[split]:
                report.fail("layout", f"{split}/{entry}", "stray entry")
        name = f"panoptic_im_{split}_city_vps.json"
        frames[split] = _json_frames(documents.get(name), name, report)
        _check_videos(split, frames[split], report)
        expected = {"img": {f for _, f in frames[split]}}
        if split in LABELLED:
            expected["labelmap"] = expected["panoptic_inst"] = {label_name(f) for _, f in frames[split]}
        if split == "val":
            expected["panoptic_video"] = expected["labelmap"]
        if split != "train":
            name = f"im_all_info_{split}_city_vps.json"
            expected["img_all"] = set(_dense_names(documents.get(name), name, report))
            _check_dense(split, frames[split], expected["img_all"], report)
        present = {folder: _listing(out_root / split / folder) for folder in expected}
        for folder, names in expected.items():
            report.checked("files", len(names))
            for name in sorted(names - present[folder]):
                report.fail("files", f"{split}/{folder}/{name}", "missing")
            for name in sorted(present[folder] - names):
                report.fail("layout", f"{split}/{folder}/{name}", "stray file (not listed in the split's json)")
        for _, file_name in frames[split]:
            names = {"img": file_name, "labelmap": label_name(file_name), "panoptic_inst": label_name(file_name),
                     "panoptic_video": label_name(file_name)}
            if all(names[folder] in present[folder] for folder in expected if folder != "img_all"):
                work.append({"root": str(out_root), "split": split, "file_name": file_name})
        for name in sorted(expected.get("img_all", set()) & present.get("img_all", set())):
            work.append({"root": str(out_root), "split": split, "dense": name})
    segments = _check_video_json(video, documents, frames["val"], report) if video is not None else {}
    for item in work:
        if item["split"] == "val" and "file_name" in item:
            item["segments"] = segments.get(label_name(item["file_name"]))
    for split in LABELLED:
        if split in frames:
            _check_instance_json(documents, video, split, frames[split], report)
    results = parallel_map(check_frame, work, jobs, progress, "verify cityscapes-vps")
    for item, result in zip(work, results):
        if isinstance(result, Exception):
            folder = "img_all" if "dense" in item else "img"
            report.crashed("decode", f"{item['split']}/{folder}/{item.get('file_name') or item.get('dense')}", result)
            continue
        report.add(result)
    if official:
        _check_official(documents, frames, report)


def _json_frames(document: Any, name: str, report: Report) -> list[tuple[str, str]]:
    """(VPS id, file_name) of every image of a panoptic_im json, sorted; failures reported."""
    if document is None:
        return []
    out = []
    images = document.get("images") if isinstance(document, dict) else None
    for entry in images if isinstance(images, list) else []:
        match = _FRAME_FILE.match(str(entry.get("file_name") if isinstance(entry, dict) else entry))
        if match is None:
            report.fail("released jsons", name, f"image entry {entry!r} is not a VPS frame")
            return []
        out.append((match.group(1), match.group(0)))
    if not out:
        report.fail("released jsons", name, "no 'images' list")
    return sorted(out, key=lambda item: item[1])


def _dense_names(document: Any, name: str, report: Report) -> list[str]:
    if document is None:
        report.fail("released jsons", name, "missing (it lists the img_all frames)")
        return []
    images = document.get("images") if isinstance(document, dict) else None
    names = [e.get("file_name") for e in images if isinstance(e, dict)] if isinstance(images, list) else []
    bad = [n for n in names if _DENSE_FILE.match(str(n)) is None]
    if bad or not names:
        report.fail("released jsons", name, f"file names that are not Cityscapes frames: {bad[:3]}" if bad else
                    "no 'images' list")
        return [n for n in names if n not in bad]
    return names


def _check_videos(split: str, frames: list[tuple[str, str]], report: Report) -> None:
    """Every video: 6 frames, consecutive global frame numbers (Video K-Net's reference frame is id +- 1),
    one Cityscapes snippet, the gtFine frame among them."""
    videos: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for vps_id, file_name in frames:
        videos[vps_id[:4]].append((vps_id, file_name))
    for video, items in sorted(videos.items()):
        report.checked("videos")
        numbers = [int(vps_id[5:9]) for vps_id, _ in items]
        snippets = {vps_id.rsplit("_", 1)[0][10:] for vps_id, _ in items}
        problems = []
        if len(items) != FRAMES_PER_VIDEO:
            problems.append(f"{len(items)} frames, not {FRAMES_PER_VIDEO}")
        if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            problems.append(f"frame numbers {numbers} are not consecutive")
        if len(snippets) != 1:
            problems.append(f"frames of several Cityscapes snippets {sorted(snippets)}")
        if sum(f.endswith("_leftImg8bit.png") for _, f in items) != 1:
            problems.append("not exactly one Cityscapes (leftImg8bit) frame")
        if problems:
            report.fail("videos", f"{split}/img/{video}_*", "; ".join(problems))


def _check_dense(split: str, frames: list[tuple[str, str]], dense: set[str], report: Report) -> None:
    """img_all holds the 30 frames of every video's snippet (consecutive), the labelled ones included."""
    by_snippet: dict[str, list[int]] = defaultdict(list)
    for name in dense:
        stem = name[: -len("_leftImg8bit.png")]
        by_snippet[stem.rsplit("_", 1)[0]].append(int(stem.rsplit("_", 1)[1]))
    videos: dict[str, set[str]] = defaultdict(set)
    for vps_id, _ in frames:
        videos[vps_id[:4]].add(vps_id[10:])
    for video, stems in sorted(videos.items()):
        report.checked("img_all")
        snippet = sorted(stems)[0].rsplit("_", 1)[0]
        numbers = sorted(by_snippet.get(snippet, []))
        missing = sorted(s for s in stems if s.rsplit("_", 1)[0] != snippet or int(s.rsplit("_", 1)[1]) not in numbers)
        if len(numbers) != DENSE_FRAMES or rules.missing_frames(numbers) or missing:
            report.fail("img_all", f"{split}/img_all/{snippet}_*", f"{len(numbers)} frames of video {video}'s snippet "
                        f"(expected {DENSE_FRAMES} consecutive ones holding its labelled frames; labelled frames "
                        f"missing: {missing})")


def _categories_of(document: Any) -> list:
    categories = document.get("categories") if isinstance(document, dict) else None
    return categories if isinstance(categories, list) else []


def _things(categories: list, key: str) -> list:
    return [c.get(key) for c in categories if isinstance(c, dict) and c.get("isthing") == 1]


def _check_instance_json(documents: dict, video: Any, split: str, frames: list[tuple[str, str]],
                         report: Report) -> None:
    """What Video K-Net's CityscapesVPSDataset / CityscapesPanopticDataset need of instances_{split}_city_vps_rle.json."""
    name = f"instances_{split}_city_vps_rle.json"
    document = documents.get(name)
    report.checked("instance json")
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        report.fail("instance json", name, "missing or without an 'images' list")
        return
    problems = []
    cat_ids = [c.get("id") for c in document.get("categories", []) if isinstance(c, dict) and c.get("name") in THING_CLASSES]
    panoptic = documents.get(f"panoptic_im_{split}_city_vps.json")
    if _things(_categories_of(panoptic), "trainid") != cat_ids:
        problems.append(f"thing categories {cat_ids} differ from the thing trainids of panoptic_im_{split}_city_vps.json "
                        "(Video K-Net asserts they are equal)")
    if split == "val" and video is not None:
        if _things(_categories_of(video), "id") != cat_ids:
            problems.append(f"thing categories {cat_ids} differ from the thing ids of {VIDEO_JSON}")
    images = [i for i in document["images"] if isinstance(i, dict)]
    listed = {str(i.get("file_name")) for i in images}
    expected = {f for _, f in frames}
    if listed != expected:
        problems.append(f"images differ from panoptic_im_{split}_city_vps.json: missing "
                        f"{sorted(expected - listed)[:3]}, not in img/ {sorted(listed - expected)[:3]}")
    by_video: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for image in images:
        by_video[str(image.get("file_name"))[:4]].append((str(image.get("file_name")), image.get("id")))
    for video, items in sorted(by_video.items()):
        ids = [i for _, i in sorted(items)]
        if not all(isinstance(i, int) for i in ids) or ids != list(range(ids[0], ids[0] + len(ids))):
            problems.append(f"video {video}: image ids {ids} are not consecutive (the reference frame is id +- 1)")
            break
    if problems:
        report.fail("instance json", name, "; ".join(problems))


def _check_video_json(document: Any, documents: dict, frames: list[tuple[str, str]], report: Report) -> dict:
    """panoptic_gt_val_city_vps.json: frames in sorted order, ids and names derived as the official script does,
    the released categories; returns each frame's segments for the pixel checks."""
    try:
        images = [(i["id"], i["file_name"]) for i in document["images"]]
        annotations = [(a["image_id"], a["file_name"]) for a in document["annotations"]]
        segments = {a["file_name"]: [[s["id"], s["category_id"], s["iscrowd"], s["area"]] for s in a["segments_info"]]
                    for a in document["annotations"]}
    except (KeyError, TypeError) as exc:
        report.fail("video json", VIDEO_JSON, f"malformed ({exc})")
        return {}
    names = sorted(label_name(f) for _, f in frames)
    if images != [(n.rsplit("_", 2)[0], f) for n, (_, f) in zip(names, sorted(frames, key=lambda x: label_name(x[1])))] \
            or annotations != [(n.rsplit("_", 2)[0], n) for n in names]:
        report.fail("video json", VIDEO_JSON, f"images/annotations ({len(images)}/{len(annotations)}) differ from the "
                                              f"val frames ({len(names)}) or are out of order")
    released = _categories_of(documents.get("panoptic_im_val_city_vps.json"))
    report.checked("video json")
    if document.get("categories") != released:
        report.fail("video json", VIDEO_JSON, "categories differ from those of panoptic_im_val_city_vps.json")
    return segments


def check_frame(item: dict) -> list[tuple[str, str, str | None]]:
    """Pixel checks of one frame (or, for an img_all frame, its PNG structure)."""
    root, split = Path(item["root"]), item["split"]
    out: list[tuple[str, str, str | None]] = []
    if "dense" in item:
        check_image(root / split / "img_all" / item["dense"], f"{split}/img_all/{item['dense']}", out)
        return out
    size = check_image(root / split / "img" / item["file_name"], f"{split}/img/{item['file_name']}", out)
    if split not in LABELLED:
        return out
    name = label_name(item["file_name"])
    kinds = {"labelmap": (GRAY8, "an 8-bit grayscale PNG"), "panoptic_inst": (GRAY16, "a 16-bit grayscale PNG"),
             "panoptic_video": (RGB8, "an 8-bit RGB PNG")}
    maps = {}
    for folder in ("labelmap", "panoptic_inst") + (("panoptic_video",) if split == "val" else ()):
        rel = f"{split}/{folder}/{name}"
        array = check_map(root / rel, rel, *kinds[folder], size, out)
        if array is not None:
            maps[folder] = array
    if "labelmap" in maps and "panoptic_inst" in maps and maps["labelmap"].shape == maps["panoptic_inst"].shape:
        out += _check_values(split, name, maps, item.get("segments"))
    return out


def _check_values(split: str, name: str, maps: dict, segments: list | None) -> list[tuple[str, str, str | None]]:
    out: list[tuple[str, str, str | None]] = []
    label, panoptic = maps["labelmap"], maps["panoptic_inst"]
    label_rel, panoptic_rel = f"{split}/labelmap/{name}", f"{split}/panoptic_inst/{name}"
    bad = rules.unexpected_values(label, list(range(vps.NUM_CLASSES)) + [vps.VOID])
    out.append(("values", label_rel, f"values outside 0-18/255: {bad[:10]}" if bad else None))
    present = np.flatnonzero(np.bincount(panoptic.ravel(), minlength=1 << 16))
    bad = [int(v) for v in present if not vps.valid_panoptic_values()[v]]
    out.append(("values", panoptic_rel, f"values that are neither 255, a stuff trainId nor thing trainId*1000+k: "
                                        f"{bad[:10]}" if bad else None))
    # where panoptic_inst holds no instance it is the stuff class of the labelmap, or void
    no_instance = panoptic < vps.DIVISOR
    expected = np.take(np.where(np.arange(256) < 11, np.arange(256), vps.VOID).astype(np.uint16), label)
    differ = int((no_instance & (panoptic != expected)).sum())
    out.append(("agree", panoptic_rel, f"{differ:,} pixels outside instances disagree with the labelmap's stuff "
                                       "classes" if differ else None))
    if "panoptic_video" in maps:
        rel = f"val/panoptic_video/{name}"
        video = maps["panoptic_video"]
        differ = int((video != vps.panoptic_video_rgb(panoptic)).any(axis=-1).sum()) if video.shape[-1:] == (3,) else -1
        out.append(("panoptic_video", rel, None if differ == 0 else f"segment ids differ from panoptic_inst + 1 on "
                                                                    f"{differ:,} pixels" if differ > 0 else
                    f"not an RGB map (shape {video.shape})"))
        if segments is None:
            out.append(("video json", rel, f"the frame is not in {VIDEO_JSON}"))
        else:
            expected_segments = vps.video_segments(panoptic)
            out.append(("video json", rel, None if segments == expected_segments else
                        f"segments_info differs from the PNG: listed ids {[s[0] for s in segments][:8]}, areas ... "
                        f"(PNG: {[s[0] for s in expected_segments][:8]})"))
    return out


def _check_official(documents: dict, frames: dict[str, list[tuple[str, str]]], report: Report) -> None:
    counts, videos = {}, {}
    for split in SPLITS:
        listed = frames.get(split)
        if listed is None:  # the split was not prepared: count its json's frames
            name = f"panoptic_im_{split}_city_vps.json"
            listed = _json_frames(documents.get(name), name, Report("")) if documents.get(name) else []
        counts[split] = len(listed)
        videos[split] = len({vps_id[:4] for vps_id, _ in listed})
    for message in rules.count_mismatches(counts, PUBLISHED_FRAMES):
        report.fail("official counts", "panoptic_im_*_city_vps.json", f"frames of {message}")
    for message in rules.count_mismatches(videos, PUBLISHED_VIDEOS):
        report.fail("official counts", "panoptic_im_*_city_vps.json", f"videos of {message}")
    dense = {}
    for split in ("val", "test"):
        document = documents.get(f"im_all_info_{split}_city_vps.json")
        images = document.get("images") if isinstance(document, dict) else None
        dense[split] = len(images) if isinstance(images, list) else 0
    for message in rules.count_mismatches(dense, {s: DENSE_FRAMES * PUBLISHED_VIDEOS[s] for s in dense}):
        report.fail("official counts", "im_all_info_*_city_vps.json", f"img_all frames of {message}")
    report.checked("official counts", 3 * len(SPLITS) - 1)
