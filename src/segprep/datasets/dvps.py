"""What the two DVPS recipes share: finding a ``video_sequence/{train,val}/`` annotation download whose archive
name is not published, and checking depth PNGs (uint16, metres * 256, 0 = no depth)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from segprep.datasets.base import Download
from segprep.errors import BadInput, MissingInput
from segprep.io.archives import Archive, archive_kind, list_members
from segprep.io.images import png_info
from segprep.io.sources import FileSource, MemberSource, Source, find_dirs

DEPTH_SCALE = 256.0  # depth PNG value = metres * 256
SPLITS = ("train", "val")


def find_video_sequence(raw: Path, pattern: re.Pattern, keywords: tuple[str, ...], what: str,
                        download: Download) -> tuple[dict[tuple[str, str], Source], list[str]]:
    """(split, file name) -> source of every file matching ``pattern`` (groups: split, file name) in an extracted
    ``video_sequence/`` folder (up to three levels below raw) or in an archive in raw (or one folder down) whose
    name contains one of ``keywords``; extracted files first, then archives in sorted order.

    Raises MissingInput naming every candidate looked at (and what it holds instead) when nothing matches.
    """
    if not raw.is_dir():
        raise MissingInput(f"--raw {raw} is not a folder. It should hold:\n  - {download.describe()}")
    found: dict[tuple[str, str], Source] = {}
    notes: list[str] = []
    looked: list[str] = []
    for anchor in find_dirs(raw, {"video_sequence"}, 3):
        count, other = 0, []
        for split in SPLITS:
            folder = anchor / split
            if not folder.is_dir():
                continue
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                match = pattern.search(f"video_sequence/{split}/{entry.name}")
                if match and entry.is_file():
                    if (match.group(1), match.group(2)) not in found:
                        found[(match.group(1), match.group(2))] = FileSource.of(entry.path)
                        count += 1
                elif len(other) < 3:
                    other.append(entry.name)
        if count:
            notes.append(f"{anchor}: {count:,} {what} (extracted)")
        else:
            looked.append(f"{anchor} (holds {other or 'no files'})")
    for archive in candidate_archives(raw, keywords):
        count, other = 0, []
        for member in list_members(archive):
            match = pattern.search(member.name)
            if match:
                if (match.group(1), match.group(2)) not in found:
                    found[(match.group(1), match.group(2))] = MemberSource(archive, member)
                    count += 1
            elif len(other) < 3 and member.name.endswith(".png"):
                other.append(member.name)
        if count:
            how = "one pass" if archive.sequential else "random access"
            notes.append(f"{archive.display}: {count:,} {what} ({how})")
        else:
            looked.append(f"{archive.display} (holds {other or 'no PNG files'})")
    if not found:
        where = f" Looked at: {'; '.join(looked)}." if looked else ""
        raise MissingInput(f"no {what} under {raw}.{where} Expected:\n  - {download.describe()}")
    return found, notes


def candidate_archives(raw: Path, keywords: tuple[str, ...]) -> list[Archive]:
    """Archives in raw and its subfolders whose file name contains a keyword (case-insensitive), sorted."""
    out = []
    folders = [raw] + sorted(p for p in raw.iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder in folders:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            kind = archive_kind(entry.name)
            if kind and entry.is_file() and any(k in entry.name.lower() for k in keywords):
                out.append(Archive((entry.path,), kind))
    return out


def check_depth_png(data: bytes, name: str) -> None:
    """A depth map must be a complete 16-bit one-channel PNG."""
    info = png_info(data, name)
    if info.color_type != 0 or info.bit_depth != 16:
        kinds = {0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale+alpha", 6: "RGBA"}
        raise BadInput(f"{name}: expected a depth map as a 16-bit one-channel PNG (uint16, metres*256), found a "
                       f"{info.bit_depth}-bit {kinds.get(info.color_type, info.color_type)} PNG")


def depth_stats(depth: np.ndarray) -> tuple[int, int, int]:
    """(valid pixels, all pixels, largest value) of a depth map."""
    valid = depth > 0
    return int(valid.sum()), int(depth.size), int(depth.max()) if depth.size else 0


def depth_note(stats: list[tuple[int, int, int]]) -> str:
    valid = sum(s[0] for s in stats)
    total = sum(s[1] for s in stats) or 1
    largest = max((s[2] for s in stats), default=0)
    return (f"depth: {valid / total:.1%} of the pixels of {len(stats):,} maps hold a depth, up to "
            f"{largest / DEPTH_SCALE:.1f} m")
