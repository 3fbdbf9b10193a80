"""The checks of a prepared SemKITTI-DVPS folder."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.datasets._shared.dvps import (GRAY8, GRAY16, SPLITS, check_depth_values, check_image, check_map,
                                           check_stray_entries, depth_note)
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.datasets.semkitti_dvps import (CLASSES, INSTANCE_DIVISOR, KINDS, NUM_THINGS, PUBLISHED_PAIRS, SEQUENCES,
                                            SEQUENCE_FRAMES, VOID, split_of)


_NAME = re.compile(r"^((\d{6})_(\d{6}))_(leftImg8bit|gtFine_class|gtFine_instance|depth_(\d+(?:\.\d+)?))\.png$")


# ---------------------------------------------------------------------- verification


def verify_tree(out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    root = out_root / "video_sequence"
    check_stray_entries(out_root, report)
    frames: dict[str, dict[tuple[int, int], dict[str, str]]] = {}
    for split in SPLITS:
        report.checked("layout")
        if not (root / split).is_dir():
            report.fail("layout", f"video_sequence/{split}", "folder missing")
            continue
        found: dict[tuple[int, int], dict[str, str]] = defaultdict(dict)
        for name in sorted(os.listdir(root / split)):
            match = _NAME.match(name)
            rel = f"video_sequence/{split}/{name}"
            if match is None:
                report.fail("layout", rel, "stray file (not {seq:06d}_{frame:06d}_{leftImg8bit|gtFine_class|"
                                           "gtFine_instance|depth_{focal}}.png)")
                continue
            seq = int(match.group(2))
            if match.group(5) and not float(match.group(5)) > 0:
                report.fail("layout", rel, "the focal length in the name is not positive")
            if seq not in SEQUENCES or split_of(seq) != split:
                report.fail("layout", rel, f"sequence {seq:02d} does not belong to {split} (08 is val, 00-07, 09, 10 "
                                           "train)")
            kind = "depth" if match.group(5) else match.group(4)
            key = (seq, int(match.group(3)))
            if kind in found[key]:
                report.fail("layout", rel, f"a second {kind} file for the frame ({found[key][kind]})")
            found[key][kind] = name
        frames[split] = found
    work = []
    for split, found in frames.items():
        by_seq: dict[int, list[int]] = defaultdict(list)
        for (seq, frame), files in sorted(found.items()):
            report.checked("files")
            by_seq[seq].append(frame)
            missing = [k for k in KINDS if k not in files]
            if missing:
                report.fail("files", f"video_sequence/{split}/{seq:06d}_{frame:06d}_*", f"missing: {', '.join(missing)}")
                continue
            work.append({"root": str(out_root), "folder": f"video_sequence/{split}", "files": files})
        for seq, numbers in sorted(by_seq.items()):
            report.checked("sequences")
            gaps = rules.missing_frames(numbers)
            if gaps or min(numbers) != 0:
                report.fail("sequences", f"video_sequence/{split}/{seq:06d}_*", "frames missing: "
                            f"{rules.format_ranges(gaps) or 'from 0'} (Video K-Net pairs frame n with n +- 1)")
    results = parallel_map(check_frame, work, jobs, progress, "verify semkitti-dvps")
    stats, stuff_instances = [], 0
    for item, result in zip(work, results):
        if isinstance(result, Exception):
            report.crashed("decode", f"{item['folder']}/{item['files']['leftImg8bit']}", result)
            continue
        checks, depth, on_stuff = result
        report.add(checks)
        if depth is not None:
            stats.append(depth)
        stuff_instances += on_stuff
    if stats:
        report.note(depth_note(stats))
    if stuff_instances:
        report.note(f"{stuff_instances:,} frames have instance ids on stuff classes (8-18); Video K-Net keeps them "
                    "(class*10000 + instance)")
    if official:
        _check_official(frames, report)


def check_frame(item: dict) -> tuple[list[tuple[str, str, str | None]], tuple[int, int, int] | None, int]:
    """Checks of one frame's four files: (check, file, message or None), depth statistics, instance ids on stuff."""
    root, folder, files = Path(item["root"]), item["folder"], item["files"]
    out: list[tuple[str, str, str | None]] = []
    rel = {kind: f"{folder}/{name}" for kind, name in files.items()}
    size = check_image(root / rel["leftImg8bit"], rel["leftImg8bit"], out)
    label = "a one-channel 8- or 16-bit PNG"
    classes = check_map(root / rel["gtFine_class"], rel["gtFine_class"], GRAY8 | GRAY16, label, size, out)
    instances = check_map(root / rel["gtFine_instance"], rel["gtFine_instance"], GRAY8 | GRAY16, label, size, out)
    depth = check_map(root / rel["depth"], rel["depth"], GRAY16, "a 16-bit one-channel PNG (uint16, metres*256)", size,
                      out)
    on_stuff = 0
    if classes is not None:
        bad = rules.unexpected_values(classes, list(range(len(CLASSES))) + [VOID])
        out.append(("values", rel["gtFine_class"], f"classes outside 0-18/255: {bad[:10]}" if bad else None))
    if instances is not None:
        large = int(instances.max()) if instances.size else 0
        out.append(("values", rel["gtFine_instance"], None if large < INSTANCE_DIVISOR else
                    f"instance id {large} >= {INSTANCE_DIVISOR} (Video K-Net's class*10000 + instance would overflow)"))
        if classes is not None and classes.shape == instances.shape:
            on_stuff = int(((instances > 0) & (classes >= NUM_THINGS) & (classes != VOID)).any())
    stats = check_depth_values(depth, rel["depth"], out) if depth is not None else None
    return out, stats, on_stuff


def _check_official(frames: dict[str, dict[tuple[int, int], dict[str, str]]], report: Report) -> None:
    per_seq: dict[int, int] = defaultdict(int)
    for found in frames.values():
        for seq, _ in found:
            per_seq[seq] += 1
    for seq, published in SEQUENCE_FRAMES.items():
        report.checked("official counts")
        if per_seq.get(seq, 0) != published:
            report.fail("official counts", f"video_sequence/{split_of(seq)}/{seq:06d}_*",
                        f"{per_seq.get(seq, 0):,} frames of sequence {seq:02d}, the KITTI odometry sequence has "
                        f"{published:,}")
    pairs = {split: len(found) - len({seq for seq, _ in found}) for split, found in frames.items()}
    for message in rules.count_mismatches(pairs, PUBLISHED_PAIRS):
        report.fail("official counts", "video_sequence", f"consecutive frame pairs of {message}")
    report.checked("official counts", len(PUBLISHED_PAIRS))
