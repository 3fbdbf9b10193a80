"""numba-compiled loops of the codec layer (imported only through ``segprep.io.accel.kernels()``).

Pillow's BILINEAR resize for 8-bit images, re-implemented from its arithmetic (libImaging/Resample.c,
read to confirm it; this is an independent implementation): per output position the source window
and triangle weights are computed in double precision (the filter widened by the downscale factor),
normalised to sum 1, then turned into 22-bit fixed point; each pass sums ``pixel * weight`` into an
integer that starts at half a unit, shifts right by 22 and clamps to 0..255. The horizontal pass runs
first, on the source rows the vertical pass will read, and its 8-bit result feeds the vertical pass
(unless Pillow 13 runs the vertical pass first: ``io.resample``). RGB rows take the vector pass of
``io.simd``; this scalar one serves gray and the windows wider than the image.

PNG row unfiltering (filter types None, Sub, Up, Average, Paeth) for the fast PNG decoder.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

PRECISION_BITS = 32 - 8 - 2
_HALF = 1 << (PRECISION_BITS - 1)
_HALF32 = np.int32(_HALF)


@njit(cache=True, nogil=True)
def bilinear_coeffs(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(bounds (out_size, 2) int32 = first source index and count, weights (out_size, ksize) int32)
    of Pillow's BILINEAR along one axis, for the whole axis as the box (0, in_size)."""
    scale = float(in_size) / out_size
    filterscale = scale if scale > 1.0 else 1.0
    support = 1.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    bounds = np.zeros((out_size, 2), np.int32)
    weights = np.zeros((out_size, ksize), np.int32)
    k = np.zeros(ksize, np.float64)
    inv_filterscale = 1.0 / filterscale
    for xx in range(out_size):
        center = 0.0 + (xx + 0.5) * scale
        ww = 0.0
        xmin = int(center - support + 0.5)
        if xmin < 0:
            xmin = 0
        xmax = int(center + support + 0.5)
        if xmax > in_size:
            xmax = in_size
        xmax -= xmin
        for x in range(xmax):
            t = ((x + xmin) - center + 0.5) * inv_filterscale
            if t < 0.0:
                t = -t
            w = 1.0 - t if t < 1.0 else 0.0
            k[x] = w
            ww += w
        for x in range(xmax):
            v = k[x] / ww if ww != 0.0 else k[x]
            if v < 0:
                weights[xx, x] = int(-0.5 + v * (1 << PRECISION_BITS))
            else:
                weights[xx, x] = int(0.5 + v * (1 << PRECISION_BITS))
        bounds[xx, 0] = xmin
        bounds[xx, 1] = xmax
    return bounds, weights


@njit(cache=True, nogil=True, inline="always")
def _clip8(ss: int) -> np.uint8:
    v = ss >> PRECISION_BITS
    if v < 0:
        return np.uint8(0)
    if v > 255:
        return np.uint8(255)
    return np.uint8(v)


@njit(cache=True, nogil=True)
def bilinear_horizontal(src: np.ndarray, y0: int, bounds: np.ndarray, weights: np.ndarray,
                        out: np.ndarray) -> None:
    """``out[r] = `` source row ``y0 + r`` resampled along x; src (H, W, C), out (R, out_w, C) uint8."""
    rows, out_w, channels = out.shape
    for r in range(rows):
        line = src[y0 + r]
        target = out[r]
        if channels == 3:
            for xx in range(out_w):
                xmin = bounds[xx, 0]
                count = bounds[xx, 1]
                ss0 = _HALF
                ss1 = _HALF
                ss2 = _HALF
                for x in range(count):
                    w = weights[xx, x]
                    ss0 += np.int32(line[xmin + x, 0]) * w
                    ss1 += np.int32(line[xmin + x, 1]) * w
                    ss2 += np.int32(line[xmin + x, 2]) * w
                target[xx, 0] = _clip8(ss0)
                target[xx, 1] = _clip8(ss1)
                target[xx, 2] = _clip8(ss2)
        else:
            for xx in range(out_w):
                xmin = bounds[xx, 0]
                count = bounds[xx, 1]
                for c in range(channels):
                    ss = _HALF
                    for x in range(count):
                        ss += np.int32(line[xmin + x, c]) * weights[xx, x]
                    target[xx, c] = _clip8(ss)


@njit(cache=True, nogil=True)
def bilinear_vertical(src: np.ndarray, offset: int, bounds: np.ndarray, weights: np.ndarray,
                      out: np.ndarray) -> None:
    """``out`` (out_h, N) uint8 = the rows of ``src`` (H, N) resampled along y; ``bounds`` are shifted by -offset."""
    out_h, n = out.shape
    acc = np.empty(n, np.int32)
    for yy in range(out_h):
        ymin = bounds[yy, 0] - offset
        count = bounds[yy, 1]
        acc[:] = _HALF
        for y in range(count):
            w = weights[yy, y]
            row = src[ymin + y]
            for i in range(n):
                acc[i] += np.int32(row[i]) * w
        target = out[yy]
        for i in range(n):
            target[i] = _clip8(acc[i])


