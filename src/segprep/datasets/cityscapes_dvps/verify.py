"""The checks of a prepared Cityscapes-DVPS folder."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.datasets._shared.dvps import (GRAY16, SPLITS, check_depth_values, check_image, check_map,
                                           check_stray_entries, depth_note)
from segprep.encodings import cityscapes_vps as vps
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.datasets.cityscapes_dvps import KINDS, PUBLISHED_FRAMES, PUBLISHED_SEQUENCES


_NAME = re.compile(r"^((\d{6})_(\d{6})_([a-z]+)_(\d{6})_(\d{6}))_(leftImg8bit|gtFine_instanceTrainIds|depth)\.png$")


# ---------------------------------------------------------------------- verification


def verify_tree(out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    root = out_root / "video_sequence"
    check_stray_entries(out_root, report)
    frames: dict[str, dict[str, set[str]]] = {}
    for split in SPLITS:
        report.checked("layout")
        if not (root / split).is_dir():
            report.fail("layout", f"video_sequence/{split}", "folder missing")
            continue
        found: dict[str, set[str]] = defaultdict(set)
        for name in sorted(os.listdir(root / split)):
            match = _NAME.match(name)
            if match is None:
                report.fail("layout", f"video_sequence/{split}/{name}", "stray file (not {seq:06d}_{frame:06d}_{city}_"
                            "{seq:06d}_{frame:06d}_{leftImg8bit|gtFine_instanceTrainIds|depth}.png)")
                continue
            found[match.group(1)].add(match.group(7))
        frames[split] = found
    if root.is_dir():
        for entry in sorted(os.listdir(root)):
            if entry not in SPLITS:
                report.fail("layout", f"video_sequence/{entry}", "stray entry (only train and val belong here)")
    work = []
    for split, found in frames.items():
        for prefix, kinds in sorted(found.items()):
            report.checked("files")
            missing = [k for k in KINDS if k not in kinds]
            if missing:
                report.fail("files", f"video_sequence/{split}/{prefix}_*", f"missing: {', '.join(missing)}")
                continue
            work.append((str(out_root), f"video_sequence/{split}/{prefix}"))
        _check_sequences(split, found, report)
    results = parallel_map(check_frame, work, jobs, progress, "verify cityscapes-dvps")
    stats = []
    for (_, stem), result in zip(work, results):
        if isinstance(result, Exception):
            report.crashed("decode", f"{stem}_*", result)
            continue
        checks, depth = result
        report.add(checks)
        if depth is not None:
            stats.append(depth)
    if stats:
        report.note(depth_note(stats))
    if official:
        counts = {s: len(f) for s, f in frames.items()}
        for message in rules.count_mismatches(counts, PUBLISHED_FRAMES):
            report.fail("official counts", "video_sequence", f"frames of {message}")
        sequences = {s: len({p[:6] for p in f}) for s, f in frames.items()}
        for message in rules.count_mismatches(sequences, PUBLISHED_SEQUENCES):
            report.fail("official counts", "video_sequence", f"sequences of {message}")
        report.checked("official counts", 4)


def _check_sequences(split: str, found: dict[str, set[str]], report: Report) -> None:
    """Frames of a sequence are numbered without gaps (deeplab2 and PolyphonicFormer pair consecutive ones) and
    come from one Cityscapes snippet, in order."""
    sequences: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    for prefix in found:
        seq, frame, city, cs_seq, cs_frame = prefix.split("_")
        sequences[seq].append((int(frame), f"{city}_{cs_seq}", int(cs_frame)))
    for seq, items in sorted(sequences.items()):
        report.checked("sequences")
        items.sort()
        problems = []
        gaps = rules.missing_frames([f for f, _, _ in items])
        if gaps or items[0][0] != 0:
            problems.append(f"frames missing: {rules.format_ranges(gaps) or 'from 0'}")
        snippets = sorted({s for _, s, _ in items})
        if len(snippets) != 1:
            problems.append(f"frames of several Cityscapes snippets {snippets}")
        cs_frames = [c for _, _, c in items]
        if cs_frames != sorted(cs_frames):
            problems.append("Cityscapes frame numbers are not in the sequence's order")
        if problems:
            report.fail("sequences", f"video_sequence/{split}/{seq}_*", "; ".join(problems))


def check_frame(item: tuple[str, str]) -> tuple[list[tuple[str, str, str | None]], tuple[int, int, int] | None]:
    """Checks of one frame's three files; returns (check, file, message or None) and the depth statistics."""
    root, stem = Path(item[0]), item[1]
    out: list[tuple[str, str, str | None]] = []
    size = check_image(root / f"{stem}_leftImg8bit.png", f"{stem}_leftImg8bit.png", out)
    label = check_map(root / f"{stem}_gtFine_instanceTrainIds.png", f"{stem}_gtFine_instanceTrainIds.png", GRAY16,
                      "a 16-bit one-channel PNG", size, out)
    depth = check_map(root / f"{stem}_depth.png", f"{stem}_depth.png", GRAY16, "a 16-bit one-channel PNG (uint16, "
                      "metres*256)", size, out)
    if label is not None:
        present = np.flatnonzero(np.bincount(label.ravel(), minlength=1 << 16))
        bad = [int(v) for v in present if not vps.valid_dvps_values()[v]]
        out.append(("values", f"{stem}_gtFine_instanceTrainIds.png", None if not bad else
                    f"values that are neither 32000 (void), stuff trainId*1000 nor thing trainId*1000+k: {bad[:10]}"))
    return out, check_depth_values(depth, f"{stem}_depth.png", out) if depth is not None else None
