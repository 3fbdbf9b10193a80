"""Finding the KITTI-STEP downloads under --raw: the KITTI images and STEP panoptic maps, as the official
archives, their extracted folders or an already arranged layout."""

from __future__ import annotations

import os
import re
from pathlib import Path

from segprep.datasets.base import Download
from segprep.errors import BadInput, MissingInput
from segprep.io.archives import find_archive, list_members
from segprep.io.sources import FileSource, MemberSource, Source, find_dirs
from segprep.datasets.kitti_step import IMAGES, Key, MAPS, SEQUENCES, TRAIN_SEQUENCES, VAL_SEQUENCES, _TRAINING_SPLIT


# Relative paths (of extracted files or archive members) -> (layout, split-or-folder, seq, frame)
_IMAGE_PATTERNS = (
    ("kitti", re.compile(r"(?:^|/)(training|testing)/image_02/(\d{4})/(\d{6})\.png$")),
    ("deeplab2", re.compile(r"(?:^|/)images/(train|val|test)/(\d{4})/(\d{6})\.png$")),
)
_MAP_PATTERNS = (
    ("step", re.compile(r"(?:^|/)panoptic_maps/(train|val)/(\d{4})/(\d{6})\.png$")),
    ("videoknet", re.compile(r"(?:^|/)(training)/panoptic/(\d{4})/(\d{6})\.png$")),
)
# Folders whose subtree may hold the files above; the search below stops at them.
_ANCHORS = {"image_02", "images", "panoptic_maps", "panoptic"}


# ---------------------------------------------------------------------- inputs


def find_inputs(raw: Path) -> tuple[dict[Key, Source], dict[Key, Source], list[str]]:
    """Images and panoptic maps by (split, seq, frame), from extracted folders first, then archives."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n{_describe(IMAGES)}\n{_describe(MAPS)}")
    images: dict[Key, Source] = {}
    maps: dict[Key, Source] = {}
    notes: list[str] = []
    for anchor in find_dirs(raw, _ANCHORS, 4):
        found_images = found_maps = 0
        for path in _pngs_under(anchor):
            rel = path.relative_to(raw).as_posix()
            key = _image_key(rel)
            if key is not None and key not in images:
                images[key] = FileSource.of(path)
                found_images += 1
                continue
            key = _map_key(rel)
            if key is not None and key not in maps:
                maps[key] = FileSource.of(path)
                found_maps += 1
        if found_images or found_maps:
            notes.append(f"{anchor}: {found_images:,} images, {found_maps:,} panoptic maps (extracted)")
    for download in (IMAGES, MAPS):
        for folder in [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")):
            archive = find_archive(folder, download.filename)
            if archive is None:
                continue
            found_images = found_maps = 0
            for member in list_members(archive):
                image_key, map_key = _image_key(member.name), _map_key(member.name)
                if image_key is not None and image_key not in images:
                    images[image_key] = MemberSource(archive, member)
                    found_images += 1
                elif map_key is not None and map_key not in maps:
                    maps[map_key] = MemberSource(archive, member)
                    found_maps += 1
            how = "one pass" if archive.sequential else "random access"
            notes.append(f"{archive.parts[0]}: {found_images:,} images, {found_maps:,} panoptic maps ({how})")
            break
    return images, maps, notes


def _pngs_under(anchor: Path):
    """Files of the form anchor/[split/]{seq:04d}/{frame:06d}.png, in sorted order."""
    def subdirs(folder: Path, pattern: str):
        try:
            return sorted(Path(e.path) for e in os.scandir(folder) if e.is_dir() and re.fullmatch(pattern, e.name))
        except FileNotFoundError:
            return []

    seq_dirs = subdirs(anchor, r"\d{4}") + [d for s in subdirs(anchor, r"train|val|test") for d in subdirs(s, r"\d{4}")]
    for seq_dir in seq_dirs:
        for entry in sorted(os.scandir(seq_dir), key=lambda e: e.name):
            if re.fullmatch(r"\d{6}\.png", entry.name) and entry.is_file():
                yield Path(entry.path)


def _image_key(rel: str) -> Key | None:
    return _key(rel, _IMAGE_PATTERNS, raw_layout="kitti")


def _map_key(rel: str) -> Key | None:
    return _key(rel, _MAP_PATTERNS, raw_layout="videoknet")


def _key(rel: str, patterns, raw_layout: str) -> Key | None:
    """(split, seq, frame) of a path; in ``raw_layout`` (training/testing folders) the split comes from the seq."""
    for layout, pattern in patterns:
        match = pattern.search(rel)
        if match:
            folder, seq, frame = match.group(1), int(match.group(2)), int(match.group(3))
            if layout == raw_layout:
                split = "test" if folder == "testing" else _TRAINING_SPLIT.get(seq)
                return None if split is None else (split, seq, frame)
            _check_arranged_split(rel, folder, seq)
            return folder, seq, frame
    return None


def _check_arranged_split(rel: str, split: str, seq: int) -> None:
    if seq not in SEQUENCES[split]:
        official = _TRAINING_SPLIT.get(seq, "no")
        raise BadInput(
            f"{rel}: sequence {seq:04d} is filed under '{split}', but the official KITTI-STEP split puts it in "
            f"{official} split (train {TRAIN_SEQUENCES}, val {VAL_SEQUENCES}). Move it back, or use the original "
            "archives."
        )


def _describe(download: Download) -> str:
    return f"  - {download.describe()}"
