"""The Cityscapes report section."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from segprep.datasets.base import Recipe
from segprep.encodings import cityscapes as cs
from segprep.io.images import decode_png
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced
from segprep.datasets.cityscapes import CITIES, LABELLED, PUBLISHED_FRAMES, SPLITS


# ---------------------------------------------------------------------- report


def report_section(recipe: Recipe, out_root: Path) -> ReportSection:
    """Counts per split, class pixels and instances from the panoptic jsons, and a few labelled frames."""
    evaluated = [label for label in cs.LABELS if not label.ignoreInEval]  # trainId order 0-18
    categories = [Category(label.name, tuple(label.color), label.hasInstances) for label in evaluated]
    section = ReportSection(recipe.NAME, recipe.FOLDER, recipe.TITLE, categories)
    labelled: list[str] = []
    for split in SPLITS:
        folder = out_root / "leftImg8bit" / split
        names = sorted(f"{city}/{name}" for city in (os.listdir(folder) if folder.is_dir() else [])
                       for name in os.listdir(folder / city))
        cities = {name.split("/")[0] for name in names}
        missing = sorted(set(CITIES[split]) - cities)
        section.counts.append(CountRow(split, "frames", len(names), PUBLISHED_FRAMES[split],
                                       f"cities missing: {', '.join(missing)}" if missing else ""))
        if split in LABELLED:
            labelled += [f"gtFine/{split}/{n[: -len('_leftImg8bit.png')]}_gtFine_instanceTrainIds.png" for n in names]
    pixels, instances = [0] * len(evaluated), [0] * len(evaluated)
    used = []
    for split in LABELLED:
        path = out_root / f"annotations/cityscapes_panoptic_{split}.json"
        if not path.is_file():
            continue
        used.append(split)
        for annotation in json.loads(path.read_bytes())["annotations"]:
            for segment in annotation["segments_info"]:
                train_id = cs.BY_ID[segment["category_id"]].trainId
                pixels[train_id] += segment["area"]
                instances[train_id] += 0 if segment["iscrowd"] or not categories[train_id].isthing else 1
    if used:
        section.stats = ClassStats(pixels, instances, f"from the panoptic json areas ({' + '.join(used)}); "
                                                      "instances without groups")
    section.frames = [_label_view(out_root, rel) for rel in evenly_spaced(labelled, 4)
                      if (out_root / rel).is_file()]
    return section


def _label_view(out_root: Path, rel: str) -> LabelView:
    instance = decode_png((out_root / rel).read_bytes(), rel).astype(np.int64)
    split, city, name = rel.split("/")[1:]
    stem = name[: -len("_gtFine_instanceTrainIds.png")]
    image = decode_png((out_root / f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png").read_bytes(), stem)
    classes = np.where(instance >= cs.DIVISOR, instance // cs.DIVISOR, instance)
    category_of = {int(v): int(v) // cs.DIVISOR if v >= cs.DIVISOR else int(v)
                   for v in np.unique(instance) if (v // cs.DIVISOR if v >= cs.DIVISOR else v) < cs.NUM_TRAIN_IDS}
    return LabelView(stem, image, instance, category_of, classes == cs.VOID, rel)
