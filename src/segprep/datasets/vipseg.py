"""VIPSeg -> ``data/VIPSeg/`` as Video K-Net (images + raw panomasks) and DVIS (panomasksRGB + json) read it.

What the official scripts do (``change2_720p.py``, ``create_panoptic_video_labels.py``,
``splitjson.py`` of VIPSeg-Dataset/VIPSeg-Dataset), with their bugs left out:

* frames are resized with Pillow so that the *height* becomes 720 (width ``int(720*w/h)``),
  images BILINEAR and re-encoded as JPEG (quality 75 by default, Pillow's default), masks NEAREST;
  a frame already at that size is linked; test frames are written too (the script skips them);
* masks keep their raw values in 16-bit PNGs; ``panomasksRGB`` and the json files follow the
  official COCO-panoptic video schema, but a segment's id is its raw value (deterministic) and
  the known bad value 200 is void (as in Video K-Net), counted in the summary;
* the split files are copied byte for byte (their line order numbers the videos).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.datasets.base import Download, Option, Recipe
from segprep.datasets.video_frames import (DEFAULT_QUALITY, SPLITS, check_split_files, height_target, listed_stems,
                                           named_archives, parse_split, place_split_file, put_unchanged, read_split_lists,
                                           report_missing, subdirs, write_image)
from segprep.encodings import vipseg as enc
from segprep.engine.malloc import tune_malloc
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput, MissingInput, SegprepError
from segprep.io import jsonio
from segprep.io.archives import list_members
from segprep.io.images import decode_png, decode_png_fast, encode_png_fast, jpeg_info, png_info, resize_jpeg, resize_nearest
from segprep.io.sources import FileSource, MemberSource, Source
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced

LABELLED_SPLITS = ("train", "val")
TARGET = 720
PUBLISHED_VIDEOS = {"train": 2806, "val": 343, "test": 387}
# sha256 of the official split files (VIPSeg-Dataset/VIPSeg-Dataset train.txt, val.txt, test.txt)
OFFICIAL_SPLIT_SHA256 = {
    "train": "5072b980dc2991f60970e27b9d52a3dc32ed02ed40601cb21f82a005938aab49",
    "val": "8bfd6326592f97231d60f10811a750f4dc3455d9277b51d0953531661ff0f65e",
    "test": "dd8a730d66544673bb780d84ffe0319555cd6013cc33098c79328f7ad6e5fee1",
}
REPO = "https://github.com/VIPSeg-Dataset/VIPSeg-Dataset"
JSON_ALL = "panoptic_gt_VIPSeg.json"
CATEGORIES_JSON = "panoVIPSeg_categories.json"

DOWNLOAD = Download(
    "VIPSeg.zip", "",
    f"{REPO} (README: Google Drive or Baidu link)",
    "VIPSeg/imgs/{video}/{frame:08d}.jpg, VIPSeg/panomasks/{video}/{frame:08d}.png (train and val), "
    "VIPSeg/{train,val,test}.txt; any archive named VIPSeg*.zip / VIPSeg*.tar[.gz] is searched, and so are the "
    "extracted VIPSeg/ folder and a VIPSeg_720P/ folder made by the official change2_720p.py",
    extracted=("VIPSeg/imgs", "VIPSeg_720P/images", "imgs"),
)

_ARCHIVE_NAME = re.compile(r"^vipseg.*\.(zip|tar|tar\.gz|tgz)$", re.IGNORECASE)
_MEMBER = re.compile(r"^(?:(.*)/)?(imgs|images|panomasks)/([^/]+)/([^/]+)\.(jpg|png)$")
_SPLIT_MEMBER = re.compile(r"^(?:(.*)/)?(train|val|test)\.txt$")
_FOLDER_SUFFIX = {"imgs": "jpg", "images": "jpg", "panomasks": "png"}


@dataclass
class _Root:
    """One folder (or archive prefix) holding a VIPSeg tree: the raw download or an official 720P output."""

    name: str
    files: dict[str, dict[tuple[str, str], Source]] = field(default_factory=lambda: defaultdict(dict))
    splits: dict[str, Source] = field(default_factory=dict)

    @property
    def converted(self) -> bool:  # VIPSeg_720P: images/ instead of imgs/
        return bool(self.files.get("images")) and not self.files.get("imgs")

    def images(self) -> dict[tuple[str, str], Source]:
        return self.files.get("images" if self.converted else "imgs", {})

    def masks(self) -> dict[tuple[str, str], Source]:
        return self.files.get("panomasks", {})


class VIPSeg(Recipe):
    NAME = "vipseg"
    FOLDER = "VIPSeg"
    TITLE = "VIPSeg (video panoptic segmentation, 124 classes)"
    VERSION = "1"
    LABEL_OUTPUTS = ("panomasks/*/*.png", "panomasksRGB/*/*.png")
    DOWNLOADS = (DOWNLOAD,)
    OPTIONS = (
        Option("jpeg-quality", "JPEG quality of resized frames (75 = Pillow's default, as the official script)",
               DEFAULT_QUALITY, int, example=90),
        Option("short-side", "resize so that the short side becomes N (Video K-Net's DATASET.md prose) instead of "
               "the height becoming 720 (what change2_720p.py does)", None, int, example=480),
    )
    SAMPLE_OPTIONS = (
        Option("frames", "frames per video", 3, int),
        Option("extra-videos", "additional 1920x1080 train videos (for benchmarks)", 0, int),
    )

    # ------------------------------------------------------------------ plan

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        quality = int(options.get("jpeg_quality") or DEFAULT_QUALITY)
        short_side = options.get("short_side")
        if not 1 <= quality <= 100:
            raise SegprepError(f"--jpeg-quality {quality}: choose 1-100")
        if short_side is not None and short_side < 1:
            raise SegprepError(f"--short-side {short_side}: must be positive")
        roots, notes = find_roots(raw)
        if not roots:
            raise MissingInput(f"no VIPSeg download under {raw}. Expected:\n  - {DOWNLOAD.describe()}")
        split_sources = _split_sources(roots, raw)
        lists, seen = read_split_lists(split_sources)
        official = quality == DEFAULT_QUALITY and short_side is None
        frames = _pick_frames(roots, official)
        params = {"quality": quality, "short_side": short_side}
        tasks = [Task(f"{split}.txt", place_split_file, (source,), (f"{split}.txt",), group="split files")
                 for split, source in split_sources.items()]
        by_video: dict[str, list[str]] = defaultdict(list)
        for video, stem in frames:
            by_video[video].append(stem)
        for split, videos in lists.items():
            labelled = split in LABELLED_SPLITS
            for video in videos:
                stems = sorted(by_video.get(video, ()))
                if not stems:
                    tasks.append(Task(f"images/{video}/", report_missing, (), (), {"message": (
                        f"video {video} is listed in {split}.txt but has no frames: expected "
                        f"VIPSeg/imgs/{video}/*.jpg from {DOWNLOAD.filename} ({DOWNLOAD.page})")}, f"{split} videos", 0))
                    continue
                for stem in stems:
                    image, mask = frames[(video, stem)]
                    rel = f"{video}/{stem}"
                    if not labelled:
                        tasks.append(Task(f"images/{rel}.jpg", make_test_frame, (image,), (f"images/{rel}.jpg",),
                                          params, f"{split} frames"))
                    elif mask is None:
                        tasks.append(Task(f"images/{rel}.jpg", report_missing, (), (f"images/{rel}.jpg",), {
                            "message": f"no mask for the {split} frame {image.describe()}: expected "
                                       f"VIPSeg/panomasks/{rel}.png from {DOWNLOAD.filename} ({DOWNLOAD.page})"},
                                          f"{split} frames", 0))
                    else:
                        outputs = (f"images/{rel}.jpg", f"panomasks/{rel}.png", f"panomasksRGB/{rel}.png")
                        tasks.append(Task(f"images/{rel}.jpg", make_frame, (image, mask), outputs, params,
                                          f"{split} frames"))
        unlisted = sorted(set(by_video) - set(seen))
        if unlisted:
            notes.append(f"{len(unlisted):,} video(s) on disk are in no split file and are left out, "
                         f"e.g. {unlisted[0]}")
        order = {split: list(videos) for split, videos in lists.items()}
        return Plan(tasks, self.salt(options), notes, finalize=partial(write_jsons, order))

    # ------------------------------------------------------------------ verify

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        _verify(out_root, report, official, jobs, progress)

    # ------------------------------------------------------------------ report

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        categories = [Category(name, color, bool(isthing)) for name, isthing, color in enc.CATEGORIES]
        section = ReportSection(self.NAME, self.FOLDER, self.TITLE, categories)
        lists = {split: parse_split((out_root / f"{split}.txt").read_bytes(), f"{split}.txt")
                 for split in SPLITS if (out_root / f"{split}.txt").is_file()}
        labelled: list[tuple[str, str]] = []  # (video, stem) of every frame with a mask
        strip_video = None
        for split, videos in lists.items():
            present = [v for v in videos if (out_root / "images" / v).is_dir()]
            frames = sum(len(os.listdir(out_root / "images" / v)) for v in present)
            missing = len(videos) - len(present)
            section.counts.append(CountRow(split, "videos", len(present), PUBLISHED_VIDEOS[split],
                                           f"{missing:,} listed videos missing" if missing else ""))
            section.counts.append(CountRow(split, "frames", frames))
            if split in LABELLED_SPLITS:
                for video in sorted(present):
                    stems = sorted(n[:-4] for n in os.listdir(out_root / "panomasks" / video)) \
                        if (out_root / "panomasks" / video).is_dir() else []
                    labelled += [(video, stem) for stem in stems]
                    if split == "val" and strip_video is None and len(stems) >= 2:
                        strip_video = (video, stems)
        stats = _class_stats(out_root / JSON_ALL)
        if stats is not None:
            section.stats = stats
        section.frames = [_label_view(out_root, video, stem) for video, stem in evenly_spaced(labelled, 4)]
        if strip_video is not None:
            video, stems = strip_video
            middle = max(0, len(stems) // 2 - 3)
            section.strips = [[_label_view(out_root, video, stem) for stem in stems[middle:middle + 6]]]
        return section

    # ------------------------------------------------------------------ sample

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.samples.vipseg import write_sample

        write_sample(out, frames=int(options.get("frames") or 3), extra_videos=int(options.get("extra_videos") or 0),
                     jobs=jobs)


RECIPE = VIPSeg


# ---------------------------------------------------------------------- inputs


def find_roots(raw: Path, max_depth: int = 3) -> tuple[list[_Root], list[str]]:
    """VIPSeg trees under ``raw``: extracted folders first (they win), then VIPSeg* archives."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n  - {DOWNLOAD.describe()}")
    roots: list[_Root] = []
    notes: list[str] = []
    frontier = [raw]
    for _ in range(max_depth + 1):
        next_frontier = []
        for folder in frontier:
            entries = subdirs(folder)
            names = {e.name for e in entries}
            if names & {"imgs", "images"}:
                root = _Root(str(folder))
                for kind in ("imgs", "images", "panomasks"):
                    if kind in names:
                        _scan(folder / kind, kind, root)
                for split in SPLITS:
                    if (folder / f"{split}.txt").is_file():
                        root.splits[split] = FileSource.of(folder / f"{split}.txt")
                roots.append(root)
                notes.append(f"{folder}: {len(root.images()):,} images, {len(root.masks()):,} masks (extracted"
                             f"{', official 720P output' if root.converted else ''})")
            else:
                next_frontier.extend(Path(e.path) for e in entries)
        frontier = next_frontier
    for archive in named_archives(raw, _ARCHIVE_NAME):
        by_prefix: dict[str, _Root] = {}
        for member in list_members(archive):
            match = _MEMBER.match(member.name)
            if match:
                prefix, kind, video, stem, suffix = match.groups()
                if suffix == _FOLDER_SUFFIX[kind]:
                    root = by_prefix.setdefault(prefix or "", _Root(f"{archive.display}:{prefix or ''}"))
                    root.files[kind][(video, stem)] = MemberSource(archive, member)
                continue
            match = _SPLIT_MEMBER.match(member.name)
            if match:
                root = by_prefix.setdefault(match.group(1) or "", _Root(f"{archive.display}:{match.group(1) or ''}"))
                root.splits[match.group(2)] = MemberSource(archive, member)
        for prefix, root in sorted(by_prefix.items()):
            roots.append(root)
            how = "one pass" if archive.sequential else "random access"
            notes.append(f"{root.name}: {len(root.images()):,} images, {len(root.masks()):,} masks ({how})")
    return roots, notes


