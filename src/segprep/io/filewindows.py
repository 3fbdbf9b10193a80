"""Seekable read-only views of archive bytes without copying them: a part of an archive (local or remote),
a stored member inside it (a zip nested in a zip), and the parts of a split archive read as one file."""

from __future__ import annotations

import bisect
import io
import os
import struct
import zipfile

from segprep.errors import BadInput
from segprep.io import remote


def open_file(path: str):
    """A part of an archive, local or remote, as a seekable binary file."""
    if remote.lookup(path) is not None:
        return remote.open_file((path,))
    return open(path, "rb")


def stored_data_offset(path: str, info: zipfile.ZipInfo) -> int:
    with open_file(path) as f:
        f.seek(info.header_offset)
        header = f.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise BadInput(f"{os.path.basename(path)}:{info.filename}: bad local header (damaged archive)")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


class Window(io.RawIOBase):
    """Base of the read-only seekable views below: position bookkeeping; subclasses read."""

    _size = 0
    _pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos


class Slice(Window):
    """A read-only window [start, start+size) of a file: a zip stored inside a zip."""

    def __init__(self, path: str, start: int, size: int) -> None:
        self._f = open_file(path)
        self._start, self._size, self._pos = start, size, 0

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), self._size - self._pos))
        if n == 0:
            return 0
        self._f.seek(self._start + self._pos)
        got = self._f.readinto(memoryview(buffer)[:n])
        self._pos += got
        return got

    def close(self) -> None:
        self._f.close()
        super().close()


class Parts(Window):
    """The parts of a split archive read as one seekable stream (never concatenated on disk)."""

    def __init__(self, paths: tuple[str, ...]) -> None:
        self._files = [open(p, "rb") for p in paths]
        self._starts = []
        total = 0
        for f in self._files:
            self._starts.append(total)
            total += os.fstat(f.fileno()).st_size
        self._size, self._pos = total, 0

    def readinto(self, buffer) -> int:
        view = memoryview(buffer)
        done = 0
        while done < len(view) and self._pos < self._size:
            index = bisect.bisect_right(self._starts, self._pos) - 1
            f = self._files[index]
            f.seek(self._pos - self._starts[index])
            got = f.readinto(view[done:])
            if not got:
                break
            done += got
            self._pos += got
        return done

    def close(self) -> None:
        for f in self._files:
            f.close()
        super().close()
