"""The VSPW tasks of a video and the actions the workers run: resize a frame and its mask (or link them)."""

from __future__ import annotations

import json

from segprep.datasets._shared.actions import report_missing
from segprep.datasets._shared.video_frames import height_target, put_unchanged
from segprep.encodings import vspw as enc
from segprep.engine.malloc import tune_malloc
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput
from segprep.io.images import encode_png_fast, jpeg_info, png_info, resize_jpeg, resize_nearest
from segprep.io.sources import Source
from segprep.datasets.vspw import DOWNLOAD, Key, LABELLED_SPLITS, PAGE
from segprep.datasets.vspw.sources import _advice


class Damaged(BadInput):
    """An input that is empty, truncated or cannot be decoded (``--skip-damaged`` may leave it out)."""


def _video_tasks(split: str, video: str, stems: list[str], frames: dict[Key, tuple[Source | None, Source | None]],
                 params: dict, policy: dict) -> list[Task]:
    labelled = split in LABELLED_SPLITS
    group = f"{split} frames"
    if not stems:
        return [Task(f"data/{video}/", report_missing, (), (), {"message": (
            f"video {video} is listed in {split}.txt but has no frames: expected VSPW/data/{video}/origin/*.jpg from "
            f"{DOWNLOAD.filename} ({PAGE})")}, group, 0)]
    tasks = []
    for stem in stems:
        image, mask = frames[(video, stem)]
        image_rel, mask_rel = f"data/{video}/origin/{stem}.jpg", f"data/{video}/mask/{stem}.png"
        if image is None:
            tasks.append(Task(image_rel, report_missing, (), (), {"message": (
                f"the mask {mask.describe()} has no image: expected VSPW/data/{video}/origin/{stem}.jpg")}, group, 0))
        elif mask is None and labelled:
            tasks.append(Task(image_rel, report_missing, (), (image_rel,), {"message": (
                f"no mask for the {split} frame {image.describe()}: expected VSPW/data/{video}/mask/{stem}.png from "
                f"{DOWNLOAD.filename} ({PAGE})")}, group, 0))
        elif mask is None:
            tasks.append(Task(image_rel, make_frame, (image,), (image_rel,), params, group, policy=policy))
        else:
            tasks.append(Task(image_rel, make_frame, (image, mask), (image_rel, mask_rel), params, group,
                              policy=policy))
    return tasks


# ---------------------------------------------------------------------- actions (run in workers)


def place_label_table(ctx: TaskContext, task: Task) -> None:
    def check(data: bytes, name: str) -> None:
        try:
            json.loads(data)
        except ValueError as exc:
            raise BadInput(f"{name} is not valid json ({exc})") from None

    ctx.place(task.inputs[0], task.outputs[0], check=check)


def make_frame(ctx: TaskContext, task: Task) -> dict | None:
    """The frame (and its mask) at the target height, or, with ``skip_damaged``, nothing for a damaged one."""
    tune_malloc()
    try:
        return _frame(ctx, task)
    except Damaged as exc:
        video = task.outputs[0].split("/")[1]
        if not task.policy.get("skip_damaged"):
            raise BadInput(f"{exc}: {_advice(video)}") from None
        for rel in task.outputs:
            ctx.omit(rel)
        return {"damaged": str(exc)}


def _frame(ctx: TaskContext, task: Task) -> dict | None:
    image_source = task.inputs[0]
    image_name = image_source.describe()
    image_data = _damage(ctx.read, image_source)  # an archive that ends inside the member is damage too
    info = _damage(jpeg_info, image_data, image_name)
    size = (info.width, info.height)
    target = height_target(size, task.params["height"])
    resized = target != size
    mask = gray = mask_bytes = None
    odd = 0
    if len(task.inputs) > 1:
        mask_source = task.inputs[1]
        mask_name = mask_source.describe()
        mask_bytes = _damage(ctx.read, mask_source)
        mask_info = _damage(png_info, mask_bytes, mask_name)
        enc.check_format(mask_info, mask_name)  # a mask of another kind is not damaged: it fails whatever the policy
        mask, gray = _damage(enc.decode_mask, mask_bytes, mask_name, mask_info)
        if (mask.shape[1], mask.shape[0]) != size:
            raise BadInput(f"{mask_name} is {mask.shape[1]}x{mask.shape[0]} but its image {image_name} is "
                           f"{size[0]}x{size[1]}; the pair is inconsistent (re-extract this video)")
        if resized:
            mask = resize_nearest(mask, target)
        invalid, odd = enc.check_values(mask)
        if invalid:
            raise BadInput(f"{mask_name}: values {invalid[:10]} are not VSPW labels (0 others, 1-124 classes, "
                           "255 void)")
    if resized:
        # the headers may be complete and the picture data not: decoding finds it
        ctx.write_bytes(task.outputs[0], _damage(resize_jpeg, image_data, image_name, target, task.params["quality"]))
    else:
        put_unchanged(ctx, image_source, task.outputs[0], image_data)
    if mask is None:
        return None
    if gray and not resized:
        put_unchanged(ctx, task.inputs[1], task.outputs[1], mask_bytes)  # already what we would write
    else:
        ctx.write_bytes(task.outputs[1], encode_png_fast(mask))
    return {"odd": odd} if odd else None


def _damage(fn, *args):
    """``fn(*args)``, its BadInput (empty, truncated, undecodable input) raised as Damaged."""
    try:
        return fn(*args)
    except BadInput as exc:
        raise Damaged(str(exc)) from None
