"""Finding the VSPW downloads under --raw: extracted trees, the VSPW_data.tar (or its parts) and VSPW_480p,
and picking one intact copy of every frame."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from segprep.datasets._shared.video_frames import SPLITS, named_archives, read_source, subdirs
from segprep.errors import BadInput, MissingInput
from segprep.io.archives import list_members
from segprep.io.images import jpeg_info, png_info
from segprep.io.sources import FileSource, MemberSource, Source
from segprep.datasets.vspw import DAMAGED_CLIP, DAMAGED_RECORD, DOWNLOAD, Key, LABEL_TABLE, PAGE, REPLACEMENT


_ARCHIVE_NAME = re.compile(r"^vspw.*\.(zip|tar|tar\.gz|tgz)$", re.IGNORECASE)
_FRAME_MEMBER = re.compile(r"^(?:(.*)/)?([^/]+)/(origin|mask)/([^/]+)\.(jpg|png)$")
_TREE_FILE_MEMBER = re.compile(r"^(?:(.*)/)?(train\.txt|val\.txt|test\.txt|label_num_dic_final\.json)$")
_SUFFIX = {"origin": "jpg", "mask": "png"}
_STEM = re.compile(r"^\d+$")
_MAX_DEPTH = 5  # --raw/<at most two folders>/VSPW/data/<video>/origin


@dataclass
class _Tree:
    """One VSPW tree (a folder or an archive prefix): frames, masks and the files beside ``data/``."""

    name: str
    extracted: bool
    resized: bool  # the official VSPW_480p download
    images: dict[Key, Source] = field(default_factory=dict)
    masks: dict[Key, Source] = field(default_factory=dict)
    files: dict[str, Source] = field(default_factory=dict)  # train.txt, val.txt, test.txt, label_num_dic_final.json


# ---------------------------------------------------------------------- inputs


def find_trees(raw: Path) -> tuple[list[_Tree], list[str]]:
    """VSPW trees under ``raw``: extracted folders (breadth first, sorted), then VSPW* archives."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n  - {DOWNLOAD.describe()}")
    trees: dict[str, _Tree] = {}
    frontier = [raw]
    for _ in range(_MAX_DEPTH):
        next_frontier = []
        for folder in frontier:
            for entry in subdirs(folder):
                inside = {e.name for e in subdirs(entry.path)}
                if "origin" not in inside:
                    next_frontier.append(Path(entry.path))
                    continue
                clip = Path(entry.path)  # <tree>/data/<video>/origin
                top = clip.parent.parent if clip.parent.name == "data" else clip.parent
                tree = trees.get(str(top))
                if tree is None:
                    where = f"{raw.absolute().name}/{top.relative_to(raw).as_posix()}"
                    tree = trees[str(top)] = _Tree(str(top), True, _is_480p(where))
                    for name in ("train.txt", "val.txt", "test.txt", LABEL_TABLE):
                        if (top / name).is_file():
                            tree.files[name] = FileSource.of(top / name)
                for kind in ("origin", "mask"):
                    if kind in inside:
                        _scan(clip / kind, clip.name, kind, tree)
        frontier = next_frontier
    found = list(trees.values())
    notes = [f"{t.name}: {len(t.images):,} frames, {len(t.masks):,} masks (extracted"
             f"{', official 480p download' if t.resized else ''})" for t in found]
    for archive in named_archives(raw, _ARCHIVE_NAME):
        by_prefix: dict[str, _Tree] = {}

        def tree_of(prefix: str) -> _Tree:
            if prefix not in by_prefix:
                by_prefix[prefix] = _Tree(f"{archive.display}:{prefix}", False, _is_480p(f"{archive.display}/{prefix}"))
            return by_prefix[prefix]

        for member in list_members(archive):
            match = _FRAME_MEMBER.match(member.name)
            if match:
                prefix, video, kind, stem, suffix = match.groups()
                if suffix == _SUFFIX[kind]:
                    parent, _, last = (prefix or "").rpartition("/")
                    tree = tree_of(parent if last == "data" else (prefix or ""))
                    (tree.images if kind == "origin" else tree.masks)[(video, stem)] = MemberSource(archive, member)
                continue
            match = _TREE_FILE_MEMBER.match(member.name)
            if match:
                tree_of(match.group(1) or "").files[match.group(2)] = MemberSource(archive, member)
        for prefix, tree in sorted(by_prefix.items()):
            found.append(tree)
            how = "one pass" if archive.sequential else "random access"
            notes.append(f"{tree.name}: {len(tree.images):,} frames, {len(tree.masks):,} masks ({how}"
                         f"{', official 480p download' if tree.resized else ''})")
    return found, notes


