"""``segprep prepare coco --coco2vis``: the COCO "pseudo-video" files of the detectron2 VIS family.

DVIS, DVIS++, MinVIS, GenVIS, CTVIS and VITA-style configs train on COCO images as one-frame videos
(datasets ``coco2ytvis2019_train``, ``coco2ytvis2021_train``, ``coco2ovis_train``) and read
``coco/annotations/coco2{ytvis2019,ytvis2021,ovis}_train.json``, which their repositories make with
a script users fail to run (paths relative to ``datasets/utils``, DVIS#27, #8). What those files hold
(DVIS's ``datasets/utils/convert_coco2ytvis.py``): ``instances_train2017.json`` with every member
kept (info, licenses, images, categories: all 80 COCO categories, COCO ids) and ``annotations``
reduced to those whose COCO ``category_id`` is a key of the dataset's map, moved to the end; the
COCO -> VIS id mapping happens at load time (their ``COCO_TO_*`` maps), so the ids stay COCO's.

segprep writes the same bytes (``json.dumps`` of the same dict: every value as ``json.load`` reads
it, default separators); it differs in that:
- the source is streamed, annotation by annotation, never loaded whole (their script holds the
  448 MB json and its copy in memory, three times over);
- the ``_val`` files are written too when the val split is prepared (``coco2ovis_val`` etc. are
  registered by DVIS's ``builtin.py`` but its script leaves their lines commented out).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from segprep.checks.findings import Report
from segprep.checks.rules import same_as_chunks
from segprep.engine.tasks import Task, TaskContext
from segprep.errors import BadInput
from segprep.io.jsonscan import JsonScanner
from segprep.io.sources import Source

# COCO category id -> VIS category id (DVIS dvis/data_video/datasets/ytvis.py; the same maps in VITA, MinVIS,
# CTVIS ctvis/data/vis/builtin.py); only the keys matter for the files, the values are what loaders map to.
COCO_TO = {
    "ytvis2019": {1: 1, 2: 21, 3: 6, 4: 21, 5: 28, 7: 17, 8: 29, 9: 34, 17: 14, 18: 8, 19: 18, 21: 15, 22: 32,
                  23: 20, 24: 30, 25: 22, 35: 33, 36: 33, 41: 5, 42: 27, 43: 40},
    "ytvis2021": {1: 26, 2: 23, 3: 5, 4: 23, 5: 1, 7: 36, 8: 37, 9: 4, 16: 3, 17: 6, 18: 9, 19: 19, 21: 7,
                  22: 12, 23: 2, 24: 40, 25: 18, 34: 14, 35: 31, 36: 31, 41: 29, 42: 33, 43: 34},
    "ovis": {1: 1, 2: 21, 3: 25, 4: 22, 5: 23, 6: 25, 8: 25, 9: 24, 17: 3, 18: 4, 19: 5, 20: 6, 21: 7, 22: 8,
             23: 9, 24: 10, 25: 11},
}
# a segmentation left undecoded: polygons (lists of numbers) or an RLE object (no braces inside)
_RAW = {"segmentation": re.compile(r'\[(?:\[[^\[\]{}"]*\](?:,\s*\[[^\[\]{}"]*\])*)?\]|\{[^{}]*\}')}


def file_name(target: str, split: str) -> str:
    return f"annotations/coco2{target}_{split}.json"


def tasks(source: Source, split: str) -> list[Task]:
    outputs = tuple(file_name(target, split) for target in COCO_TO)
    return [Task(f"annotations/coco2vis_{split}", write_files, (source,), outputs, {"split": split},
                 "coco2vis", size_hint=3 * source.size)]


def write_files(ctx: TaskContext, task: Task) -> dict:
    source = task.inputs[0]
    counts = {}
    with ctx.open(source) as f:
        scanner = JsonScanner(f, source.describe())
        members, spans = read(scanner)
        for target, mapping in COCO_TO.items():
            chunks = chunks_for(scanner, members, spans, set(mapping))
            ctx.write_chunks(file_name(target, task.params["split"]), chunks)
            counts[target] = sum(1 for _, _, cat in spans if cat in mapping)
    return counts


def read(scanner: JsonScanner) -> tuple[list[tuple[str, object]], list[tuple[int, int, object]]]:
    """Every top-level member but ``annotations`` (decoded), and each annotation's (start, end, category_id)."""
    members, spans = [], []
    for member in scanner.members():
        if member.key == "annotations":
            if not member.is_array():
                raise BadInput(f"{scanner.name}: 'annotations' is not a list")
            for start, end, ann in member.elements(raw=_RAW):  # segmentations are not needed here
                if not isinstance(ann, dict):
                    raise BadInput(f"{scanner.name}: the annotation at byte {start:,} is not an object")
                spans.append((start, end, ann.get("category_id")))
        else:
            members.append((member.key, member.value()))
    return members, spans


def chunks_for(scanner: JsonScanner, members: list, spans: list, keep: set) -> Iterator[bytes]:
    """The file in pieces: the other members in their order, then the kept annotations (read again by
    their spans and written as ``json.dumps`` writes them)."""
    yield b"{"
    for index, (key, value) in enumerate(members):
        yield (", " if index else "").encode() + json.dumps(key).encode() + b": " + json.dumps(value).encode()
    yield (", " if members else "").encode() + b'"annotations": ['
    first = True
    for start, end, category in spans:
        if category in keep:
            yield (b"" if first else b", ") + json.dumps(scanner.load(start, end)).encode()
            first = False
    yield b"]}"


def verify(out_root: Path, report: Report) -> None:
    """Present coco2* files are exactly the filter of their split's instances json."""
    for split in ("train", "val"):
        names = [file_name(target, split) for target in COCO_TO]
        present = [rel for rel in names if (out_root / rel).is_file()]
        if not present:
            continue
        instances = out_root / f"annotations/instances_{split}2017.json"
        report.checked("coco2vis", len(names))
        for rel in sorted(set(names) - set(present)):
            report.fail("coco2vis", rel, "missing (the other coco2* files are present): rerun prepare --coco2vis")
        if not instances.is_file():
            continue
        with open(instances, "rb") as f:
            scanner = JsonScanner(f, instances.name)
            try:
                members, spans = read(scanner)
            except BadInput as exc:
                report.fail("coco2vis", f"annotations/{instances.name}", str(exc))
                continue
            for target, mapping in COCO_TO.items():
                rel = file_name(target, split)
                if rel not in present:
                    continue
                if not same_as_chunks(out_root / rel, chunks_for(scanner, members, spans, set(mapping))):
                    report.fail("coco2vis", rel, f"is not instances_{split}2017.json with the annotations of "
                                                 f"the {len(mapping)} COCO classes {target} maps (edited, or stale)")


