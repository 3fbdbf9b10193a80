"""The Cityscapes-DVPS tasks of a frame and the actions the workers run: place the depth map, convert the labels."""

from __future__ import annotations

from typing import Any

from segprep.datasets._shared.cityscapes_vps_labels import (frame_labels, image_task, missing_labels_message,
                                                            missing_task)
from segprep.datasets._shared.cityscapes_vps_sources import Frame, Inputs
from segprep.datasets._shared.dvps import check_depth_png
from segprep.encodings import cityscapes_vps as vps
from segprep.engine.tasks import Task, TaskContext
from segprep.io.images import encode_png_fast


def frame_tasks(split: str, prefix: str, depth: Any, frame: Frame | None, inputs: Inputs) -> list[Task]:
    base = f"video_sequence/{split}/{prefix}"
    tasks = [Task(f"{base}_depth.png", place_depth, (depth,), (f"{base}_depth.png",), group=f"{split} depth")]
    image, label = f"{base}_leftImg8bit.png", f"{base}_gtFine_instanceTrainIds.png"
    if frame is None:
        message = (f"{depth.describe()} names the Cityscapes frame {prefix[14:]}, which panoptic_im_{split}_city_vps.json "
                   f"does not list: the depth archive and the Cityscapes-VPS download do not belong together")
        return tasks + [missing_task(image, (image,), f"{split} images", message),
                        missing_task(label, (label,), f"{split} instanceTrainIds", message)]
    tasks.append(image_task(image, frame.stem, inputs, f"{split} images"))
    if frame.cls is None or frame.inst is None:
        tasks.append(missing_task(label, (label,), f"{split} instanceTrainIds", missing_labels_message(frame)))
    else:
        tasks.append(Task(label, convert_frame, (frame.cls, frame.inst), (label,), group=f"{split} instanceTrainIds",
                          size_hint=300_000))
    return tasks


# ---------------------------------------------------------------------- actions (run in workers)


def place_depth(ctx: TaskContext, task: Task) -> None:
    ctx.place(task.inputs[0], task.outputs[0], check=check_depth_png)


def convert_frame(ctx: TaskContext, task: Task) -> None:
    """The frame's VPS colour + instance maps -> panoptic_inst -> the DVPS value of every pixel."""
    _, panoptic = frame_labels(ctx, *task.inputs)
    ctx.write_bytes(task.outputs[0], encode_png_fast(vps.dvps_label(panoptic)))
