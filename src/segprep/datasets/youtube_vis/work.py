"""The YouTube-VIS task actions the workers run: place the official json, convert it, place the frames."""

from __future__ import annotations

from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput
from segprep.io.images import jpeg_info
from segprep.encodings.cocovid import convert


# ---------------------------------------------------------------------- actions (run in workers)


def convert_json(ctx: TaskContext, task: Task) -> dict:
    source = task.inputs[0]
    with ctx.open(source) as f:
        chunks, stats = convert(f, source.describe(), task.params["year"], task.params["split"])
        ctx.write_chunks(task.outputs[0], chunks)
    return stats


def place_frame(ctx: TaskContext, task: Task) -> None:
    width, height = task.params["size"]

    def check(data: bytes, name: str) -> None:
        info = jpeg_info(data, name)
        if (info.width, info.height) != (width, height):
            raise BadInput(f"{name} is {info.width}x{info.height}, its json says {width}x{height} "
                           "(frames from another download?)")

    ctx.place(task.inputs[0], task.outputs[0], check=check)
