"""Turns a sample download into the other forms a user may hand to ``prepare``: extracted, and damaged."""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


def is_archive(name: str) -> bool:
    return name.endswith(ARCHIVE_SUFFIXES) or _split_tar_part(name) is not None


def _split_tar_part(name: str) -> str | None:
    """``VSPW_data.tar_aa`` -> ``VSPW_data.tar`` (parts of one tar split with ``split``)."""
    stem, _, part = name.rpartition(".tar_")
    return f"{stem}.tar" if stem and len(part) == 2 and part.isalpha() else None


def extract_all(raw: Path, out: Path) -> Path:
    """A copy of ``raw`` with every archive extracted where it lies (inner zips too), as a user who
    unpacks everything would have it. Split tar parts are joined first."""
    shutil.copytree(raw, out)
    parts: dict[Path, list[Path]] = {}
    for path in sorted(out.rglob("*")):
        joined = _split_tar_part(path.name)
        if joined is not None:
            parts.setdefault(path.with_name(joined), []).append(path)
    for target, pieces in parts.items():
        with open(target, "wb") as f:
            for piece in sorted(pieces):
                f.write(piece.read_bytes())
                piece.unlink()
    while True:
        archives = sorted(p for p in out.rglob("*") if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES))
        if not archives:
            return out
        for archive in archives:
            staging = archive.with_name(archive.name + ".extracting")
            if archive.name.endswith(".zip"):
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(staging)
            else:
                with tarfile.open(archive) as tf:
                    tf.extractall(staging, filter="data")
            _merge(staging, archive.parent)  # a file already there (a published replacement) wins
            archive.unlink()


def _merge(staging: Path, into: Path) -> None:
    for directory, _, names in os.walk(staging):
        target_dir = into / Path(directory).relative_to(staging)
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            if not (target_dir / name).exists():
                os.replace(Path(directory) / name, target_dir / name)
    shutil.rmtree(staging)
