"""``resize_nearest`` against Pillow's NEAREST, mode by mode (issue 15, defect 5).

Pillow picks a NEAREST source pixel with two different pieces of arithmetic: 8-bit and 32-bit
images (L, P, RGB, RGBA, I) go through an accumulating table (``ImagingScaleAffine``), 16-bit
images (I;16) through a per-pixel product (the generic transform). The two disagree at some
size pairs, so each array kind must get the picks of the mode it stands for.
"""


import numpy as np
import pytest
from PIL import Image

from segprep.encodings import vspw
from segprep.io.images import resize_nearest
from sizepairs import size_pairs

# size pairs where the two pieces of arithmetic pick different columns (issue 15: 1000->852: 4 columns,
# 854->1281: 218, 480->720: 99, 1080->405: 81, 1920->720: 99, 352->720: 12)
REPORTED = [(1000, 852), (854, 1281), (480, 720), (1080, 405), (1920, 720), (352, 720)]


def _as_image(array: np.ndarray, mode: str) -> Image.Image:
    if mode == "P":
        image = Image.frombytes("P", (array.shape[1], array.shape[0]), array.tobytes())
        image.putpalette(bytes(v for i in range(256) for v in (i, 255 - i, i // 2)))
        return image
    if mode == "I;16":
        return Image.frombytes("I;16", (array.shape[1], array.shape[0]), array.astype("<u2").tobytes())
    return Image.fromarray(array, mode)


def _array(rng: np.random.Generator, mode: str, width: int, height: int) -> np.ndarray:
    shape = (height, width, 3) if mode == "RGB" else (height, width)
    dtype = np.uint16 if mode == "I;16" else np.uint8
    return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)


def _check(array: np.ndarray, mode: str, size: tuple[int, int]) -> None:
    ours = resize_nearest(array, size)
    theirs = np.asarray(_as_image(array, mode).resize(size, Image.NEAREST))
    if mode == "I;16":
        theirs = theirs.astype(np.uint16)
    assert ours.dtype == array.dtype and ours.shape == theirs.shape
    if not np.array_equal(ours, theirs):
        diff = np.argwhere(ours != theirs)
        pytest.fail(f"{mode} {array.shape[1]}x{array.shape[0]} -> {size}: {len(diff)} pixels differ "
                    f"from Pillow NEAREST, first at {diff[0].tolist()}")


@pytest.mark.parametrize("mode", ["L", "P", "RGB", "I;16"])
@pytest.mark.parametrize("in_size, out_size", REPORTED)
def test_resize_nearest_equals_pillow_at_the_reported_size_pairs(mode, in_size, out_size):
    rng = np.random.default_rng(in_size * 7 + out_size)
    _check(_array(rng, mode, in_size, 3), mode, (out_size, 2))  # the width
    _check(_array(rng, mode, 3, in_size), mode, (2, out_size))  # the height


def test_a_vspw_mask_of_1000x563_equals_change2_480p(tmp_path):
    # change2_480p.py: Image.open(mask).resize((int(480 * w / h), 480), Image.NEAREST), an 8-bit gray PNG
    rng = np.random.default_rng(5)
    mask = rng.integers(0, 125, (563, 1000), dtype=np.uint8)
    path = tmp_path / "00000001.png"
    Image.fromarray(mask, "L").save(path)
    data = path.read_bytes()
    decoded, gray = vspw.decode_mask(data, path.name)
    assert gray
    expected = np.asarray(Image.open(path).resize((852, 480), Image.NEAREST))
    assert np.array_equal(resize_nearest(decoded, (852, 480)), expected)


@pytest.mark.parametrize("mode", ["L", "P", "RGB", "I;16"])
def test_resize_nearest_equals_pillow_over_random_size_pairs(mode):
    # >= 2,000 seeded size pairs per mode: up, down, 1 pixel, odd, portrait (tests/sizepairs.py)
    rng = np.random.default_rng({"L": 1, "P": 2, "RGB": 3, "I;16": 4}[mode])
    for (w, h), size in size_pairs(2000, seed=15 + len(mode)):
        _check(_array(rng, mode, w, h), mode, size)


def test_resize_nearest_keeps_the_dtype_of_other_arrays():
    # int32 / float32 arrays: Pillow's mode I / F pick as 8-bit images do
    rng = np.random.default_rng(9)
    for (w, h), size in size_pairs(200, seed=99):
        ints = rng.integers(-(2**31), 2**31 - 1, (h, w), dtype=np.int32)
        expected = np.asarray(Image.fromarray(ints, "I").resize(size, Image.NEAREST))
        assert np.array_equal(resize_nearest(ints, size), expected)
