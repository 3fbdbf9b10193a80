"""The SemKITTI-DVPS actions the workers run: place an image or annotation after checking it."""

from __future__ import annotations

from segprep.datasets._shared.actions import place_checked, report_missing
from segprep.datasets._shared.dvps import GRAY8, GRAY16, check_depth_png, png_kind
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput
from segprep.io.images import png_info
from segprep.io.sources import Source
from segprep.datasets.semkitti_dvps import IMAGES


def _image_task(output: str, source: Source | None, seq: int, frame: int, split: str) -> Task:
    if source is None:
        return Task(output, report_missing, (), (output,), {"message": (
            f"no image for the annotated frame {seq:06d}_{frame:06d}: expected dataset/sequences/{seq:02d}/image_2/"
            f"{frame:06d}.png from {IMAGES.filename} ({IMAGES.page})")}, f"{split} images", size_hint=0)
    return Task(output, place_checked, (source,), (output,), {"check": "rgb"}, f"{split} images")


# ---------------------------------------------------------------------- actions (run in workers)


def place_annotation(ctx: TaskContext, task: Task) -> None:
    check = check_depth_png if task.params["check"] == "depth" else check_label_png
    ctx.place(task.inputs[0], task.outputs[0], check=check)


def check_label_png(data: bytes, name: str) -> None:
    """Class and instance maps: complete one-channel 8- or 16-bit PNGs (their bit depth is not documented)."""
    info = png_info(data, name)
    if (info.color_type, info.bit_depth) not in GRAY8 | GRAY16:
        raise BadInput(f"{name}: expected a one-channel 8- or 16-bit PNG, found a {png_kind(info)} PNG")