def _scan(folder: Path, kind: str, root: _Root) -> None:
    suffix = "." + _FOLDER_SUFFIX[kind]
    for video in subdirs(folder):
        for entry in os.scandir(video.path):
            if entry.name.endswith(suffix) and not entry.name.startswith(".") and entry.is_file():
                root.files[kind][(video.name, entry.name[: -len(suffix)])] = FileSource.of(entry.path)


def _split_sources(roots: list[_Root], raw: Path) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for split in SPLITS:
        for root in sorted(roots, key=lambda r: r.converted):  # the raw download's lists first
            if split in root.splits:
                out[split] = root.splits[split]
                break
        else:
            if (raw / f"{split}.txt").is_file():
                out[split] = FileSource.of(raw / f"{split}.txt")
    missing = [s for s in SPLITS if s not in out]
    if missing:
        names = ", ".join(f"{s}.txt" for s in missing)
        raise MissingInput(
            f"the split list(s) {names} were not found under {[r.name for r in roots]}. They ship in the VIPSeg "
            f"download (VIPSeg/train.txt, val.txt, test.txt) and in {REPO} (repository root); put them in the "
            "VIPSeg/ folder (the official change2_720p.py does not copy them into VIPSeg_720P/)."
        )
    return out


def _pick_frames(roots: list[_Root], official: bool) -> dict[tuple[str, str], tuple[Source, Source | None]]:
    """(video, stem) -> (image, mask or None), taking image and mask from the same tree when possible.

    With the official options an official 720P output is preferred (its frames are already at the
    target size and are linked); otherwise the raw download is, so the option is honoured.
    """
    ranked = sorted(roots, key=lambda r: (r.converted != official))  # stable: extracted before archives
    images: dict[tuple[str, str], list[tuple[Source, Source | None]]] = defaultdict(list)
    for root in ranked:
        masks = root.masks()
        for key, image in root.images().items():
            images[key].append((image, masks.get(key)))
    out = {}
    for key, candidates in images.items():
        paired = [c for c in candidates if c[1] is not None]
        if paired:
            out[key] = paired[0]
        else:
            mask = next((r.masks()[key] for r in ranked if key in r.masks()), None)
            out[key] = (candidates[0][0], mask)
    return out


