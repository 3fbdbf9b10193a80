"""Actions several recipes run: place a PNG or an official json unchanged after checking it, report a missing
input."""

from __future__ import annotations

import io
from functools import partial

from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput, MissingInput
from segprep.io.images import png_info
from segprep.io.jsonscan import read_through
from segprep.io.sources import FileSource


# ---------------------------------------------------------------------- actions (run in workers)


def report_missing(ctx: TaskContext, task: Task) -> None:
    raise MissingInput(task.params["message"])


_PNG_KINDS = {  # check name -> (allowed (colour type, bit depth), what it should be)
    "rgb": ({(2, 8)}, "an 8-bit RGB PNG"),
    "gray": ({(0, 8)}, "an 8-bit grayscale PNG"),
    "color": ({(2, 8), (6, 8)}, "an 8-bit RGB(A) PNG"),
}


def place_json(ctx: TaskContext, task: Task) -> None:
    """An official json, bytes unchanged, once read through: a truncated or damaged download is named and
    never placed (a loader would fail on it later, far from the cause)."""
    source = task.inputs[0]
    if isinstance(source, FileSource):  # scanned from disk in flat memory, then linked
        with ctx.open(source) as f:
            read_through(f, source.describe())
        ctx.place(source, task.outputs[0])
    else:  # an archive member is read (inflated) once: checked and written from the same bytes
        ctx.place(source, task.outputs[0], check=lambda data, name: read_through(io.BytesIO(data), name))


def place_checked(ctx: TaskContext, task: Task) -> None:
    """Places the file unchanged after checking it is a complete PNG of the expected kind."""
    source = task.inputs[0]
    # A zip member's CRC-32 already vouches for its bytes: walking the chunks catches truncation.
    crc = isinstance(source, FileSource) or source.member.crc == 0
    ctx.place(source, task.outputs[0], check=partial(_check_png, kind=task.params["check"], verify_crc=crc))


def _check_png(data: bytes, name: str, kind: str, verify_crc: bool = True) -> None:
    info = png_info(data, name, verify_crc)
    allowed, what = _PNG_KINDS[kind]
    if (info.color_type, info.bit_depth) not in allowed:
        raise BadInput(f"{name}: expected {what}, found colour type {info.color_type}, {info.bit_depth} bit")