def _is_480p(name: str) -> bool:
    return "480p" in name.lower()


def _scan(folder: Path, video: str, kind: str, tree: _Tree) -> None:
    suffix = "." + _SUFFIX[kind]
    target = tree.images if kind == "origin" else tree.masks
    for entry in os.scandir(folder):
        if entry.name.endswith(suffix) and not entry.name.startswith(".") and entry.is_file():
            target[(video, entry.name[: -len(suffix)])] = FileSource.of(entry.path)


def _ranked(trees: list[_Tree], prefer_resized: bool) -> list[_Tree]:
    """Extracted before archives; the 480p download first when its frames are what is asked for, else last."""
    return sorted(trees, key=lambda t: (t.resized != prefer_resized, not t.extracted))


def _split_sources(trees: list[_Tree], raw: Path) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for split in SPLITS:
        name = f"{split}.txt"
        source = next((t.files[name] for t in _ranked(trees, False) if name in t.files), None)
        if source is None and (raw / name).is_file():
            source = FileSource.of(raw / name)
        if source is not None:
            out[split] = source
    missing = [f"{s}.txt" for s in SPLITS if s not in out]
    if missing:
        raise MissingInput(
            f"the split list(s) {', '.join(missing)} were not found beside any data/ folder under {raw} "
            f"(looked in {[t.name for t in trees]}). They ship in the VSPW download (VSPW/train.txt, val.txt, "
            f"test.txt; {PAGE}): put them in the VSPW/ folder that holds data/."
        )
    return out


def pick_frames(trees: list[_Tree], prefer_resized: bool) -> tuple[dict[Key, tuple[Source | None, Source | None]],
                                                                       list[str]]:
    """(video, stem) -> (image, mask), each from the best tree that has an intact copy; and notes on the
    damaged copies passed over. Only frames found in several places are read here (to find which copy is intact)."""
    ranked = _ranked(trees, prefer_resized)
    out: dict[Key, tuple[Source | None, Source | None]] = {}
    passed_over: list[tuple[Key, str]] = []
    chosen: dict[str, list[Key]] = defaultdict(list)  # tree -> frames it gives that others have too
    keys = set().union(*(t.images.keys() | t.masks.keys() for t in ranked)) if ranked else set()
    for key in sorted(keys):
        images = [(t, t.images[key]) for t in ranked if key in t.images]
        image_tree, image = _intact(images, jpeg_info, key, passed_over)
        if len(images) > 1:
            chosen[image_tree.name].append(key)
        masks = [(t, t.masks[key]) for t in ranked if key in t.masks]
        same = [(t, m) for t, m in masks if t is image_tree]
        _, mask = _intact(same + [c for c in masks if c[0] is not image_tree], png_info, key, passed_over)
        out[key] = (image, mask)
    notes = [f"{len(keys):,} frame(s) found in several places are taken from {name}, e.g. {keys[0][0]}/{keys[0][1]}"
             for name, keys in sorted(chosen.items())]
    if passed_over:
        (video, stem), what = passed_over[0]
        notes.append(f"{len(passed_over):,} damaged file(s) passed over for an intact copy found elsewhere, e.g. "
                     f"{video}/{stem}: {what}")
    return out, notes


def _intact(candidates: list[tuple[_Tree, Source]], check, key: Key,
            passed_over: list[tuple[Key, str]]) -> tuple[_Tree | None, Source | None]:
    """The first candidate whose bytes pass ``check`` (read only when there is a choice); else the first."""
    if len(candidates) < 2:
        return candidates[0] if candidates else (None, None)
    for tree, source in candidates:
        if source.sequential:  # a one-pass archive: only its size can be judged here
            if source.size > 0:
                return tree, source
            passed_over.append((key, f"{source.describe()} is empty (0 bytes)"))
            continue
        try:
            check(read_source(source), source.describe())
            return tree, source
        except BadInput as exc:
            passed_over.append((key, str(exc)))
    return candidates[0]


def _advice(video: str) -> str:
    if video == DAMAGED_CLIP:
        return (f"a known defect of the VSPW download (\"Some images from {DAMAGED_CLIP} are damaged or incomplete "
                f"with 0 byte\", {PAGE}). The authors publish the replacement images: {REPLACEMENT}. Extract them so "
                f"that the frames are at <--raw>/VSPW/data/{DAMAGED_CLIP}/origin/*.jpg (an intact copy is taken before "
                "the archive's) and rerun, or rerun with --skip-damaged to leave damaged frames out (listed in "
                f"{DAMAGED_RECORD})")
    return ("the download (or its extraction) is damaged here: download or extract it again and rerun, or rerun "
            f"with --skip-damaged to leave damaged frames out (listed in {DAMAGED_RECORD})")
