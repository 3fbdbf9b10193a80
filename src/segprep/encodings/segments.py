"""Segments of an id map as column-major runs: per-segment area and box, and COCO RLE, in one pass over the
runs (no mask per segment). Pure functions on arrays, used by the Cityscapes encodings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Runs:
    """Maximal runs of equal values of a 2D map, in column-major order (the order of COCO RLE)."""

    values: np.ndarray
    starts: np.ndarray  # offset of the run's first pixel in column-major order
    lengths: np.ndarray
    height: int
    width: int


def column_runs(ids: np.ndarray) -> Runs:
    """The runs of a 2D map, without transposing it: a run starts where a pixel differs from the one
    above it, or at the top of a column when it differs from the bottom of the previous column."""
    height, width = ids.shape
    if ids.size == 0:
        empty = np.zeros(0, np.int64)
        return Runs(ids.reshape(-1)[:0], empty, empty, height, width)
    begins = np.empty(ids.shape, bool)
    np.not_equal(ids[1:], ids[:-1], out=begins[1:])
    begins[0, 1:] = ids[0, 1:] != ids[-1, :-1]
    begins[0, 0] = True
    flat = np.flatnonzero(begins)  # row-major positions (np.nonzero on 2D is ~10x slower)
    rows, cols = np.divmod(flat, width)
    starts = cols * height + rows
    order = np.argsort(starts)
    starts = starts[order]
    lengths = np.diff(np.append(starts, ids.size))
    return Runs(ids.reshape(-1)[flat[order]], starts, lengths, height, width)


@dataclass(frozen=True)
class SegmentStats:
    """Per distinct value of a map, ascending: pixel count and box (x, y, width, height)."""

    values: np.ndarray
    areas: np.ndarray
    boxes: np.ndarray  # (n, 4) int64: x, y, w, h with w = xmax - xmin + 1
    # runs of each value, in column-major order: starts[bounds[i]:bounds[i+1]] belong to values[i]
    starts: np.ndarray
    lengths: np.ndarray
    bounds: np.ndarray

    def index(self) -> dict[int, int]:
        return {int(v): i for i, v in enumerate(self.values)}


def segment_stats(runs: Runs) -> SegmentStats:
    """Areas and tight boxes of every value, from its runs (what per-value masks would give)."""
    h = runs.height
    order = np.argsort(runs.values, kind="stable")  # stable: each value's runs stay in pixel order
    values, starts, lengths = runs.values[order], runs.starts[order], runs.lengths[order]
    if values.size == 0:
        empty = np.zeros(0, np.int64)
        return SegmentStats(values, empty, np.zeros((0, 4), np.int64), empty, empty, np.zeros(1, np.int64))
    first = np.concatenate(([0], np.flatnonzero(values[1:] != values[:-1]) + 1))
    ends = starts + lengths - 1
    x0, x1 = starts // h, ends // h
    wraps = x1 > x0  # a run over a column end covers rows 0 and h-1 of the columns it spans
    y0 = np.where(wraps, 0, starts % h)
    y1 = np.where(wraps, h - 1, ends % h)
    areas = np.add.reduceat(lengths, first)
    xmin, xmax = np.minimum.reduceat(x0, first), np.maximum.reduceat(x1, first)
    ymin, ymax = np.minimum.reduceat(y0, first), np.maximum.reduceat(y1, first)
    boxes = np.stack([xmin, ymin, xmax - xmin + 1, ymax - ymin + 1], axis=1).astype(np.int64)
    bounds = np.append(first, values.size)
    return SegmentStats(values[first], areas.astype(np.int64), boxes, starts, lengths, bounds)


def rle_counts(starts: np.ndarray, lengths: np.ndarray, total: int) -> np.ndarray:
    """Uncompressed COCO RLE counts of the mask made of these runs (sorted, non-touching)."""
    if len(starts) == 0:
        return np.array([total], np.int64)
    ends = starts + lengths
    counts = np.empty(2 * len(starts), np.int64)
    counts[0] = starts[0]
    counts[2::2] = starts[1:] - ends[:-1]
    counts[1::2] = lengths
    tail = total - int(ends[-1])
    return np.append(counts, tail) if tail else counts


def compress_rles(stats: SegmentStats, values: Sequence[int], height: int, width: int) -> list[dict]:
    """Compressed COCO RLEs ({"size": [h, w], "counts": str}) of ``map == value``, as
    ``pycocotools.mask.encode`` of each mask would give, without building the masks."""
    from pycocotools import mask as mask_utils

    if not values:
        return []
    index = stats.index()
    total = height * width
    uncompressed = []
    for value in values:
        i = index.get(int(value))
        if i is None:
            counts = rle_counts(stats.starts[:0], stats.lengths[:0], total)
        else:
            lo, hi = stats.bounds[i], stats.bounds[i + 1]
            counts = rle_counts(stats.starts[lo:hi], stats.lengths[lo:hi], total)
        uncompressed.append({"size": [height, width], "counts": counts})
    rles = mask_utils.frPyObjects(uncompressed, height, width)
    for rle in rles:
        rle["counts"] = rle["counts"].decode("ascii")
    return rles
