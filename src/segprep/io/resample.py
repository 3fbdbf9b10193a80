"""Pillow's BILINEAR resize of 8-bit RGB and L arrays, compiled (``kernels``) and checked against Pillow.

``resize_bilinear(array, size)`` equals ``np.asarray(Image.fromarray(array).resize(size, Image.BILINEAR))``
byte for byte, at about twice Pillow's speed. At its first use in a process it resizes a few
images both ways; if the installed Pillow ever gives other pixels (its arithmetic changed), it
warns once and hands every later call to Pillow. Without numba, or with the accelerators off
(``segprep.io.accel``), it is Pillow.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
from PIL import Image

from segprep.io import accel

# size pairs of the self-check: down and up, odd, portrait, both pass orders of Pillow 13, a vertical-only
# resize, and widths that leave pixels beside the vector groups
_CHECK_PAIRS = (((60, 34), (40, 22)), ((33, 20), (50, 31)), ((24, 90), (17, 61)), ((113, 27), (103, 12)),
                ((23, 19), (47, 41)), ((16, 16), (16, 9)), ((45, 45), (30, 64)))
_verdict: bool | None = None  # None: not checked yet in this process


def _pillow(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize(size, Image.BILINEAR))


@lru_cache(maxsize=64)
def _coeffs(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    return accel.kernels().bilinear_coeffs(in_size, out_size)


def _horizontal_first(width: int, height: int, out_w: int, out_h: int) -> bool:
    """Pillow's pass order. Pillow 13 runs the vertical pass first when the height shrinks by more than
    twice as many pixels as the width does; earlier versions always run the horizontal pass first."""
    if _PILLOW_MAJOR < 13:
        return True
    return not (height - out_h > 0 and height - out_h > (width - out_w) * 2)


_PILLOW_MAJOR = int(Image.__version__.split(".")[0])


@lru_cache(maxsize=64)
def _vector_coefficients(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """The horizontal coefficients for the vector pass of ``io.simd``: (first source pixel of each output
    pixel, the weights grouped (group, tap, pixel of the group), taps, groups). Every window has the
    same number of taps: it moves left at the right edge and the extra weights are 0 (they add nothing).
    A vector step reads one byte past each window, so the groups stop before the first window that ends
    at the image's last pixel. None when no group is left, or the widest window is wider than the image."""
    from segprep.io.simd import GROUP

    bounds, weights = _coeffs(in_size, out_size)
    taps = int(bounds[:, 1].max())
    if taps > in_size:
        return None
    starts = np.minimum(bounds[:, 0], in_size - taps).astype(np.int64)
    groups = int(np.count_nonzero(starts + taps < in_size)) // GROUP
    if not groups:
        return None
    padded = np.zeros((groups * GROUP, taps), np.int32)
    for i, (first, count) in enumerate(bounds[: groups * GROUP].tolist()):
        shift = first - int(starts[i])
        padded[i, shift: shift + count] = weights[i, :count]
    grouped = np.ascontiguousarray(padded.reshape(groups, GROUP, taps).transpose(0, 2, 1))
    return starts, grouped.reshape(-1), taps, groups


def _horizontal(src: np.ndarray, first: int, out_w: int, out: np.ndarray) -> None:
    """``out`` (rows, out_w, C) = rows ``first``... of ``src`` (H, W, C) resampled along x: RGB by the
    vector pass, the pixels right of its groups (and gray images) by the scalar one."""
    width, channels = src.shape[1], src.shape[2]
    done = 0
    vector = _vector_coefficients(width, out_w) if channels == 3 else None
    if vector is not None:
        from segprep.io.simd import GROUP, bilinear_horizontal_rgb

        starts, grouped, taps, groups = vector
        bilinear_horizontal_rgb(src.reshape(src.shape[0], -1), first, starts, grouped, taps, groups,
                                out.reshape(out.shape[0], -1))
        done = groups * GROUP
    if done < out_w:
        bounds, weights = _coeffs(width, out_w)
        accel.kernels().bilinear_horizontal(src, first, bounds[done:], weights[done:], out[:, done:])


def _compiled(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    k = accel.kernels()
    gray = array.ndim == 2
    src = np.ascontiguousarray(array[:, :, None] if gray else array)
    height, width, channels = src.shape
    out_w, out_h = size
    need_h, need_v = out_w != width, out_h != height
    if not (need_h or need_v):
        out = src.copy()
    elif _horizontal_first(width, height, out_w, out_h):
        v_bounds, v_weights = _coeffs(height, out_h)
        first, temp = 0, src
        if need_h:
            first = int(v_bounds[0, 0])  # only the rows the vertical pass reads
            last = int(v_bounds[-1, 0] + v_bounds[-1, 1])
            temp = np.empty((last - first, out_w, channels), np.uint8)
            _horizontal(src, first, out_w, temp)
        out = temp
        if need_v:
            out = np.empty((out_h, out_w, channels), np.uint8)
            k.bilinear_vertical(temp.reshape(temp.shape[0], -1), first, v_bounds, v_weights, out.reshape(out_h, -1))
    else:  # vertical first (need_v is true here)
        v_bounds, v_weights = _coeffs(height, out_h)
        temp = np.empty((out_h, width, channels), np.uint8)
        k.bilinear_vertical(src.reshape(height, -1), 0, v_bounds, v_weights, temp.reshape(out_h, -1))
        out = temp
        if need_h:
            out = np.empty((out_h, out_w, channels), np.uint8)
            _horizontal(temp, 0, out_w, out)
    return out[:, :, 0] if gray else out


def _self_check() -> bool:
    rng = np.random.default_rng(2026)
    for (w, h), size in _CHECK_PAIRS:
        for shape in ((h, w, 3), (h, w)):
            array = rng.integers(0, 256, shape, dtype=np.uint8)
            if not np.array_equal(_compiled(array, size), _pillow(array, size)):
                warnings.warn(f"segprep: the compiled BILINEAR resize differs from the installed Pillow "
                              f"({Image.__version__}) at {w}x{h} -> {size[0]}x{size[1]}; using Pillow's "
                              "resize (slower, same pixels as before)", RuntimeWarning, stacklevel=3)
                return False
    return True


def compiled_available() -> bool:
    """Whether ``resize_bilinear`` uses the compiled path in this process (runs the self-check once)."""
    global _verdict
    if accel.kernels() is None:
        return False
    if _verdict is None:
        _verdict = _self_check()
    return _verdict


def resize_bilinear(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An 8-bit (H, W) or (H, W, 3) array resized to ``size`` (width, height) with Pillow's BILINEAR pixels."""
    if array.dtype != np.uint8 or not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f"resize_bilinear takes 8-bit gray or RGB arrays, got {array.dtype} {array.shape}")
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"cannot resize to {size}")
    if compiled_available():
        return _compiled(array, size)
    return _pillow(array, size)
