"""Finding the Cityscapes downloads under --raw: gtFine and leftImg8bit, extracted folders first, then the zips."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from segprep.errors import BadInput, MissingInput
from segprep.io.archives import find_archive, list_members
from segprep.io.sources import FileSource, MemberSource, Source, find_dirs
from segprep.datasets.cityscapes import IMAGES, Key, SPLITS
from segprep.datasets._shared.cityscapes import GT


_GT_NAME = re.compile(r"(?:^|/)gtFine/(train|val|test)/([^/]+)/([^/]+)_gtFine_(polygons\.json|labelIds\.png|"
                      r"instanceIds\.png|color\.png)$")
_IMAGE_NAME = re.compile(r"(?:^|/)leftImg8bit/(train|val|test)/([^/]+)/([^/]+)_leftImg8bit\.png$")
_STEM = re.compile(r"^([a-z]+)_(\d{6})_(\d{6})$")


# ---------------------------------------------------------------------- inputs


def find_inputs(raw: Path) -> tuple[dict[Key, dict[str, Source]], dict[Key, Source], Source | None, list[str]]:
    """gtFine files by frame and kind, images by frame, license.txt: extracted folders first, then the zips."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n  - {GT.describe()}\n  - {IMAGES.describe()}")
    gt: dict[Key, dict[str, Source]] = defaultdict(dict)
    images: dict[Key, Source] = {}
    license_source: Source | None = None
    notes: list[str] = []
    for anchor in find_dirs(raw, {"gtFine", "leftImg8bit"}, 3):
        found = 0
        for path in _files_under(anchor):
            rel = path.relative_to(raw).as_posix()
            found += _add(rel, lambda p=path: FileSource.of(p), gt, images)
        if found:
            notes.append(f"{anchor}: {found:,} files (extracted)")
            for candidate in (anchor.parent / "license.txt", raw / "license.txt"):
                if license_source is None and candidate.is_file():
                    license_source = FileSource.of(candidate)
    for download in (GT, IMAGES):
        for folder in [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")):
            archive = find_archive(folder, download.filename)
            if archive is None:
                continue
            found = 0
            for member in list_members(archive):
                found += _add(member.name, lambda m=member: MemberSource(archive, m), gt, images)
                if member.name == "license.txt" and license_source is None:
                    license_source = MemberSource(archive, member)
            notes.append(f"{archive.parts[0]}: {found:,} files (random access)")
            break
    return dict(gt), images, license_source, notes


def _add(rel: str, source, gt: dict, images: dict) -> int:
    """Files the path names (a gtFine file or an image), unless an earlier source holds it: 0 or 1."""
    match = _GT_NAME.search(rel)
    if match:
        split, city, stem, kind = match.groups()
        key = _key(rel, split, city, stem)
        if kind in gt[key]:
            return 0
        gt[key][kind] = source()
        return 1
    match = _IMAGE_NAME.search(rel)
    if match:
        split, city, stem = match.groups()
        key = _key(rel, split, city, stem)
        if key in images:
            return 0
        images[key] = source()
        return 1
    return 0


def _key(rel: str, split: str, city: str, stem: str) -> Key:
    match = _STEM.match(stem)
    if match is None or match.group(1) != city:
        raise BadInput(f"{rel}: not a Cityscapes name ({{city}}_{{seq:06d}}_{{frame:06d}} in the folder of its "
                       "city); rename it back or use the official archives")
    return split, city, stem


def _files_under(anchor: Path):
    """anchor/{train,val,test}/{city}/* in sorted order."""
    for split in SPLITS:
        split_dir = anchor / split
        if not split_dir.is_dir():
            continue
        for city in sorted(e.name for e in os.scandir(split_dir) if e.is_dir()):
            for entry in sorted(os.scandir(split_dir / city), key=lambda e: e.name):
                if entry.is_file():
                    yield Path(entry.path)
