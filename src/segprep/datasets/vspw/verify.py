"""The checks of a prepared VSPW folder."""

from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from segprep.checks import rules
from segprep.checks.findings import Report
from segprep.datasets._shared.video_frames import SPLITS, check_split_files, stems_and_strays, subdirs
from segprep.encodings import vspw as enc
from segprep.engine.malloc import tune_malloc
from segprep.engine.parallel import parallel_map
from segprep.engine.progress import Progress
from segprep.errors import BadInput
from segprep.io.images import decode_png_fast, jpeg_info, png_info
from segprep.datasets.vspw import (DAMAGED_RECORD, LABELLED_SPLITS, LABEL_TABLE, PAGE, PUBLISHED_FRAMES,
                                   PUBLISHED_VIDEOS, TARGET_HEIGHT, VIDEO_IDS_SHA256)
from segprep.datasets.vspw.sources import _STEM


# ---------------------------------------------------------------------- verification


def read_record(root: Path) -> dict[str, set[str]]:
    """video -> frame stems that ``damaged_frames.txt`` says were left out."""
    out: dict[str, set[str]] = defaultdict(set)
    path = root / DAMAGED_RECORD
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")[0].split("/")
            if len(parts) == 4 and parts[0] == "data" and parts[3].endswith(".jpg"):
                out[parts[1]].add(parts[3][: -len(".jpg")])
    return out


