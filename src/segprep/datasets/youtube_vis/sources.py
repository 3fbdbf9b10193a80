"""Finding the YouTube-VIS downloads under --raw: annotation files and frame stores (archives or folders)."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from segprep.errors import MissingInput
from segprep.io.archives import Archive, Member, find_archive, list_members
from segprep.io.sources import FileSource, MemberSource, Source, walk_dirs
from segprep.datasets.youtube_vis import SPLITS


JSON_DEPTH = 2  # annotation files are looked for in --raw and two folder levels below (frames: four)


_MEMBER_FRAME = re.compile(r"^(?:([^/]+)/)?JPEGImages/([^/]+)/([^/]+\.jpg)$")
_MEMBER_JSON = re.compile(r"^(?:([^/]+)/)?instances\.json$")


# ---------------------------------------------------------------------- finding the download


@dataclass
class FrameStore:
    """Where a split's frames are: an extracted JPEGImages folder or an archive."""

    label: str
    all_frames: bool  # a *_all_frames download: every frame, not only the annotated ones
    folder: Path | None = None
    archive: Archive | None = None
    members: dict[str, dict[str, Member]] = field(default_factory=dict)  # video -> frame -> member
    _listed: dict[str, dict[str, str]] = field(default_factory=dict)

    def frames(self, video: str) -> dict[str, Source | str]:
        """frame name -> source (archives) or path (folders) of one video."""
        if self.archive is not None:
            return self.members.get(video, {})
        if video not in self._listed:
            folder = self.folder / video
            try:
                names = {e.name: e.path for e in os.scandir(folder) if e.name.endswith(".jpg") and e.is_file()}
            except (FileNotFoundError, NotADirectoryError):
                names = {}
            self._listed[video] = names
        return self._listed[video]

    def source(self, video: str, frame: str) -> Source | None:
        found = self.frames(video).get(frame)
        if found is None:
            return None
        if self.archive is not None:
            return MemberSource(self.archive, found)
        return FileSource.of(found)


@dataclass
class Inputs:
    jsons: dict[str, Source] = field(default_factory=dict)
    other_year_jsons: list[str] = field(default_factory=list)
    stores: dict[str, list[FrameStore]] = field(default_factory=lambda: defaultdict(list))
    vos: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_inputs(raw: Path, year: str) -> Inputs:
    """The official jsons and frame stores per split, extracted folders before archives."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder")
    found = Inputs()
    extracted: list[FrameStore] = []
    for folder, depth in _folders(raw):
        names = sorted(os.listdir(folder))
        for entry in names:
            path = folder / entry
            if entry == "meta.json":
                found.vos.append(str(path))
            elif entry == "Annotations" and path.is_dir() and "JPEGImages" in names:
                found.vos.append(str(path))
            elif entry == "JPEGImages" and path.is_dir():
                split, all_frames = _split_of(folder.name)
                if split is not None:
                    extracted.append(FrameStore(str(path), all_frames, folder=path))
            if depth > JSON_DEPTH:
                continue
            json_split = _json_split(folder, entry, year)
            if json_split is not None and json_split not in found.jsons and path.is_file():
                found.jsons[json_split] = FileSource.of(path)
                found.notes.append(f"{path}: the official {json_split} annotations")
            elif _json_split(folder, entry, "2021" if year == "2019" else "2019") is not None and path.is_file():
                found.other_year_jsons.append(str(path))
    for store in sorted(extracted, key=lambda s: (s.all_frames, s.label)):
        found.stores[_split_of(store.folder.parent.name)[0]].append(store)
        found.notes.append(f"{store.label}: {'all' if store.all_frames else 'annotated'} frames (extracted)")
    for all_frames in (False, True):
        for split in SPLITS:
            filename = f"{split}_all_frames.zip" if all_frames else f"{split}.zip"
            for folder in [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")):
                archive = find_archive(folder, filename)
                if archive is not None:
                    _read_archive(archive, split, all_frames, year, found)
                    break
    return found


_FRAME_DIRS = ("JPEGImages", "Annotations")


def _folders(raw: Path, max_depth: int = 4) -> list[tuple[Path, int]]:
    """raw and the folders below it with their depth, a few levels deep, not descending into frame folders."""
    walk = walk_dirs(raw, max_depth, lambda name: name not in _FRAME_DIRS)
    return [(raw, 0)] + [(path, depth) for path, depth in walk if path.name not in _FRAME_DIRS]


def _split_of(name: str) -> tuple[str | None, bool]:
    if name in SPLITS:
        return name, False
    if name.endswith("_all_frames") and name[: -len("_all_frames")] in SPLITS:
        return name[: -len("_all_frames")], True
    return None, False


def _json_split(folder: Path, entry: str, year: str) -> str | None:
    if year == "2019":
        stem = entry[:-5] if entry.endswith(".json") else None
        return stem if stem in SPLITS else None
    return folder.name if entry == "instances.json" and folder.name in SPLITS else None


def _read_archive(archive: Archive, split: str, all_frames: bool, year: str, found: Inputs) -> None:
    members = list_members(archive)
    if any(m.name.split("/")[-1] == "meta.json" or "/Annotations/" in f"/{m.name}" for m in members):
        found.vos.append(archive.display)
        found.notes.append(f"{archive.display}: a YouTube-VOS archive (meta.json, Annotations/); not used")
        return
    store = FrameStore(archive.display, all_frames, archive=archive)
    prefixes = {None, f"{split}_all_frames" if all_frames else split}
    count_frames = 0
    for member in members:
        match = _MEMBER_FRAME.match(member.name)
        if match and match.group(1) in prefixes:
            store.members.setdefault(match.group(2), {})[match.group(3)] = member
            count_frames += 1
            continue
        match = _MEMBER_JSON.match(member.name)
        if match and match.group(1) in prefixes and not all_frames:
            if year == "2021" and split not in found.jsons:
                found.jsons[split] = MemberSource(archive, member)
                found.notes.append(f"{archive.display}:{member.name}: the official {split} annotations")
            elif year == "2019":
                found.other_year_jsons.append(f"{archive.display}:{member.name}")
    if count_frames:
        found.stores[split].append(store)
        found.notes.append(f"{archive.display}: {count_frames:,} {'all' if all_frames else 'annotated'} frames "
                           f"({'one pass' if archive.sequential else 'random access'})")
