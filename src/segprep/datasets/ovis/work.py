"""The per-item work of the OVIS recipe (run in workers).

Frames and the official jsons are placed unchanged, and the CocoVID files come from segprep's
streaming CocoVID converter (``youtube_vis/work.convert_json``, version "ovis"), so only the
renamed ``{split}.json`` needs an action of its own: the official bytes, except that a top-level
``"annotations": null`` (OVIS's valid and test files) is cut out, because YTVOS-style readers
test ``'annotations' in dataset`` and then iterate it (``TypeError: 'NoneType' object is not
iterable``, FoundationVision/VNext#32, MasterBin-IIAU/UNINEXT#27).
"""

from __future__ import annotations

import io

from segprep.engine.tasks import Task, TaskContext
from segprep.io.jsonscan import JsonScanner, read_through

_NULL = b"null"


def null_annotations_span(data: bytes, name: str) -> tuple[int, int] | None:
    """The byte span of the member ``"annotations": null`` with one separating comma, or None.

    Removing the span leaves the rest of the file byte for byte, and a valid JSON object.
    """
    for member in JsonScanner(io.BytesIO(data), name).members():
        if member.key != "annotations":
            continue
        start = member.start
        if data[start : start + 4] != b"null":
            return None
        key_start = data.rindex(b'"annotations"', 0, start)  # only blanks and ':' lie between key and value
        before = data[:key_start].rstrip()
        if before.endswith(b","):  # cut from the comma after the previous member
            return len(before) - 1, start + 4
        after = data[start + 4 :].lstrip()
        if after.startswith(b","):  # the first member: cut up to the next member's key
            rest = after[1:].lstrip()
            return key_start, len(data) - len(rest)
        return key_start, start + 4  # the only member
    return None


def without_null_annotations(data: bytes, name: str) -> bytes:
    span = null_annotations_span(data, name)
    if span is None:
        return data
    return data[: span[0]] + data[span[1] :]


def write_renamed(ctx: TaskContext, task: Task) -> None:
    """``{split}.json``: the official file, without a top-level ``"annotations": null``."""
    source = task.inputs[0]
    data = ctx.read(source)  # valid/test only (train keeps its annotations): no masks, a few MB
    read_through(io.BytesIO(data), source.describe())  # a truncated download is named, never written
    span = null_annotations_span(data, source.describe())
    if span is None:
        ctx.place(source, task.outputs[0])
    else:
        ctx.write_bytes(task.outputs[0], data[: span[0]] + data[span[1] :])
