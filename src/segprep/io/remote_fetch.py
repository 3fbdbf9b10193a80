"""Fetching many archive members at once by merged byte ranges, each decompressed and CRC-checked; the zip
layouts (each member's extent) this needs. Part of ``segprep.io.remote`` (see there)."""

from __future__ import annotations

import os
import struct
import threading
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from segprep.errors import BadInput, SegprepError
from segprep.io.remote import MAX_REQUEST, LoginRequired, RangesNotSupported, RemoteError, connections, parts_reader


@dataclass(frozen=True)
class Extent:
    """Where a member's bytes are in the archive file: [start, end) holds its local header and data."""

    start: int
    end: int
    compress_type: int
    compress_size: int
    file_size: int
    crc: int
    flag_bits: int


_layouts: dict[tuple, dict[str, Extent]] = {}
_layouts_lock = threading.Lock()


def remember_layout(key: tuple, zf: zipfile.ZipFile, base: int, limit: int) -> None:
    """Records every member's extent from an open zip's central directory (``base``: where the zip starts in
    the file, non-zero for a zip stored inside a zip; ``limit``: where its members end)."""
    infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
    cd_start = getattr(zf, "start_dir", None)
    stop = base + (cd_start if cd_start is not None else limit)
    layout = {}
    for index, info in enumerate(infos):
        end = base + infos[index + 1].header_offset if index + 1 < len(infos) else stop
        layout[info.filename] = Extent(base + info.header_offset, end, info.compress_type, info.compress_size,
                                       info.file_size, info.CRC, info.flag_bits)
    with _layouts_lock:
        _layouts[key] = layout


def layout(key: tuple) -> dict[str, Extent] | None:
    return _layouts.get(key)


# --------------------------------------------------------------------------- fetching many members


@dataclass(frozen=True)
class Want:
    """One thing to fetch: a zip member (extent known), a raw byte range (tar member), or a whole object."""

    key: str  # what the bytes are handed over as (a source's describe())
    parts: tuple[str, ...]  # placeholders of the archive (or of the file)
    start: int
    end: int
    extent: Extent | None = None  # a zip member: decompress and check its CRC
    name: str = ""  # member name, for messages


def fetch(wants: list[Want], max_request: int = MAX_REQUEST) -> dict[str, bytes | SegprepError]:
    """The bytes of every want (or the error that names it), fetched in parallel by merged ranges.

    Login and "no ranges" failures concern every want and are raised; other failures are returned per want.
    """
    requests: list[tuple[tuple[str, ...], int, int, list[Want]]] = []
    by_object: dict[tuple[str, ...], list[Want]] = {}
    for want in wants:
        by_object.setdefault(want.parts, []).append(want)
    for parts, items in by_object.items():
        items.sort(key=lambda w: (w.start, w.end))
        current: list[Want] = []
        lo = hi = 0
        for want in items:
            if current and want.start <= hi and max(hi, want.end) - lo <= max_request:
                current.append(want)
                hi = max(hi, want.end)
                continue
            if current:
                requests.append((parts, lo, hi, current))
            current, lo, hi = [want], want.start, want.end
        if current:
            requests.append((parts, lo, hi, current))
    results: dict[str, bytes | SegprepError] = {}
    if not requests:
        return results
    with ThreadPoolExecutor(min(connections(), len(requests)), thread_name_prefix="segprep-fetch") as pool:
        futures = [pool.submit(_fetch_request, *request) for request in requests]
        fatal = None
        for future in futures:
            try:
                results.update(future.result())
            except (LoginRequired, RangesNotSupported) as exc:
                fatal = fatal or exc
        if fatal is not None:
            raise fatal
    return results


def _fetch_request(parts, lo: int, hi: int, items: list[Want]) -> dict[str, bytes | SegprepError]:
    r = parts_reader(parts)
    out: dict[str, bytes | SegprepError] = {}
    try:
        blob = r.read(lo, hi)
    except (LoginRequired, RangesNotSupported):
        raise
    except SegprepError as exc:
        return {w.key: exc for w in items}
    for want in items:
        data = blob[want.start - lo:want.end - lo]
        if want.extent is None:
            out[want.key] = data if len(data) == want.end - want.start else RemoteError(
                f"{r.url}: {want.name or want.key}: short read ({len(data):,} of {want.end - want.start:,} bytes)")
            continue
        try:
            out[want.key] = decode_member(data, want.extent, want.name, r.url)
        except BadInput:
            try:  # once more: a transfer error is fixed by a second read, a damaged archive is not
                out[want.key] = decode_member(r.read(want.start, want.end), want.extent, want.name, r.url)
            except SegprepError as exc:
                out[want.key] = exc
    return out


def decode_member(blob: bytes, extent: Extent, name: str, where: str) -> bytes:
    """A zip member's content from its local header + data bytes; checks size and CRC-32."""
    label = f"{os.path.basename(where.split('?')[0]) or where}:{name}"
    if len(blob) < 30 or blob[:4] != b"PK\x03\x04":
        raise BadInput(f"{label}: no local header where the directory puts it (the remote archive is damaged)")
    if extent.flag_bits & 0x1:
        raise BadInput(f"{label}: the member is encrypted; segprep cannot read it")
    name_len, extra_len = struct.unpack("<HH", blob[26:30])
    start = 30 + name_len + extra_len
    data = blob[start:start + extent.compress_size]
    if len(data) != extent.compress_size:
        raise BadInput(f"{label}: the member's data is cut short (the remote archive is damaged)")
    try:
        if extent.compress_type == zipfile.ZIP_STORED:
            content = data
        elif extent.compress_type == zipfile.ZIP_DEFLATED:
            content = zlib.decompress(data, -15)
        elif extent.compress_type == zipfile.ZIP_BZIP2:
            import bz2

            content = bz2.decompress(data)
        else:
            raise BadInput(f"{label}: compression method {extent.compress_type} is not supported")
    except (zlib.error, OSError, ValueError) as exc:
        raise BadInput(f"{label}: the compressed data is damaged ({exc}); this member is skipped, the others go "
                       "on. If it fails again, the archive on the server is damaged: report it to its host.") from None
    if len(content) != extent.file_size or zlib.crc32(content) != extent.crc:
        raise BadInput(f"{label}: CRC-32 check failed (expected {extent.crc:08x}, got {zlib.crc32(content):08x}, "
                       f"{len(content):,} of {extent.file_size:,} bytes); this member is skipped, the others go on. "
                       "If it fails again, the archive on the server is damaged: report it to its host.")
    return content


