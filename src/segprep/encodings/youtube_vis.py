"""YouTube-VIS: the official categories, uncompressed COCO RLE, and the CocoVID records of one video.

The CocoVID records are those of mmtracking's ``tools/convert_datasets/youtubevis/youtubevis2coco.py``
(the converter Video K-Net ships too), value for value: every listed frame is an image with a
0-based ``frame_id``; image, annotation and instance ids are global counters from 1; a track's
``instance_id`` is given at its first annotated frame (frames in order, tracks in json order
within a frame); official video ids, boxes, areas and RLE are copied unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# Category names by id 1..40 (lxtGH/Video-K-Net mmtrack/datasets/youtube_vis_dataset.py CLASSES_2019_version
# and CLASSES_2021_version; same order as Mask2Former's YTVIS_CATEGORIES_2019/2021), and OVIS's 25 by id 1..25
# exactly as published, misspellings included (qjy981010/CMaskTrack-RCNN mmdet/datasets/ovis.py; the same list
# in DVIS's ytvis.py and Tube-Link's CLASSES_ovis): the mm-family loaders select classes by name, so a
# corrected "Vehicle" or "Giant_Panda" would silently drop a class.
CATEGORIES = {
    "2019": (
        "person", "giant_panda", "lizard", "parrot", "skateboard", "sedan", "ape", "dog", "snake", "monkey",
        "hand", "rabbit", "duck", "cat", "cow", "fish", "train", "horse", "turtle", "bear",
        "motorbike", "giraffe", "leopard", "fox", "deer", "owl", "surfboard", "airplane", "truck", "zebra",
        "tiger", "elephant", "snowboard", "boat", "shark", "mouse", "frog", "eagle", "earless_seal", "tennis_racket",
    ),
    "2021": (
        "airplane", "bear", "bird", "boat", "car", "cat", "cow", "deer", "dog", "duck",
        "earless_seal", "elephant", "fish", "flying_disc", "fox", "frog", "giant_panda", "giraffe", "horse", "leopard",
        "lizard", "monkey", "motorbike", "mouse", "parrot", "person", "rabbit", "shark", "skateboard", "snake",
        "snowboard", "squirrel", "surfboard", "tennis_racket", "tiger", "train", "truck", "turtle", "whale", "zebra",
    ),
    "ovis": (
        "Person", "Bird", "Cat", "Dog", "Horse", "Sheep", "Cow", "Elephant", "Bear", "Zebra",
        "Giraffe", "Poultry", "Giant_panda", "Lizard", "Parrot", "Monkey", "Rabbit", "Tiger", "Fish", "Turtle",
        "Bicycle", "Motorcycle", "Airplane", "Boat", "Vehical",
    ),
}


def dataset_title(version: str) -> str:
    """How messages name a category version: "OVIS" or "YouTube-VIS 2019"."""
    return "OVIS" if version == "ovis" else f"YouTube-VIS {version}"


def recipe_name(version: str) -> str:
    """The segprep recipe that prepares files of this category version."""
    return "ovis" if version == "ovis" else f"youtube-vis-{version}"


def official_categories(version: str) -> list[dict]:
    """The ``categories`` list of the official jsons (supercategory "object" for all)."""
    return [{"supercategory": "object", "id": i, "name": name} for i, name in enumerate(CATEGORIES[version], 1)]


def category_version(names: Sequence[str]) -> str | None:
    """The version ("2019", "2021", "ovis") whose category names (by id order) these are, or None."""
    for version, official in CATEGORIES.items():
        if tuple(names) == official:
            return version
    return None


# ---------------------------------------------------------------------- RLE


def rle_encode(mask: np.ndarray) -> dict:
    """Uncompressed COCO RLE of a boolean (H, W) mask: run lengths in column-major order, starting with 0s."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"counts": counts, "size": [int(mask.shape[0]), int(mask.shape[1])]}


def mask_bbox(mask: np.ndarray) -> list[float]:
    """[x, y, width, height] of the mask's pixels as floats (pycocotools ``toBbox``); zeros when empty."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


# ---------------------------------------------------------------------- CocoVID records of one video


def video_record(video: Mapping[str, Any]) -> dict:
    """The ``videos`` entry (mmtracking keeps the official id; width/height as in its current converter)."""
    return {"id": video["id"], "name": video["file_names"][0].split("/")[0],
            "width": video["width"], "height": video["height"]}


def image_records(video: Mapping[str, Any], first_image_id: int) -> list[dict]:
    """One ``images`` entry per listed frame, annotated or not."""
    return [
        {"file_name": name, "height": video["height"], "width": video["width"], "id": first_image_id + frame_id,
         "frame_id": frame_id, "video_id": video["id"]}
        for frame_id, name in enumerate(video["file_names"])
    ]


def annotation_records(video: Mapping[str, Any], tracks: Sequence[Mapping[str, Any]], first_image_id: int,
                       first_annotation_id: int, first_instance_id: int) -> list[dict]:
    """The ``annotations`` entries of one video from its official tracks (in json order).

    Frame-major: frame 0's objects first, tracks in json order within a frame. A track's
    instance id is the next free one at its first annotated frame; tracks sharing an official
    id in one video share it.
    """
    out: list[dict] = []
    instances: dict[Any, int] = {}
    for frame_id in range(len(video["file_names"])):
        for track in tracks:
            bbox = track["bboxes"][frame_id]
            if bbox is None:
                continue
            instance_id = instances.get(track["id"])
            if instance_id is None:
                instance_id = instances[track["id"]] = first_instance_id + len(instances)
            out.append({
                "id": first_annotation_id + len(out),
                "video_id": video["id"],
                "image_id": first_image_id + frame_id,
                "category_id": track["category_id"],
                "instance_id": instance_id,
                "bbox": bbox,
                "segmentation": track["segmentations"][frame_id],
                "area": track["areas"][frame_id],
                "iscrowd": track["iscrowd"],
            })
    return out
