"""Reusable verification rules: pure functions over names, numbers and arrays."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np


def missing_frames(frames: Iterable[int]) -> list[int]:
    """Frame numbers absent between the first and the last (a gap breaks temporal neighbours)."""
    present = sorted(set(frames))
    if not present:
        return []
    return sorted(set(range(present[0], present[-1] + 1)) - set(present))


def format_ranges(numbers: list[int], limit: int = 8) -> str:
    """[3, 4, 5, 9] -> '3-5, 9'."""
    ranges: list[str] = []
    start = prev = None
    for n in numbers:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            ranges.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = prev = n
    if start is not None:
        ranges.append(f"{start}-{prev}" if prev != start else f"{start}")
    more = f" (+{len(ranges) - limit} more)" if len(ranges) > limit else ""
    return ", ".join(ranges[:limit]) + more


def unexpected_values(values: np.ndarray, allowed: Iterable[int]) -> list[int]:
    """The distinct values of ``values`` outside ``allowed``."""
    present = np.unique(values)
    return sorted(int(v) for v in np.setdiff1d(present, np.fromiter(allowed, dtype=np.int64)))


def count_mismatches(actual: Mapping[str, int], expected: Mapping[str, int]) -> list[str]:
    """Messages for every key whose count differs from the published one."""
    out = []
    for key, want in expected.items():
        got = actual.get(key, 0)
        if got != want:
            out.append(f"{key}: {got:,} found, {want:,} published ({got - want:+,})")
    return out


def mismatches_off_edges(actual: np.ndarray, expected: np.ndarray) -> tuple[int, int]:
    """(pixels where two label maps differ, how many of those are not explained by a moved edge).

    A difference is "on an edge" when the value ``actual`` has there occurs in ``expected`` within
    the pixel's 3x3 neighbourhood: what another polygon rasteriser (or another version of one)
    produces from the same polygons. Anything else is damage.
    """
    if actual.shape != expected.shape:
        raise ValueError(f"shapes differ: {actual.shape} vs {expected.shape}")
    h, w = expected.shape
    rows, cols = np.divmod(np.flatnonzero(actual != expected), w)  # 2D np.nonzero is ~10x slower
    if rows.size == 0:
        return 0, 0
    explained = np.zeros(rows.size, bool)
    values = actual[rows, cols]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            explained |= expected[np.clip(rows + dy, 0, h - 1), np.clip(cols + dx, 0, w - 1)] == values
    return int(rows.size), int((~explained).sum())


def read_json(report, check: str, root, rel: str):
    """The parsed json ``root/rel``, or None after a finding ("missing" / "not valid json")."""
    import json

    report.checked(check)
    try:
        return json.loads((root / rel).read_bytes())
    except FileNotFoundError:
        report.fail(check, rel, "missing")
    except ValueError as exc:
        report.fail(check, rel, f"not valid json ({exc})")
    return None


def same_as_chunks(path, chunks) -> bool:
    """Whether the file holds exactly the concatenated ``chunks`` (read alongside them, never held whole):
    a derived file checked against a fresh derivation without writing it."""
    with open(path, "rb") as f:
        for chunk in chunks:
            if f.read(len(chunk)) != chunk:
                return False
        return f.read(1) == b""
