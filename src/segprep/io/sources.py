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

from segprep.errors import MissingInput, SegprepError
from segprep.io import remote, remote_fetch
from segprep.io.archives import Archive, ArchiveReader, Member, _open_zip, iter_members


@dataclass(frozen=True)
class FileSource:
    """A file of an extracted download. Can be hard-linked."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | Path) -> "FileSource | RemoteFile":
        """The file at ``path``; a placeholder of a remote file (``--raw URL``) gives a ``RemoteFile``."""
        found = remote.lookup(path)
        if found is not None:
            return RemoteFile(str(path), found.url, found.size, found.mtime_ns)
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


@dataclass(frozen=True)
class RemoteFile:
    """A file of an extracted download that is on a server or in an object store (``--raw s3://...``).

    ``path`` is its placeholder in the local index (so recipes compute relative paths as for a file);
    the engine fetches its bytes in the main process and hands them to the task. Never linked.
    """

    path: str
    url: str
    size: int
    mtime_ns: int

    sequential = False

    def describe(self) -> str:
        return self.url

    def fingerprint(self) -> list:
        return ["remote-file", self.url, self.size, self.mtime_ns]


Source = Union[FileSource, MemberSource, RemoteFile]


def is_remote(source: Source) -> bool:
    """True for what the engine fetches by ranges before the task runs (not one-pass archives)."""
    if isinstance(source, RemoteFile):
        return True
    return isinstance(source, MemberSource) and not source.sequential and source.archive.remote


def remote_wants(sources: Collection[Source]) -> list[remote_fetch.Want]:
    """What to fetch for these remote sources (see ``is_remote``), each once."""
    wants: dict[str, remote_fetch.Want] = {}
    for source in sources:
        key = source.describe()
        if key in wants:
            continue
        if isinstance(source, RemoteFile):
            wants[key] = remote_fetch.Want(key, (source.path,), 0, source.size, name=source.url)
            continue
        archive, member = source.archive, source.member
        if archive.kind != "zip":  # an uncompressed tar: the member's bytes are one range
            wants[key] = remote_fetch.Want(key, archive.parts, member.offset, member.offset + member.size, name=member.name)
            continue
        layout = remote_fetch.layout((archive.parts, archive.inner))
        if layout is None:  # listed in another process (or not yet): read the directory again
            _open_zip(archive).close()
            layout = remote_fetch.layout((archive.parts, archive.inner))
        extent = layout.get(member.name) if layout else None
        if extent is None:
            raise SegprepError(f"{archive.display}: no member {member.name} in its directory (changed on the server?)")
        wants[key] = remote_fetch.Want(key, archive.parts, extent.start, extent.end, extent, member.name)
    return list(wants.values())


def fetch_remote(sources: Collection[Source]) -> dict[str, bytes | SegprepError]:
    """The bytes of remote sources keyed by ``describe()`` (or the error naming each one that failed)."""
    return remote_fetch.fetch(remote_wants([s for s in sources if is_remote(s)]))


class SourceReader:
    """Reads sources in a worker; sequential members arrive preloaded from the engine's pass."""

    def __init__(self) -> None:
        self._archives = ArchiveReader()

    def read(self, source: Source, preloaded: dict[str, bytes] | None = None) -> bytes:
        if preloaded is not None and not isinstance(source, FileSource):
            data = preloaded.get(source.describe())
            if data is not None:
                return data
        if isinstance(source, RemoteFile):
            return _fetch_one(source)
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
    if is_remote(source):
        return _fetch_one(source)
    reader = SourceReader()
    try:
        return reader.read(source)
    finally:
        reader.close()


def _fetch_one(source: Source) -> bytes:
    if isinstance(source, RemoteFile) and remote.lookup(source.path) is None:  # a worker: open the URL itself
        remote.register(source.path, remote.Remote(source.url, lambda: remote.FsspecRanges(source.url),
                                                   source.size, source.mtime_ns))
    data = fetch_remote([source])[source.describe()]
    if isinstance(data, SegprepError):
        raise data
    return data


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
