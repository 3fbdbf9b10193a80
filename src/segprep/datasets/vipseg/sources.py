"""Finding the VIPSeg downloads under --raw: VIPSeg.zip (or VIPSeg_720P) and extracted roots."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from segprep.datasets._shared.video_frames import SPLITS, named_archives, subdirs
from segprep.errors import MissingInput
from segprep.io.archives import list_members
from segprep.io.sources import FileSource, MemberSource, Source
from segprep.datasets.vipseg import DOWNLOAD, REPO


_ARCHIVE_NAME = re.compile(r"^vipseg.*\.(zip|tar|tar\.gz|tgz)$", re.IGNORECASE)
_MEMBER = re.compile(r"^(?:(.*)/)?(imgs|images|panomasks)/([^/]+)/([^/]+)\.(jpg|png)$")
_SPLIT_MEMBER = re.compile(r"^(?:(.*)/)?(train|val|test)\.txt$")
_FOLDER_SUFFIX = {"imgs": "jpg", "images": "jpg", "panomasks": "png"}


@dataclass
class _Root:
    """One folder (or archive prefix) holding a VIPSeg tree: the raw download or an official 720P output."""

    name: str
    files: dict[str, dict[tuple[str, str], Source]] = field(default_factory=lambda: defaultdict(dict))
    splits: dict[str, Source] = field(default_factory=dict)

    @property
    def converted(self) -> bool:  # VIPSeg_720P: images/ instead of imgs/
        return bool(self.files.get("images")) and not self.files.get("imgs")

    def images(self) -> dict[tuple[str, str], Source]:
        return self.files.get("images" if self.converted else "imgs", {})

    def masks(self) -> dict[tuple[str, str], Source]:
        return self.files.get("panomasks", {})


# ---------------------------------------------------------------------- inputs


def find_roots(raw: Path, max_depth: int = 3) -> tuple[list[_Root], list[str]]:
    """VIPSeg trees under ``raw``: extracted folders first (they win), then VIPSeg* archives."""
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n  - {DOWNLOAD.describe()}")
    roots: list[_Root] = []
    notes: list[str] = []
    frontier = [raw]
    for _ in range(max_depth + 1):
        next_frontier = []
        for folder in frontier:
            entries = subdirs(folder)
            names = {e.name for e in entries}
            if names & {"imgs", "images"}:
                root = _Root(str(folder))
                for kind in ("imgs", "images", "panomasks"):
                    if kind in names:
                        _scan(folder / kind, kind, root)
                for split in SPLITS:
                    if (folder / f"{split}.txt").is_file():
                        root.splits[split] = FileSource.of(folder / f"{split}.txt")
                roots.append(root)
                notes.append(f"{folder}: {len(root.images()):,} images, {len(root.masks()):,} masks (extracted"
                             f"{', official 720P output' if root.converted else ''})")
            else:
                next_frontier.extend(Path(e.path) for e in entries)
        frontier = next_frontier
    for archive in named_archives(raw, _ARCHIVE_NAME):
        by_prefix: dict[str, _Root] = {}
        for member in list_members(archive):
            match = _MEMBER.match(member.name)
            if match:
                prefix, kind, video, stem, suffix = match.groups()
                if suffix == _FOLDER_SUFFIX[kind]:
                    root = by_prefix.setdefault(prefix or "", _Root(f"{archive.display}:{prefix or ''}"))
                    root.files[kind][(video, stem)] = MemberSource(archive, member)
                continue
            match = _SPLIT_MEMBER.match(member.name)
            if match:
                root = by_prefix.setdefault(match.group(1) or "", _Root(f"{archive.display}:{match.group(1) or ''}"))
                root.splits[match.group(2)] = MemberSource(archive, member)
        for prefix, root in sorted(by_prefix.items()):
            roots.append(root)
            how = "one pass" if archive.sequential else "random access"
            notes.append(f"{root.name}: {len(root.images()):,} images, {len(root.masks()):,} masks ({how})")
    return roots, notes


def _scan(folder: Path, kind: str, root: _Root) -> None:
    suffix = "." + _FOLDER_SUFFIX[kind]
    for video in subdirs(folder):
        for entry in os.scandir(video.path):
            if entry.name.endswith(suffix) and not entry.name.startswith(".") and entry.is_file():
                root.files[kind][(video.name, entry.name[: -len(suffix)])] = FileSource.of(entry.path)


def _split_sources(roots: list[_Root], raw: Path) -> dict[str, Source]:
    out: dict[str, Source] = {}
    for split in SPLITS:
        for root in sorted(roots, key=lambda r: r.converted):  # the raw download's lists first
            if split in root.splits:
                out[split] = root.splits[split]
                break
        else:
            if (raw / f"{split}.txt").is_file():
                out[split] = FileSource.of(raw / f"{split}.txt")
    missing = [s for s in SPLITS if s not in out]
    if missing:
        names = ", ".join(f"{s}.txt" for s in missing)
        raise MissingInput(
            f"the split list(s) {names} were not found under {[r.name for r in roots]}. They ship in the VIPSeg "
            f"download (VIPSeg/train.txt, val.txt, test.txt) and in {REPO} (repository root); put them in the "
            "VIPSeg/ folder (the official change2_720p.py does not copy them into VIPSeg_720P/)."
        )
    return out


def _pick_frames(roots: list[_Root], official: bool) -> dict[tuple[str, str], tuple[Source, Source | None]]:
    """(video, stem) -> (image, mask or None), taking image and mask from the same tree when possible.

    With the official options an official 720P output is preferred (its frames are already at the
    target size and are linked); otherwise the raw download is, so the option is honoured.
    """
    ranked = sorted(roots, key=lambda r: (r.converted != official))  # stable: extracted before archives
    images: dict[tuple[str, str], list[tuple[Source, Source | None]]] = defaultdict(list)
    for root in ranked:
        masks = root.masks()
        for key, image in root.images().items():
            images[key].append((image, masks.get(key)))
    out = {}
    for key, candidates in images.items():
        paired = [c for c in candidates if c[1] is not None]
        if paired:
            out[key] = paired[0]
        else:
            mask = next((r.masks()[key] for r in ranked if key in r.masks()), None)
            out[key] = (candidates[0][0], mask)
    return out
