"""The Cityscapes task actions the workers run (trainId maps, panoptic PNGs) and the json documents finalize writes."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from segprep.encodings import cityscapes as cs
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput
from segprep.io.images import decode_png_fast, encode_png_fast, png_info
from segprep.datasets.cityscapes import LABELLED


# ---------------------------------------------------------------------- tasks


def gt_path(split: str, city: str, stem: str, kind: str) -> str:
    return f"gtFine/{split}/{city}/{stem}_gtFine_{kind}"


def panoptic_path(split: str, stem: str, train_id: bool = False) -> str:
    return f"gtFine/cityscapes_panoptic_{split}{'_trainId' if train_id else ''}/{stem}_gtFine_panoptic.png"


def place_license(ctx: TaskContext, task: Task) -> None:
    ctx.place(task.inputs[0], task.outputs[0], check=_check_text)


def _check_text(data: bytes, name: str) -> None:
    if not data.strip():
        raise BadInput(f"{name} is empty; take license.txt from the official zips")


def _parse_polygons(data: bytes, name: str) -> dict:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{name} is not valid JSON ({exc}); it is damaged or truncated") from None
    if not isinstance(document, dict) or not isinstance(document.get("objects"), list):
        raise BadInput(f"{name}: not a Cityscapes polygons file (no 'objects' list)")
    return document


def _decode_instance_ids(data: bytes, name: str) -> np.ndarray:
    ids = decode_png_fast(data, name)
    if ids.ndim != 2:
        raise BadInput(f"{name}: expected a one-channel instanceIds PNG, found shape {ids.shape}")
    return ids.astype(np.uint16, copy=False)


def convert_frame(ctx: TaskContext, task: Task) -> dict | None:
    """polygons json + instanceIds -> both placed, trainId maps, and (train/val) the panoptic PNG(s);
    returns the frame's panoptic segments and instance annotations for ``write_jsons``."""
    polygons, instance_source = task.inputs
    out = task.outputs
    labelled = task.params["split"] in LABELLED
    # both inputs are checked before anything is written, so a bad frame leaves no partial outputs
    annotation = _parse_polygons(ctx.read(polygons), polygons.describe())
    instance_data = ctx.read(instance_source)
    instance_ids = _decode_instance_ids(instance_data, instance_source.describe()) if labelled else \
        _check_any_png(instance_data, instance_source.describe())
    ctx.place(polygons, out[0])
    ctx.place(instance_source, out[1])
    label_train, instance_train = cs.train_ids_of_indexed(*cs.rasterize_indexed(annotation, polygons.describe()))
    ctx.write_bytes(out[2], encode_png_fast(label_train))
    ctx.write_bytes(out[3], encode_png_fast(instance_train))
    if not labelled:
        return None
    stats = cs.segment_stats(cs.column_runs(instance_ids))
    unknown = cs.unknown_values(instance_ids, stats.values)
    if unknown:
        raise BadInput(f"{instance_source.describe()}: values {unknown[:10]} are not Cityscapes ids (class = value "
                       "// 1000 or value must be a label id 0-33); the file is damaged")
    panoptic = encode_png_fast(cs.panoptic_rgb(instance_ids))
    for rel in out[4:]:
        ctx.write_bytes(rel, panoptic)
    height, width = instance_ids.shape
    segments = [[s["id"], s["area"], *s["bbox"]] for s in cs.panoptic_segments(stats)]
    instances = [[a["iscrowd"], a["category_id"], a["bbox"], a["area"], a["segmentation"]["counts"]]
                 for a in cs.instance_annotations(stats, height, width)]
    return {"height": height, "width": width, "segments": segments, "instances": instances}


def _check_any_png(data: bytes, name: str) -> None:
    png_info(data, name)


def detectron2_json(split: str) -> str:
    return f"gtFine/cityscapes_panoptic_{split}.json"


def panoptic_json(frames: list[tuple[str, str, dict]], train_id: bool) -> bytes:
    """createPanopticImgs' json, byte for byte: sort_keys=True, indent=4, no final newline."""
    images, annotations = [], []
    for _city, stem, extra in frames:
        images.append({"id": stem, "width": extra["width"], "height": extra["height"],
                       "file_name": f"{stem}_gtFine_leftImg8bit.png"})  # sic: the official name
        segments = []
        for value, area, x, y, w, h in extra["segments"]:
            category, crowd = cs.segment_category(value, train_id)
            segments.append({"id": value, "category_id": category, "area": area, "bbox": [x, y, w, h], "iscrowd": crowd})
        annotations.append({"image_id": stem, "file_name": f"{stem}_gtFine_panoptic.png", "segments_info": segments})
    return cs.dumps_panoptic(images, annotations, cs.panoptic_categories(train_id))


def instance_json(frames: list[tuple[str, str, dict]], segm_trainid: bool) -> bytes:
    """mmdetection's instancesonly_filtered json (key order and separators of its json.dump), ids from 0
    in sorted image order."""
    images, annotations = [], []
    segm = "labelTrainIds" if segm_trainid else "labelIds"
    for image_id, (city, stem, extra) in enumerate(frames):
        images.append({"file_name": f"{city}/{stem}_leftImg8bit.png", "height": extra["height"],
                       "width": extra["width"], "segm_file": f"{city}/{stem}_gtFine_{segm}.png", "id": image_id})
        for crowd, category, bbox, area, counts in extra["instances"]:
            annotations.append({"iscrowd": crowd, "category_id": category, "bbox": bbox, "area": area,
                                "segmentation": {"size": [extra["height"], extra["width"]], "counts": counts},
                                "image_id": image_id, "id": len(annotations)})
    document: dict[str, Any] = {"images": images, "categories": cs.instance_categories(), "annotations": annotations}
    if not annotations:
        document.pop("annotations")  # as mmdetection does for a split without instances
    return json.dumps(document).encode()
