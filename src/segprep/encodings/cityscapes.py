"""Cityscapes encodings as pure functions: the official label table, id maps, panoptic ids, COCO RLE.

The label table is the one of the ``cityscapesscripts`` package (``helpers/labels.py``), used
as a library, never copied. Encodings (cityscapesScripts ``json2instanceImg`` help text and
``createPanopticImgs``; formats-image-vis.md section 2):

* labelIds: the label ``id`` (0-33), 0 = unlabeled.
* instanceIds ("ids" encoding): ``id * 1000 + k`` for each object of a class with instances
  (``k`` counts the class's objects from 0 in json order); groups (``cargroup``) and classes
  without instances keep the plain ``id``.
* trainId maps: the same with ``trainId`` (0-18, 255 void); classes whose trainId is 255
  (caravan, trailer) stay 255 even as instances.
* panoptic (createPanopticImgs): segment id = the instanceIds value, stored as
  ``R + 256 * G + 65536 * B``; classes ignored in evaluation are 0 (void).
* COCO RLE: runs in column-major order, alternately 0s and 1s, starting with 0s.

Everything here works on numpy arrays and plain values, so the Cityscapes-VPS/DVPS recipes can
share it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import numpy as np
from cityscapesscripts.helpers import labels as _official
from PIL import Image, ImageDraw

from segprep.encodings.segments import (Runs, SegmentStats, column_runs, compress_rles,  # noqa: F401 (part of
                                        rle_counts, segment_stats)  # this module's API: the recipes use cs.*)
from segprep.errors import BadInput
from segprep.io import accel

Label = _official.Label
LABELS: tuple[Label, ...] = tuple(_official.labels)
BY_NAME: dict[str, Label] = dict(_official.name2label)
BY_ID: dict[int, Label] = {label.id: label for label in LABELS if label.id >= 0}

DIVISOR = 1000  # instance ids: class * 1000 + k
VOID = 255  # trainId of every class not trained on
UNLABELED = BY_NAME["unlabeled"]
NUM_TRAIN_IDS = 19
# classes with instances that are evaluated: person .. bicycle (ids 24-28, 31-33; trainIds 11-18)
THING_IDS = tuple(label.id for label in LABELS if label.hasInstances and not label.ignoreInEval)
THING_TRAIN_IDS = tuple(BY_ID[i].trainId for i in THING_IDS)
_SPACE = 1 << 16  # every value a 16-bit instance map can hold


# ---------------------------------------------------------------------- the label table


def resolve_label(name: str) -> tuple[Label, bool]:
    """The label of a polygon's label name and whether it is a group (``cargroup`` -> car, True).

    As cityscapesScripts does: a name that is not a label but ends in ``group`` is that label's group.
    Raises KeyError for an unknown name.
    """
    if name in BY_NAME:
        return BY_NAME[name], False
    if name.endswith("group") and name[: -len("group")] in BY_NAME:
        return BY_NAME[name[: -len("group")]], True
    raise KeyError(name)


def class_of(value: int) -> int:
    """The label id an instanceIds value belongs to (26003 -> 26, 26 -> 26)."""
    return value // DIVISOR if value >= DIVISOR else value


@lru_cache(maxsize=None)
def train_id_lut() -> np.ndarray:
    """uint8[256]: label id -> trainId (255 for ids that are not labels)."""
    lut = np.full(256, VOID, np.uint8)
    for label_id, label in BY_ID.items():
        lut[label_id] = label.trainId
    lut.flags.writeable = False
    return lut


@lru_cache(maxsize=None)
def _classes() -> tuple[np.ndarray, np.ndarray]:
    """(class id of every 16-bit value, whether that value is a valid instanceIds value)."""
    values = np.arange(_SPACE)
    classes = np.where(values >= DIVISOR, values // DIVISOR, values)
    valid = np.isin(classes, list(BY_ID))
    return classes, valid


def valid_instance_values() -> np.ndarray:
    """bool[65536]: values an instanceIds map may hold (their class is a label id)."""
    return _classes()[1]


def unknown_values(instance_ids: np.ndarray, present: np.ndarray | None = None) -> list[int]:
    """The distinct values of an instanceIds map whose class is not a Cityscapes label
    (``present``: its distinct values when already known, e.g. ``SegmentStats.values``)."""
    if present is None:
        present = np.flatnonzero(np.bincount(instance_ids.ravel(), minlength=_SPACE))
    return [int(v) for v in present if v >= _SPACE or not valid_instance_values()[v]]


@lru_cache(maxsize=None)
def semantic_train_id_lut() -> np.ndarray:
    """uint8[65536]: instanceIds value -> trainId of its class (labelTrainIds)."""
    classes, valid = _classes()
    lut = np.where(valid, train_id_lut()[np.minimum(classes, 255)], VOID).astype(np.uint8)
    lut.flags.writeable = False
    return lut


@lru_cache(maxsize=None)
def instance_train_id_lut() -> np.ndarray:
    """uint16[65536]: instanceIds value -> instanceTrainIds value.

    ``trainId * 1000 + k`` for an instance whose class is trained on, the plain trainId for
    groups and stuff, 255 for everything void (caravan and trailer instances included).
    """
    values = np.arange(_SPACE)
    train = semantic_train_id_lut().astype(np.int64)
    instance = (values >= DIVISOR) & (train != VOID)
    lut = np.where(instance, train * DIVISOR + values % DIVISOR, train).astype(np.uint16)
    lut.flags.writeable = False
    return lut


def label_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """labelIds (uint8) -> labelTrainIds."""
    return np.take(train_id_lut(), label_ids)


def train_ids_of_instance_ids(instance_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labelTrainIds uint8, instanceTrainIds uint16) of an instanceIds map (values < 65536)."""
    return np.take(semantic_train_id_lut(), instance_ids), np.take(instance_train_id_lut(), instance_ids)


