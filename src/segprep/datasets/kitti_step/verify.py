"""The checks of a prepared KITTI-STEP folder."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.encodings import step
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.errors import BadInput
from segprep.io.images import decode_png, png_info
from segprep.datasets.kitti_step import LABELLED_SPLITS, PUBLISHED_FRAMES, SEQUENCES, SPLITS


_NAME = re.compile(r"^(\d{6})_(\d{6})_(leftImg8bit|panoptic)\.png$")


# ---------------------------------------------------------------------- verification


def _list_split(folder: Path, split: str, report: Report) -> dict[tuple[int, int], set[str]]:
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    for name in sorted(os.listdir(folder)):
        report.checked("layout")
        match = _NAME.match(name)
        rel = f"video_sequence/{split}/{name}"
        if match is None:
            report.fail("layout", rel, "stray file (not {seq:06d}_{frame:06d}_{leftImg8bit|panoptic}.png)")
        elif match.group(3) == "panoptic" and split == "test":
            report.fail("layout", rel, "panoptic map in the test split (KITTI-STEP has no test labels)")
        else:
            found[(int(match.group(1)), int(match.group(2)))].add(match.group(3))
    return found


def check_frame(item: tuple[str, bool, bool]) -> list[tuple[str, str, str | None]]:
    """Checks one frame; returns (check, file suffix, message or None when it passed)."""
    stem, has_image, has_map = item
    out: list[tuple[str, str, str | None]] = []
    size = None
    if has_image:
        path = stem + "_leftImg8bit.png"
        try:
            info = png_info(Path(path).read_bytes(), os.path.basename(path))
            size = (info.width, info.height)
            out.append(("decode", "_leftImg8bit.png", None))
        except BadInput as exc:
            out.append(("decode", "_leftImg8bit.png", str(exc)))
    if has_map:
        path = stem + "_panoptic.png"
        try:
            rgb = decode_png(Path(path).read_bytes(), os.path.basename(path))
            out.append(("decode", "_panoptic.png", None))
        except BadInput as exc:
            out.append(("decode", "_panoptic.png", str(exc)))
            return out
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            out.append(("values", "_panoptic.png", f"not an RGB map (shape {rgb.shape})"))
            return out
        if size is not None:
            same = (rgb.shape[1], rgb.shape[0]) == size
            out.append(("same size", "_panoptic.png", None if same else
                        f"{rgb.shape[1]}x{rgb.shape[0]}, its image is {size[0]}x{size[1]}"))
        semantic, instance = step.decode(rgb)
        bad = rules.unexpected_values(semantic, list(range(step.NUM_CLASSES)) + [step.VOID])
        out.append(("values", "_panoptic.png", f"semantic (R) values outside 0-18/255: {bad}" if bad else None))
        stray = (instance != 0) & ~step.thing_lookup()[semantic]
        classes = sorted(int(c) for c in set(semantic[stray].tolist())) if stray.any() else []
        out.append(("instances", "_panoptic.png", f"instance ids on classes {classes} (only person 11 and car 13 have "
                                                  "instances)" if classes else None))
    return out


def _check_official(frames: dict[str, dict[tuple[int, int], set[str]]], report: Report) -> None:
    counts = {split: sum(1 for kinds in found.values() if "leftImg8bit" in kinds) for split, found in frames.items()}
    for message in rules.count_mismatches(counts, PUBLISHED_FRAMES):
        report.fail("official counts", "video_sequence", f"frames of {message}")
    report.checked("official counts", len(PUBLISHED_FRAMES))
    for split, found in frames.items():
        sequences = {seq for seq, _ in found}
        report.checked("official sequences")
        if sequences != set(SEQUENCES[split]):
            missing, extra = sorted(set(SEQUENCES[split]) - sequences), sorted(sequences - set(SEQUENCES[split]))
            report.fail("official sequences", f"video_sequence/{split}",
                        f"sequences missing {missing}, unexpected {extra}")


class KittiStepVerify:
    """``KittiStep.verify``, kept in this room: the recipe class lists this class as a base."""

    # ------------------------------------------------------------------ verify

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        root = out_root / "video_sequence"
        frames: dict[str, dict[tuple[int, int], set[str]]] = {}
        for split in SPLITS:
            folder = root / split
            if not folder.is_dir():
                report.checked("layout")
                if official or split in LABELLED_SPLITS:
                    report.fail("layout", f"video_sequence/{split}", "folder missing")
                continue
            frames[split] = _list_split(folder, split, report)
        if root.is_dir():
            for entry in sorted(os.listdir(root)):
                if entry not in SPLITS:
                    report.fail("layout", f"video_sequence/{entry}", "stray entry (only train, val, test belong here)")
        work = []
        for split, found in frames.items():
            for (seq, frame), kinds in sorted(found.items()):
                stem = root / split / f"{seq:06d}_{frame:06d}"
                report.checked("pairs")
                if split in LABELLED_SPLITS and kinds != {"leftImg8bit", "panoptic"}:
                    missing = ({"leftImg8bit", "panoptic"} - kinds).pop()
                    report.fail("pairs", f"video_sequence/{split}/{seq:06d}_{frame:06d}_{missing}.png", "missing")
                work.append((str(stem), "leftImg8bit" in kinds, "panoptic" in kinds))
        results = parallel_map(check_frame, work, jobs, progress, "verify kitti-step")
        for (stem, _, _), result in zip(work, results):
            rel = os.path.relpath(stem, out_root)
            if isinstance(result, Exception):
                report.crashed("decode", rel, result)
                continue
            for check, suffix, message in result:
                report.checked(check)
                if message is not None:
                    report.fail(check, rel + suffix, message)
        for split, found in frames.items():
            by_seq: dict[int, list[int]] = defaultdict(list)
            for (seq, frame), kinds in found.items():
                if "leftImg8bit" in kinds:  # the loader lists images; neighbours are looked up among them
                    by_seq[seq].append(frame)
            for seq, numbers in sorted(by_seq.items()):
                report.checked("contiguous frames")
                gaps = rules.missing_frames(numbers)
                if gaps:
                    report.fail("contiguous frames", f"video_sequence/{split}/{seq:06d}_*",
                                f"frames missing: {rules.format_ranges(gaps)} (Video K-Net drops frames next to a gap)")
        if official:
            _check_official(frames, report)
