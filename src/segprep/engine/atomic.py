"""Atomic placement of output files: write or link to a temporary name beside the target, then rename.

A reader (or a killed run) therefore sees either the old file, no file, or the complete new
file, never a partial one. Temporary names carry ``TMP_MARK`` so that a rerun can remove what
a killed run left behind (``remove_stale_temporaries``).
"""

from __future__ import annotations

import errno
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

TMP_MARK = ".segprep-tmp."
# os.link fails with these when source and target cannot share an inode; we copy instead.
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EACCES}


@dataclass(frozen=True)
class OutputRecord:
    """What the journal remembers of one written file."""

    path: str  # relative to the dataset folder, '/'-separated
    size: int
    digest: str | None  # "crc32:..." of the bytes; None for a hard link (the source's bytes, unchanged)
    mtime_ns: int
    inode: int

    def to_json(self) -> list:
        return [self.path, self.size, self.digest, self.mtime_ns, self.inode]

    @classmethod
    def from_json(cls, row: list) -> "OutputRecord":
        return cls(*row)


def temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}{TMP_MARK}{os.getpid()}")


def write_bytes(target: Path, data: bytes) -> tuple[int, int]:
    """Write ``data`` to ``target`` atomically; returns (mtime_ns, inode) of the result."""
    tmp = temporary_name(target)
    try:
        try:
            f = open(tmp, "wb")
        except FileNotFoundError:  # first file of its folder: create it (one mkdir per folder, not per file)
            target.parent.mkdir(parents=True, exist_ok=True)
            f = open(tmp, "wb")
        with f:
            f.write(data)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return _commit(tmp, target)


def write_chunks(target: Path, chunks: Iterable[bytes]) -> tuple[int, str, int, int]:
    """Write the concatenation of ``chunks`` to ``target`` atomically without ever holding it whole.

    For outputs too large to build in memory (a json of hundreds of MB). Returns
    (size, digest, mtime_ns, inode) of the result.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(target)
    crc = size = 0
    try:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return (size, _crc_text(crc), *_commit(tmp, target))


def link(source: str, target: Path) -> tuple[int, int] | None:
    """Hard-link ``source`` to ``target`` atomically; None when the filesystem cannot link."""
    tmp = temporary_name(target)
    _unlink_quietly(tmp)
    try:
        try:
            os.link(source, tmp)
        except FileNotFoundError:
            if not os.path.exists(source):
                raise
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, tmp)
    except OSError as exc:
        if exc.errno in _NO_LINK:
            return None
        raise
    return _commit(tmp, target)


def _commit(tmp: Path, target: Path) -> tuple[int, int]:
    """Rename the finished temporary into place; returns (mtime_ns, inode) of the result."""
    try:
        os.replace(tmp, target)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    # rename() of two hard links to one inode succeeds and does nothing (POSIX): when the target
    # already was a link to the same source, the temporary is still there.
    _unlink_quietly(tmp)
    st = os.stat(target)
    return st.st_mtime_ns, st.st_ino


def same_bytes(target: Path, data: bytes) -> bool:
    """True when ``target`` exists and holds exactly ``data`` (so rewriting it would change nothing
    but its inode and mtime, which tools downstream read as a change)."""
    try:
        if os.path.getsize(target) != len(data):
            return False
        with open(target, "rb") as f:
            return f.read() == data
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False


# The journal's fingerprint of an output's bytes. It guards a resume against outputs changed or
# truncated behind its back, not against an adversary: CRC-32 (twice the speed of SHA-256 here)
# catches every such accident but with a chance of 2^-32.
def digest(data: bytes) -> str:
    return _crc_text(zlib.crc32(data))


def file_digest(path: Path) -> str:
    crc = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            crc = zlib.crc32(block, crc)
    return _crc_text(crc)


def _crc_text(crc: int) -> str:
    return f"crc32:{crc:08x}"


def is_temporary(name: str) -> bool:
    return name.startswith(".") and TMP_MARK in name


def remove_stale_temporaries(roots: Iterable[Path]) -> int:
    """Delete the temporary files a killed run (or a killed worker) left anywhere under ``roots``;
    returns how many. The whole tree is walked, not only the folders of the tasks still to do: a
    worker killed while writing leaves its temporary beside an output whose task a later run may
    have finished since."""
    removed = 0
    for root in roots:
        for directory, _, names in os.walk(root):
            for name in names:
                if is_temporary(name):
                    path = Path(directory) / name
                    if not path.is_dir():
                        _unlink_quietly(path)
                        removed += 1
    return removed


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
