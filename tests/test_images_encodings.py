"""Image checks and the STEP encoding, pinned with hand-computed values."""

import numpy as np
import pytest

from segprep.encodings import step
from segprep.errors import BadInput
from segprep.io.images import decode_png, decode_png_fast, encode_png, encode_png_fast, png_info


def test_png_info_reads_the_header_of_a_complete_png():
    data = encode_png(np.zeros((5, 7, 3), np.uint8))
    info = png_info(data, "x.png")
    assert (info.width, info.height, info.bit_depth, info.color_type, info.channels) == (7, 5, 8, 2, 3)


@pytest.mark.parametrize("cut", [10, 40, -13, -1])
def test_png_info_catches_truncation_anywhere(cut):
    data = encode_png(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8))
    with pytest.raises(BadInput, match="x.png is truncated"):
        png_info(data[:cut], "x.png")


def test_png_info_catches_a_flipped_byte_empty_file_and_wrong_format():
    data = bytearray(encode_png(np.full((20, 20), 7, np.uint8)))
    data[60] ^= 0xFF
    with pytest.raises(BadInput, match="CRC mismatch"):
        png_info(bytes(data), "x.png")
    with pytest.raises(BadInput, match="empty"):
        png_info(b"", "x.png")
    with pytest.raises(BadInput, match="not a PNG"):
        png_info(b"\xff\xd8\xff\xe0 jpeg", "x.png")


def test_16bit_labels_round_trip_losslessly():
    labels = np.array([[0, 1, 255], [256, 12301, 65535]], np.uint16)
    data = encode_png(labels)
    assert png_info(data, "m.png").bit_depth == 16
    back = decode_png(data, "m.png")
    assert back.dtype == np.uint16 and np.array_equal(back, labels)


@pytest.mark.parametrize("shape, dtype", [((37, 53), np.uint8), ((37, 53), np.uint16), ((37, 53, 3), np.uint8),
                                          ((37, 53, 4), np.uint8)])
def test_fast_decoders_give_pillows_arrays(shape, dtype):
    # libspng (8 bit) and libpng (16-bit gray) must return exactly what decode_png (Pillow) returns
    values = np.random.default_rng(1).integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    for data in (encode_png(values), encode_png_fast(values)):
        fast, slow = decode_png_fast(data, "m.png"), decode_png(data, "m.png")
        assert fast.dtype == slow.dtype == dtype and np.array_equal(fast, slow) and np.array_equal(fast, values)


def test_fast_decode_names_a_damaged_16bit_mask():
    data = bytearray(encode_png_fast(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)))
    data[50] ^= 0x55  # inside IDAT: the CRC walk notices before any decoder runs
    with pytest.raises(BadInput, match="mask.png"):
        decode_png_fast(bytes(data), "mask.png")


def test_decode_names_the_damaged_file():
    with pytest.raises(BadInput, match="bad.png"):
        decode_png(b"\x89PNG\r\n\x1a\n garbage", "bad.png")


def test_step_encoding_by_hand():
    semantic = np.array([[13, 11, 0, 255]], np.uint8)
    instance = np.array([[300, 1, 0, 0]], np.uint16)
    rgb = step.encode(semantic, instance)
    # R = class, G = instance // 256, B = instance % 256
    assert rgb.tolist() == [[[13, 1, 44], [11, 0, 1], [0, 0, 0], [255, 0, 0]]]
    sem, inst = step.decode(rgb)
    assert sem.tolist() == semantic.tolist() and inst.tolist() == instance.tolist()
    assert step.thing_lookup()[[11, 13, 0, 255]].tolist() == [True, True, False, False]


def test_step_encode_refuses_values_it_cannot_hold():
    with pytest.raises(ValueError):
        step.encode(np.zeros((1, 1)), np.full((1, 1), 70000))
