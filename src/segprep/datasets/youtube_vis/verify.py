"""The checks of a prepared YouTube-VIS folder: the CocoVID files against the official ones, and every frame."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from segprep.checks.findings import Report
from segprep.datasets._shared import vis_holdout
from segprep.encodings import youtube_vis as vis
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.errors import BadInput, SegprepError
from segprep.io.jsonscan import JsonScanner
from segprep.datasets.youtube_vis import PUBLISHED_VIDEOS, REQUIRED_SPLITS, SPLITS, cocovid_name
from segprep.encodings.cocovid import convert


# ---------------------------------------------------------------------- verification


def read_head(path: Path) -> dict:
    """categories, videos, images of a CocoVID file and its top-level keys (annotations are not read)."""
    head: dict[str, Any] = {"keys": []}
    with open(path, "rb") as f:
        for member in JsonScanner(f, path.name).members():
            head["keys"].append(member.key)
            if member.key in ("categories", "videos", "images"):
                head[member.key] = member.value()
    return head


def check_head(year: str, split: str, head: dict, report: Report) -> None:
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
    n = len(vis.CATEGORIES[year])
    if names != list(vis.CATEGORIES[year]) or ids != list(range(1, n + 1)):
        report.fail("categories", rel, f"not the {n} official {vis.dataset_title(year)} categories with ids 1-{n} "
                                       f"in order, names exactly as published (found {len(names)}: {names[:5]}...)")
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


def check_frame_files(out_root: Path, split: str, head: dict, report: Report,
                      folder: str = "") -> list[tuple[str, int, int]]:
    """Every image of the json exists; nothing else but frames of its videos is in ``folder``
    (``{split}/JPEGImages`` unless given)."""
    folder = folder or f"{split}/JPEGImages"
    root = out_root / folder
    named = {image["file_name"]: (image["width"], image["height"]) for image in head["images"]
             if isinstance(image.get("file_name"), str)}
    sizes = {video["name"]: (video["width"], video["height"]) for video in head["videos"]}
    on_disk: set[str] = set()
    if root.is_dir():
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if not entry.is_dir():
                report.fail("layout", f"{folder}/{entry.name}", "stray file")
                continue
            for frame in sorted(os.listdir(entry.path)):
                on_disk.add(f"{entry.name}/{frame}")
    frames = []
    for name, size in named.items():
        report.checked("frames exist")
        if name not in on_disk:
            report.fail("frames exist", f"{folder}/{name}", "missing (named in the json)")
        else:
            frames.append((name, *size))
    for name in sorted(on_disk - named.keys()):
        video, frame = name.split("/", 1)
        report.checked("layout")
        if video in sizes and frame.endswith(".jpg"):
            frames.append((name, *sizes[video]))  # an unannotated frame (--all-frames): checked like the others
        else:
            report.fail("layout", f"{folder}/{name}", "stray file (not a frame of a video in the json)")
    return frames


def verify_item(item: tuple) -> list[tuple[str, int, list[tuple[str, str]]]]:
    """One unit of verification (in a worker): a split's jsons, or a batch of frames."""
    if item[0] == "frames":
        return _verify_frames(Path(item[1]), item[2], item[3])
    return _verify_jsons(Path(item[1]), item[2], item[3])


def _verify_frames(out_root: Path, folder: str, frames: list[tuple[str, int, int]]) -> list:
    """Each frame (name relative to ``folder``, e.g. "train/JPEGImages") is a JPEG of its json's size."""
    import io

    from PIL import Image

    failures = []
    for name, width, height in frames:
        rel = f"{folder}/{name}"
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
    mismatches: list[tuple[str, str]] = []
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
                        where = f"{rel}: annotation {ann.get('id') if isinstance(ann, dict) else '?'}"
                        # OVIS: whether areas/boxes are the masks' is not established; its verify weighs these
                        kind = mismatches if year == "ovis" and problem.startswith(("area ", "bbox ")) else failures
                        kind.append((where, problem))
    out.append(("annotations", checked, failures))
    if year == "ovis":
        out.append(("area/box", checked, mismatches))
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


class YouTubeVISVerify:
    """``YouTubeVIS.verify``, kept in this room: the recipe class lists this class as a base."""

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
                heads[split] = read_head(out_root / cocovid_name(self.YEAR, split))
            except SegprepError as exc:
                report.checked("cocovid schema")
                report.fail("cocovid schema", cocovid_name(self.YEAR, split), str(exc))
                continue
            check_head(self.YEAR, split, heads[split], report)
        work: list[tuple] = [("json", str(out_root), self.YEAR, split) for split in heads]
        for split, head in heads.items():
            frames = check_frame_files(out_root, split, head, report)
            for start in range(0, len(frames), 64):
                work.append(("frames", str(out_root), f"{split}/JPEGImages", frames[start : start + 64]))
        results = parallel_map(verify_item, work, jobs, progress, f"verify youtube-vis-{self.YEAR}")
        for item, result in zip(work, results):
            if isinstance(result, Exception):
                check, rel = ("annotations", cocovid_name(self.YEAR, item[3])) if item[0] == "json" else (
                    "decode", item[2])
                report.crashed(check, rel, result)
                continue
            for check, n, failures in result:
                report.checked(check, n)
                for path, message in failures:
                    report.fail(check, path, message)
        vis_holdout.verify(out_root, report, self.YEAR, "annotations/train.json")
        if official:
            for split in SPLITS:
                report.checked("official counts")
                found = len(heads[split]["videos"]) if split in heads else 0
                want = PUBLISHED_VIDEOS[self.YEAR][split]
                if found != want:
                    report.fail("official counts", cocovid_name(self.YEAR, split),
                                f"{split}: {found:,} videos found, {want:,} published ({found - want:+,})")
