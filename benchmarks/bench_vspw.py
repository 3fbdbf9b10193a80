"""VSPW speed: whole `segprep prepare vspw` runs against the bare codec work on the same frames.

    python benchmarks/bench_vspw.py [--videos 24] [--frames 9] [--repeats 3] [--work bench-work/vspw]

Input: a generated download of 1920x1080 street-scene frames (JPEG q90, 8-bit masks written by
Pillow), every frame resized to 853x480, as the official archive split into 3 parts
(`VSPW_data.tar_aa`...) read in place, and the same tree extracted. Rows (as for VIPSeg):

* prepare: wall time of the command (start-up, planning incl. listing the parts, every task,
  journal), as frames per second; "1-frame run" is the same command on a one-frame download (the
  fixed cost a real run of 251,633 frames does not notice), and "ratio without start-up"
  subtracts it;
* bare codec work: in-memory decode + resize + encode of the same files with the same calls
  (Pillow JPEG decode, BILINEAR resize, JPEG encode at quality 75; libspng 8-bit PNG decode,
  nearest resize, libpng encode), in as many processes, inputs read before the clock starts;
  wall ratio = prepare / codec; CPU columns: user+sys seconds of every process, per frame (less
  sensitive to other load on the machine than wall time);
* the CPU time of each step of a frame, in one process.

Each timing is the best of --repeats (the machine is shared; the load average is printed).
"""

from __future__ import annotations

import io
import shutil
import sys
import tarfile
import time
from pathlib import Path

import PIL

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from common import CODEC_COLUMNS, codec_row, frame_bench_arguments, load_average, print_table  # noqa: E402

from segprep.encodings import vspw as enc  # noqa: E402
from segprep.engine.executors import default_jobs  # noqa: E402
from segprep.engine.malloc import tune_malloc  # noqa: E402
from segprep.engine.parallel import imap_ordered  # noqa: E402
from segprep.io.images import decode_png_fast, encode_png_fast, jpeg_info, png_info, resize_jpeg, resize_nearest  # noqa: E402,E501
from segprep.datasets.vspw import sample  # noqa: E402
from segprep.samples.archives import write_tar  # noqa: E402

TARGET = (853, 480)  # 1920x1080 -> change2_480p.py's (int(480*w/h), 480)


def write_input(raw: Path, videos: int, frames: int, jobs: int, parts: int = 3) -> list[tuple[bytes, bytes]]:
    """The split archive of ``videos`` 1080p train videos (val and test empty); returns (jpeg, png) per frame."""
    plan = sample.videos(videos)["train"][-videos:]
    items = [(video, size, t, stem, True) for video, size, first in plan
             for t, stem in enumerate(sample.frame_names(first, frames))]
    rendered = []
    for value in imap_ordered(sample.render_frame, items, jobs):
        if isinstance(value, Exception):
            raise value
        rendered.append(value)
    members = [("VSPW/train.txt", "".join(f"{v}\n" for v, *_ in plan).encode()), ("VSPW/val.txt", b""),
               ("VSPW/test.txt", b"")]
    for (video, _, _, stem, _), (jpg, png) in zip(items, rendered):
        members += [(f"VSPW/data/{video}/origin/{stem}.jpg", jpg), (f"VSPW/data/{video}/mask/{stem}.png", png)]
    write_tar(raw / sample.ARCHIVE, members, compression="")
    sample.split_archive(raw / sample.ARCHIVE, parts)
    return rendered


def extract(raw: Path, target: Path) -> None:
    joined = b"".join(p.read_bytes() for p in sorted(raw.glob(f"{sample.ARCHIVE}_*")))
    with tarfile.open(fileobj=io.BytesIO(joined)) as tf:
        tf.extractall(target)


def codec_work(item: tuple[bytes, bytes]) -> float:
    """The bare codec work of one frame, as prepare does it, without checks or files; returns its CPU seconds."""
    tune_malloc()
    start = time.process_time()
    jpeg, png = item
    resize_jpeg(jpeg, "frame", TARGET, 75)
    encode_png_fast(resize_nearest(decode_png_fast(png, "mask"), TARGET))
    return time.process_time() - start


def step_breakdown(items: list, repeats: int) -> list[list[str]]:
    """CPU ms per frame of each step of a frame, in this process (1 core)."""
    names = ["JPEG header check (jpeg_info)", "JPEG decode + BILINEAR resize + JPEG encode (Pillow)",
             "mask PNG check (chunks, CRCs)", "mask decode, 1080p 8-bit (libspng)",
             "mask nearest resize (Pillow's picks)", "mask values (check_values)", "mask 8-bit PNG encode (libpng)"]
    best = [float("inf")] * len(names)
    for _ in range(repeats):
        spent = [0.0] * len(names)
        for jpeg, png in items:
            marks = [time.process_time()]
            jpeg_info(jpeg, "frame")
            marks.append(time.process_time())
            resize_jpeg(jpeg, "frame", TARGET, 75)
            marks.append(time.process_time())
            png_info(png, "mask")
            marks.append(time.process_time())
            mask = decode_png_fast(png, "mask")
            marks.append(time.process_time())
            mask = resize_nearest(mask, TARGET)
            marks.append(time.process_time())
            enc.check_values(mask)
            marks.append(time.process_time())
            encode_png_fast(mask)
            marks.append(time.process_time())
            spent = [a + b - c for a, b, c in zip(spent, marks[1:], marks[:-1])]
        best = [min(b, 1000 * s / len(items)) for b, s in zip(best, spent)]
    return [[name, f"{ms:.1f}"] for name, ms in zip(names, best)] + [["sum", f"{sum(best):.1f}"]]


def main() -> None:
    args = frame_bench_arguments(__doc__.splitlines()[0], ROOT / "bench-work" / "vspw")
    tune_malloc()
    jobs_all = default_jobs()
    shutil.rmtree(args.work, ignore_errors=True)
    parts, tree = args.work / "parts", args.work / "extracted"
    items = write_input(parts, args.videos, args.frames, jobs_all)
    extract(parts, tree)
    n = len(items)
    print(f"{n} frames 1920x1080 -> 853x480 ({args.videos} videos x {args.frames}); {jobs_all} cores; "
          f"Pillow {PIL.__version__}; load average before: {load_average()}")
    tiny = args.work / "tiny"
    write_input(tiny, 1, 1, 1, parts=2)
    inputs = (("split tar (3 parts)", parts, sorted({1, jobs_all})), ("extracted", tree, [jobs_all]))
    rows = [[source] + codec_row("vspw", raw, tiny, args.work, codec_work, items, jobs, args.repeats)
            for source, raw, jobs_list in inputs for jobs in jobs_list]
    print_table(["input"] + CODEC_COLUMNS, rows)
    print()
    print_table(["step of one 1080p frame (1 core)", "CPU ms"], step_breakdown(items, args.repeats))
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
