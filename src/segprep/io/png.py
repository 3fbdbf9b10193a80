"""A fast PNG reader and writer for label maps (8/16-bit gray, 8-bit gray+alpha, RGB and RGBA), built on zlib-ng.

Reading: the IDAT stream inflated by zlib-ng in one call into a buffer of the known size, then the
row filters undone by a compiled loop (``kernels.png_unfilter``); 16-bit samples are swapped from
PNG's big-endian order in one numpy pass. Only plain files take this path: anything else
(interlaced, palette, fewer than 8 bits, 16-bit colour, a tRNS chunk, or a stream that does not inflate
to exactly the expected size) returns None and the caller uses the existing decoders, which also
name the damage in their error messages.

Writing: every row with the Up filter (a label map's rows mostly repeat the row above, so the
filtered bytes are mostly 0), computed by one numpy subtraction, then one zlib-ng deflate at
level 1 with the run-length strategy: the bytes libpng would write with the same settings, within a
few percent in size, several times faster because nothing is done per row in Python or libpng.
"""

from __future__ import annotations

import struct

import numpy as np

from segprep.io import accel

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FILTER_UP = 2
# (dtype, channels) -> (bit depth, colour type)
_KINDS = {(np.dtype(np.uint8), 1): (8, 0), (np.dtype(np.uint8), 2): (8, 4), (np.dtype(np.uint8), 3): (8, 2),
          (np.dtype(np.uint8), 4): (8, 6), (np.dtype(np.uint16), 1): (16, 0)}
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour types this reader decodes


def _chunk(z, kind: bytes, payload) -> bytes:
    return struct.pack(">I", len(payload)) + kind + bytes(payload) + struct.pack(">I", z.crc32(payload, z.crc32(kind)))


def encode(array: np.ndarray) -> bytes | None:
    """PNG bytes of a label array ((H, W[, 2|3|4]) uint8 or (H, W) uint16), or None without zlib-ng."""
    z = accel.zlib_ng()
    if z is None:
        return None
    channels = 1 if array.ndim == 2 else array.shape[2]
    depth, color = _KINDS[(array.dtype, channels)]
    height, width = array.shape[:2]
    rows = np.ascontiguousarray(array if depth == 8 else array.astype(">u2")).view(np.uint8).reshape(height, -1)
    filtered = np.empty((height, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = _FILTER_UP
    if height:
        filtered[0, 1:] = rows[0]  # Up on the first row: the row above counts as zeros
        np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    deflate = z.compressobj(1, z.DEFLATED, 15, 8, z.Z_RLE)
    idat = deflate.compress(filtered) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return b"".join((_SIGNATURE, _chunk(z, b"IHDR", header), _chunk(z, b"IDAT", idat), _chunk(z, b"IEND", b"")))


def decode(data: bytes) -> np.ndarray | None:
    """Pixels of a plain 8/16-bit gray, RGB or RGBA PNG ((H, W) or (H, W, C), uint8 or uint16), or None
    when this reader does not take the file (see the module's doc) or an accelerator is missing.

    The caller has checked the chunk structure (``images.png_info``)."""
    z = accel.zlib_ng()
    if z is None or data[:8] != _SIGNATURE or data[12:16] != b"IHDR":
        return None
    width, height, depth, color, _, _, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    if not (depth == 8 or (depth == 16 and color == 0)) or color not in _CHANNELS or interlace or not width or not height:
        return None  # 16-bit colour: Pillow (the fallback) reduces it to 8 bits; keep its arrays
    channels = _CHANNELS[color]
    bpp = channels * depth // 8
    rowbytes = width * bpp
    view = memoryview(data)
    parts = []
    pos, size = 8, len(data)
    while pos + 8 <= size:
        (length,), kind = struct.unpack_from(">I", data, pos), data[pos + 4: pos + 8]
        if kind == b"IDAT":
            parts.append(view[pos + 8: pos + 8 + length])
        elif kind == b"tRNS":
            return None  # readers differ on what a transparent colour becomes: leave it to them
        elif kind == b"IEND":
            break
        pos += 12 + length
    expected = height * (rowbytes + 1)
    try:
        inflate = z.decompressobj()
        raw = inflate.decompress(b"".join(parts) if len(parts) != 1 else parts[0], expected)
        if len(raw) != expected or not inflate.eof or inflate.unconsumed_tail:
            return None
    except z.error:
        return None
    out = _unfilter(np.frombuffer(raw, np.uint8).reshape(height, rowbytes + 1), bpp)
    if out is None:
        return None
    shape = (height, width) if channels == 1 else (height, width, channels)
    if depth == 16:
        return out.view(">u2").astype(np.uint16).reshape(shape)
    return out.reshape(shape)


def _unfilter(raw: np.ndarray, bpp: int) -> np.ndarray | None:
    """The pixel bytes of ``raw`` (rows of filter type + filtered bytes), or None for an unknown filter type
    or an Average / Paeth row without numba.

    The compiled loop when numba is already loaded in this process, or when a row needs it
    (Average, Paeth: a byte depends on the byte to its left); otherwise numpy, row by row (None, Sub
    and Up rows, which is every row segprep writes): a worker that only reads segprep's own files
    does not pay numba's start-up (~0.5 s of CPU per process).
    """
    kinds = raw[:, 0]
    if kinds.max(initial=0) > 4:
        return None
    height, rowbytes = raw.shape[0], raw.shape[1] - 1
    out = np.empty((height, rowbytes), np.uint8)
    if accel.kernels_loaded() or kinds.max(initial=0) > 2:
        k = accel.kernels()
        if k is None:
            return None
        return out if k.png_unfilter(raw.reshape(-1), height, rowbytes, bpp, out) == -1 else None
    prev = None
    for y, kind in enumerate(kinds.tolist()):
        line, cur = raw[y, 1:], out[y]
        if kind == 2 and prev is not None:
            np.add(line, prev, out=cur)
        elif kind == 1 and rowbytes > bpp:
            pixels = rowbytes // bpp
            np.add.accumulate(line.reshape(pixels, bpp), axis=0, dtype=np.uint8, out=cur.reshape(pixels, bpp))
        else:  # None, or Up on the first row (the row above counts as zeros), or a one-pixel Sub row
            cur[:] = line
        prev = cur
    return out