# ---------------------------------------------------------------------- polygons -> instanceIds


def rasterize(annotation: dict[str, Any], name: str) -> np.ndarray:
    """The instanceIds map ("ids" encoding, int64) of a ``*_polygons.json`` document.

    Polygons are filled with Pillow in json order, later ones over earlier ones, skipping deleted
    objects and labels without an id (license plate), exactly as cityscapesScripts'
    ``json2labelImg`` / ``json2instanceImg`` do; both of its trainId maps follow through
    ``train_ids_of_instance_ids`` (the pixels a polygon covers do not depend on the value drawn).
    ``name`` names the file in errors.
    """
    index, values = rasterize_indexed(annotation, name)
    return np.take(values, index)


def rasterize_indexed(annotation: dict[str, Any], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(index map, instanceIds value of each index): what ``rasterize`` draws, as the number of the
    object that painted each pixel (0 = none) and a table of their values.

    The index map is 8-bit when at most 255 objects are drawn (Pillow fills those ~2x faster than
    32-bit images, and per-pixel lookups through a 256-entry table are cheap); the pixels each
    polygon covers are the same in every image mode.
    """
    try:
        size = (int(annotation["imgWidth"]), int(annotation["imgHeight"]))
        objects = annotation["objects"]
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{name}: not a Cityscapes polygons file (missing or bad {exc})") from None
    drawn: list[tuple[list, int, int]] = []  # (polygon, value, object index)
    counters: dict[str, int] = {}
    for index, obj in enumerate(objects):
        try:
            if obj.get("deleted"):
                continue
            label, group = resolve_label(str(obj["label"]))
            polygon = [(point[0], point[1]) for point in obj["polygon"]]
        except KeyError as exc:
            raise BadInput(f"{name}: object {index} has an unknown label or no {exc}") from None
        except (AttributeError, TypeError, IndexError) as exc:
            raise BadInput(f"{name}: object {index} is malformed ({exc})") from None
        if label.id < 0:
            continue
        value = label.id
        if label.hasInstances and not group:
            k = counters.get(label.name, 0)
            if k >= DIVISOR:
                raise BadInput(f"{name}: more than {DIVISOR} '{label.name}' objects; instance ids would overflow")
            counters[label.name] = k + 1
            value = label.id * DIVISOR + k
        drawn.append((polygon, value, index))
    image = Image.new("L" if len(drawn) < 256 else "I", size, 0)
    draw = ImageDraw.Draw(image)
    for number, (polygon, _, index) in enumerate(drawn, start=1):
        try:
            draw.polygon(polygon, fill=number)
        except (ValueError, TypeError) as exc:
            raise BadInput(f"{name}: object {index} ('{objects[index]['label']}') cannot be drawn: {exc}") from None
    values = np.array([UNLABELED.id] + [value for _, value, _ in drawn], np.int64)
    return np.asarray(image), values


def train_ids_of_indexed(index: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labelTrainIds, instanceTrainIds) of ``rasterize_indexed``'s result, without the full instanceIds map."""
    label_table = np.take(semantic_train_id_lut(), values)
    kernels = accel.kernels()
    if index.dtype == np.uint8 and kernels is not None:  # both tables in one compiled pass over the pixels
        labels, instances = np.zeros(256, np.uint8), np.zeros(256, np.uint16)
        labels[: len(values)] = label_table
        instances[: len(values)] = np.take(instance_train_id_lut(), values)
        label, instance = np.empty(index.shape, np.uint8), np.empty(index.shape, np.uint16)
        kernels.lookup_pair(np.ascontiguousarray(index), labels, instances, label, instance)
        return label, instance
    if index.dtype == np.uint8:  # Pillow's point() maps 8-bit images through a table ~1.5x faster than numpy
        padded = np.zeros(256, np.uint8)
        padded[: len(label_table)] = label_table
        label = np.asarray(Image.fromarray(index).point(padded.tolist()))
    else:
        label = np.take(label_table, index)
    return label, np.take(np.take(instance_train_id_lut(), values), index)


# ---------------------------------------------------------------------- panoptic (createPanopticImgs)


@lru_cache(maxsize=None)
def panoptic_rgb_lut() -> np.ndarray:
    """uint8[65536, 3]: instanceIds value -> panoptic colour (R + 256 G + 65536 B = value), 0 where void."""
    values = np.arange(_SPACE)
    keep = evaluated_values()
    lut = np.stack([values % 256, values // 256 % 256, values // 65536], axis=1)
    lut = np.where(keep[:, None], lut, 0).astype(np.uint8)
    lut.flags.writeable = False
    return lut


@lru_cache(maxsize=None)
def evaluated_values() -> np.ndarray:
    """bool[65536]: instanceIds values that become panoptic segments (class known and evaluated)."""
    classes, valid = _classes()
    evaluated = np.zeros(256, bool)
    for label_id, label in BY_ID.items():
        evaluated[label_id] = not label.ignoreInEval
    out = valid & evaluated[np.minimum(classes, 255)]
    out.flags.writeable = False
    return out


@lru_cache(maxsize=None)
def _panoptic_value_lut() -> np.ndarray:
    """uint16[65536]: instanceIds value -> itself where it becomes a panoptic segment, 0 elsewhere."""
    lut = np.where(evaluated_values(), np.arange(_SPACE), 0).astype(np.uint16)
    lut.flags.writeable = False
    return lut


# One RGB pixel as a little-endian 16-bit id (R + 256 G) and B (0 here: instanceIds values are 16-bit)
_RGB_PIXEL = np.dtype([("rg", "<u2"), ("b", "u1")])


def panoptic_rgb(instance_ids: np.ndarray) -> np.ndarray:
    """The (H, W, 3) uint8 panoptic PNG pixels of an instanceIds map.

    For a uint16 map (what the decoder returns): one 16-bit table lookup written into 3-byte pixels
    (~2.5x faster than gathering rows of a (65536, 3) table along axis 0); the same pixels."""
    if instance_ids.dtype == np.uint16 and instance_ids.ndim == 2 and accel.enabled():
        height, width = instance_ids.shape
        pixels = np.zeros(height * width, _RGB_PIXEL)
        pixels["rg"] = np.take(_panoptic_value_lut(), instance_ids.reshape(-1))
        return pixels.view(np.uint8).reshape(height, width, 3)
    return np.take(panoptic_rgb_lut(), instance_ids, axis=0)


def rgb_to_id(rgb: np.ndarray) -> np.ndarray:
    """COCO-panoptic id of each pixel: R + 256 G + 65536 B (uint32)."""
    ids = rgb[..., 0].astype(np.uint32)
    ids |= rgb[..., 1].astype(np.uint32) << 8
    ids |= rgb[..., 2].astype(np.uint32) << 16
    return ids


def segment_category(value: int, train_id: bool = False) -> tuple[int, int]:
    """(category id, iscrowd) of a panoptic segment id, as createPanopticImgs assigns them."""
    label = BY_ID[class_of(value)]
    crowd = int(value < DIVISOR and label.hasInstances)
    return (label.trainId if train_id else label.id), crowd


def panoptic_segments(stats: SegmentStats, train_id: bool = False) -> list[dict]:
    """``segments_info`` of an instanceIds map's stats: evaluated values ascending, with
    id, category_id, area, bbox (x, y, w, h) and iscrowd."""
    keep = evaluated_values()
    out = []
    for value, area, box in zip(stats.values.tolist(), stats.areas.tolist(), stats.boxes.tolist()):
        if not keep[value]:
            continue
        category, crowd = segment_category(value, train_id)
        out.append({"id": value, "category_id": category, "area": area, "bbox": box, "iscrowd": crowd})
    return out


def panoptic_categories(train_id: bool = False) -> list[dict]:
    """The ``categories`` of createPanopticImgs: the 19 evaluated labels in table order."""
    return [
        {"id": label.trainId if train_id else label.id, "name": label.name, "color": list(label.color),
         "supercategory": label.category, "isthing": 1 if label.hasInstances else 0}
        for label in LABELS if not label.ignoreInEval
    ]


def instance_categories() -> list[dict]:
    """The ``categories`` of mmdetection's Cityscapes converter: evaluated thing labels, label ids."""
    return [{"id": label.id, "name": label.name} for label in LABELS if label.hasInstances and not label.ignoreInEval]


def instance_values(stats: SegmentStats) -> list[int]:
    """The instanceIds values mmdetection's converter annotates, ascending: >= 24, of an evaluated class with
    instances (groups included, as crowd)."""
    return [v for v in stats.values.tolist() if 24 <= v < _SPACE and evaluated_values()[v]
            and BY_ID[class_of(v)].hasInstances]


def instance_annotations(stats: SegmentStats, height: int, width: int) -> list[dict]:
    """mmdetection's per-instance entries of an instanceIds map: every value >= 24 whose class has
    instances and is evaluated, ascending; groups are crowd; compressed RLE, area and float box
    computed by pycocotools from the RLE. Keys in mmdetection's order (no ids yet)."""
    from pycocotools import mask as mask_utils

    values = instance_values(stats)
    rles = compress_rles(stats, values, height, width)
    if not rles:
        return []
    encoded = [{"size": r["size"], "counts": r["counts"].encode("ascii")} for r in rles]
    areas = mask_utils.area(encoded).tolist()
    boxes = mask_utils.toBbox(encoded).tolist()
    return [
        {"iscrowd": int(v < DIVISOR), "category_id": class_of(v), "bbox": box, "area": area, "segmentation": rle}
        for v, rle, area, box in zip(values, rles, areas, boxes)
    ]


def dumps_panoptic(images: list[dict], annotations: list[dict], categories: list[dict]) -> bytes:
    """``json.dumps({"annotations", "categories", "images"}, sort_keys=True, indent=4)`` byte for byte, as
    createPanopticImgs writes it, for its fixed shape (images: file_name, height, id, width; annotations:
    file_name, image_id, segments_info of area, bbox, category_id, id, iscrowd) without the pure-Python
    indenting encoder: ~20x faster on a whole split."""
    q = json.dumps

    def segment(s: dict) -> str:
        x, y, w, h = s["bbox"]
        p = " " * 16
        return (f'{p}{{\n{p}    "area": {int(s["area"])},\n{p}    "bbox": [\n{p}        {int(x)},\n{p}        {int(y)},\n'
                f'{p}        {int(w)},\n{p}        {int(h)}\n{p}    ],\n{p}    "category_id": {int(s["category_id"])},\n'
                f'{p}    "id": {int(s["id"])},\n{p}    "iscrowd": {int(s["iscrowd"])}\n{p}}}')

    def annotation(a: dict) -> str:
        segments = ",\n".join(segment(s) for s in a["segments_info"])
        listed = f"[\n{segments}\n            ]" if segments else "[]"
        return (f'        {{\n            "file_name": {q(a["file_name"])},\n            "image_id": {q(a["image_id"])},\n'
                f'            "segments_info": {listed}\n        }}')

    def image(i: dict) -> str:
        return (f'        {{\n            "file_name": {q(i["file_name"])},\n            "height": {int(i["height"])},\n'
                f'            "id": {q(i["id"])},\n            "width": {int(i["width"])}\n        }}')

    def block(items: list[str]) -> str:
        return "[\n" + ",\n".join(items) + "\n    ]" if items else "[]"

    cats = json.dumps(categories, sort_keys=True, indent=4).replace("\n", "\n    ")
    text = (f'{{\n    "annotations": {block([annotation(a) for a in annotations])},\n    "categories": {cats},\n'
            f'    "images": {block([image(i) for i in images])}\n}}')
    return text.encode()
