"""Where a task's input bytes come from: a file on disk or a member of an archive.

Sources are small frozen values so that tasks can be pickled to worker processes and
fingerprinted for the resume journal without reading any data.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from segprep.errors import MissingInput
from segprep.io.archives import Archive, ArchiveReader, Member, iter_members


@dataclass(frozen=True)
class FileSource:
    """A file of an extracted download. Can be hard-linked."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | Path) -> "FileSource":
        st = os.stat(path)
        return cls(str(path), st.st_size, st.st_mtime_ns)

    sequential = False

    def describe(self) -> str:
        return self.path

    def fingerprint(self) -> list:
        return ["file", self.path, self.size, self.mtime_ns]


@dataclass(frozen=True)
class MemberSource:
    """A member of an archive. Read by random access, or handed over by a sequential pass."""

    archive: Archive
    member: Member

    @property
    def size(self) -> int:
        return self.member.size

    @property
    def sequential(self) -> bool:
        return self.archive.sequential

    def describe(self) -> str:
        return f"{self.archive.display}:{self.member.name}"

    def fingerprint(self) -> list:
        m = self.member
        return ["member", self.archive.fingerprint(), m.name, m.size, m.crc, m.offset]


Source = Union[FileSource, MemberSource]


class SourceReader:
    """Reads sources in a worker; sequential members arrive preloaded from the engine's pass."""

    def __init__(self) -> None:
        self._archives = ArchiveReader()

    def read(self, source: Source, preloaded: dict[str, bytes] | None = None) -> bytes:
        if isinstance(source, FileSource):
            try:
                with open(source.path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                raise MissingInput(f"{source.path}: file disappeared since the plan was made; rerun prepare") from None
        if source.sequential:
            key = source.describe()
            if preloaded is None or key not in preloaded:
                raise RuntimeError(f"{key}: a sequential member was not preloaded by the engine")
            return preloaded[key]
        return self._archives.read(source.archive, source.member)

    def close(self) -> None:
        self._archives.close()


def read_once(source: Source) -> bytes:
    """The bytes of one source outside a task (e.g. a json a recipe needs to plan): a member of a one-pass
    archive is read by a pass that stops at it."""
    if isinstance(source, MemberSource) and source.sequential:
        return dict(iter_members(source.archive, [source.member.name]))[source.member.name]
    reader = SourceReader()
    try:
        return reader.read(source)
    finally:
        reader.close()


def walk_dirs(root: Path, max_depth: int, enter=lambda name: True,
              skip: Collection[Path] = ()) -> Iterator[tuple[Path, int]]:
    """The folders below ``root`` with their depth (1 = a child), breadth first in sorted order, at most
    ``max_depth`` levels deep, without walking whole trees: a folder whose name ``enter`` refuses is
    yielded but not entered; hidden folders and ``skip`` (resolved) are left out."""
    frontier = [root]
    for depth in range(1, max_depth + 1):
        next_frontier = []
        for folder in frontier:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except (NotADirectoryError, PermissionError, FileNotFoundError):
                continue
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_dir() or (skip and Path(entry.path).resolve() in skip):
                    continue
                yield Path(entry.path), depth
                if enter(entry.name):
                    next_frontier.append(Path(entry.path))
        frontier = next_frontier


def find_dirs(root: Path, names: Collection[str], max_depth: int, descend_into: Collection[str] = (),
              skip: Collection[Path] = ()) -> list[Path]:
    """Folders named ``names`` (the roots of a dataset's extracted layouts) within ``max_depth`` levels
    of ``root`` (see ``walk_dirs``); a found folder is not entered unless its name is in ``descend_into``."""
    walk = walk_dirs(root, max_depth, lambda name: name not in names or name in descend_into, skip)
    return [path for path, _ in walk if path.name in names]
