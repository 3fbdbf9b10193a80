"""The codec layer against its references, over seeded random sizes (issues 15 and 17).

* the compiled BILINEAR resize against Pillow's, for RGB and L, over 2,000 size pairs each;
* the JPEG resize path (simplejpeg decode + compiled resize + Pillow's encoder) against Pillow's
  open + resize(BILINEAR) + save at the quality used, byte for byte, over 2,000 size pairs;
* the fast PNG writer and reader: round trips, Pillow reads what we write, we read what Pillow and
  libpng write (every filter, interlaced and palette files through the fallback);
* each label encoding's round trip through a label PNG, over 2,000 random sizes;
* every accelerator switched off gives the same outputs (today's path).

Size pairs come from ``tests/sizepairs.py`` (up, down, 1 pixel, odd, portrait, equal).
"""

from __future__ import annotations

import io
import warnings

import imagecodecs
import numpy as np
import pytest
from PIL import Image

from segprep.encodings import cityscapes, coco, step, vipseg
from segprep.io import accel, png, resample
from segprep.io.images import decode_png, decode_png_fast, encode_png_fast, resize_jpeg
from sizepairs import size_pairs

ACCELERATED = accel.kernels() is not None and accel.zlib_ng() is not None and accel.simplejpeg() is not None
needs_accel = pytest.mark.skipif(not ACCELERATED, reason="numba, zlib-ng or simplejpeg is not installed")


def _pillow_bilinear(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize(size, Image.BILINEAR))


# ---------------------------------------------------------------------- BILINEAR


@needs_accel
@pytest.mark.parametrize("channels", [3, 1])
def test_compiled_bilinear_equals_pillow_over_random_size_pairs(channels):
    assert resample.compiled_available()  # the self-check passed against the installed Pillow
    rng = np.random.default_rng(channels)
    for (w, h), size in size_pairs(2000, seed=20 + channels):
        array = rng.integers(0, 256, (h, w, 3) if channels == 3 else (h, w), dtype=np.uint8)
        ours = resample.resize_bilinear(array, size)
        if not np.array_equal(ours, _pillow_bilinear(array, size)):
            pytest.fail(f"{w}x{h} -> {size[0]}x{size[1]} ({channels} channels) differs from Pillow")


@needs_accel
def test_compiled_bilinear_on_video_frame_sizes():
    # the sizes the recipes resize: VIPSeg to 720p, VSPW to 480p, from the usual video sizes
    rng = np.random.default_rng(7)
    for (w, h), size in [((1920, 1080), (1280, 720)), ((1920, 1080), (853, 480)), ((1280, 720), (853, 480)),
                         ((1000, 563), (852, 480)), ((3840, 2160), (1280, 720)), ((720, 1280), (720, 1280))]:
        array = np.asarray(Image.fromarray(rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8))
                           .resize((w, h), Image.BICUBIC))
        assert np.array_equal(resample.resize_bilinear(array, size), _pillow_bilinear(array, size)), (w, h, size)


def test_a_failed_self_check_falls_back_to_pillow_with_one_warning(monkeypatch):
    monkeypatch.setattr(resample, "_verdict", None)
    monkeypatch.setattr(resample, "_compiled", lambda array, size: np.zeros(size[::-1] + array.shape[2:], np.uint8))
    array = np.random.default_rng(3).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = resample.resize_bilinear(array, (17, 9))
        second = resample.resize_bilinear(array, (17, 9))
    if accel.kernels() is not None:
        assert len([w for w in caught if "differs from the installed Pillow" in str(w.message)]) == 1
    assert np.array_equal(first, _pillow_bilinear(array, (17, 9))) and np.array_equal(second, first)


# ---------------------------------------------------------------------- the JPEG resize path


