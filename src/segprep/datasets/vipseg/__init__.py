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

from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

from segprep.checks.findings import Report
from segprep.datasets.base import Download, Option, Recipe
from segprep.datasets._shared.actions import report_missing
from segprep.datasets._shared.video_frames import DEFAULT_QUALITY, place_split_file, read_split_lists
from segprep.encodings import vipseg as enc
from segprep.engine.progress import Progress
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task
from segprep.errors import MissingInput, SegprepError
from segprep.io import jsonio

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

from segprep.datasets.vipseg.sources import _pick_frames, _split_sources, find_roots  # noqa: E402
from segprep.datasets.vipseg.work import _panoptic_json, make_frame, make_test_frame  # noqa: E402
from segprep.datasets.vipseg.verify import _verify  # noqa: E402
from segprep.datasets.vipseg.report import VIPSegReport  # noqa: E402


class VIPSeg(VIPSegReport, Recipe):
    NAME = "vipseg"
    COMPILED_CODECS = True
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

    # ------------------------------------------------------------------ sample

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.datasets.vipseg.sample import write_sample

        write_sample(out, frames=int(options.get("frames") or 3), extra_videos=int(options.get("extra_videos") or 0),
                     jobs=jobs)


RECIPE = VIPSeg


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
