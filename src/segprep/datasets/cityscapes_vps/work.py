"""The Cityscapes-VPS task actions the workers run, and the val video json finalize writes."""

from __future__ import annotations

import json

from segprep.encodings import cityscapes_vps as vps
from segprep.engine.tasks import Task, TaskContext
from segprep.io.images import encode_png_fast
from segprep.datasets._shared.cityscapes_vps_labels import frame_labels
from segprep.datasets._shared.cityscapes_vps_sources import parse_json


# ---------------------------------------------------------------------- actions (run in workers)


def place_json(ctx: TaskContext, task: Task) -> None:
    ctx.place(task.inputs[0], task.outputs[0], check=parse_json)


def convert_frame(ctx: TaskContext, task: Task) -> dict | None:
    """cls + inst -> panoptic_inst, labelmap (and val: panoptic_video); returns the segments for the val json."""
    label, panoptic = frame_labels(ctx, *task.inputs)
    ctx.write_bytes(task.outputs[0], encode_png_fast(panoptic))
    ctx.write_bytes(task.outputs[1], encode_png_fast(label))
    if not task.params["video"]:
        return None
    ctx.write_bytes(task.outputs[2], encode_png_fast(vps.panoptic_video_rgb(panoptic)))
    height, width = panoptic.shape
    return {"width": width, "height": height, "segments": vps.video_segments(panoptic)}


def video_json(frames: list[tuple[str, dict]], categories: list) -> bytes:
    images, annotations = [], []
    for name, extra in sorted(frames, key=lambda item: item[0]):  # the sorted glob of panoptic_inst/
        image_id = name.rsplit("_", 2)[0]
        images.append({"id": image_id, "width": extra["width"], "height": extra["height"],
                       "file_name": name.replace("final_mask", "newImg8bit").replace("gtFine_color", "leftImg8bit")})
        segments = [{"id": i, "category_id": c, "iscrowd": crowd, "area": area}
                    for i, c, crowd, area in extra["segments"]]
        annotations.append({"image_id": image_id, "file_name": name, "segments_info": segments})
    return json.dumps({"images": images, "annotations": annotations, "categories": categories}).encode()