@njit(cache=True, nogil=True, inline="always")
def _paeth(a: int, b: int, c: int, x: int) -> int:
    """The byte ``x`` un-filtered with the Paeth predictor of left ``a``, up ``b`` and upper-left ``c``."""
    if a == b and b == c:  # inside a region of one label, nearly always: no comparisons to mispredict
        return (x + a) & 255
    pa = abs(b - c)  # |p - a| with p = a + b - c
    pb = abs(a - c)
    pc = abs(a + b - 2 * c)
    pred = a if (pa <= pb) & (pa <= pc) else (b if pb <= pc else c)
    return (x + pred) & 255


@njit(cache=True, nogil=True, inline="always")
def _unfilter_rows(raw: np.ndarray, height: int, rowbytes: int, out: np.ndarray, bpp: int) -> int:
    """``png_unfilter`` for a constant ``bpp`` of 1 to 4 (inlined with it as a literal): in Sub, Average
    and Paeth rows each byte depends on the byte ``bpp`` to its left, which is kept in a register per
    lane (l0..l3, with the byte above-left in u0..u3) instead of being read back from the row."""
    for y in range(height):
        start = y * (rowbytes + 1)
        kind = raw[start]
        line = raw[start + 1: start + 1 + rowbytes]
        cur = out[y]
        top = y > 0
        prev = out[y - 1] if top else cur  # not read on the first row (the row above counts as zeros)
        if kind == 0 or (kind == 2 and not top):
            for i in range(rowbytes):
                cur[i] = line[i]
        elif kind == 2:
            for i in range(rowbytes):
                cur[i] = line[i] + prev[i]
        elif kind == 1 or kind == 3 or kind == 4:
            l0 = l1 = l2 = l3 = np.int32(0)
            u0 = u1 = u2 = u3 = np.int32(0)
            for i in range(0, rowbytes, bpp):
                for j in range(bpp):  # a constant trip count: unrolled, each lane in its own registers
                    x = np.int32(line[i + j])
                    b = np.int32(prev[i + j]) if top else np.int32(0)
                    a = l0 if j == 0 else (l1 if j == 1 else (l2 if j == 2 else l3))
                    if kind == 1:  # Sub
                        v = (x + a) & 255
                    elif kind == 3:  # Average
                        v = (x + ((a + b) >> 1)) & 255
                    else:  # Paeth
                        v = _paeth(a, b, u0 if j == 0 else (u1 if j == 1 else (u2 if j == 2 else u3)), x)
                    cur[i + j] = v
                    if j == 0:
                        l0, u0 = v, b
                    elif j == 1:
                        l1, u1 = v, b
                    elif j == 2:
                        l2, u2 = v, b
                    else:
                        l3, u3 = v, b
        else:
            return y
    return -1


@njit(cache=True, nogil=True)
def png_unfilter(raw: np.ndarray, height: int, rowbytes: int, bpp: int, out: np.ndarray) -> int:
    """Undo the PNG row filters of ``raw`` (height rows of 1 + rowbytes bytes) into ``out`` (height, rowbytes).

    ``bpp``: bytes per complete pixel, 1 to 4 (8-bit gray to RGBA, 16-bit gray and gray+alpha: what
    ``io.png`` reads; rowbytes is a multiple of it), each with a loop specialised to it. Returns -1 on
    success, else the first row whose filter type is not 0-4 (row 0 for another ``bpp``).
    """
    if bpp == 1:
        return _unfilter_rows(raw, height, rowbytes, out, 1)
    if bpp == 2:
        return _unfilter_rows(raw, height, rowbytes, out, 2)
    if bpp == 3:
        return _unfilter_rows(raw, height, rowbytes, out, 3)
    if bpp == 4:
        return _unfilter_rows(raw, height, rowbytes, out, 4)
    return 0


@njit(cache=True, nogil=True)
def lookup_pair(index: np.ndarray, table_a: np.ndarray, table_b: np.ndarray, out_a: np.ndarray,
                out_b: np.ndarray) -> None:
    """``out_a = table_a[index]`` and ``out_b = table_b[index]`` for a 2-D uint8 ``index``, in one pass."""
    height, width = index.shape
    for y in range(height):
        row, a, b = index[y], out_a[y], out_b[y]
        for x in range(width):
            v = row[x]
            a[x] = table_a[v]
            b[x] = table_b[v]


@njit(cache=True, nogil=True)
def rgb_to_rgba(rgb: np.ndarray, out: np.ndarray) -> None:
    """``out`` (H, W, 4) = the (H, W, 3) ``rgb`` pixels with alpha 255."""
    height, width = rgb.shape[0], rgb.shape[1]
    for y in range(height):
        for x in range(width):
            out[y, x, 0] = rgb[y, x, 0]
            out[y, x, 1] = rgb[y, x, 1]
            out[y, x, 2] = rgb[y, x, 2]
            out[y, x, 3] = 255
