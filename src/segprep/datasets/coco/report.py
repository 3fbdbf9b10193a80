"""The COCO report section."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from segprep.encodings import coco
from segprep.engine.progress import Progress
from segprep.errors import BadInput
from segprep.report.model import Category, ClassStats, CountRow, LabelView, ReportSection, evenly_spaced
from segprep.datasets.coco import PUBLISHED_IMAGES, SPLITS
from segprep.datasets.coco.sources import gc_paused
from segprep.datasets.coco.work import decode_ids
from segprep.datasets.coco.verify import _count_files


def _label_view(out_root: Path, split: str, ann: dict, index_of: dict[int, int]) -> LabelView:
    from PIL import Image

    rel = f"panoptic_{split}2017/{ann.get('file_name')}"
    ids = decode_ids((out_root / rel).read_bytes(), rel, None).astype(np.int64)
    with Image.open(out_root / f"{split}2017" / str(ann.get("image_file"))) as im:
        image = np.asarray(im.convert("RGB"))
    category_of = {int(s["id"]): index_of[s["category_id"]] for s in ann.get("segments_info", [])
                   if s.get("category_id") in index_of}
    return LabelView(os.path.splitext(str(ann.get("file_name")))[0], image, ids, category_of, ids == 0, rel)


class CocoReport:
    """``Coco.report_section``, kept in this room: the recipe class lists this class as a base."""

    # ------------------------------------------------------------------ report

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        categories = [Category(name, rgb, bool(thing)) for _, name, _, thing, rgb in coco.CATEGORIES]
        index_of = {c[0]: k for k, c in enumerate(coco.CATEGORIES)}
        section = ReportSection(self.NAME, self.FOLDER, self.TITLE, categories)
        pixels, instances = [0] * len(categories), [0] * len(categories)
        shown: list[tuple[str, dict]] = []
        with gc_paused():
            for split in SPLITS:
                folders = {f: _count_files(out_root / f) for f in (f"{split}2017", f"panoptic_{split}2017",
                                                                   f"panoptic_stuff_{split}2017")}
                section.counts.append(CountRow(split, "images", folders[f"{split}2017"], PUBLISHED_IMAGES[split]))
                section.counts.append(CountRow(split, "panoptic PNGs", folders[f"panoptic_{split}2017"],
                                               PUBLISHED_IMAGES[split]))
                section.counts.append(CountRow(split, "panoptic_stuff maps", folders[f"panoptic_stuff_{split}2017"],
                                               PUBLISHED_IMAGES[split]))
                try:
                    panoptic = json.loads((out_root / f"annotations/panoptic_{split}2017.json").read_bytes())
                except (FileNotFoundError, ValueError):
                    section.notes.append(f"annotations/panoptic_{split}2017.json missing or unreadable")
                    continue
                for ann in panoptic.get("annotations", []):
                    for seg in ann.get("segments_info", []):
                        k = index_of.get(seg.get("category_id"))
                        if k is not None:
                            pixels[k] += int(seg.get("area") or 0)
                            instances[k] += int(bool(categories[k].isthing and not seg.get("iscrowd")))
                files = {img.get("id"): img.get("file_name") for img in panoptic.get("images", [])}
                shown += [(split, dict(ann, image_file=files.get(ann.get("image_id"))))
                          for ann in evenly_spaced(panoptic.get("annotations", []), 2)]
                del panoptic
        section.stats = ClassStats(pixels, instances, "train and val: pixels are the panoptic json areas; "
                                                      "instances are the non-crowd thing segments")
        for split, ann in shown:
            try:
                section.frames.append(_label_view(out_root, split, ann, index_of))
            except (BadInput, OSError) as exc:
                section.notes.append(f"panoptic_{split}2017/{ann.get('file_name')}: not drawn ({exc})")
        return section
