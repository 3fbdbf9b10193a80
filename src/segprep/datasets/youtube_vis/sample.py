"""A miniature YouTube-VIS download, and large official-format jsons for benchmarks.

2019: ``train.json``, ``valid.json``, ``test.json`` and ``train.zip``, ``valid.zip``, ``test.zip``
holding ``{split}/JPEGImages/<video>/<frame>.jpg`` (the annotated frames, every 5th);
``--all-frames`` adds ``{split}_all_frames.zip`` with every frame under ``{split}_all_frames/``.
2021: ``train.zip``, ``valid.zip``, ``test.zip`` holding ``{split}/JPEGImages/`` and
``{split}/instances.json``.

The jsons have the official shape (TFDS's trimmed real files): one annotation per object track,
per-frame lists aligned with ``file_names``, ``null`` where the object is absent, uncompressed
RLE. The frames are street scenes (``samples/scenes.py``) whose cars and people are the tracks
(sedan/car and person); the tracks of a video are listed latest-appearing first, so that the
CocoVID instance ids (given at first appearance) differ from the official order. Video names
are 10 hex digits as in the real data; frame sizes differ between videos.
"""

from __future__ import annotations

import hashlib
import io
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from segprep.encodings import youtube_vis as vis
from segprep.engine.parallel import imap_ordered
from segprep.samples.archives import write_zip
from segprep.samples.scenes import CAR, PERSON, StreetScene

STEP = 5  # the annotated frames are every 5th
# split -> (frame size (width, height), scene seed) of each video; the train seeds give objects that
# enter, leave and come back within the 4 annotated frames of the default sample
VIDEOS = {
    "train": [((640, 360), 9), ((480, 272), 10)],
    "valid": [((640, 360), 107)],
    "test": [((480, 272), 207)],
}
_CLASS_NAMES = {"2019": {CAR: "sedan", PERSON: "person"}, "2021": {CAR: "car", PERSON: "person"}}
_INFO = {"2019": "2019-04-11 00:55:41.903902", "2021": "2021-02-12 19:17:02.937750"}


def video_name(year: str, split: str, index: int) -> str:
    return hashlib.sha1(f"youtube-vis {year} {split} {index}".encode()).hexdigest()[:10]


def write_sample(out: Path, year: str, frames: int = 4, all_frames: bool = False, jobs: int = 1) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for split, videos in VIDEOS.items():
        sizes = [size for size, _ in videos]
        last = (frames - 1) * STEP
        items = [(year, split, index, size, t, split == "train" and t % STEP == 0)
                 for index, size in enumerate(sizes) for t in range(last + 1) if all_frames or t % STEP == 0]
        rendered = {}
        for item, result in zip(items, imap_ordered(render_frame, items, jobs)):
            if isinstance(result, Exception):
                raise result
            rendered[item[2], item[4]] = result
        document = official_json(year, split, sizes, frames, rendered)
        names = {index: video_name(year, split, index) for index in range(len(sizes))}
        annotated = [(f"{split}/JPEGImages/{names[i]}/{t:05d}.jpg", jpeg) for (i, t), (jpeg, _) in
                     sorted(rendered.items()) if t % STEP == 0]
        if year == "2019":
            (out / f"{split}.json").write_bytes(document)
            written.append(out / f"{split}.json")
            members = annotated
        else:
            members = annotated + [(f"{split}/instances.json", document)]
        write_zip(out / f"{split}.zip", members)
        written.append(out / f"{split}.zip")
        if all_frames:
            write_zip(out / f"{split}_all_frames.zip", [
                (f"{split}_all_frames/JPEGImages/{names[i]}/{t:05d}.jpg", jpeg) for (i, t), (jpeg, _) in
                sorted(rendered.items())])
            written.append(out / f"{split}_all_frames.zip")
    return written


def render_frame(item) -> tuple[bytes, dict | None]:
    """JPEG bytes of one frame and, when annotated, {instance: (class, rle, area, bbox)} of its objects."""
    _, split, index, (width, height), t, annotate = item
    jpeg, objects = render_objects(VIDEOS[split][index][1], width, height, t, annotate)
    if objects is None:
        return jpeg, None
    return jpeg, {ident: (cls, vis.rle_encode(mask), int(mask.sum()), vis.mask_bbox(mask))
                  for ident, (cls, mask) in objects.items()}


def render_objects(seed: int, width: int, height: int, t: int, annotate: bool) -> tuple[bytes, dict | None]:
    """A street-scene frame as JPEG bytes and, when annotated, {instance: (class, boolean mask)} (also
    the OVIS sample's frames)."""
    frame = _scene(seed, width, height).render(t, void_ring=0)
    buffer = io.BytesIO()
    Image.fromarray(frame.rgb).save(buffer, format="JPEG", quality=90)
    if not annotate:
        return buffer.getvalue(), None
    objects = {}
    for ident in sorted(set(np.unique(frame.instance).tolist()) - {0}):
        mask = frame.instance == ident
        objects[ident] = (int(frame.semantic[mask][0]), mask)
    return buffer.getvalue(), objects


@lru_cache(maxsize=4)
def _scene(seed: int, width: int, height: int) -> StreetScene:
    return StreetScene(seed=seed, height=height, width=width)


