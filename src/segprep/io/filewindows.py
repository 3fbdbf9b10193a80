"""Seekable read-only views of archive bytes without copying them: a stored member inside an open file (a zip
nested in a zip) and the parts of a split archive read as one file; ``Window`` is their shared position
bookkeeping (also of ``remote.RangedFile``)."""

from __future__ import annotations

import bisect
import io
import os


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

    def __init__(self, f, start: int, size: int) -> None:
        self._f = f  # owned: closed with the window
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
