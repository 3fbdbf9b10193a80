"""Safe, selective reading of the official archives.

Nothing here extracts an archive. Members are listed once, each name checked (a member that
would leave the archive root is refused, with its name), then read one at a time:

* by random access: zip, uncompressed tar (also split into parts ``X.tar_aa``, ``X.tar_ab``...),
  and a zip stored uncompressed inside another zip (COCO's panoptic PNG zips);
* in one sequential pass: compressed tars (``.tar.gz``...) and deflated zips inside a zip, which
  cannot be seeked cheaply. The engine schedules those passes (``Archive.sequential``).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from segprep.errors import BadInput, UnsafeArchive
from segprep.io import remote, remote_fetch
from segprep.io.filewindows import Parts, Slice

# Suffix -> kind; longest suffix first so ".tar.gz" wins over ".gz".
_KINDS = (
    (".tar.gz", "tar.gz"),
    (".tgz", "tar.gz"),
    (".tar.bz2", "tar.bz2"),
    (".tar.xz", "tar.xz"),
    (".tar", "tar"),
    (".zip", "zip"),
)
# Split parts as the VSPW authors publish them (VSPW_data.tar_aa) and as `split` names them.
_PART_SUFFIX = re.compile(r"^(?:_|\.)([a-z]{2})$")


def archive_kind(filename: str) -> str | None:
    lower = filename.lower()
    for suffix, kind in _KINDS:
        if lower.endswith(suffix):
            return kind
    return None


@dataclass(frozen=True)
class Archive:
    """An archive on disk: one file or the ordered parts of a split one, possibly nested in a zip."""

    parts: tuple[str, ...]
    kind: str
    inner: str | None = None  # member of the outer zip that is itself a zip
    inner_stored: bool = True  # the inner zip is stored (seekable) rather than deflated

    @property
    def display(self) -> str:
        name = os.path.basename(self.parts[0])
        if len(self.parts) > 1:
            name = f"{name} (+{len(self.parts) - 1} parts)"
        return f"{name}!{self.inner}" if self.inner else name

    @property
    def remote(self) -> bool:
        """True when the bytes are on a server or in an object store (``segprep.io.remote``)."""
        return remote.is_remote(self.parts)

    @property
    def sequential(self) -> bool:
        """True when members can only be read in one pass in archive order."""
        if self.inner is not None:
            return not self.inner_stored
        return self.kind not in ("zip", "tar")

    def fingerprint(self) -> list:
        out: list = [self.kind, self.inner]
        for part in self.parts:
            st = os.stat(part)
            out.append([part, st.st_size, st.st_mtime_ns])
        return out

    def size(self) -> int:
        return sum(os.path.getsize(p) for p in self.parts)


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    offset: int = -1  # uncompressed tar: offset of the data in the concatenated parts
    crc: int = 0  # zip: CRC-32 of the data
    order: int = field(default=0, compare=False)  # position in the archive, for sequential reads


def find_archive(directory: Path, filename: str) -> Archive | None:
    """The archive ``filename`` in ``directory``, whole or as split parts, or None.

    Split parts must run without a gap from ``aa``; a gap is an error naming the missing part.
    """
    kind = archive_kind(filename)
    if kind is None:
        raise ValueError(f"not an archive name: {filename}")
    whole = directory / filename
    if whole.is_file():
        return Archive((str(whole),), kind)
    parts: dict[str, Path] = {}
    if directory.is_dir():
        for entry in directory.iterdir():
            if entry.name.startswith(filename):
                match = _PART_SUFFIX.match(entry.name[len(filename):])
                if match and entry.is_file():
                    parts[match.group(1)] = entry
    if not parts:
        from segprep.io import homes  # --remote: a download missing here may be read where it is published

        return homes.home_archive(directory, filename)
    ordered = sorted(parts)
    for index, suffix in enumerate(ordered):
        expected = _part_suffix(index)
        if suffix != expected:
            raise BadInput(
                f"{directory / filename}: split archive part '{expected}' is missing "
                f"(found {', '.join(ordered)}); download every part before preparing."
            )
    return Archive(tuple(str(parts[s]) for s in ordered), kind)


def _part_suffix(index: int) -> str:
    return chr(ord("a") + index // 26) + chr(ord("a") + index % 26)


def nested(outer: Archive, inner: str) -> Archive:
    """The zip stored as member ``inner`` of the zip ``outer`` (read without extracting it)."""
    if outer.kind != "zip" or outer.inner is not None:
        raise ValueError("only a zip directly inside a zip is supported")
    with _open_zip(outer) as zf:
        try:
            info = zf.getinfo(inner)
        except KeyError:
            raise BadInput(f"{outer.display} has no member {inner}") from None
        return Archive(outer.parts, "zip", inner, info.compress_type == zipfile.ZIP_STORED)


# --------------------------------------------------------------------------- member names


def check_member_path(archive: Archive, name: str) -> None:
    """Refuse a member name that is absolute or climbs out of the archive root."""
    if "\x00" in name:
        raise UnsafeArchive(_unsafe(archive, name, "contains a NUL byte"))
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized):
        raise UnsafeArchive(_unsafe(archive, name, "has an absolute path"))
    if ".." in normalized.split("/"):
        raise UnsafeArchive(_unsafe(archive, name, "climbs out with '..'"))


def _check_link(archive: Archive, name: str, target: str, relative_to_member: bool) -> None:
    base = posixpath.dirname(name.replace("\\", "/")) if relative_to_member else ""
    target = target.replace("\\", "/")
    resolved = posixpath.normpath(posixpath.join(base, target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchive(_unsafe(archive, name, f"is a link to '{target}', outside the archive"))


def _unsafe(archive: Archive, name: str, why: str) -> str:
    return (
        f"{archive.display}: member '{name}' {why}; refusing to read this archive. "
        "It is not an official download (or has been tampered with): download it again from the official page."
    )


# --------------------------------------------------------------------------- listing


def list_members(archive: Archive) -> list[Member]:
    """The regular-file members, in archive order, after checking every member's name."""
    try:
        if archive.kind == "zip":
            return _list_zip(archive)
        if archive.kind == "tar":
            with _open_parts(archive) as fileobj:
                with tarfile.open(fileobj=fileobj, mode="r:") as tf:
                    members = _list_tar(archive, tf)
            if members and members[-1].offset + members[-1].size > archive.size():
                raise EOFError(f"the archive ends inside member {members[-1].name}")
            return members
        with _decompressed(archive) as stream:
            with tarfile.open(fileobj=stream, mode="r|") as tf:
                members = _list_tar(archive, tf)
            while stream.read(1 << 20):  # to the end, so that a truncated stream raises here
                pass
            return members
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        raise _damaged(archive, exc) from None


