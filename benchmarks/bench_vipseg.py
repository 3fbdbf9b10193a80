"""VIPSeg speed: whole `segprep prepare vipseg` runs against the bare codec work on the same frames.

    python benchmarks/bench_vipseg.py [--videos 24] [--frames 9] [--repeats 3] [--work bench-work/vipseg]

Input: a generated extracted download of 1920x1080 street-scene frames (JPEG q90, 16-bit raw
masks written by Pillow), every frame resized to 1280x720. Rows:

* prepare, 1 job / all jobs: wall time of the command (start-up, planning, every task, journal,
  json files), as frames per second; "1-frame run" is the same command on a one-frame download
  (interpreter and worker start-up, planning, finalize: a fixed cost that a real run of 84,750
  frames does not notice but a 216-frame one does), and "ratio without start-up" subtracts it;
* bare codec work: in-memory decode + resize + encode of the same files with the same calls
  (Pillow JPEG decode, BILINEAR resize, JPEG encode at quality 75; libpng 16-bit PNG decode,
  nearest resize, 16-bit PNG and RGB PNG encode with the writer prepare uses), in as many
  processes, inputs read before the clock starts; wall ratio = prepare / codec (target <= 1.25);
  CPU columns: user+sys seconds of every process involved, per frame (less sensitive to other
  load on the machine than wall time);
* mask -> RGB + segments alone: `encodings.vipseg.to_panoptic` (one pass over the pixels to
  find runs) against the obvious per-segment-mask version, on the 720p masks;
* the CPU time of each step of a frame, in one process.

Each timing is the best of --repeats (the machine is shared; the load average is printed).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import PIL

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from common import CODEC_COLUMNS, codec_row, frame_bench_arguments, load_average as load, print_table  # noqa: E402

from segprep.encodings import vipseg as enc  # noqa: E402
from segprep.engine.executors import default_jobs  # noqa: E402
from segprep.engine.malloc import tune_malloc  # noqa: E402
from segprep.engine.parallel import imap_ordered  # noqa: E402
from segprep.io.images import decode_png, decode_png_fast, encode_png_fast, resize_jpeg, resize_nearest  # noqa: E402
from segprep.datasets.vipseg import sample  # noqa: E402


def write_input(raw: Path, videos: int, frames: int, jobs: int) -> list[tuple[str, str]]:
    """An extracted download holding only 1080p train videos; returns (image, mask) paths."""
    plan = sample.videos(videos)["train"][-videos:]
    items = [(video, size, t, stem, True) for video, size, first, step in plan
             for t, stem in enumerate(sample.frame_names(first, step, frames))]
    pairs = []
    for (video, _, _, stem, _), rendered in zip(items, imap_ordered(sample.render_frame, items, jobs)):
        if isinstance(rendered, Exception):
            raise rendered
        image, mask = raw / f"VIPSeg/imgs/{video}/{stem}.jpg", raw / f"VIPSeg/panomasks/{video}/{stem}.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        mask.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(rendered[0])
        mask.write_bytes(rendered[1])
        pairs.append((str(image), str(mask)))
    (raw / "VIPSeg/train.txt").write_text("".join(f"{video}\n" for video, *_ in plan))
    (raw / "VIPSeg/val.txt").write_text("")
    (raw / "VIPSeg/test.txt").write_text("")
    return pairs


def codec_work(item: tuple[bytes, bytes, np.ndarray]) -> float:
    """The bare codec work of one frame, as prepare does it, without checks, conversion or files.

    Returns the CPU seconds it took in the worker (pool workers are not reaped before the
    measurement ends, so their rusage cannot be used).
    """
    tune_malloc()
    start = time.process_time()
    jpeg, png, rgb = item
    resize_jpeg(jpeg, "frame", (1280, 720), 75)
    mask = resize_nearest(decode_png_fast(png, "mask"), (1280, 720))
    encode_png_fast(mask)
    encode_png_fast(rgb)
    return time.process_time() - start


def naive_panoptic(mask: np.ndarray) -> list:
    """The obvious conversion (as the official create_panoptic_video_labels.py works): a mask per segment."""
    rgb = np.zeros(mask.shape + (3,), np.uint8)
    segments = []
    for value in np.unique(mask).tolist():
        if value in (0, 200):
            continue
        where = mask == value
        rgb[where] = (value & 255, value >> 8, 0)
        ys, xs = np.nonzero(where)
        segments.append([value, len(ys), xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1])
    return segments


def step_breakdown(items: list, repeats: int) -> list[list[str]]:
    """CPU ms per frame of each step of a frame, in this process (1 core)."""
    names = ["JPEG decode + BILINEAR resize + JPEG encode (Pillow)", "mask decode, 1080p 16-bit (libpng)",
             "mask nearest resize (Pillow's picks)", "mask 16-bit PNG encode", "to_panoptic (RGB + segments)",
             "RGB PNG encode"]
    best = [float("inf")] * len(names)
    for _ in range(repeats):
        spent = [0.0] * len(names)
        for jpeg, png, _ in items:
            marks = [time.process_time()]
            resize_jpeg(jpeg, "frame", (1280, 720), 75)
            marks.append(time.process_time())
            mask = decode_png_fast(png, "mask")
            marks.append(time.process_time())
            mask = resize_nearest(mask, (1280, 720))
            marks.append(time.process_time())
            encode_png_fast(mask)
            marks.append(time.process_time())
            rgb = enc.to_panoptic(mask).rgb
            marks.append(time.process_time())
            encode_png_fast(rgb)
            marks.append(time.process_time())
            spent = [a + b - c for a, b, c in zip(spent, marks[1:], marks[:-1])]
        best = [min(b, 1000 * s / len(items)) for b, s in zip(best, spent)]
    rows = [[name, f"{ms:.1f}"] for name, ms in zip(names, best)]
    return rows + [["sum", f"{sum(best):.1f}"]]


def per_frame_ms(fn, masks: list[np.ndarray], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for mask in masks:
            fn(mask)
        best = min(best, (time.perf_counter() - start) / len(masks))
    return best * 1000


def main() -> None:
    args = frame_bench_arguments(__doc__.splitlines()[0], ROOT / "bench-work" / "vipseg")
    tune_malloc()
    jobs_all = default_jobs()
    raw = args.work / "raw"
    shutil.rmtree(args.work, ignore_errors=True)
    pairs = write_input(raw, args.videos, args.frames, jobs_all)
    n = len(pairs)
    pillow = "Pillow-SIMD" if "post" in PIL.__version__ else "Pillow"  # Pillow-SIMD versions end in .postN
    print(f"{n} frames 1920x1080 -> 1280x720 ({args.videos} videos x {args.frames}); {jobs_all} cores; "
          f"{pillow} {PIL.__version__}; load average before: {load()}")
    masks720 = [resize_nearest(decode_png(Path(m).read_bytes(), m), (1280, 720)) for _, m in pairs]
    items = [(Path(i).read_bytes(), Path(m).read_bytes(), enc.to_panoptic(mask).rgb)
             for (i, m), mask in zip(pairs, masks720)]
    tiny = args.work / "tiny"
    write_input(tiny, 1, 1, 1)
    rows = [codec_row("vipseg", raw, tiny, args.work, codec_work, items, jobs, args.repeats)
            for jobs in sorted({1, jobs_all})]
    print_table(CODEC_COLUMNS, rows)
    segments = np.mean([len(enc.to_panoptic(m).segments) for m in masks720])
    fast = per_frame_ms(enc.to_panoptic, masks720, args.repeats)
    slow = per_frame_ms(naive_panoptic, masks720[: max(1, n // 4)], 1)
    print()
    print_table(["mask -> RGB + segments (1280x720, 1 core)", "ms per frame", "frames/s"], [
        [f"to_panoptic (one pass, runs; {segments:.0f} segments/frame)", f"{fast:.2f}", f"{1000 / fast:.0f}"],
        ["per-segment masks (np.unique + mask == id)", f"{slow:.2f}", f"{1000 / slow:.0f}"],
    ])
    print()
    print_table(["step of one 1080p frame (1 core)", "CPU ms"], step_breakdown(items, args.repeats))
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