# ---------------------------------------------------------------------- actions (run in workers)


def target_size(size: tuple[int, int], short_side: int | None = None) -> tuple[int, int]:
    """Output (width, height): change2_720p.py's ``(int(720*w/h), 720)``, or the short side made ``short_side``."""
    w, h = size
    if short_side is None:
        return height_target(size, TARGET)
    if w >= h:
        return int(short_side * w / h), short_side
    return short_side, int(short_side * h / w)


def _image(ctx: TaskContext, source: Source, rel: str, params: dict) -> tuple[int, int]:
    """Writes the frame at its target size; returns that size."""
    data = ctx.read(source)
    info = jpeg_info(data, source.describe())
    target = target_size((info.width, info.height), params["short_side"])
    write_image(ctx, source, rel, data, info, target, params["quality"])
    return target


def make_test_frame(ctx: TaskContext, task: Task) -> dict:
    tune_malloc()
    width, height = _image(ctx, task.inputs[0], task.outputs[0], task.params)
    return {"size": [width, height]}


def make_frame(ctx: TaskContext, task: Task) -> dict:
    """Image resized, mask resized (raw values, 16 bit), its COCO-panoptic PNG; returns the segments."""
    tune_malloc()
    image_source, mask_source = task.inputs
    image_rel, mask_rel, rgb_rel = task.outputs
    name = mask_source.describe()
    mask_bytes = ctx.read(mask_source)
    mask_info = png_info(mask_bytes, name)
    mask = decode_png_fast(mask_bytes, name, info=mask_info)
    if mask.ndim != 2 or mask.dtype not in (np.uint8, np.uint16):
        raise BadInput(f"{name}: expected a one-channel 8- or 16-bit PNG of raw VIPSeg values, found "
                       f"{mask.dtype} with shape {mask.shape}")
    image_data = ctx.read(image_source)
    info = jpeg_info(image_data, image_source.describe())
    size = (info.width, info.height)
    if (mask.shape[1], mask.shape[0]) != size:
        raise BadInput(f"{name} is {mask.shape[1]}x{mask.shape[0]} but its image {image_source.describe()} is "
                       f"{size[0]}x{size[1]}; the pair is inconsistent (re-extract this video)")
    target = target_size(size, task.params["short_side"])
    resized = target != size
    if resized:
        mask = resize_nearest(mask, target)
    panoptic = enc.to_panoptic(mask)
    if panoptic.invalid:
        raise BadInput(f"{name}: values {panoptic.invalid[:10]} are not VIPSeg labels (0 void, 1-124 stuff ids, "
                       f"thing_id*100+k for things; 200 is known and made void)")
    if resized:
        ctx.write_bytes(image_rel, resize_jpeg(image_data, image_source.describe(), target, task.params["quality"]))
    else:
        put_unchanged(ctx, image_source, image_rel, image_data)
    if not resized and mask.dtype == np.uint16 and mask_info.bit_depth == 16:
        put_unchanged(ctx, mask_source, mask_rel, mask_bytes)  # already what we would write: the raw values, 16 bit
    else:
        ctx.write_bytes(mask_rel, encode_png_fast(mask.astype(np.uint16, copy=False)))
    ctx.write_bytes(rgb_rel, encode_png_fast(panoptic.rgb))
    return {"size": list(target), "segments": [s.to_row() for s in panoptic.segments], "bad": panoptic.bad_pixels}


