"""The VIPSeg actions the workers run: resize a frame to the target height and convert its mask; the panoptic
json a split's frames make."""

from __future__ import annotations

import numpy as np

from segprep.datasets._shared.video_frames import height_target, put_unchanged, write_image
from segprep.encodings import vipseg as enc
from segprep.engine.malloc import tune_malloc
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput
from segprep.io.images import decode_png_fast, encode_png_fast, jpeg_info, png_info, resize_jpeg, resize_nearest
from segprep.io.sources import Source
from segprep.datasets.vipseg import TARGET


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
