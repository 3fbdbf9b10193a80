"""Deterministic archive writers for the miniature downloads: same members, same bytes, every run.

Timestamps, owners and modes are fixed; directory entries are written before their files, as
``zip -r`` and ``tar -c`` do, so the archives look like the official ones to a reader.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

FIXED_TIME = (2021, 1, 1, 0, 0, 0)
FIXED_MTIME = 1609459200  # 2021-01-01 UTC


def _with_parents(members: Iterable[tuple[str, bytes]]) -> Iterator[tuple[str, bytes | None]]:
    seen: set[str] = set()
    for name, data in members:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directory = "/".join(parts[:i]) + "/"
            if directory not in seen:
                seen.add(directory)
                yield directory, None
        yield name, data


def write_zip(path: Path, members: Iterable[tuple[str, bytes]], compresslevel: int = 1,
              stored: Collection[str] = ()) -> None:
    """A deflated zip of (name, bytes) pairs (members named in ``stored`` uncompressed), written to a
    temporary name then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, data in _with_parents(members):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            if data is None:
                info.external_attr = (0o40755 << 16) | 0x10
                zf.writestr(info, b"")
            else:
                info.external_attr = 0o100644 << 16
                kind = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
                info.compress_type = kind
                zf.writestr(info, data, compress_type=kind, compresslevel=compresslevel)
    tmp.replace(path)


def write_tar(path: Path, members: Iterable[tuple[str, bytes]], compression: str = "gz") -> None:
    """A tar (``compression`` "gz" or "") of (name, bytes) pairs, gzip header without a timestamp."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as raw:
        stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) if compression == "gz" else raw
        with tarfile.open(fileobj=stream, mode="w", format=tarfile.GNU_FORMAT) as tf:
            for name, data in _with_parents(members):
                info = tarfile.TarInfo(name.rstrip("/"))
                info.mtime = FIXED_MTIME
                info.uid = info.gid = 1000
                info.uname = info.gname = "user"
                if data is None:
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tf.addfile(info)
                else:
                    info.mode = 0o644
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        if stream is not raw:
            stream.close()
    tmp.replace(path)