# ---------------------------------------------------------------------- finalize: the json files


def write_jsons(order: dict[str, list[str]], ctx: FinalizeContext) -> None:
    ctx.write_bytes(CATEGORIES_JSON, jsonio.dumps(enc.categories_json(), sort_keys=False))  # needs no frame
    frames: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    keys: dict[str, list[str]] = defaultdict(list)  # video -> its tasks' keys ("images/<video>/...")
    for task in ctx.tasks:
        if not task.key.startswith("images/"):
            continue  # the split files
        video = task.key.split("/")[1]
        keys[video].append(task.key)
        if task.action in (make_frame, make_test_frame) and task.key in ctx.extras:
            file = task.outputs[0].split("/")[2]
            frames[video].append((file[: -len(".jpg")], ctx.extras[task.key]))

    def complete(rels: list[str], splits: tuple[str, ...]) -> bool:
        return ctx.complete(rels, [k for split in splits for v in order[split] for k in keys[v]])

    labelled = sorted(v for split in LABELLED_SPLITS for v in order[split] if v in frames)
    full = _panoptic_json(labelled, frames)
    if complete([JSON_ALL], LABELLED_SPLITS):
        ctx.write_bytes(JSON_ALL, jsonio.dumps(full, sort_keys=False))
    for split in LABELLED_SPLITS:  # as splitjson.py: the full json's videos (sorted) that the split lists
        if not complete([f"panoptic_gt_VIPSeg_{split}.json"], (split,)):
            continue
        listed = set(order[split])
        subset = {"videos": [v for v in full["videos"] if v["video_id"] in listed],
                  "annotations": [a for a in full["annotations"] if a["video_id"] in listed],
                  "categories": full["categories"]}
        ctx.write_bytes(f"panoptic_gt_VIPSeg_{split}.json", jsonio.dumps(subset, sort_keys=False))
    if complete(["panoptic_gt_VIPSeg_test.json"], ("test",)):
        test = _panoptic_json(sorted(v for v in order["test"] if v in frames), frames, labels=False)
        ctx.write_bytes("panoptic_gt_VIPSeg_test.json", jsonio.dumps(test, sort_keys=False))
    bad = [(video, stem, extra["bad"]) for video in labelled for stem, extra in frames[video] if extra.get("bad")]
    if bad:
        pixels = sum(n for _, _, n in bad)
        ctx.note(f"value 200 (a known annotation error) made void in {len(bad):,} mask(s), {pixels:,} pixels, "
                 f"e.g. panomasks/{bad[0][0]}/{bad[0][1]}.png")


