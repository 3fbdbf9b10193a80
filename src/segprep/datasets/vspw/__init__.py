"""VSPW -> ``data/vspw/`` as Tube-Link (``data_root='data/vspw'``) and DVIS (``VSPW_480p``) read it.

What the official ``change2_480p.py`` (sssdddwww2/CVPR2021_VSPW_Implement) does, on every core:
every frame of ``data/{video}/origin/`` is resized with Pillow so that its *height* becomes 480
(width ``int(480*w/h)``) BILINEAR and saved as JPEG at Pillow's default quality 75; its mask, when
there is one, NEAREST to the same size, keeping the raw values (0 "others", 1-124 the classes, 255
void) in an 8-bit one-channel PNG. A frame already at the target size is linked, not re-encoded.
``--height 720`` makes them 720 high instead. The split files are copied byte for byte.

Inputs: the full download as one ``VSPW_data.tar`` or its parts ``VSPW_data.tar_aa``, ``_ab``...
(read in place, as one stream, never concatenated on disk), the extracted ``VSPW/`` tree, or the
official ``VSPW_480p`` download (already resized: linked). Frames found in several places are
taken from an extracted folder before an archive, and a damaged copy (0 bytes, truncated) is
passed over when an intact one exists: the replacement images the authors publish for clip
``988_f_Xvy_DCPt8`` are used by extracting them into ``--raw``. Damaged frames with no intact copy
fail their own task, named, with that advice; ``--skip-damaged`` leaves them out instead and lists
them in ``damaged_frames.txt``.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

from segprep.checks.findings import Report
from segprep.datasets.base import Download, Option, Recipe
from segprep.datasets._shared.video_frames import DEFAULT_QUALITY, SPLITS, place_split_file, read_split_lists
from segprep.engine.progress import Progress
from segprep.engine.runner import FinalizeContext, Plan
from segprep.engine.tasks import Task
from segprep.errors import MissingInput, SegprepError
from segprep.io.sources import Source
from segprep.report.model import ReportSection

LABELLED_SPLITS = ("train", "val")
TARGET_HEIGHT = 480  # change2_480p.py
PUBLISHED_VIDEOS = 3536  # VSPW paper abstract
PUBLISHED_FRAMES = 251_633
# sha256 of the sorted video ids of VSPW-dataset/VSPW-dataset-download vspw_videolist.txt, one per line
VIDEO_IDS_SHA256 = "b4756444a7caea226ff410830bf5e8e153a3865d98e1b44c2979df11cdfffe2f"
LABEL_TABLE = "label_num_dic_final.json"
DAMAGED_RECORD = "damaged_frames.txt"
DAMAGED_CLIP = "988_f_Xvy_DCPt8"  # "Some images from "988_f_Xvy_DCPt8" are damaged or incomplete with 0 byte"
PAGE = "https://github.com/VSPW-dataset/VSPW-dataset-download"
REPLACEMENT = ("Google Drive https://drive.google.com/file/d/1kuQksbhw_sgB5n6fKzts2G9KZn41-q_N or Baidu "
               "https://pan.baidu.com/s/1J6zxUm41Dd36YccYCLmycA (password ww7a)")
DOWNLOAD = Download(
    "VSPW_data.tar", "43 GB",
    f"{PAGE} (README: Google Drive as one file or 6 parts of 8 GB, or Baidu)",
    "VSPW/data/{video}/origin/{frame:08d}.jpg, VSPW/data/{video}/mask/{frame:08d}.png (train, val), "
    "VSPW/{train,val,test}.txt, VSPW/label_num_dic_final.json; the parts VSPW_data.tar_aa, _ab... are read as one "
    "archive without joining them, and the extracted VSPW/ folder is accepted too. Clip 988_f_Xvy_DCPt8 has "
    f"damaged frames: extract the authors' replacement images ({REPLACEMENT}) to VSPW/data/988_f_Xvy_DCPt8/origin/",
    extracted=("VSPW/data", "data"),
)
DOWNLOAD_480P = Download(
    "VSPW_480p.zip", "",
    f"{PAGE} (README: \"VSPW 480P download links\", Google Drive or Baidu)",
    "optional: the official download already resized to 480p (VSPW_480p/data/{video}/{origin,mask}/, split "
    "files), linked instead of resizing the full download when present (file name not published: any VSPW*.zip / "
    ".tar[.gz] with 480p in its name is searched, and an extracted VSPW_480p/ folder)",
    extracted=("VSPW_480p/data",), optional=True,
)
Key = tuple[str, str]  # (video, frame stem)

from segprep.datasets.vspw.sources import _advice, _ranked, _split_sources, find_trees, pick_frames  # noqa: E402
from segprep.datasets.vspw.work import _video_tasks, place_label_table  # noqa: E402
from segprep.datasets.vspw.verify import _verify  # noqa: E402
from segprep.datasets.vspw.report import report_section  # noqa: E402


class VSPW(Recipe):
    NAME = "vspw"
    COMPILED_CODECS = True
    FOLDER = "vspw"
    TITLE = "VSPW (video semantic segmentation, 124 classes)"
    VERSION = "1"
    LABEL_OUTPUTS = ("data/*/mask/*.png",)
    DOWNLOADS = (DOWNLOAD, DOWNLOAD_480P)
    OPTIONS = (
        Option("height", "frame height after resizing (width int(H*w/h)): 480 as change2_480p.py and the VSPW_480p "
               "download, or e.g. 720", TARGET_HEIGHT, int, example=360),
        Option("jpeg-quality", "JPEG quality of resized frames (75 = Pillow's default, as the official script)",
               DEFAULT_QUALITY, int, example=90),
        Option("skip-damaged", "leave out frames whose JPEG or mask is empty, truncated or undecodable (listed in "
               "damaged_frames.txt) instead of failing them", False, flag=True, shapes_output=False),
    )
    SAMPLE_OPTIONS = (
        Option("frames", "frames per video", 3, int),
        Option("extra-videos", "additional 1920x1080 train videos (for benchmarks)", 0, int),
        Option("parts", "parts the archive is split into (VSPW_data.tar_aa, _ab...)", 2, int),
        Option("without-replacement", "leave out the replacement images of 988_f_Xvy_DCPt8, so that its 0-byte frame "
               "reaches prepare", False, flag=True),
    )

    # ------------------------------------------------------------------ plan

    def plan(self, raw: Path, out_root: Path, options: dict[str, Any]) -> Plan:
        height = int(options.get("height") or TARGET_HEIGHT)
        quality = int(options.get("jpeg_quality") or DEFAULT_QUALITY)
        if height < 1:
            raise SegprepError(f"--height {height}: must be positive")
        if not 1 <= quality <= 100:
            raise SegprepError(f"--jpeg-quality {quality}: choose 1-100")
        trees, notes = find_trees(raw)
        usable = [t for t in trees if not t.resized or height == TARGET_HEIGHT]
        if len(usable) < len(trees):
            notes.append(f"VSPW_480p frames are not used for --height {height} (they are already 480 high; the "
                         "full download is resized instead)")
        if not any(t.images for t in usable):
            hint = (" (only the VSPW_480p download is here: --height other than 480 needs the full download)"
                    if trees and any(t.images for t in trees) else "")
            raise MissingInput(f"no VSPW frames under {raw}{hint}. Expected:\n  - {DOWNLOAD.describe()}\n"
                               f"  - or {DOWNLOAD_480P.describe()}")
        split_sources = _split_sources(trees, raw)
        lists, seen = read_split_lists(split_sources)
        frames, replaced = pick_frames(usable, prefer_resized=height == TARGET_HEIGHT)
        notes += replaced
        params = {"height": height, "quality": quality}
        policy = {"skip_damaged": bool(options.get("skip_damaged"))}
        tasks = [Task(f"{split}.txt", place_split_file, (source,), (f"{split}.txt",), group="split files")
                 for split, source in split_sources.items()]
        label_table = next((t.files[LABEL_TABLE] for t in _ranked(trees, False) if LABEL_TABLE in t.files), None)
        if label_table is not None:
            tasks.append(Task(LABEL_TABLE, place_label_table, (label_table,), (LABEL_TABLE,), group="split files"))
        by_video: dict[str, list[str]] = defaultdict(list)
        for video, stem in frames:
            by_video[video].append(stem)
        for split, videos in lists.items():
            for video in videos:
                tasks += _video_tasks(split, video, sorted(by_video.get(video, ())), frames, params, policy)
        unlisted = sorted(set(by_video) - set(seen))
        if unlisted:
            notes.append(f"{len(unlisted):,} video(s) on disk are in no split file and are left out, "
                         f"e.g. {unlisted[0]}")
        return Plan(tasks, self.salt(options), notes, finalize=partial(write_record, policy["skip_damaged"]))

    # ------------------------------------------------------------------ verify

    def verify(self, out_root: Path, report: Report, official: bool, jobs: int, progress: Progress) -> None:
        _verify(out_root, report, official, jobs, progress)

    def inspect_raw(self, raw: Path) -> list[tuple[str, str]]:
        try:
            trees, _ = find_trees(raw)
        except SegprepError as exc:
            return [(str(raw), str(exc))]
        if not trees:
            return []
        problems = []
        if not any(f"{s}.txt" in t.files for t in trees for s in SPLITS) and not (raw / "train.txt").is_file():
            problems.append((trees[0].name, "no train.txt / val.txt / test.txt beside data/: they ship in the VSPW "
                                             "download (VSPW/*.txt)"))
        candidates: dict[Key, list[Source]] = defaultdict(list)
        for tree in trees:
            for key, source in tree.images.items():
                candidates[key].append(source)
        empty = sorted(k for k, sources in candidates.items() if all(s.size == 0 for s in sources))
        for video in sorted({v for v, _ in empty}):
            stems = [s for v, s in empty if v == video]
            first = candidates[(video, stems[0])][0].describe()
            problems.append((first, f"{len(stems)} frame(s) of {video} are empty (0 bytes): {_advice(video)}"))
        return problems

    # ------------------------------------------------------------------ report

    def report_section(self, out_root: Path, jobs: int, progress: Progress) -> ReportSection:
        return report_section(self, out_root, jobs, progress)

    # ------------------------------------------------------------------ sample

    def sample(self, out: Path, options: dict[str, Any], jobs: int) -> None:
        from segprep.datasets.vspw.sample import write_sample

        write_sample(out, frames=int(options.get("frames") or 3), extra_videos=int(options.get("extra_videos") or 0),
                     parts=int(options.get("parts") or 2), replacement=not options.get("without_replacement"),
                     jobs=jobs)


RECIPE = VSPW


# ---------------------------------------------------------------------- finalize


def write_record(skip_damaged: bool, ctx: FinalizeContext) -> None:
    """``damaged_frames.txt`` (frames left out by --skip-damaged, with why) and the run's notes."""
    damaged, odd = [], []
    for task in ctx.tasks:
        extra = ctx.extras.get(task.key) or {}
        if extra.get("damaged"):
            damaged.append(f"{task.outputs[0]}\t{extra['damaged']}\n")
        if extra.get("odd"):
            odd.append((task.outputs[1], extra["odd"]))
    record = ctx.out_root / DAMAGED_RECORD
    damaged.sort()
    if damaged:
        ctx.write_bytes(DAMAGED_RECORD, "".join(damaged).encode("utf-8"))
        how = "with --skip-damaged" if skip_damaged else "by an earlier run with --skip-damaged"
        ctx.note(f"{len(damaged):,} damaged frame(s) left out {how}, listed in {DAMAGED_RECORD}, e.g. "
                 f"{damaged[0].split(chr(9))[0]}")
    elif record.exists():
        record.unlink()  # every frame it listed has been written since
    if odd:
        ctx.note(f"value 253 (void for Tube-Link; not a label in the VSPW README) kept in {len(odd):,} mask(s), "
                 f"{sum(n for _, n in odd):,} pixels, e.g. {odd[0][0]}")
