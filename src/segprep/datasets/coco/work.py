"""The COCO tasks and the actions the workers run: place images and jsons, convert panoptic PNGs."""

from __future__ import annotations

import numpy as np

from segprep.encodings import coco
from segprep.engine.malloc import tune_malloc
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput
from segprep.io.images import decode_png_fast, encode_png_fast, png_info
from segprep.io.sources import FileSource, Source
from segprep.datasets._shared.actions import report_missing
from segprep.datasets.coco import IMAGES, PANOPTIC


# ---------------------------------------------------------------------- tasks


def _image_tasks(split: str, images: dict[str, Source], panoptic: dict) -> list[Task]:
    tasks = []
    for name, source in sorted(images.items()):
        rel = f"{split}2017/{name}"
        tasks.append(Task(rel, place_jpeg, (source,), (rel,), group=f"{split} images"))
    listed = sorted({str(img.get("file_name")) for img in panoptic.get("images", [])} - set(images))
    for name in listed:
        rel = f"{split}2017/{name}"
        tasks.append(Task(rel, report_missing, (), (rel,), {"message": (
            f"image {name}, listed in panoptic_{split}2017.json, is in none of the downloads: expected "
            f"{split}2017/{name} from {IMAGES[split].filename}")}, f"{split} images", size_hint=0))
    return tasks


def _panoptic_tasks(split: str, pngs: dict[str, Source], panoptic: dict, thing_only: bool) -> tuple[list[Task], int]:
    sizes = {img.get("id"): (img.get("width"), img.get("height")) for img in panoptic.get("images", [])}
    tasks, listed = [], set()
    for ann in panoptic["annotations"]:
        name = str(ann.get("file_name"))
        listed.add(name)
        png_rel, stuff_rel = f"panoptic_{split}2017/{name}", f"panoptic_stuff_{split}2017/{name}"
        segments = [[s.get("id"), s.get("category_id")] for s in ann.get("segments_info", [])]
        source = pngs.get(name)
        if source is None:
            tasks.append(Task(png_rel, report_missing, (), (png_rel, stuff_rel), {"message": (
                f"panoptic PNG {name}, listed in panoptic_{split}2017.json, is in none of the downloads: expected "
                f"panoptic_{split}2017/{name} in annotations/panoptic_{split}2017.zip inside {PANOPTIC.filename}")},
                f"{split} panoptic", size_hint=0))
            continue
        size = sizes.get(ann.get("image_id"))
        tasks.append(Task(png_rel, convert_panoptic, (source,), (png_rel, stuff_rel),
                          {"segments": segments, "size": list(size) if size else None},
                          f"{split} panoptic + panoptic_stuff", size_hint=source.size * 2))
        if thing_only:
            things = [[s.get("id"), s.get("category_id"), s.get("iscrowd", 0), s.get("area"), s.get("bbox")]
                      for s in ann.get("segments_info", []) if s.get("category_id") in coco.THING_IDS]
            tasks.append(Task(f"thing-only/{name}", thing_rles, (source,), (),
                              {"things": things, "image_id": ann.get("image_id")}, "train thing-only RLE",
                              size_hint=0))
    return tasks, len(set(pngs) - listed)


# ---------------------------------------------------------------------- actions (run in workers)


def place_jpeg(ctx: TaskContext, task: Task) -> None:
    """Places a photo unchanged after a cheap check that it is a complete JPEG (start and end markers)."""
    source = task.inputs[0]
    if isinstance(source, FileSource):  # read only its ends; the file itself is linked
        with open(source.path, "rb") as f:
            head = f.read(3)
            f.seek(max(0, source.size - 1024))
            tail = f.read()
        check_jpeg(head, tail, source.describe())
        ctx.place(source, task.outputs[0])
    else:
        ctx.place(source, task.outputs[0], check=lambda data, name: check_jpeg(data[:3], data[-1024:], name))


def check_jpeg(head: bytes, tail: bytes, name: str) -> None:
    if head != b"\xff\xd8\xff":
        raise BadInput(f"{name} is not a JPEG file ({'empty' if not head else 'wrong signature'})")
    if b"\xff\xd9" not in tail:
        raise BadInput(f"{name} is truncated: no JPEG end marker (interrupted download or extraction?)")


def convert_panoptic(ctx: TaskContext, task: Task) -> None:
    """Places the panoptic PNG unchanged and writes its panoptic_stuff map (decoded once)."""
    tune_malloc()
    png_rel, stuff_rel = task.outputs
    segments, size = task.params["segments"], task.params["size"]
    stuff = ctx.place(task.inputs[0], png_rel, check=lambda data, name: panoptic_stuff_png(data, name, segments, size))
    ctx.write_bytes(stuff_rel, stuff)


def panoptic_stuff_png(data: bytes, name: str, segments: list, size) -> bytes:
    """PNG bytes of the panoptic_stuff map of a panoptic PNG (``segments``: [segment id, category id] pairs)."""
    ids = decode_ids(data, name, size)
    try:
        stuff = coco.panoptic_stuff(ids, segments)
    except KeyError as exc:
        raise BadInput(f"{name}: its segments_info names category {exc}, which is no COCO panoptic category") from None
    except (TypeError, ValueError) as exc:
        raise BadInput(f"{name}: bad segments_info in the panoptic json ({exc})") from None
    return encode_png_fast(stuff)


def decode_ids(data: bytes, name: str, size) -> np.ndarray:
    """Segment ids of a panoptic PNG after checking it is complete, 8-bit RGB and of the json's size."""
    info = png_info(data, name)
    if info.color_type != 2 or info.bit_depth != 8:
        raise BadInput(f"{name}: expected an 8-bit RGB PNG, found colour type {info.color_type}, {info.bit_depth} bit")
    if size is not None and [info.width, info.height] != list(size):
        raise BadInput(f"{name} is {info.width}x{info.height}, its json entry says {size[0]}x{size[1]}")
    return coco.rgba2id(decode_png_fast(data, name, rgba=True, info=info))


def thing_rles(ctx: TaskContext, task: Task) -> list[dict]:
    """The thing segments of one image as COCO instance annotations (RLE via pycocotools), without ids."""
    from pycocotools import mask as mask_utils

    source = task.inputs[0]
    ids = decode_ids(ctx.read(source), source.describe(), None)
    out = []
    for segment_id, category_id, iscrowd, area, bbox in task.params["things"]:
        rle = mask_utils.encode(np.asfortranarray(ids == segment_id, dtype=np.uint8))
        rle["counts"] = rle["counts"].decode("ascii")
        out.append({"area": area, "bbox": bbox, "category_id": category_id, "image_id": task.params["image_id"],
                    "iscrowd": iscrowd, "segmentation": rle})
    return out