def _panoptic_json(videos: list[str], frames: dict[str, list[tuple[str, dict]]], labels: bool = True) -> dict:
    out_videos, annotations = [], []
    for video in videos:
        entries = sorted(frames[video])
        out_videos.append({"video_id": video, "images": [
            {"id": stem, "width": extra["size"][0], "height": extra["size"][1], "file_name": f"{stem}.png"}
            for stem, extra in entries]})
        if labels:
            annotations.append({"video_id": video, "annotations": [
                {"image_id": stem, "file_name": f"{stem}.png",
                 "segments_info": [enc.Segment.from_row(row).to_json() for row in extra["segments"]]}
                for stem, extra in entries]})
    return {"videos": out_videos, "annotations": annotations, "categories": enc.categories_json()}


# ---------------------------------------------------------------------- report


def _class_stats(path: Path) -> ClassStats | None:
    """Pixels per category from the json's segment areas; instances are (video, thing id) tracks."""
    if not path.is_file():
        return None
    data = json.loads(path.read_bytes())
    pixels = np.zeros(enc.NUM_CATEGORIES, np.int64)
    tracks: set[tuple[str, int]] = set()
    for video in data.get("annotations", []):
        for frame in video["annotations"]:
            for segment in frame["segments_info"]:
                pixels[segment["category_id"]] += segment["area"]
                if enc.CATEGORIES[segment["category_id"]][1]:
                    tracks.add((video["video_id"], segment["id"]))
    instances = np.zeros(enc.NUM_CATEGORIES, np.int64)
    for _, segment_id in tracks:
        instances[enc.category_of(segment_id)] += 1
    return ClassStats(pixels.tolist(), instances.tolist(), f"from {JSON_ALL}; instances are tracks (video, id)")


def _label_view(out_root: Path, video: str, stem: str) -> LabelView:
    """A frame and its raw mask: the segment id is the raw value, void is 0 and the bad value 200."""
    mask = decode_png((out_root / "panomasks" / video / f"{stem}.png").read_bytes(), f"{video}/{stem}.png")
    with Image.open(out_root / "images" / video / f"{stem}.jpg") as im:
        image = np.asarray(im.convert("RGB"))
    categories = enc.category_table()[mask.astype(np.int64)]
    category_of = {int(v): int(enc.category_of(int(v))) for v in np.unique(mask) if enc.category_of(int(v)) >= 0}
    return LabelView(f"{video}/{stem}", image, mask.astype(np.int64), category_of, categories < 0,
                     f"panomasks/{video}/{stem}.png")


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
