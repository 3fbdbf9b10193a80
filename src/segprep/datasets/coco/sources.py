"""Finding the COCO downloads under --raw: the image and annotation zips (panoptic PNGs in their nested zips)
or their extracted folders, and reading the jsons."""

from __future__ import annotations

import gc
import json
import os
import re
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from segprep.errors import BadInput, MissingInput
from segprep.io.archives import Archive, find_archive, list_members, nested
from segprep.io.sources import FileSource, MemberSource, Source, SourceReader, find_dirs
from segprep.datasets import coco as recipe  # the package: Coco is defined once this module is imported
from segprep.datasets.coco import IMAGES, INSTANCES, PANOPTIC, SPLITS


_IMAGE = re.compile(r"(?:^|/)(train|val)2017/([^/]+\.jpg)$")
_PNG = re.compile(r"(?:^|/)panoptic_(train|val)2017/([^/]+\.png)$")
_JSON = re.compile(r"(?:^|/)((?:instances|panoptic)_(?:train|val)2017\.json)$")
_ANCHORS = {"train2017", "val2017", "annotations", "panoptic_train2017", "panoptic_val2017"}


# ---------------------------------------------------------------------- inputs


class Inputs:
    def __init__(self) -> None:
        self.images: dict[str, dict[str, Source]] = {s: {} for s in SPLITS}  # split -> file name -> source
        self.pngs: dict[str, dict[str, Source]] = {s: {} for s in SPLITS}
        self.jsons: dict[str, Source] = {}  # e.g. "panoptic_train2017.json" -> source
        self.notes: list[str] = []

    def add(self, rel: str, source_of) -> str | None:
        """Files the path ``rel`` as an image, PNG or json (first found wins); returns what it was."""
        match = _IMAGE.search(rel)
        if match:
            bucket, key = self.images[match.group(1)], match.group(2)
            kind = "images"
        else:
            match = _PNG.search(rel)
            if match:
                bucket, key = self.pngs[match.group(1)], match.group(2)
                kind = "panoptic PNGs"
            else:
                match = _JSON.search(rel)
                if not match:
                    return None
                bucket, key = self.jsons, match.group(1)
                kind = "jsons"
        if key in bucket:
            return None
        bucket[key] = source_of()
        return kind


def find_inputs(raw: Path, out_root: Path | None = None) -> Inputs:
    """Images, panoptic PNGs and jsons: extracted files first, then the zips (nested ones included)."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n{recipe.Coco.download_help()}")
    found = Inputs()
    skip = {out_root.resolve()} if out_root is not None else set()
    inner_zips: list[Path] = []
    # mmdetection keeps the PNG folders inside annotations/
    for anchor in find_dirs(raw, _ANCHORS, 3, descend_into={"annotations"}, skip=skip):
        counts: Counter = Counter()
        for entry in sorted(os.scandir(anchor), key=lambda e: e.name):
            if not entry.is_file() or entry.name.startswith("."):
                continue
            if re.fullmatch(r"panoptic_(train|val)2017\.zip", entry.name):
                inner_zips.append(Path(entry.path))
                continue
            rel = Path(entry.path).relative_to(raw).as_posix()
            kind = found.add(rel, lambda p=entry.path: FileSource.of(p))
            if kind:
                counts[kind] += 1
        if counts:
            found.notes.append(f"{anchor}: {_counts(counts)} (extracted)")
    folders = [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")
                             and p.resolve() not in skip)
    for path in inner_zips:  # panoptic_{split}2017.zip taken out of the panoptic zip, not unzipped
        _add_archive(found, Archive((str(path),), "zip"))
    for download in (IMAGES["train"], IMAGES["val"], INSTANCES, PANOPTIC):
        for folder in folders:
            archive = find_archive(folder, download.filename)
            if archive is None:
                continue
            members = _add_archive(found, archive)
            if download is PANOPTIC:
                for member in members:
                    if re.fullmatch(r"(?:.*/)?panoptic_(train|val)2017\.zip", member.name):
                        _add_archive(found, nested(archive, member.name))
            break
    return found


def _add_archive(found: Inputs, archive: Archive):
    members = list_members(archive)
    counts: Counter = Counter()
    for member in members:
        kind = found.add(member.name, lambda m=member: MemberSource(archive, m))
        if kind:
            counts[kind] += 1
    if counts:
        how = "one pass" if archive.sequential else "random access"
        found.notes.append(f"{archive.display}: {_counts(counts)} ({how})")
    return members


def _counts(counts: Counter) -> str:
    return ", ".join(f"{n:,} {kind}" for kind, n in sorted(counts.items()))


@contextmanager
def gc_paused(freeze: bool = False):
    """Pauses Python's cyclic garbage collector while millions of small objects are made (a 1 GB json,
    ~360k tasks): with it running, parsing and planning take 4-6x longer. ``freeze`` moves what exists
    at the end out of later collections (the plan lives as long as the run); memory is still freed by
    reference counting, and nothing built here forms cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def _load_json(reader: SourceReader, source: Source) -> dict:
    try:
        data = json.loads(reader.read(source))
    except ValueError as exc:
        raise BadInput(f"{source.describe()} is not valid json ({exc}); it is damaged: download it again") from None
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise BadInput(f"{source.describe()} has no 'annotations' list: not a COCO panoptic json")
    return data