def official_json(year: str, split: str, sizes: list, frames: int, rendered: dict) -> bytes:
    videos, annotations = [], []
    class_ids = {cls: vis.CATEGORIES[year].index(name) + 1 for cls, name in _CLASS_NAMES[year].items()}
    for index, (width, height) in enumerate(sizes):
        name = video_name(year, split, index)
        videos.append({"width": width, "length": frames, "date_captured": _INFO[year], "license": 1,
                       "flickr_url": "", "file_names": [f"{name}/{k * STEP:05d}.jpg" for k in range(frames)],
                       "id": index + 1, "coco_url": "", "height": height})
        if split != "train":
            continue
        per_frame = [rendered[index, k * STEP][1] for k in range(frames)]
        idents = sorted({i for objects in per_frame for i in objects})
        first = {i: next(k for k, objects in enumerate(per_frame) if i in objects) for i in idents}
        for ident in sorted(idents, key=lambda i: (-first[i], i)):  # latest-appearing first
            seen = [objects.get(ident) for objects in per_frame]
            cls = next(s[0] for s in seen if s is not None)
            annotations.append({
                "height": height, "width": width, "length": 1, "category_id": class_ids[cls],
                "segmentations": [s and s[1] for s in seen], "bboxes": [s and s[3] for s in seen],
                "video_id": index + 1, "iscrowd": 0, "id": len(annotations) + 1, "areas": [s and s[2] for s in seen],
            })
    document = {
        "info": {"description": "YouTube-VOS", "url": "https://youtube-vos.org/home", "version": "1.0" if year == "2019"
                 else "2.0", "year": int(year), "contributor": "segprep sample", "date_created": _INFO[year]},
        "licenses": [{"url": "https://creativecommons.org/licenses/by/4.0/", "id": 1,
                      "name": "Creative Commons Attribution 4.0 License"}],
        "videos": videos,
        "categories": vis.official_categories(year),
        "annotations": annotations,
    }
    return json.dumps(document).encode()


# ---------------------------------------------------------------------- large jsons for benchmarks


def ellipse_rle(cx: float, cy: float, rx: float, ry: float, width: int, height: int) -> tuple[list[int], int, list]:
    """Uncompressed RLE, area and box of a filled ellipse, computed per column (fast at any size)."""
    xs = np.arange(max(0, int(np.ceil(cx - rx))), min(width - 1, int(np.floor(cx + rx))) + 1)
    half = ry * np.sqrt(np.clip(1 - ((xs - cx) / rx) ** 2, 0, None))
    y0 = np.clip(np.ceil(cy - half), 0, height - 1).astype(np.int64)
    y1 = np.clip(np.floor(cy + half), 0, height - 1).astype(np.int64)
    keep = y1 >= y0
    xs, y0, y1 = xs[keep], y0[keep], y1[keep]
    if xs.size == 0:
        return [width * height], 0, [0.0, 0.0, 0.0, 0.0]
    starts = xs * height + y0
    ones = y1 - y0 + 1
    zeros = np.diff(np.concatenate(([0], starts + ones)))[:] - ones
    counts = np.empty(2 * xs.size + 1, np.int64)
    counts[0:-1:2] = zeros
    counts[1::2] = ones
    counts[-1] = width * height - (starts[-1] + ones[-1])
    box = [float(xs[0]), float(y0.min()), float(xs[-1] - xs[0] + 1), float(y1.max() - y0.min() + 1)]
    return counts.tolist(), int(ones.sum()), box


def write_large_json(path: Path, year: str = "2019", target_bytes: int = 200 << 20, seed: int = 0) -> dict:
    """An official-format train json of at least ``target_bytes`` (1280x720 videos, moving ellipses),
    written as a stream; returns its counts."""
    rng = np.random.default_rng(seed)
    width, height = 1280, 720
    videos_done = tracks_done = masks = 0
    annotations_tmp = path.with_name(path.name + ".annotations")
    with open(path, "w") as out, open(annotations_tmp, "w+") as ann_out:
        out.write('{"info": {"description": "YouTube-VOS", "year": %d}, "licenses": [], "videos": [' % int(year))
        size = 0
        while size < target_bytes:
            videos_done += 1
            frames = int(rng.integers(12, 37))
            name = hashlib.sha1(f"large {seed} {videos_done}".encode()).hexdigest()[:10]
            video = {"width": width, "length": frames, "date_captured": _INFO[year], "license": 1, "flickr_url": "",
                     "file_names": [f"{name}/{k * STEP:05d}.jpg" for k in range(frames)], "id": videos_done,
                     "coco_url": "", "height": height}
            text = json.dumps(video)
            out.write((", " if videos_done > 1 else "") + text)
            size += len(text)
            for _ in range(int(rng.integers(1, 4))):
                tracks_done += 1
                first, last = sorted(rng.integers(0, frames, 2).tolist())
                cx, cy = rng.uniform(200, 1080), rng.uniform(150, 570)
                rx, ry = rng.uniform(30, 260), rng.uniform(30, 200)
                vx, vy = rng.uniform(-15, 15), rng.uniform(-8, 8)
                segs, boxes, areas = [], [], []
                for k in range(frames):
                    if first <= k <= last:
                        counts, area, box = ellipse_rle(cx + vx * k, cy + vy * k, rx, ry, width, height)
                        segs.append({"counts": counts, "size": [height, width]})
                        boxes.append(box)
                        areas.append(area)
                        masks += 1
                    else:
                        segs.append(None), boxes.append(None), areas.append(None)
                track = {"height": height, "width": width, "length": 1, "category_id": int(rng.integers(1, 41)),
                         "segmentations": segs, "bboxes": boxes, "video_id": videos_done, "iscrowd": 0,
                         "id": tracks_done, "areas": areas}
                text = json.dumps(track)
                ann_out.write((", " if tracks_done > 1 else "") + text)
                size += len(text)
        out.write('], "categories": ' + json.dumps(vis.official_categories(year)) + ', "annotations": [')
        ann_out.seek(0)
        while block := ann_out.read(1 << 20):
            out.write(block)
        out.write("]}")
    annotations_tmp.unlink()
    return {"videos": videos_done, "tracks": tracks_done, "masks": masks, "bytes": path.stat().st_size}