def _damaged(archive: Archive, exc: BaseException) -> BadInput:
    return BadInput(
        f"{archive.display}: cannot read the archive ({type(exc).__name__}: {exc}). It is damaged, "
        "incomplete or not the expected format: download it again (compare its size with the official one)."
    )


def _list_zip(archive: Archive) -> list[Member]:
    members = []
    with _open_zip(archive) as zf:
        for order, info in enumerate(zf.infolist()):
            check_member_path(archive, info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                target = zf.read(info).decode("utf-8", "replace")
                _check_link(archive, info.filename, target, relative_to_member=True)
                continue  # links are never followed
            if info.is_dir():
                continue
            members.append(Member(info.filename, info.file_size, -1, info.CRC, order))
    return members


def _list_tar(archive: Archive, tf: tarfile.TarFile) -> list[Member]:
    members = []
    for order, info in enumerate(tf):
        check_member_path(archive, info.name)
        if info.issym():
            _check_link(archive, info.name, info.linkname, relative_to_member=True)
            continue
        if info.islnk():
            _check_link(archive, info.name, info.linkname, relative_to_member=False)
            continue
        if not info.isfile():
            continue  # directories, devices, fifos: nothing to read
        members.append(Member(info.name, info.size, info.offset_data, 0, order))
    return members


# --------------------------------------------------------------------------- reading


class ArchiveReader:
    """Random-access reads of members, keeping each archive open (one reader per process)."""

    def __init__(self) -> None:
        self._open: dict[Archive, object] = {}

    def read(self, archive: Archive, member: Member) -> bytes:
        if archive.sequential:
            raise ValueError(f"{archive.display} can only be read sequentially")
        handle = self._open.get(archive)
        if handle is None:
            handle = _open_zip(archive) if archive.kind == "zip" else _open_parts(archive)
            self._open[archive] = handle
        try:
            if archive.kind == "zip":
                return handle.read(member.name)  # zipfile checks the CRC
            handle.seek(member.offset)
            data = handle.read(member.size)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise BadInput(
                f"{archive.display}:{member.name}: cannot read this member ({type(exc).__name__}: {exc}); "
                "the archive is damaged: download it again."
            ) from None
        if len(data) != member.size:
            raise BadInput(f"{archive.display}:{member.name}: archive ends inside this member (truncated download?)")
        return data

    def close(self) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()


def iter_members(archive: Archive, wanted: Collection[str]) -> Iterator[tuple[str, bytes]]:
    """One pass over the archive yielding (name, bytes) of the wanted members, in archive order.

    Stops as soon as every wanted member was seen, so a pass for a few members is short.
    """
    remaining = set(wanted)
    if not remaining:
        return
    try:
        if archive.kind == "zip":  # a deflated zip inside a zip: read forward only
            with _open_zip(archive) as zf:
                infos = sorted((zf.getinfo(n) for n in remaining), key=lambda i: i.header_offset)
                for info in infos:
                    yield info.filename, zf.read(info)
            return
        with _decompressed(archive) as stream:
            with tarfile.open(fileobj=stream, mode="r|") as tf:
                for info in tf:
                    if info.name in remaining and info.isfile():
                        extracted = tf.extractfile(info)
                        assert extracted is not None
                        data = extracted.read()
                        if len(data) != info.size:
                            raise EOFError(f"the archive ends inside member {info.name}")
                        yield info.name, data
                        remaining.discard(info.name)
                        if not remaining:
                            return
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, KeyError, zlib.error, lzma.LZMAError) as exc:
        raise _damaged(archive, exc) from None
    if remaining:
        raise BadInput(f"{archive.display}: members missing in the sequential pass: {sorted(remaining)[:5]}")


