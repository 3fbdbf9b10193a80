"""Seeded random size pairs for the property tests against Pillow: ((w, h), (out_w, out_h)).

Pillow resamples each axis on its own, so one axis is drawn long (up to 2,200 pixels, where the
arithmetic of the picks and weights drifts) and the other short (up to 40), alternately the width
and the height, which keeps every image small; one pair in eight has both axes medium. The kinds
cycle: up, down, 1 pixel (in or out), odd sizes, portrait (taller than wide), equal.
"""

from __future__ import annotations

import numpy as np

KINDS = ("up", "down", "one", "odd", "portrait", "equal")


def _axis(rng: np.random.Generator, kind: str, top: int) -> tuple[int, int]:
    a, b = (int(v) for v in rng.integers(1, top + 1, 2))
    if kind == "up":
        return min(a, b), max(a, b) + 1
    if kind == "down":
        return max(a, b) + 1, min(a, b)
    if kind == "one":
        return (1, b) if rng.random() < 0.5 else (a, 1)
    if kind == "odd":
        return a | 1, b | 1
    if kind == "equal":
        return a, a
    return a, b


def size_pairs(count: int, seed: int, long: int = 2200, short: int = 40) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        if i % 8 == 7:
            (w, ow), (h, oh) = _axis(rng, kind, 200), _axis(rng, kind, 200)
        elif i % 2:
            (w, ow), (h, oh) = _axis(rng, kind, long), _axis(rng, kind, short)
        else:
            (w, ow), (h, oh) = _axis(rng, kind, short), _axis(rng, kind, long)
        if kind == "portrait" and w > h:
            (w, ow), (h, oh) = (h, oh), (w, ow)
        out.append(((w, h), (ow, oh)))
    return out
