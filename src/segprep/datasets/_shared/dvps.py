"""What the Cityscapes-VPS, Cityscapes-DVPS and SemKITTI-DVPS recipes share: finding a
``video_sequence/{train,val}/`` annotation download whose archive name is not published, checking depth
PNGs (uint16, metres * 256, 0 = no depth), and the per-file checks of their ``verify``."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from segprep.checks.findings import Report
from segprep.datasets.base import Download
from segprep.errors import BadInput, MissingInput, SegprepError
from segprep.io.archives import Archive, archive_kind, list_members
from segprep.io.images import PngInfo, decode_png_fast, png_info
from segprep.io.sources import FileSource, MemberSource, Source, find_dirs

DEPTH_SCALE = 256.0  # depth PNG value = metres * 256
SPLITS = ("train", "val")
_COLOR_TYPES = {0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale+alpha", 6: "RGBA"}
RGB8 = {(2, 8)}
GRAY8 = {(0, 8)}
GRAY16 = {(0, 16)}


def png_kind(info: PngInfo) -> str:
    """'16-bit grayscale', '8-bit RGB'..."""
    return f"{info.bit_depth}-bit {_COLOR_TYPES.get(info.color_type, info.color_type)}"


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
    if (info.color_type, info.bit_depth) not in GRAY16:
        raise BadInput(f"{name}: expected a depth map as a 16-bit one-channel PNG (uint16, metres*256), found a "
                       f"{png_kind(info)} PNG")


def wrong_download(raw: Path, download: Download, find) -> list[tuple[str, str]]:
    """For ``Recipe.inspect_raw``: the download is there under its expected name but ``find(raw)`` finds none of
    its files (e.g. the other dataset's ``video_sequence.zip``): (file, what it holds instead)."""
    if not any((raw / n).exists() for n in (download.filename, *download.extracted)):
        return []
    try:
        find(raw)
    except SegprepError as exc:
        return [(download.filename, str(exc).split("\n")[0])]
    return []


# ---------------------------------------------------------------------- verify: the folder


def check_stray_entries(out_root: Path, report: Report) -> None:
    """Only video_sequence/ belongs in the folder of a DVPS dataset."""
    for entry in sorted(os.listdir(out_root)):
        if entry != "video_sequence":
            report.fail("layout", entry, "stray entry (only video_sequence/ belongs here)")


# ---------------------------------------------------------------------- verify: one file at a time


def check_image(path: Path, key: str, out: list) -> tuple[int, int] | None:
    """A complete 8-bit RGB PNG photo: records ("decode", key, problem or None); returns its (height, width)."""
    try:
        info = png_info(path.read_bytes(), key)
        if (info.color_type, info.bit_depth) not in RGB8:
            raise BadInput(f"expected an 8-bit RGB PNG, found a {png_kind(info)} PNG")
    except (BadInput, FileNotFoundError) as exc:
        out.append(("decode", key, str(exc)))
        return None
    out.append(("decode", key, None))
    return info.height, info.width


def check_map(path: Path, key: str, kinds: set[tuple[int, int]], what: str, size: tuple[int, int] | None,
              out: list) -> np.ndarray | None:
    """A label or depth map: complete, of one of ``kinds`` ((colour type, bit depth), described by ``what``), and of
    the image's ``size``; records ("decode", ...) and ("same size", ...) results and returns the pixels."""
    try:
        data = path.read_bytes()
        info = png_info(data, key)
        if (info.color_type, info.bit_depth) not in kinds:
            raise BadInput(f"expected {what}, found a {png_kind(info)} PNG")
        array = decode_png_fast(data, key, info=info)
    except (BadInput, FileNotFoundError) as exc:
        out.append(("decode", key, str(exc)))
        return None
    out.append(("decode", key, None))
    if size is not None:
        shape = array.shape[:2]
        out.append(("same size", key, None if shape == size else f"{shape[1]}x{shape[0]}, the image is "
                                                                  f"{size[1]}x{size[0]}"))
    return array


def check_depth_values(depth: np.ndarray, key: str, out: list) -> tuple[int, int, int]:
    """Records ("depth", key, problem or None): a depth map must hold some depth; returns its statistics."""
    stats = depth_stats(depth)
    out.append(("depth", key, None if stats[0] else "no pixel holds a depth (every value is 0)"))
    return stats


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
