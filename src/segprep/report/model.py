"""What a recipe hands to the report: counts, class statistics and labelled frames to draw.

Recipes fill these from their prepared folder (``Recipe.report_section``); the renderer and
the HTML builder know nothing about datasets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Category:
    name: str
    color: tuple[int, int, int]
    isthing: bool


@dataclass
class CountRow:
    split: str
    what: str  # "frames", "videos", "images"...
    found: int
    published: int | None = None
    missing: str = ""  # what is missing, when found < published and the recipe can say

    @property
    def ok(self) -> bool:
        return self.published is None or self.found == self.published


@dataclass
class LabelView:
    """One frame and its panoptic labels, in whatever resolution: the renderer makes a thumbnail."""

    title: str
    image: np.ndarray  # (H, W, 3) uint8
    segments: np.ndarray  # (H, W) integer segment ids, unique per instance within the frame/video
    category_of: dict[int, int]  # segment id -> index into the section's categories
    void: np.ndarray  # (H, W) bool: unlabelled pixels
    path: str = ""  # the label file it comes from, relative to the dataset folder


@dataclass
class ClassStats:
    pixels: list[int]  # per category index
    instances: list[int]  # per category index (tracks for video datasets); 0 for stuff
    note: str = ""  # e.g. "from the panoptic json areas" or "from 500 of 118,287 maps"


@dataclass
class ReportSection:
    dataset: str  # the recipe's NAME
    folder: str  # its FOLDER under the data root: finding and frame paths are relative to it
    title: str
    categories: list[Category]
    counts: list[CountRow] = field(default_factory=list)
    stats: ClassStats | None = None
    frames: list[LabelView] = field(default_factory=list)
    strips: list[list[LabelView]] = field(default_factory=list)  # consecutive frames of one video each
    notes: list[str] = field(default_factory=list)


def evenly_spaced(items: list, n: int) -> list:
    """n items spread over the sorted list (deterministic sampling)."""
    if n <= 0 or not items:
        return []
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step + step / 2)] for i in range(n)]
