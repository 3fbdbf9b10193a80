"""A seeded, stratified split of a video dataset's training videos into train_sub and valid_sub.

The algorithm ("segprep-holdout-1"), stated so that anyone can reproduce a split without segprep.
It depends only on the video names, their classes, the amount and the seed (no Python hash, no
random-number generator, no numpy):

1. Rank: every video gets the key ``SHA-256("<seed>:<video name>")`` (UTF-8, hex digest); videos
   are ordered by key, ascending. The name is the video's folder (the part of its first
   ``file_names`` entry before "/").
2. Target: ``count`` as given, or ``round_half_up(fraction * number of videos)``, computed on the
   decimal text of the fraction; then at least 1 and at most all but one.
3. Stratify: classes (category ids of the video's annotated tracks) with at least two videos are
   taken from the fewest videos to the most (ties: smaller id first). For each, if none of its
   videos is held out yet, its first video in rank order that is not pinned to train is held out;
   if none of its videos is pinned to train yet, its last video in rank order that is not held
   out is pinned to train.
4. Fill: videos neither held out nor pinned are held out in rank order until the target is reached.
   (Step 3 may hold out more than the target when many classes need a video; the files say how
   many were held out.)

So every class with at least two videos has videos on both sides (unless a video pinned for one
class is the only choice of another, which the files' ``info`` reports), and the same options give
the same split on any machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ALGORITHM = "segprep-holdout-1"


def parse_amount(text: str) -> tuple[str, Decimal | int]:
    """``"0.1"`` -> ("fraction", Decimal("0.1")); ``"60"`` -> ("count", 60). ValueError when neither."""
    text = str(text).strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"--holdout {text!r}: give a fraction (0 < f < 1, e.g. 0.1) or a count of videos") from None
    if value.is_finite() and 0 < value < 1:
        return "fraction", value
    if value.is_finite() and value >= 1 and value == value.to_integral_value():
        return "count", int(value)
    raise ValueError(f"--holdout {text!r}: give a fraction (0 < f < 1, e.g. 0.1) or a count of videos")


def rank_key(seed: int, name: str) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def target_count(amount: str, total: int) -> int:
    kind, value = parse_amount(amount)
    if kind == "fraction":
        wanted = int((value * total).to_integral_value(rounding=ROUND_HALF_UP))
    else:
        wanted = value
    return max(1, min(wanted, total - 1))


def split(videos: Sequence[tuple[str, Collection[int]]], amount: str, seed: int) -> tuple[list[str], list[int]]:
    """The held-out video names (in rank order) and the classes with >= 2 videos that could not be kept
    on both sides. ``videos``: (name, class ids) per training video; names must be unique."""
    names = [name for name, _ in videos]
    if len(set(names)) != len(names):
        raise ValueError("video names are not unique")
    if len(names) < 2:
        raise ValueError(f"--holdout needs at least 2 training videos, there are {len(names)}")
    order = sorted(names, key=lambda name: rank_key(seed, name))
    position = {name: i for i, name in enumerate(order)}
    by_class: dict[int, list[str]] = {}
    for name, classes in videos:
        for cls in set(classes):
            by_class.setdefault(cls, []).append(name)
    held: set[str] = set()
    pinned: set[str] = set()
    unbalanced = []
    for cls in sorted(by_class, key=lambda c: (len(by_class[c]), c)):
        members = sorted(by_class[cls], key=position.__getitem__)
        if len(members) < 2:
            continue
        if not held.intersection(members):
            pick = next((v for v in members if v not in pinned), None)
            if pick is not None:
                held.add(pick)
        if not pinned.intersection(members):
            pick = next((v for v in reversed(members) if v not in held), None)
            if pick is not None:
                pinned.add(pick)
        if not held.intersection(members) or not pinned.intersection(members):
            unbalanced.append(cls)
    wanted = target_count(amount, len(names))
    for name in order:
        if len(held) >= wanted:
            break
        if name not in held and name not in pinned:
            held.add(name)
    return sorted(held, key=position.__getitem__), unbalanced


def info_record(amount: str, seed: int, part: str, held: int, total: int, unbalanced: Sequence[int],
                source: str) -> dict:
    """What the files' ``info`` records about the split (json-able, stable key order)."""
    return {
        "algorithm": ALGORITHM, "holdout": str(amount), "seed": seed, "part": part, "of": source,
        "videos_total": total, "videos_held_out": held, "classes_not_on_both_sides": list(unbalanced),
    }