def _open_zip(archive: Archive) -> zipfile.ZipFile:
    if archive.inner is None:
        if len(archive.parts) != 1:
            raise BadInput(f"{archive.display}: split zip archives are not supported; join the parts first")
        try:
            if archive.remote:
                zf = zipfile.ZipFile(remote.open_file(archive.parts))
                remote_fetch.remember_layout((archive.parts, None), zf, 0, archive.size())
                return zf
            return zipfile.ZipFile(archive.parts[0])
        except (zipfile.BadZipFile, OSError) as exc:
            raise _damaged(archive, exc) from None
    outer = zipfile.ZipFile(open_file(archive.parts[0]))
    info = outer.getinfo(archive.inner)
    if info.compress_type == zipfile.ZIP_STORED:
        start = stored_data_offset(archive.parts[0], info)
        outer.close()
        zf = zipfile.ZipFile(Slice(open_file(archive.parts[0]), start, info.file_size))
        if archive.remote:
            remote_fetch.remember_layout((archive.parts, archive.inner), zf, start, info.file_size)
        return zf
    # Deflated: a seekable-by-rereading stream; callers read members in offset order.
    return zipfile.ZipFile(outer.open(info))


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


@contextmanager
def _decompressed(archive: Archive) -> Iterator[io.BufferedIOBase]:
    """The tar stream of a compressed tar; the decompressors raise EOFError on a truncated file."""
    openers = {
        "tar.gz": lambda f: gzip.GzipFile(fileobj=f, mode="rb"),
        "tar.bz2": lambda f: bz2.BZ2File(f, mode="rb"),
        "tar.xz": lambda f: lzma.LZMAFile(f, mode="rb"),
    }
    with _open_parts(archive) as raw:
        with openers[archive.kind](raw) as stream:
            yield stream


def _open_parts(archive: Archive) -> io.BufferedReader:
    if archive.remote:  # block reads: headers of a plain tar, or one pass through a compressed one
        readahead = (8 << 20) if archive.sequential else (64 << 10)
        return io.BufferedReader(remote.RangedFile(remote.parts_reader(archive.parts), readahead=readahead))
    if len(archive.parts) == 1:
        return open(archive.parts[0], "rb")
    # The default buffer, as for one file: a larger one is refilled whole at every seek, so listing a
    # split tar (a seek per header) or reading its members one by one would read most of the archive.
    return io.BufferedReader(Parts(archive.parts))
