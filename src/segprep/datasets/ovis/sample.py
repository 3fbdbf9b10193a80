"""A miniature OVIS download in the official format (``segprep sample ovis``), following the dossier.

Written: ``train.zip``, ``valid.zip``, ``test.zip`` (a folder of the split's name holding
``<split>/<video>/img_0000001.jpg``..., no ``JPEGImages/`` level, the annotated frames renumbered
from 1) and the loose ``annotations_{train,valid,test}.json``. Video folders are 8 hex digits;
frame sizes differ between videos. The jsons have the YouTube-VIS shape with OVIS's twists: the 25
categories as published (``Vehical``), ``"annotations": null`` in valid and test, per-track
``height``/``width`` and, unless ``--without-occlusion``, a per-frame ``occlusion`` list
(``no_occlusion``/``slight_occlusion``/``severe_occlusion``, null where the object is absent).

Points the dossier marks unverified are options: ``--rle string`` (default; compressed COCO RLE,
the common belief), ``list`` (uncompressed) or ``mixed`` (alternating per track); the categories'
``supercategory`` and the video records' extra keys copy YouTube-VIS's. The frames are street scenes
(``samples/scenes.py``) whose people and cars are the tracks (``Person`` and ``Vehical``); tracks are
listed latest-appearing first, so the CocoVID instance ids (given at first appearance) differ from
the official order, and a person in front of a car makes the car's occlusion level non-trivial.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from segprep.encodings import youtube_vis as vis
from segprep.engine.parallel import imap_ordered
from segprep.samples.archives import write_zip
from segprep.samples.scenes import CAR, PERSON
from segprep.datasets.youtube_vis.sample import render_objects

# split -> (frame size (width, height), scene seed) of each video
VIDEOS = {
    "train": [((384, 216), 9), ((320, 180), 10), ((384, 216), 31)],
    "valid": [((384, 216), 107)],
    "test": [((320, 180), 207)],
}
STEP = 5  # scene time between two annotated frames (OVIS annotates every 5th frame)
_CLASSES = {PERSON: vis.CATEGORIES["ovis"].index("Person") + 1, CAR: vis.CATEGORIES["ovis"].index("Vehical") + 1}
_DATE = "2021-03-29 08:40:10.151040"
RLE_FORMS = ("string", "list", "mixed")


def video_name(split: str, index: int) -> str:
    return hashlib.sha1(f"ovis {split} {index}".encode()).hexdigest()[:8]


def frame_name(k: int) -> str:
    return f"img_{k + 1:07d}.jpg"


def write_sample(out: Path, frames: int = 4, rle: str = "string", occlusion: bool = True, jobs: int = 1) -> list[Path]:
    if rle not in RLE_FORMS:
        from segprep.errors import SegprepError

        raise SegprepError(f"--rle {rle!r}: choose from {', '.join(RLE_FORMS)}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for split, videos in VIDEOS.items():
        items = [(split, index, k, split == "train") for index in range(len(videos)) for k in range(frames)]
        rendered = {}
        for item, result in zip(items, imap_ordered(render_frame, items, jobs)):
            if isinstance(result, Exception):
                raise result
            rendered[item[1], item[2]] = result
        members = [(f"{split}/{video_name(split, i)}/{frame_name(k)}", jpeg)
                   for (i, k), (jpeg, _) in sorted(rendered.items())]
        write_zip(out / f"{split}.zip", members)
        document = official_json(split, frames, rendered, rle, occlusion)
        (out / f"annotations_{split}.json").write_bytes(document)
        written += [out / f"{split}.zip", out / f"annotations_{split}.json"]
    return written


def render_frame(item) -> tuple[bytes, dict | None]:
    """JPEG bytes of one frame and, when annotated, {instance: (class, Fortran-ordered uint8 mask)}."""
    split, index, k, annotate = item
    (width, height), seed = VIDEOS[split][index]
    jpeg, objects = render_objects(seed, width, height, k * STEP, annotate)
    if objects is None:
        return jpeg, None
    return jpeg, {ident: (cls, np.asfortranarray(mask.astype(np.uint8))) for ident, (cls, mask) in objects.items()}


def _occlusion(mask: np.ndarray, first_area: int) -> str:
    """A level from the visible fraction of the object (its largest visible area stands for its full size)."""
    fraction = int(mask.sum()) / max(first_area, 1)
    return "no_occlusion" if fraction > 0.9 else "slight_occlusion" if fraction > 0.5 else "severe_occlusion"


def _rle(mask: np.ndarray, compressed: bool) -> dict:
    if not compressed:
        return vis.rle_encode(mask.astype(bool))
    from pycocotools import mask as mask_utils

    encoded = mask_utils.encode(mask)
    return {"size": [int(s) for s in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def official_json(split: str, frames: int, rendered: dict, rle: str, occlusion: bool) -> bytes:
    videos, annotations = [], []
    for index, ((width, height), _) in enumerate(VIDEOS[split]):
        name = video_name(split, index)
        videos.append({"width": width, "length": frames, "date_captured": _DATE, "license": 1, "flickr_url": "",
                       "file_names": [f"{name}/{frame_name(k)}" for k in range(frames)], "id": index + 1,
                       "coco_url": "", "height": height})
        if split != "train":
            continue
        per_frame = [rendered[index, k][1] for k in range(frames)]
        idents = sorted({i for objects in per_frame for i in objects})
        first = {i: next(k for k, objects in enumerate(per_frame) if i in objects) for i in idents}
        for ident in sorted(idents, key=lambda i: (-first[i], i)):  # latest-appearing first
            seen = [objects.get(ident) for objects in per_frame]
            cls = next(s[0] for s in seen if s is not None)
            compressed = rle == "string" or (rle == "mixed" and len(annotations) % 2 == 0)
            largest = max(int(s[1].sum()) for s in seen if s is not None)
            track = {
                "id": len(annotations) + 1, "video_id": index + 1, "category_id": _CLASSES[cls],
                "segmentations": [s and _rle(s[1], compressed) for s in seen],
                "bboxes": [s and vis.mask_bbox(s[1]) for s in seen],
                "areas": [s and int(s[1].sum()) for s in seen],
                "iscrowd": 0, "height": height, "width": width,
            }
            if occlusion:
                track["occlusion"] = [s and _occlusion(s[1], largest) for s in seen]
            annotations.append(track)
    document = {
        "info": {"description": "OVIS", "url": "http://songbai.site/ovis/", "version": "1.0", "year": 2021,
                 "contributor": "segprep sample", "date_created": _DATE},
        "licenses": [{"url": "https://creativecommons.org/licenses/by-nc-sa/4.0/", "id": 1,
                      "name": "Creative Commons Attribution-NonCommercial-ShareAlike 4.0 License"}],
        "videos": videos,
        "categories": vis.official_categories("ovis"),
        "annotations": annotations if split == "train" else None,
    }
    return json.dumps(document).encode()