def _photo(rng: np.random.Generator, width: int, height: int, gray: bool) -> np.ndarray:
    base = rng.integers(0, 256, (max(1, height // 6), max(1, width // 6), 3), dtype=np.uint8)
    array = np.asarray(Image.fromarray(base).resize((width, height), Image.BICUBIC)).astype(np.int16)
    array = np.clip(array + rng.integers(-12, 13, array.shape), 0, 255).astype(np.uint8)
    return array[..., 0] if gray else array


def _jpeg(array: np.ndarray, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="JPEG", **options)
    return out.getvalue()


def _pillow_resize_jpeg(data: bytes, size: tuple[int, int], quality: int) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).resize(size, Image.BILINEAR).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: Pillow does not apply it on open, nor does simplejpeg
    return exif.tobytes()


ENCODINGS = [{}, {"subsampling": 0}, {"subsampling": 1, "progressive": True}, {"quality": 95, "dpi": (300, 300)},
             {"quality": 90, "exif": _exif()}, {"optimize": True}]


def test_resize_jpeg_equals_pillow_open_resize_save_over_random_size_pairs():
    rng = np.random.default_rng(11)
    for i, ((w, h), size) in enumerate(size_pairs(2000, seed=31, long=700, short=24)):
        data = _jpeg(_photo(rng, w, h, gray=i % 5 == 0), **ENCODINGS[i % len(ENCODINGS)])
        quality = (75, 95, 90)[i % 3]  # 75: Pillow's default (VSPW); 95 and 90: VIPSeg's and the --quality option
        if resize_jpeg(data, "f.jpg", size, quality) != _pillow_resize_jpeg(data, size, quality):
            pytest.fail(f"{w}x{h} -> {size[0]}x{size[1]} (q{quality}, {ENCODINGS[i % len(ENCODINGS)]}) differs")


@needs_accel
def test_simplejpeg_decodes_pillows_pixels():
    rng = np.random.default_rng(12)
    from segprep.io.images import _decode_jpeg_fast

    for i, ((w, h), _) in enumerate(size_pairs(300, seed=32, long=600, short=30)):
        data = _jpeg(_photo(rng, w, h, gray=i % 4 == 0), **ENCODINGS[i % len(ENCODINGS)])
        assert np.array_equal(_decode_jpeg_fast(data), np.asarray(Image.open(io.BytesIO(data)))), (w, h)


def test_resize_jpeg_of_a_cmyk_or_damaged_jpeg_takes_pillows_path():
    rng = np.random.default_rng(13)
    photo = _photo(rng, 64, 48, gray=False)
    out = io.BytesIO()
    Image.fromarray(photo).convert("CMYK").save(out, format="JPEG")
    assert resize_jpeg(out.getvalue(), "c.jpg", (32, 24)) == _pillow_resize_jpeg(out.getvalue(), (32, 24), 75)
    from segprep.errors import BadInput

    data = _jpeg(photo)
    with pytest.raises(BadInput, match="t.jpg"):
        resize_jpeg(data[: len(data) // 2], "t.jpg", (32, 24))


# ---------------------------------------------------------------------- label PNGs


def _labels(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    """Piecewise-constant labels with runs and repeated rows, and some noise (every filter case)."""
    top = np.iinfo(dtype).max
    h, w = shape[:2]
    small = rng.integers(0, top, ((h + 4) // 5, (w + 6) // 7) + shape[2:], dtype=dtype, endpoint=True)
    array = np.repeat(np.repeat(small, 5, axis=0), 7, axis=1)[:h, :w].copy()
    noise = rng.random((h, w)) < 0.02
    array[noise] = rng.integers(0, top, array[noise].shape, dtype=dtype, endpoint=True)
    return array


KINDS = [((1,), np.uint8), ((1,), np.uint16), ((3,), np.uint8), ((4,), np.uint8), ((2,), np.uint8)]


@needs_accel
def test_fast_png_round_trips_and_pillow_reads_it():
    rng = np.random.default_rng(14)
    for i, ((w, h), _) in enumerate(size_pairs(600, seed=41, long=600, short=30)):
        tail, dtype = KINDS[i % len(KINDS)]
        array = _labels(rng, (h, w) if tail == (1,) else (h, w) + tail, dtype)
        data = encode_png_fast(array)
        assert np.array_equal(decode_png_fast(data, "m.png"), array)
        with Image.open(io.BytesIO(data)) as im:
            seen = np.asarray(im)
        assert np.array_equal(seen.astype(array.dtype), array) and seen.shape == array.shape
        assert np.array_equal(imagecodecs.png_decode(data), array)  # libpng reads it too


@needs_accel
@pytest.mark.parametrize("optimize", [False, True])
def test_fast_reader_reads_what_pillow_and_libpng_write(optimize):
    # Pillow at level 6 picks a filter per row (None, Sub, Up, Average, Paeth); optimize: level 9
    rng = np.random.default_rng(15 + optimize)
    for i, ((w, h), _) in enumerate(size_pairs(300, seed=43 + optimize, long=400, short=25)):
        tail, dtype = KINDS[i % len(KINDS)]
        shape = (h, w) if tail == (1,) else (h, w) + tail
        array = _labels(rng, shape, dtype) if i % 2 else rng.integers(0, 255, shape, dtype=np.uint8).astype(dtype)
        out = io.BytesIO()
        image = Image.frombytes("I;16", (w, h), array.astype("<u2").tobytes()) if dtype == np.uint16 else Image.fromarray(array)
        image.save(out, format="PNG", optimize=optimize)
        assert np.array_equal(png.decode(out.getvalue()), array), (w, h, shape, dtype)
        for filter_ in (0x08, 0x10, 0x20, 0x40, 0x80, 0xF8):  # libpng: none, sub, up, avg, paeth, all
            data = imagecodecs.png_encode(array, level=6, filter=filter_, out=array.nbytes * 2 + 4096)
            assert np.array_equal(png.decode(data), array), (w, h, shape, dtype, filter_)


def _adam7_png(array: np.ndarray) -> bytes:
    """An interlaced (Adam7) PNG of a gray or RGB array, 8 or 16 bit: Pillow cannot write one."""
    import struct
    import zlib

    depth = 16 if array.dtype == np.uint16 else 8
    color = 0 if array.ndim == 2 else 2
    data = array.astype(">u2") if depth == 16 else array
    raw = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)):
        sub = np.ascontiguousarray(data[y0::dy, x0::dx])
        if sub.shape[0] and sub.shape[1]:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", array.shape[1], array.shape[0], depth, color, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_interlaced_palette_transparent_and_low_bit_files_decode_as_before():
    rng = np.random.default_rng(16)
    array = rng.integers(0, 4, (37, 53), dtype=np.uint8)
    files = []
    palette = Image.fromarray(array, "L").convert("P")
    palette.putpalette(bytes(range(256)) * 3)
    for image, options in [(palette, {}), (Image.fromarray(array * 60, "L"), {"bits": 2}),
                           (Image.fromarray(np.dstack([array] * 3) * 60, "RGB"), {"transparency": (0, 0, 0)}),
                           (Image.fromarray(array > 1), {}), (Image.fromarray(np.dstack([array, array]) * 60, "LA"), {})]:
        out = io.BytesIO()
        image.save(out, format="PNG", **options)
        files.append(out.getvalue())
    out = io.BytesIO()
    Image.fromarray(np.dstack([array] * 3) * 60, "RGB").save(out, format="PNG")
    data = out.getvalue()
    files.append(data[:33] + imagecodecs.png_encode(np.dstack([array] * 3) * 60, level=1)[33:])  # libpng's stream
    files += [_adam7_png(array * 60), _adam7_png(np.dstack([array] * 3) * 60), _adam7_png(array.astype(np.uint16) * 9000)]
    files += [imagecodecs.png_encode(np.dstack([array] * 3).astype(np.uint16) * 9000),  # 16-bit RGB: Pillow makes it 8-bit
              imagecodecs.png_encode(np.dstack([array] * 4).astype(np.uint16) * 9000)]
    for data in files:
        with accel.disabled():
            before = decode_png(data, "x.png")
        assert np.array_equal(decode_png(data, "x.png"), before) and decode_png(data, "x.png").dtype == before.dtype
    with Image.open(io.BytesIO(imagecodecs.png_encode(array * 60, level=6))) as im:  # Pillow opens libpng's files
        assert np.array_equal(np.asarray(im), array * 60)


@needs_accel
def test_interlaced_label_pngs_are_read_by_the_old_decoders():
    for array in (_labels(np.random.default_rng(17), (41, 67), np.uint16),
                  _labels(np.random.default_rng(17), (41, 67, 3), np.uint8)):
        data = _adam7_png(array)
        with Image.open(io.BytesIO(data)) as im:
            assert im.info.get("interlace") and np.array_equal(np.asarray(im).astype(array.dtype), array)
        assert png.decode(data) is None  # not taken by the fast reader
        assert np.array_equal(decode_png_fast(data, "i.png"), array)
        assert np.array_equal(decode_png(data, "i.png"), array)


def test_fast_writer_file_sizes_stay_near_libpng_level_1():
    rng = np.random.default_rng(18)
    for shape, dtype in [((720, 1280), np.uint16), ((720, 1280, 3), np.uint8), ((1024, 2048), np.uint8)]:
        array = _labels(rng, shape, dtype)
        ours = encode_png_fast(array)
        libpng = imagecodecs.png_encode(array, level=1, strategy=3, filter=0x20)
        assert len(ours) <= 1.2 * len(libpng), (shape, len(ours), len(libpng))


# ---------------------------------------------------------------------- label encodings


@pytest.mark.parametrize("encoding", ["vipseg", "step", "coco", "cityscapes", "vspw"])
def test_label_encodings_round_trip_through_label_pngs_over_random_sizes(encoding):
    # each encoding over 2,000 random sizes: array -> encoding -> label PNG -> decode -> the same labels
    rng = np.random.default_rng(19 + len(encoding))
    valid_vipseg = np.flatnonzero(vipseg.category_table() >= 0)
    evaluated = np.flatnonzero(cityscapes.evaluated_values())
    for (w, h), _ in size_pairs(2000, seed=51 + len(encoding), long=160, short=12):
        if encoding == "vipseg":  # raw values -> RGB panoptic (id = R + 256 G) -> the same values (200 -> void)
            mask = rng.choice(rng.choice(valid_vipseg, 24), (h, w)).astype(np.uint16)  # a frame's few segments
            panoptic = vipseg.to_panoptic(mask)
            back = vipseg.rgb_to_id(decode_png_fast(encode_png_fast(panoptic.rgb), "p.png"))
            assert np.array_equal(back, np.where(mask == vipseg.BAD_VALUE, 0, mask))
            assert np.array_equal(decode_png_fast(encode_png_fast(mask), "m.png"), mask)
        elif encoding == "step":  # semantic + instance <-> RGB
            semantic = rng.integers(0, 256, (h, w), dtype=np.uint8)
            instance = rng.integers(0, 65536, (h, w), dtype=np.uint16)
            rgb = decode_png_fast(encode_png_fast(step.encode(semantic, instance)), "s.png")
            got_semantic, got_instance = step.decode(rgb)
            assert np.array_equal(got_semantic, semantic) and np.array_equal(got_instance, instance)
        elif encoding == "coco":  # panoptic ids < 2^24 <-> RGB
            ids = rng.integers(0, 1 << 24, (h, w), dtype=np.uint32)
            data = encode_png_fast(coco.id2rgb(ids))
            assert np.array_equal(coco.rgb2id(decode_png_fast(data, "c.png")), ids)
            assert np.array_equal(coco.rgba2id(decode_png_fast(data, "c.png", rgba=True)), ids)
        elif encoding == "cityscapes":  # instanceIds -> panoptic RGB (evaluated values kept, the rest 0), trainIds
            ids = rng.choice(np.concatenate([evaluated, [0, 1, 7, 26, 24000, 33999]]), (h, w)).astype(np.uint16)
            rgb = decode_png_fast(encode_png_fast(cityscapes.panoptic_rgb(ids)), "c.png")
            assert np.array_equal(cityscapes.rgb_to_id(rgb), np.where(cityscapes.evaluated_values()[ids], ids, 0))
            assert np.array_equal(decode_png_fast(encode_png_fast(ids), "i.png"), ids)
        else:  # VSPW: raw 8-bit values (0-124, 255) kept as they are
            mask = rng.choice(np.r_[0:125, 255], (h, w)).astype(np.uint8)
            assert np.array_equal(decode_png_fast(encode_png_fast(mask), "v.png"), mask)


# ---------------------------------------------------------------------- the fallback


def test_without_accelerators_every_output_is_the_same():
    rng = np.random.default_rng(21)
    photo = _jpeg(_photo(rng, 96, 54, gray=False), quality=95)
    small = _photo(rng, 50, 30, False)
    labels = [_labels(rng, (45, 80), np.uint16), _labels(rng, (45, 80, 3), np.uint8), _labels(rng, (45, 80), np.uint8)]

    def outputs():
        out = [resize_jpeg(photo, "f.jpg", (64, 36), 95), resample.resize_bilinear(small, (31, 17))]
        return out + [decode_png_fast(encode_png_fast(a), "m.png") for a in labels] + [decode_png(encode_png_fast(a), "m.png") for a in labels]

    fast = outputs()
    with accel.disabled():
        assert accel.kernels() is None and accel.zlib_ng() is None and accel.simplejpeg() is None
        assert png.encode(labels[0]) is None and png.decode(encode_png_fast(labels[0])) is None
        slow = outputs()
    assert fast[0] == slow[0]
    for a, b in zip(fast[1:], slow[1:]):
        assert a.dtype == b.dtype and np.array_equal(a, b)


@needs_accel
def test_the_numpy_unfiltering_of_none_sub_and_up_rows(monkeypatch):
    # a process that has not loaded numba undoes None / Sub / Up rows with numpy (segprep's own files)
    monkeypatch.setattr(accel, "kernels_loaded", lambda: False)
    rng = np.random.default_rng(22)
    for i, ((w, h), _) in enumerate(size_pairs(200, seed=61, long=300, short=20)):
        tail, dtype = KINDS[i % len(KINDS)]
        array = _labels(rng, (h, w) if tail == (1,) else (h, w) + tail, dtype)
        for filter_ in (0x08, 0x10, 0x20, 0x38):  # none, sub, up, and a mix of the three
            data = imagecodecs.png_encode(array, level=1, filter=filter_, out=array.nbytes * 2 + 4096)
            assert np.array_equal(png.decode(data), array), (w, h, array.shape, filter_)
        assert np.array_equal(png.decode(encode_png_fast(array)), array)


def test_cityscapes_panoptic_and_train_id_lookups_equal_the_table_versions():
    rng = np.random.default_rng(23)
    for (w, h), _ in size_pairs(300, seed=71, long=300, short=20):
        ids = rng.choice(np.array([0, 1, 7, 11, 17, 24, 24001, 26, 26005, 30002, 33999, 65535]), (h, w)).astype(np.uint16)
        expected = np.take(cityscapes.panoptic_rgb_lut(), ids, axis=0)
        assert np.array_equal(cityscapes.panoptic_rgb(ids), expected)
        index = rng.integers(0, 12, (h, w), dtype=np.uint8)
        values = np.array([0, 7, 8, 11, 24000, 24001, 26000, 26, 30000, 33001, 4, 21], np.int64)
        fast = cityscapes.train_ids_of_indexed(index, values)
        with accel.disabled():
            slow = cityscapes.train_ids_of_indexed(index, values)
            assert np.array_equal(cityscapes.panoptic_rgb(ids), expected)
        assert all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(fast, slow))


@pytest.mark.parametrize("missing", ["kernels", "zlib_ng", "simplejpeg"])
def test_one_missing_accelerator_gives_the_same_outputs(monkeypatch, missing):
    # numba (the kernels), zlib-ng or simplejpeg not installed: the others still work, the outputs are the same
    rng = np.random.default_rng(24)
    photo = _jpeg(_photo(rng, 80, 45, gray=False))
    labels = [_labels(rng, (30, 50), np.uint16), _labels(rng, (30, 50, 3), np.uint8)]
    pillow_written = []
    for a in labels:
        out = io.BytesIO()
        (Image.frombytes("I;16", (50, 30), a.astype("<u2").tobytes()) if a.dtype == np.uint16 else Image.fromarray(a)).save(out, "PNG")
        pillow_written.append(out.getvalue())

    def outputs():
        out = [resize_jpeg(photo, "f.jpg", (52, 29), 75)]
        out += [decode_png_fast(encode_png_fast(a), "m.png") for a in labels] + [decode_png(d, "p.png") for d in pillow_written]
        return out + [decode_png_fast(pillow_written[1], "p.png", rgba=True)]

    with accel.disabled():
        expected = outputs()
    real = accel._load
    monkeypatch.setattr(accel, "_load", lambda name: None if name == missing else real(name))
    monkeypatch.setattr(resample, "_verdict", None)
    got = outputs()
    assert got[0] == expected[0]
    for a, b in zip(got[1:], expected[1:]):
        assert a.dtype == b.dtype and np.array_equal(a, b)
