"""The KITTI-STEP tasks and the actions the workers run: place a checked PNG, or report it missing."""

from __future__ import annotations

from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput
from segprep.io.images import png_info
from segprep.io.sources import FileSource, Source
from segprep.datasets._shared.actions import report_missing


# ---------------------------------------------------------------------- actions (run in workers)


def _place(output: str, source: Source, group: str) -> Task:
    return Task(output, place_rgb_png, (source,), (output,), group=group)


def _missing(output: str, group: str, message: str) -> Task:
    return Task(output, report_missing, (), (output,), {"message": message}, group, size_hint=0)


def place_rgb_png(ctx: TaskContext, task: Task) -> None:
    """Places the file unchanged after checking it is a complete 8-bit RGB PNG."""
    source = task.inputs[0]
    # A zip member's CRC-32 already vouches for its bytes: walking the chunks catches truncation.
    check = _check_rgb_png if isinstance(source, FileSource) or source.member.crc == 0 else _check_rgb_png_structure
    ctx.place(source, task.outputs[0], check=check)


def _check_rgb_png_structure(data: bytes, name: str) -> None:
    _check_rgb_png(data, name, verify_crc=False)


def _check_rgb_png(data: bytes, name: str, verify_crc: bool = True) -> None:
    info = png_info(data, name, verify_crc)
    if info.color_type != 2 or info.bit_depth != 8:
        raise BadInput(f"{name}: expected an 8-bit RGB PNG, found colour type {info.color_type}, {info.bit_depth} bit")
