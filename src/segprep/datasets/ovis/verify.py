"""The checks of a prepared ``data/ovis/``.

- layout: each prepared split has its three jsons; train and valid are required (all three with
  ``--official``);
- ``{split}.json`` is the official file (train) or the official bytes without ``"annotations": null``;
- CocoVID: the schema, the 25 categories with ids 1..25 and names exactly as published, frame ids
  0..n-1, and the file is byte-identical to a fresh conversion of the official one (so a changed
  number in either is caught);
- every listed frame exists and decodes as a JPEG of its json's size; nothing else is in the split's
  folder;
- every mask is an RLE (string or list counts) that decodes to (height, width); its area and box
  equal the json's where that holds on the data: whether OVIS's ``areas``/``bboxes`` are exactly the
  masks' is not established (``formats-ovis.md`` §1.9), so when most masks of a split disagree the
  check is reported as a note (a convention of the release), and otherwise each disagreement is a
  failure (an edited number);
- ``--official``: 607 / 140 / 154 videos; a ``--holdout`` split partitions the training videos.
"""

from __future__ import annotations

import os
from pathlib import Path

from segprep.checks.findings import Report
from segprep.datasets._shared import vis_holdout
from segprep.datasets.ovis import PUBLISHED_VIDEOS, REQUIRED_SPLITS, SPLITS, VERSION, cocovid_name
from segprep.datasets.ovis.sources import json_name
from segprep.datasets.ovis.work import without_null_annotations
from segprep.datasets.youtube_vis.verify import check_frame_files, check_head, read_head, verify_item
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.errors import SegprepError

FRAME_BATCH = 64


def split_paths(split: str) -> list[str]:
    return [f"annotations/{json_name(split)}", f"annotations/{split}.json", cocovid_name(split)]


def verify(out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    present = _present_splits(out_root, report, official)
    heads: dict[str, dict] = {}
    for split in present:
        _check_renamed(out_root, split, report)
        try:
            heads[split] = read_head(out_root / cocovid_name(split))
        except SegprepError as exc:
            report.checked("cocovid schema")
            report.fail("cocovid schema", cocovid_name(split), str(exc))
            continue
        check_head(VERSION, split, heads[split], report)
    work: list[tuple] = [("json", str(out_root), VERSION, split) for split in heads]
    for split, head in heads.items():
        frames = check_frame_files(out_root, split, head, report, folder=split)
        work += [("frames", str(out_root), split, frames[i : i + FRAME_BATCH]) for i in range(0, len(frames),
                                                                                              FRAME_BATCH)]
    results = parallel_map(verify_item, work, jobs, progress, "verify ovis")
    for item, result in zip(work, results):
        if isinstance(result, Exception):
            check, rel = ("annotations", cocovid_name(item[3])) if item[0] == "json" else ("decode", item[2])
            report.crashed(check, rel, result)
            continue
        for check, n, failures in result:
            if check == "area/box":
                _weigh_area_box(item[3], n, failures, report)
                continue
            report.checked(check, n)
            for path, message in failures:
                report.fail(check, path, message)
    vis_holdout.verify(out_root, report, VERSION, f"annotations/{json_name('train')}")
    if official:
        for split in SPLITS:
            report.checked("official counts")
            found = len(heads[split]["videos"]) if split in heads else 0
            if found != PUBLISHED_VIDEOS[split]:
                report.fail("official counts", cocovid_name(split), f"{split}: {found:,} videos found, "
                            f"{PUBLISHED_VIDEOS[split]:,} published ({found - PUBLISHED_VIDEOS[split]:+,})")


def _present_splits(out_root: Path, report: Report, official: bool) -> list[str]:
    present = []
    for split in SPLITS:
        paths = split_paths(split)
        exists = [(out_root / rel).is_file() for rel in paths]
        report.checked("layout")
        if not any(exists):
            if split in REQUIRED_SPLITS or official:
                report.fail("layout", paths[0], f"missing: the {split} split is not prepared")
            continue
        for rel, ok in zip(paths, exists):
            if not ok:
                report.fail("layout", rel, "missing")
        if all(exists):
            present.append(split)
    return present


def _check_renamed(out_root: Path, split: str, report: Report) -> None:
    official, renamed = (out_root / rel for rel in split_paths(split)[:2])
    report.checked("renamed copy")
    try:
        if split == "train":
            same = os.path.samefile(official, renamed) or _same_bytes(official, renamed)
        else:
            same = without_null_annotations(official.read_bytes(), official.name) == renamed.read_bytes()
    except SegprepError as exc:
        report.fail("renamed copy", f"annotations/{official.name}", str(exc))
        return
    if not same:
        what = "the official file" if split == "train" else "the official file without \"annotations\": null"
        report.fail("renamed copy", f"annotations/{split}.json", f"is not {what} (annotations/{official.name})")


def _same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            block = fa.read(1 << 20)
            if block != fb.read(1 << 20):
                return False
            if not block:
                return True


def _weigh_area_box(split: str, checked: int, mismatches: list, report: Report) -> None:
    report.checked("area/box", checked)
    if checked and len(mismatches) * 2 > checked:
        report.note(f"{cocovid_name(split)}: {len(mismatches):,} of {checked:,} masks differ from their json "
                    f"area or box (e.g. {mismatches[0][1]}): taken as this release's convention, not as errors")
        return
    for path, message in mismatches:
        report.fail("area/box", path, message)