def _verify(root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
    lists = check_split_files(root, report)
    split_of: dict[str, str] = {}
    for split, videos in lists.items():
        for video in videos:
            report.checked("split files")
            if video in split_of:
                report.fail("split files", f"{split}.txt", f"{video} is also listed in {split_of[video]}.txt")
            split_of.setdefault(video, split)
    if (root / LABEL_TABLE).is_file():  # optional: the download's, copied when it has one
        table = rules.read_json(report, "categories", root, LABEL_TABLE)
        if table is not None and table != enc.label_num_dic():
            report.fail("categories", LABEL_TABLE, "differs from the 124 VSPW classes (+ others) in VIPSeg's order")
    report.checked("layout")
    present = {e.name for e in subdirs(root / "data")}
    if not (root / "data").is_dir():
        report.fail("layout", "data", "folder missing")
    for video in sorted(present - set(split_of)):
        report.fail("layout", f"data/{video}", "not a video of any split file")
    damaged = read_record(root)
    work = []
    for split, videos in lists.items():
        for video in videos:
            if video not in present:
                report.checked("videos")
                report.fail("videos", f"data/{video}", f"listed in {split}.txt but missing")
                continue
            work.append((str(root), video, split in LABELLED_SPLITS, sorted(damaged.get(video, ()))))
    results = parallel_map(check_video, work, jobs, progress, "verify vspw")
    heights: Counter = Counter()
    frames_by_split: Counter = Counter()
    odd, excused = [], 0
    per_video_heights = {}
    for (_, video, _, _), result in zip(work, results):
        if isinstance(result, Exception):
            report.crashed("decode", f"data/{video}", result)
            continue
        findings, facts = result
        report.add(findings)
        heights.update(facts["heights"])
        per_video_heights[video] = facts["heights"]
        frames_by_split[split_of[video]] += facts["frames"]
        odd += facts["odd"]
        excused += facts["excused"]
    if heights:
        common = heights.most_common(1)[0][0]
        for video, counts in sorted(per_video_heights.items()):
            report.checked("frame height")
            other = sorted(h for h in counts if h != common)
            if other:
                report.fail("frame height", f"data/{video}/origin", f"frames {other} high, the others {common} "
                                                                    "(every frame is resized to one height)")
        if common != TARGET_HEIGHT:
            report.note(f"frames are {common} pixels high (prepared with --height {common}; change2_480p.py makes "
                        f"them {TARGET_HEIGHT})")
    if excused:
        report.note(f"{excused:,} frame(s) left out as damaged ({DAMAGED_RECORD}): their clips have gaps there")
    if odd:
        pixels = sum(n for _, n in odd)
        report.note(f"value 253 in {len(odd):,} mask(s) ({pixels:,} pixels), e.g. {odd[0][0]}: not a label in the "
                    "VSPW README (0-124, 255); Tube-Link reads it as void, the README's remap would make it class 252")
    if official:
        _check_official(root, lists, present, frames_by_split, report)


def _check_official(root: Path, lists: dict[str, list[str]], present: set[str], frames: Counter,
                    report: Report) -> None:
    listed = sorted({v for videos in lists.values() for v in videos})
    found = [v for v in listed if v in present]
    counts = {"videos": len(found), "frames": sum(frames.values())}
    for message in rules.count_mismatches(counts, {"videos": PUBLISHED_VIDEOS, "frames": PUBLISHED_FRAMES}):
        report.fail("official counts", "data", message)
    report.checked("official counts", 2)
    report.checked("official video list")
    digest = hashlib.sha256("".join(f"{v}\n" for v in listed).encode()).hexdigest()
    if digest != VIDEO_IDS_SHA256:
        report.fail("official video list", "train.txt + val.txt + test.txt",
                    f"the {len(listed):,} listed videos are not the 3,536 of vspw_videolist.txt ({PAGE})")
    report.note("videos / frames per split: " + ", ".join(
        f"{split} {sum(1 for v in lists.get(split, ()) if v in present):,} / {frames[split]:,}" for split in SPLITS))


def check_video(item: tuple[str, str, bool, list[str]]) -> tuple[list[tuple[str, str, str | None]], dict]:
    """Checks one video folder; returns findings (check, path, message or None) and facts for the totals."""
    tune_malloc()
    root, video, labelled, damaged = item
    folder = Path(root) / "data" / video
    out: list[tuple[str, str, str | None]] = []
    facts: dict[str, Any] = {"frames": 0, "heights": Counter(), "odd": [], "excused": 0}
    for name in sorted(os.listdir(folder)):
        if name not in ("origin", "mask"):
            out.append(("layout", f"data/{video}/{name}", "stray entry (only origin/ and mask/ belong here)"))
    images, strays = stems_and_strays(folder / "origin", ".jpg")
    masks, mask_strays = stems_and_strays(folder / "mask", ".png")
    for kind, names in (("origin", strays), ("mask", mask_strays)):
        for name in names:
            out.append(("layout", f"data/{video}/{kind}/{name}", "stray file"))
    out.append(("videos", f"data/{video}/origin", None if images else "no frames"))
    facts["frames"] = len(images)
    if labelled or masks:
        for stem in sorted(set(images) ^ set(masks) if labelled else set(masks) - set(images)):
            where = f"data/{video}/mask/{stem}.png" if stem in images else f"data/{video}/origin/{stem}.jpg"
            out.append(("pairs", where, "missing (the loaders pair each image with the mask of the same name)"))
    mask_set = set(masks)
    for stem in images:
        rel = f"data/{video}/origin/{stem}.jpg"
        try:
            info = jpeg_info((folder / "origin" / f"{stem}.jpg").read_bytes(), rel)
            out.append(("images", rel, None))
            facts["heights"][info.height] += 1
            size = (info.width, info.height)
        except BadInput as exc:
            out.append(("images", rel, str(exc)))
            size = None
        if stem in mask_set:
            out += _check_mask(folder / "mask" / f"{stem}.png", f"data/{video}/mask/{stem}.png", size, facts)
    numbers = [int(s) for s in images if _STEM.match(s)]
    for stem in images:
        if not _STEM.match(stem):
            out.append(("frame names", f"data/{video}/origin/{stem}.jpg", "not a frame number"))
    gaps = rules.missing_frames(numbers)
    left_out = {int(s) for s in damaged}
    facts["excused"] = len(left_out & set(gaps))
    unexplained = [n for n in gaps if n not in left_out]
    out.append(("contiguous frames", f"data/{video}/origin", f"frames missing: {rules.format_ranges(unexplained)} "
                "(the loaders take neighbours by position)" if unexplained else None))
    for stem in sorted(set(damaged) & set(images)):
        out.append(("damaged record", f"data/{video}/origin/{stem}.jpg", f"present, but listed in {DAMAGED_RECORD}"))
    return out, facts


def _check_mask(path: Path, rel: str, size: tuple[int, int] | None, facts: dict) -> list[tuple[str, str, str | None]]:
    try:
        data = path.read_bytes()
        info = png_info(data, rel)
    except BadInput as exc:
        return [("masks", rel, str(exc))]
    if info.color_type != 0 or info.bit_depth != 8:
        return [("masks", rel, f"expected an 8-bit one-channel PNG, found {info.bit_depth}-bit colour type "
                               f"{info.color_type}")]
    try:
        mask = decode_png_fast(data, rel, info=info)
    except BadInput as exc:
        return [("masks", rel, str(exc))]
    out: list[tuple[str, str, str | None]] = [("masks", rel, None)]
    if size is not None:
        same = (mask.shape[1], mask.shape[0]) == size
        out.append(("same size", rel, None if same else f"{mask.shape[1]}x{mask.shape[0]}, its image is "
                                                       f"{size[0]}x{size[1]}"))
    invalid, odd = enc.check_values(mask)
    out.append(("values", rel, f"not VSPW labels (0-124, 255): {invalid[:10]}" if invalid else None))
    if odd:
        facts["odd"].append((rel, odd))
    return out
