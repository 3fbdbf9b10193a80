"""Finding an OVIS download under --raw: the loose annotation jsons and the frames, archived or extracted.

As published (a public Google-Drive folder, see ``formats-ovis.md``): ``train.zip``, ``valid.zip``,
``test.zip``, each a folder of the split's name with the frames at ``<split>/<video>/img_0000001.jpg``
(no ``JPEGImages/`` level), and three loose files ``annotations_{train,valid,test}.json``. Any mix of
archives and extracted folders is accepted; an extracted folder is used before its archive. A json is
looked for in --raw, in ``annotations/`` and two folder levels below; frames in ``<split>/`` folders
up to three levels below --raw and in ``<split>.zip`` in --raw or one folder below.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from segprep.datasets.youtube_vis.sources import FrameStore
from segprep.errors import MissingInput
from segprep.io.archives import Archive, find_archive, list_members
from segprep.io.sources import FileSource, MemberSource, Source, walk_dirs

SPLITS = ("train", "valid", "test")
JSON_DEPTH = 2
FRAME_DEPTH = 3
_MEMBER_FRAME = re.compile(r"^(?:([^/]+)/)?([^/]+)/([^/]+\.jpg)$")
_YTVIS_JSONS = ("train.json", "valid.json", "test.json", "instances.json")


def json_name(split: str) -> str:
    return f"annotations_{split}.json"


@dataclass
class Inputs:
    jsons: dict[str, Source] = field(default_factory=dict)
    stores: dict[str, list[FrameStore]] = field(default_factory=dict)
    ytvis_jsons: list[str] = field(default_factory=list)  # a YouTube-VIS layout (train.json, instances.json)
    notes: list[str] = field(default_factory=list)


def find_inputs(raw: Path) -> Inputs:
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder")
    found = Inputs()
    folders = [(raw, 0)] + [(p, d) for p, d in walk_dirs(raw, FRAME_DEPTH, lambda name: name not in SPLITS)]
    for folder, depth in folders:
        if depth <= JSON_DEPTH or folder.name == "annotations":
            for split in SPLITS:
                path = folder / json_name(split)
                if split not in found.jsons and path.is_file():
                    found.jsons[split] = FileSource.of(path)
                    found.notes.append(f"{path}: the official {split} annotations")
            found.ytvis_jsons += [str(folder / n) for n in _YTVIS_JSONS if (folder / n).is_file()]
        if folder.name in SPLITS and folder != raw and _holds_videos(folder):
            found.stores.setdefault(folder.name, []).append(FrameStore(str(folder), False, folder=folder))
            found.notes.append(f"{folder}: {folder.name} frames (extracted)")
    for split in SPLITS:
        if found.stores.get(split):
            continue
        for folder in [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith(".")):
            archive = find_archive(folder, f"{split}.zip")
            if archive is not None:
                _read_archive(archive, split, found)
                break
    return found


def _holds_videos(folder: Path) -> bool:
    """A <split>/ folder of OVIS holds <video>/ folders of jpgs (a YouTube-VIS one holds JPEGImages/)."""
    try:
        entries = sorted(e.name for e in os.scandir(folder) if e.is_dir())
    except OSError:
        return False
    return bool(entries) and "JPEGImages" not in entries


def _read_archive(archive: Archive, split: str, found: Inputs) -> None:
    store = FrameStore(archive.display, False, archive=archive)
    frames = 0
    for member in list_members(archive):
        match = _MEMBER_FRAME.match(member.name)
        if match and match.group(1) in (None, split) and match.group(2) != "JPEGImages":
            store.members.setdefault(match.group(2), {})[match.group(3)] = member
            frames += 1
        elif member.name.split("/")[-1] == json_name(split) and split not in found.jsons:
            found.jsons[split] = MemberSource(archive, member)
            found.notes.append(f"{archive.display}:{member.name}: the official {split} annotations")
    if frames:
        found.stores.setdefault(split, []).append(store)
        found.notes.append(f"{archive.display}: {frames:,} {split} frames "
                           f"({'one pass' if archive.sequential else 'random access'})")
    else:
        found.notes.append(f"{archive.display}: no <video>/<frame>.jpg members (not an OVIS {split}.zip?)")
