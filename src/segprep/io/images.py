"""The one place that reads and writes image files.

``png_info`` checks a PNG's structure (every chunk complete, every CRC right, IHDR first, IEND
present) without decoding its pixels: it catches truncated and corrupted files at the speed of
reading them, which is what a copy-only recipe needs.

Label PNGs are read and written by ``io.png`` (zlib-ng, numpy and compiled row unfiltering), JPEG
frames decoded by simplejpeg and resized by ``io.resample`` (Pillow's BILINEAR, compiled): each
gives exactly the pixels and bytes of the path it replaces, which stays as the fallback (Pillow,
libspng, libpng) when an accelerator is missing or ``SEGPREP_ACCEL=0`` (``io.accel``).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from segprep.errors import BadInput
from segprep.io import accel, png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types -> channels
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


@dataclass(frozen=True)
class PngInfo:
    width: int
    height: int
    bit_depth: int
    color_type: int  # 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA

    @property
    def channels(self) -> int:
        return _CHANNELS[self.color_type]


def png_info(data: bytes, name: str, verify_crc: bool = True) -> PngInfo:
    """Header of a PNG after checking every chunk; raises BadInput naming ``name`` otherwise.

    Without ``verify_crc`` only the structure is walked (every chunk complete, IEND present):
    enough to catch truncation when a container (a zip member's CRC-32) already vouches for the bytes.
    """
    if data[:8] != PNG_SIGNATURE:
        what = "is empty (0 bytes)" if not data else "is not a PNG file (wrong signature)"
        raise BadInput(f"{name} {what}")
    view = memoryview(data)
    pos, size = 8, len(data)
    info: PngInfo | None = None
    while True:
        if pos + 8 > size:
            raise BadInput(_truncated(name, size, "before the IEND chunk"))
        length, ctype = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > size:
            raise BadInput(_truncated(name, size, f"in the middle of chunk {ctype.decode('latin-1')}"))
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if (verify_crc or info is None) and zlib.crc32(view[pos + 4 : end - 4]) != crc:
            raise BadInput(f"{name} is corrupt: CRC mismatch in chunk {ctype.decode('latin-1')} at byte {pos}")
        if info is None:
            if ctype != b"IHDR" or length != 13:
                raise BadInput(f"{name} is corrupt: the first chunk is not IHDR")
            width, height, depth, color = struct.unpack_from(">IIBB", data, pos + 8)
            if color not in _CHANNELS:
                raise BadInput(f"{name} is corrupt: unknown PNG colour type {color}")
            info = PngInfo(width, height, depth, color)
        if ctype == b"IEND":
            return info
        pos = end


def _truncated(name: str, size: int, where: str) -> str:
    return f"{name} is truncated: the file ends after {size} bytes {where} (interrupted download or extraction?)"


@dataclass(frozen=True)
class JpegInfo:
    width: int
    height: int
    components: int  # 1 gray, 3 YCbCr, 4 CMYK
    progressive: bool


# Start-of-frame markers (baseline, extended, progressive, lossless; Huffman or arithmetic)
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field


def jpeg_info(data: bytes, name: str) -> JpegInfo:
    """Size of a JPEG after checking its structure: SOI first, every header segment complete, a
    frame header before the scan, and the EOI marker at the end (a truncated file has none).

    Reads the headers only (no pixel decoding); raises BadInput naming ``name``.
    """
    if data[:2] != b"\xff\xd8":
        what = "is empty (0 bytes)" if not data else "is not a JPEG file (no SOI marker)"
        raise BadInput(f"{name} {what}")
    size = len(data)
    pos = 2
    info: JpegInfo | None = None
    while True:
        while pos < size and data[pos] == 0xFF and pos + 1 < size and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 2 > size:
            raise BadInput(f"{name} is truncated: the file ends after {size} bytes inside the headers")
        if data[pos] != 0xFF:
            raise BadInput(f"{name} is corrupt: no JPEG marker at byte {pos}")
        marker = data[pos + 1]
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        if marker == 0xD9:
            raise BadInput(f"{name} is corrupt: image ends (EOI) before any scan")
        if pos + 4 > size:
            raise BadInput(f"{name} is truncated: the file ends after {size} bytes inside the headers")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > size:
            raise BadInput(f"{name} is truncated: the file ends after {size} bytes inside a header segment")
        if marker in _SOF_MARKERS:
            if length < 8:
                raise BadInput(f"{name} is corrupt: frame header too short")
            height, width, components = struct.unpack_from(">HHB", data, pos + 5)
            info = JpegInfo(width, height, components, marker in (0xC2, 0xC6, 0xCA, 0xCE))
        elif marker == 0xDA:
            if info is None:
                raise BadInput(f"{name} is corrupt: scan data before the frame header")
            break
        pos = end
    if data.rstrip(b"\x00")[-2:] != b"\xff\xd9":
        raise BadInput(f"{name} is truncated: no end-of-image marker after {size} bytes "
                       "(interrupted download or extraction?)")
    return info


def decode_png(data: bytes, name: str) -> np.ndarray:
    """Pixels of a PNG as an array: (H, W) for one channel, (H, W, C) otherwise; 16-bit stays uint16.

    A structurally sound plain gray / RGB / RGBA file goes through the fast reader (``io.png``, the
    same arrays); everything else, damaged files included, through Pillow."""
    if accel.enabled() and data[:8] == PNG_SIGNATURE:
        try:
            png_info(data, name)
        except BadInput:
            pass  # Pillow names the damage
        else:
            array = png.decode(data)
            if array is not None:
                return array
    return _decode_png_pillow(data, name)


def _decode_png_pillow(data: bytes, name: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "PNG":
                raise BadInput(f"{name} is not a PNG file")
            if im.mode == "P":
                im = im.convert("RGB") if "transparency" not in im.info else im.convert("RGBA")
            array = _gray_pixels(im) if im.mode in _GRAY_DTYPES else None
            if array is None:
                array = np.asarray(im)
    except BadInput:
        raise
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError... for bad files
        raise BadInput(f"{name} cannot be decoded ({type(exc).__name__}: {exc}); it is damaged") from None
    if array.dtype == np.int32:  # Pillow's mode "I" for 16-bit gray
        array = array.astype(np.uint16)
    return array


_GRAY_DTYPES = {"L": np.uint8, "I;16": np.dtype("<u2")}


def _gray_pixels(im: Image.Image) -> np.ndarray | None:
    """The pixels of a one-channel image (mode ``L`` or ``I;16``) copied into a new array, or None.

    ``np.asarray(im)`` goes through ``im.tobytes()``, which encodes the image in small chunks
    (about 5 ms for a 1080p 16-bit mask); pasting it into an image that shares the array's
    memory is a plain copy (about 0.5 ms). Pillow maps ``L`` and ``I;16`` buffers without
    copying; every step is checked, and None (use ``np.asarray``) when one is not as expected.
    """
    im.load()
    width, height = im.size
    out = np.empty((height, width), _GRAY_DTYPES[im.mode])
    if out.size == 0:
        return None
    target = Image.frombuffer(im.mode, im.size, out, "raw", im.mode, 0, 1)
    out[0, 0] = 1
    first = target.getpixel((0, 0))
    out[0, 0] = 2
    if (first, target.getpixel((0, 0))) != (1, 2):  # the image does not share the array's memory
        return None
    target.readonly = False  # the memory is our writable array; paste would otherwise copy it first
    target.paste(im, (0, 0))
    corner = (width - 1, height - 1)
    if target.readonly or out[0, 0] != im.getpixel((0, 0)) or out[-1, -1] != im.getpixel(corner):
        return None
    return out


def encode_png(array: np.ndarray, compress_level: int = 6) -> bytes:
    """PNG bytes of a uint8 (H, W[, 3|4]) or uint16 (H, W) array."""
    if not (array.dtype == np.uint8 or (array.dtype == np.uint16 and array.ndim == 2)):
        raise ValueError(f"cannot write {array.dtype} {array.shape} as PNG")
    image = Image.fromarray(np.ascontiguousarray(array))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=compress_level)
    return out.getvalue()


def decode_png_fast(data: bytes, name: str, rgba: bool = False, info: PngInfo | None = None) -> np.ndarray:
    """``decode_png`` after the chunk and CRC check of ``png_info`` (libspng does not notice a damaged
    IEND), with faster decoders where they give the same arrays: first ``io.png`` (zlib-ng + row
    unfiltering: plain 8/16-bit gray, gray+alpha, RGB, RGBA; 2-10x libspng/libpng), then libspng (pyspng)
    for 8-bit gray / RGB / RGBA (1.6-1.8x faster than Pillow on label maps), libpng (imagecodecs) for
    16-bit gray (pyspng mis-shapes it). Other kinds go through ``decode_png``. ``rgba=True``
    (8-bit RGB or RGBA only) returns (H, W, 4) with alpha 255 added, so that a pixel can be viewed as
    one uint32. ``info``: ``png_info`` of these bytes when the caller already has it (not walked again)."""
    if info is None:
        info = png_info(data, name)
    if rgba and (info.bit_depth != 8 or info.color_type not in (2, 6)):
        raise BadInput(f"{name}: expected an 8-bit RGB(A) PNG, found colour type {info.color_type}, {info.bit_depth} bit")
    array = png.decode(data)  # zlib-ng + compiled unfiltering: None when not installed or not a plain file
    if array is not None:
        if rgba and array.shape[2] == 3:
            out = np.empty(array.shape[:2] + (4,), np.uint8)
            kernels = accel.kernels()
            if kernels is not None:
                kernels.rgb_to_rgba(array, out)
            else:
                out[..., :3] = array
                out[..., 3] = 255
            return out
        return array
    if (info.bit_depth, info.color_type) == (16, 0):
        import imagecodecs

        try:
            return imagecodecs.png_decode(data)
        except Exception:  # imagecodecs raises its own error classes: let Pillow name the damage
            return decode_png(data, name)
    if info.bit_depth != 8 or info.color_type not in (0, 2, 6):
        return decode_png(data, name)
    import pyspng

    try:
        return pyspng.load(data, format="RGBA") if rgba else pyspng.load(data)
    except Exception as exc:  # pyspng raises RuntimeError for bad data
        raise BadInput(f"{name} cannot be decoded ({type(exc).__name__}: {exc}); it is damaged") from None


# --------------------------------------------------------------------------- fast label PNGs, JPEG, resizing

_PNG_FILTER_UP = 0x20  # libpng's flag for the UP row filter


def encode_png_fast(array: np.ndarray) -> bytes:
    """Lossless PNG of a uint8 (H, W[, 2|3|4]) or uint16 (H, W) label array, written for speed.

    The Up filter on every row (a label map's rows mostly repeat the row above) and zlib level 1
    with the run-length strategy: ``io.png`` (numpy + zlib-ng, 2-4.5x faster), else libpng through
    imagecodecs with the same settings (files within a few tenths of a percent). Label maps encode
    10-20x faster than with Pillow's default (level 6, every filter tried on every row) in files
    1.2-1.5x larger. Photos compress poorly this way: use ``encode_png`` for them.
    Any PNG reader decodes these files (Pillow, libpng, OpenCV, mmcv).
    """
    if not (array.dtype == np.uint8 or (array.dtype == np.uint16 and array.ndim == 2)):
        raise ValueError(f"cannot write {array.dtype} {array.shape} as PNG")
    if array.ndim == 2 or array.shape[2] in (2, 3, 4):
        data = png.encode(array)  # the same filter and deflate settings through zlib-ng, no libpng
        if data is not None:
            return data
    import imagecodecs

    return imagecodecs.png_encode(np.ascontiguousarray(array), level=1, strategy=zlib.Z_RLE, filter=_PNG_FILTER_UP)


def resize_jpeg(data: bytes, name: str, size: tuple[int, int], quality: int = 75,
                resample: int = Image.BILINEAR) -> bytes:
    """Decode, resize and re-encode a JPEG exactly as ``Image.open(f).resize(size, resample).save(g)``.

    Same library, same calls: the pixels equal those of a Pillow script (OpenCV's resizes differ).
    ``quality`` 75 is Pillow's default. With the accelerators (``io.accel``), a YCbCr or gray JPEG is
    decoded by simplejpeg (the same libjpeg-turbo decoder with the same settings: the same pixels)
    and resized by the compiled BILINEAR (``io.resample``: Pillow's pixels, checked at first use);
    the encoder stays Pillow's, so the bytes are the same. Anything the fast path does not take
    (another filter or colour space, a damaged file) goes through Pillow, which names the damage.
    """
    if resample == Image.BILINEAR and accel.enabled():
        pixels = _decode_jpeg_fast(data)
        if pixels is not None:
            from segprep.io.resample import compiled_available, resize_bilinear

            if compiled_available():
                resized = resize_bilinear(pixels, size)
                out = io.BytesIO()
                Image.fromarray(resized, "L" if resized.ndim == 2 else "RGB").save(out, format="JPEG", quality=quality)
                return out.getvalue()
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "JPEG":
                raise BadInput(f"{name} is not a JPEG file")
            resized = im.resize(size, resample)
    except BadInput:
        raise
    except Exception as exc:  # truncated: "image file is truncated"; corrupt: "broken data stream"...
        raise BadInput(f"{name} cannot be decoded ({type(exc).__name__}: {exc}); it is damaged or truncated") from None
    out = io.BytesIO()
    resized.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _decode_jpeg_fast(data: bytes) -> np.ndarray | None:
    """(H, W, 3) or (H, W) uint8 pixels of a YCbCr or gray JPEG decoded by simplejpeg, or None (not
    installed, accelerators off, another colour space, or any decoding problem: strict mode raises
    on the recoverable errors that Pillow reports as damage)."""
    simplejpeg = accel.simplejpeg()
    if simplejpeg is None:
        return None
    try:
        _, _, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        if colorspace == "YCbCr":
            return simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
        if colorspace == "Gray":
            return simplejpeg.decode_jpeg(data, colorspace="GRAY", strict=True)[:, :, 0]
    except Exception:  # simplejpeg raises ValueError for bad data
        return None
    return None


@lru_cache(maxsize=128)
def _nearest_table(in_size: int, out_size: int, per_pixel: bool) -> np.ndarray:
    """The source index Pillow's NEAREST picks for each of ``out_size`` positions; ``in_size`` where
    Pillow fills the pixel with 0 instead (a pick past the end, which the arithmetic never reaches
    for whole-image resizes, handled for completeness).

    Pillow has two pieces of arithmetic (libImaging/Geometry.c, reached through ``ImagingTransform``):
    8- and 32-bit images (L, P, RGB, RGBA, I, F) use ``ImagingScaleAffine``, which starts at
    ``scale / 2`` and *adds* ``scale`` once per position, truncating each running sum; 16-bit
    images (I;16, a "special" type) use the generic transform, which computes
    ``scale * (x + 0.5)`` for each position. Both are in double precision; the running sum drifts
    from the product, so they pick different pixels at some size pairs (1000 -> 852, 480 -> 720, ...).
    """
    scale = in_size / out_size  # (double)(box width) / out_size, box width exact in float
    if per_pixel:
        positions = scale * (np.arange(out_size, dtype=np.float64) + 0.5)
    else:
        steps = np.full(out_size, scale, dtype=np.float64)
        steps[0] = scale * 0.5
        positions = np.add.accumulate(steps)  # sequential, as the C loop's xo += a[0]
    picks = positions.astype(np.intp)  # truncation: positions are never negative here
    return np.minimum(picks, in_size)


def resize_nearest(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``array`` (H, W[, C]) resized to ``size`` (width, height) with the pixels Pillow's NEAREST picks
    for the image mode the array stands for: uint16 arrays as 16-bit images (mode I;16), every
    other dtype as 8- or 32-bit images (L, P, RGB, RGBA, I, F). The two modes pick differently at
    some size pairs (``_nearest_table``); the property tests compare each against Pillow.

    A gather: Pillow cannot resize every dtype, and is several times slower on 16-bit maps.
    """
    height, width = array.shape[:2]
    per_pixel = array.dtype == np.uint16
    rows = _nearest_table(height, size[1], per_pixel)
    cols = _nearest_table(width, size[0], per_pixel)
    if (rows.size and rows[-1] == height) or (cols.size and cols[-1] == width):  # Pillow's fill: 0
        padded = np.zeros((height + 1, width + 1) + array.shape[2:], array.dtype)
        padded[:height, :width] = array
        array = padded
    return array.take(rows, axis=0).take(cols, axis=1)
